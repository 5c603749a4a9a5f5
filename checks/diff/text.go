package diff

import (
	"strconv"
	"strings"

	"github.com/assay-monitor/assay/internal/oneline"
)

const (
	// contextLines around each change in a unified diff.
	contextLines = 2
	// maxLines bounds the lines of a side that are diffed line by line;
	// longer bodies are compared by size only.
	maxLines = 5000
	// maxEdits bounds the edit distance searched for; past it the changed
	// middle of the bodies is shown as all removed, then all added.
	maxEdits = 500
)

// unified returns a unified diff (--- baseline, +++ failed, @@ hunks with
// two lines of context) of two different texts, each line cleaned of
// control characters and cut to lineLen bytes. The bool is true when the
// diff is coarser than a line diff because a bound was hit.
func unified(before, after body, lineLen int) ([]string, bool) {
	if len(before.text) > maxBodyBytes || len(after.text) > maxBodyBytes {
		return []string{sizeNote("bodies differ", before.size, after.size)}, true
	}
	a, b := splitLines(before.text), splitLines(after.text)
	if len(a) > maxLines || len(b) > maxLines {
		return []string{sizeNote("bodies differ", before.size, after.size)}, true
	}
	ops, exact := lineDiff(a, b)
	out := []string{"--- baseline", "+++ failed"}
	for _, h := range hunks(ops) {
		out = append(out, "@@ -"+hunkRange(h.aStart, h.aLen)+" +"+hunkRange(h.bStart, h.bLen)+" @@")
		for _, op := range ops[h.from:h.to] {
			var line string
			if op.kind == opInsert {
				line = b[op.b]
			} else {
				line = a[op.a]
			}
			out = append(out, string(op.kind)+displayLine(line, lineLen))
			if !strings.HasSuffix(line, "\n") {
				out = append(out, `\ No newline at end of file`)
			}
		}
	}
	return out, !exact
}

// splitLines splits s after each "\n", keeping it, so that a missing final
// newline is a difference too.
func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	lines := strings.SplitAfter(s, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

func displayLine(line string, n int) string {
	return cut(oneline.Clean(strings.TrimSuffix(line, "\n")), n)
}

// hunkRange formats a hunk's start and length as diff -u does: 1-based,
// ",1" left out, and an empty range named by the line before it.
func hunkRange(start, n int) string {
	switch n {
	case 0:
		return strconv.Itoa(start) + ",0"
	case 1:
		return strconv.Itoa(start + 1)
	}
	return strconv.Itoa(start+1) + "," + strconv.Itoa(n)
}

type hunk struct {
	from, to     int // ops[from:to]
	aStart, aLen int
	bStart, bLen int
}

// hunks groups the changes of ops with their context. Changes separated by
// at most twice the context share a hunk, so hunks never overlap.
func hunks(ops []lineOp) []hunk {
	var out []hunk
	for i := 0; i < len(ops); {
		if ops[i].kind == opEqual {
			i++
			continue
		}
		from := max(i-contextLines, 0)
		end := i
		for end < len(ops) {
			if ops[end].kind != opEqual {
				end++
				continue
			}
			run := end
			for run < len(ops) && ops[run].kind == opEqual {
				run++
			}
			if run == len(ops) || run-end > 2*contextLines {
				break
			}
			end = run
		}
		out = append(out, makeHunk(ops, from, min(end+contextLines, len(ops))))
		i = end
	}
	return out
}

func makeHunk(ops []lineOp, from, to int) hunk {
	h := hunk{from: from, to: to, aStart: ops[from].a, bStart: ops[from].b}
	for _, op := range ops[from:to] {
		if op.kind != opInsert {
			h.aLen++
		}
		if op.kind != opDelete {
			h.bLen++
		}
	}
	return h
}
