package diff

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/assay-monitor/assay/checks"
)

// maxBodyBytes bounds a body that is parsed as JSON or split into lines;
// larger bodies are compared by size only.
const maxBodyBytes = 1 << 20

// body is a response body as the summary holds it.
type body struct {
	text   string // the part compared: the preview without its cut mark
	size   int64  // bytes read
	binary bool   // text is only the "(N bytes of binary data)" placeholder
	// partial is why text is not the whole body, or "".
	partial string
}

// previewMark is what checks.previewBody appends when it cuts a body.
var previewMark = regexp.MustCompile(`…\([0-9]+ more bytes\)$`)

func bodyOf(s *checks.ResponseSummary, side string) body {
	b := body{text: s.Body, size: s.BodySize}
	// The preview's own mark says it was cut: its length says nothing,
	// since redaction changes it ("[REDACTED]" for a longer secret).
	switch loc := previewMark.FindStringIndex(s.Body); {
	case int64(len(s.Body)) != s.BodySize && s.Body == fmt.Sprintf("(%d bytes of binary data)", s.BodySize):
		b.binary = true
	case loc != nil:
		b.text = s.Body[:loc[0]]
		b.partial = fmt.Sprintf("%s body is cut to its first %d of %d bytes; only those are compared", side, len(b.text), s.BodySize)
	}
	if s.Truncated {
		b.partial = fmt.Sprintf("%s body was cut at max_body after %d bytes; only those are compared", side, s.BodySize)
	}
	return b
}

// bodies adds the body changes to d: JSON changes when both bodies are
// whole JSON, else a text diff or a note in d.Text.
func bodies(d *checks.ResponseDiff, before, after *checks.ResponseSummary, budget int, opts Options) {
	if before.Body == after.Body && before.BodySize == after.BodySize {
		return
	}
	b, a := bodyOf(before, "baseline"), bodyOf(after, "failed")
	if b.binary || a.binary {
		d.Text = fmt.Sprintf("binary body changed: %d -> %d bytes", b.size, a.size)
		if b.partial != "" || a.partial != "" {
			d.Truncated = true
		}
		return
	}
	if b.partial == "" && a.partial == "" {
		if bj, ok := parseJSON(b.text); ok {
			if aj, ok := parseJSON(a.text); ok {
				if budget <= 0 {
					d.Truncated = d.Truncated || !equal(bj, aj)
					return
				}
				d.JSON = jsonChanges(bj, aj, budget, opts.MaxValueLen, &d.Truncated)
				return
			}
		}
	}
	var notes []string
	for _, p := range []string{b.partial, a.partial} {
		if p != "" {
			notes = append(notes, p)
			d.Truncated = true
		}
	}
	var text []string
	if b.text == a.text {
		if len(notes) == 0 {
			return
		}
		text = []string{sizeNote("bodies differ after the compared part", b.size, a.size)}
	} else {
		var cut bool
		text, cut = unified(b, a, opts.MaxValueLen)
		d.Truncated = d.Truncated || cut
	}
	lines := append(notes, text...)
	if len(lines) > opts.MaxTextLines {
		lines = lines[:opts.MaxTextLines]
		d.Truncated = true
	}
	d.Text = strings.Join(lines, "\n")
}

func sizeNote(what string, before, after int64) string {
	return what + ": " + strconv.FormatInt(before, 10) + " -> " + strconv.FormatInt(after, 10) + " bytes"
}
