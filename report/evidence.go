package report

import (
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/assay-monitor/assay/checks"
)

// Bounds on the evidence shown for a failed step.
const (
	maxHeaderLines = 30       // response header lines
	excerptLines   = 20       // lines of a body excerpt
	maxLineRunes   = 200      // a header or body line is cut after this
	maxExcerptIn   = 64 << 10 // bytes of a stored body looked at
	maxDiffLines   = 10       // changes against the last passing run
)

// How the evidence reads.
const (
	moreMarker     = "..." // stands for lines left out of an excerpt
	cutMarker      = "…"   // ends a line that was cut
	markerGutter   = "> "  // marks a line a failed assertion names
	plainGutter    = "  "  // the same width, unmarked
	reasonMaxBody  = "reading stopped at max_body"
	diffHeading    = "diff against the last passing run"
	diffNoneListed = "(no change listed)"
)

// evidence is what the response of a failed step showed: its headers, an
// excerpt of its body and what changed since the last passing run, as
// plain lines that the console and JUnit writers lay out.
type evidence struct {
	headers     []markedLine
	moreHeaders int
	// body summarises the body: "empty", "JSON, 812 bytes", ...
	body string
	// excerpt holds the lines shown, moreMarker where some were left out.
	excerpt   []markedLine
	moreLines int
	// diffHead is the diff heading; empty when there is no diff.
	diffHead string
	diff     []string
}

// markedLine is one line of evidence; marked lines hold what a failed
// assertion names.
type markedLine struct {
	text   string
	marked bool
}

// stepEvidence gathers the evidence of a failed step, or nil when it got
// no response.
func stepEvidence(s *checks.StepResult) *evidence {
	if s.Response == nil {
		return nil
	}
	ev := &evidence{}
	ev.responseHeaders(s.Response.Headers, failedHeaders(s.Assertions))
	ev.responseBody(s.Response, failedPaths(s.Assertions))
	if d := s.Diff; d != nil {
		ev.diffHead = diffHeading + diffSource(d)
		for _, l := range d.Lines(maxDiffLines) {
			ev.diff = append(ev.diff, cutLine(oneLine(l)))
		}
		if len(ev.diff) == 0 {
			ev.diff = []string{diffNoneListed}
		}
	}
	return ev
}

// diffSource is " (run 41 at 2025-03-14T09:20:00Z)" for a known baseline.
func diffSource(d *checks.ResponseDiff) string {
	var parts []string
	if d.BaselineRunID != 0 {
		parts = append(parts, "run "+strconv.FormatInt(d.BaselineRunID, 10))
	}
	if !d.BaselineTime.IsZero() {
		parts = append(parts, d.BaselineTime.UTC().Format(time.RFC3339))
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, " at ") + ")"
}

// failedHeaders lists the canonical names of the headers that failed
// assertions look at ("header ETag", "openapi header ETag").
func failedHeaders(as []checks.AssertionResult) map[string]bool {
	var out map[string]bool
	for _, a := range as {
		if a.Passed {
			continue
		}
		name, ok := strings.CutPrefix(a.Name, "header ")
		if !ok {
			name, ok = strings.CutPrefix(a.Name, "openapi header ")
		}
		if !ok && strings.HasPrefix(a.Name, "cookie ") {
			// A cookie assertion looks at the Set-Cookie fields.
			name, ok = "Set-Cookie", true
		}
		if ok && name != "" {
			if out == nil {
				out = map[string]bool{}
			}
			out[http.CanonicalHeaderKey(name)] = true
		}
	}
	return out
}

// failedPaths lists the body paths failed assertions name, in order.
func failedPaths(as []checks.AssertionResult) [][]pathStep {
	var out [][]pathStep
	for _, a := range as {
		if a.Passed {
			continue
		}
		if steps, ok := assertionPath(a.Name); ok {
			out = append(out, steps)
		}
	}
	return out
}

// responseHeaders lists the headers sorted by name, one line per value,
// at most maxHeaderLines of them.
func (ev *evidence) responseHeaders(h map[string][]string, marked map[string]bool) {
	for _, k := range slices.Sorted(maps.Keys(h)) {
		for _, v := range h[k] {
			if len(ev.headers) == maxHeaderLines {
				ev.moreHeaders++
				continue
			}
			ev.headers = append(ev.headers, markedLine{
				text:   cutLine(oneLine(k) + ": " + oneLine(v)),
				marked: marked[http.CanonicalHeaderKey(k)],
			})
		}
	}
}

// binaryPreview is how the engine stores a body that is not text.
var binaryPreview = regexp.MustCompile(`^\((\d+) bytes of binary data\)$`)

// previewCut is the note the engine appends to a preview it cut.
var previewCut = regexp.MustCompile(`…\((\d+) more bytes\)$`)

// responseBody summarises the body and takes an excerpt of it.
func (ev *evidence) responseBody(resp *checks.ResponseSummary, paths [][]pathStep) {
	body := resp.Body
	size := resp.BodySize
	if body == "" {
		ev.body = "empty"
		if size > 0 {
			ev.body = fmt.Sprintf("%d bytes, not stored", size)
		}
		if resp.Truncated {
			ev.body += ", " + reasonMaxBody
		}
		return
	}
	if m := binaryPreview.FindStringSubmatch(body); m != nil {
		ev.body = m[1] + " bytes of binary data"
		if resp.Truncated {
			ev.body += ", " + reasonMaxBody
		}
		return
	}
	stored := body
	excerptCut := false
	if loc := previewCut.FindStringIndex(body); loc != nil && size > int64(loc[0]) {
		stored, excerptCut = body[:loc[0]], true
	}
	if len(stored) > maxExcerptIn {
		stored, excerptCut = cutBytes(stored, maxExcerptIn), true
	}
	if size < int64(len(stored)) {
		size = int64(len(stored)) // a result built without BodySize
	}
	cut := excerptCut || resp.Truncated

	kind := "text"
	layout, isJSON := layoutJSON(stored, cut)
	if isJSON {
		kind = "JSON"
	}
	ev.body = fmt.Sprintf("%s, %d bytes", kind, size)
	if resp.Truncated {
		ev.body = fmt.Sprintf("%s, more than %d bytes (%s)", kind, size, reasonMaxBody)
	}
	if excerptCut {
		ev.body += fmt.Sprintf(", excerpt of the first %d bytes", len(stored))
	}
	if isJSON {
		ev.jsonExcerpt(layout, paths)
	} else {
		ev.textExcerpt(stored)
	}
}

// jsonExcerpt shows about excerptLines lines of the pretty-printed body,
// centred on the first value a failed assertion names, and marks every
// such value in view.
func (ev *evidence) jsonExcerpt(l *jsonLayout, paths [][]pathStep) {
	marks := map[int]bool{}
	focus := -1
	for _, p := range paths {
		if line := l.lineOf(p); line >= 0 {
			marks[line] = true
			if focus < 0 {
				focus = line
			}
		}
	}
	start, end := window(len(l.lines), focus)
	ev.window(start, end, len(l.lines), func(i int) markedLine {
		return markedLine{text: cutLine(clean(l.text(i))), marked: marks[i]}
	})
}

// textExcerpt shows the first excerptLines lines of a text body.
func (ev *evidence) textExcerpt(body string) {
	body = strings.TrimSuffix(body, "\n")
	total := strings.Count(body, "\n") + 1
	end := min(total, excerptLines)
	lines := strings.SplitN(body, "\n", end+1)
	ev.window(0, end, total, func(i int) markedLine {
		return markedLine{text: cutLine(clean(strings.TrimSuffix(lines[i], "\r")))}
	})
}

// window returns the excerptLines lines of total to show, centred on focus
// (or from the top when focus < 0).
func window(total, focus int) (start, end int) {
	if focus >= 0 {
		start = max(0, min(focus-excerptLines/2, total-excerptLines))
	}
	return start, min(total, start+excerptLines)
}

// window adds lines [start, end) of total, with moreMarker lines where
// some are left out and a count of them.
func (ev *evidence) window(start, end, total int, line func(int) markedLine) {
	if start > 0 {
		ev.excerpt = append(ev.excerpt, markedLine{text: moreMarker})
	}
	for i := start; i < end; i++ {
		ev.excerpt = append(ev.excerpt, line(i))
	}
	if end < total {
		ev.excerpt = append(ev.excerpt, markedLine{text: moreMarker})
	}
	ev.moreLines = total - (end - start)
}

// cutLine cuts a cleaned line to maxLineRunes runes.
func cutLine(s string) string {
	if len(s) <= maxLineRunes {
		return s
	}
	n := 0
	for i := range s {
		if n == maxLineRunes {
			return s[:i] + cutMarker
		}
		n++
	}
	return s
}

// cutBytes cuts s to at most n bytes on a rune boundary.
func cutBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// lines lays the evidence out under a "response:" line: headers and
// excerpt indented by pad plus two spaces, marked lines with markerGutter
// in those two spaces (painted by mark), and the body and diff headings at
// pad, the body one as bodyLabel.
func (ev *evidence) lines(pad, bodyLabel string, mark func(string) string) []string {
	var out []string
	put := func(l markedLine) {
		if l.marked {
			out = append(out, pad+mark(markerGutter+l.text))
		} else {
			out = append(out, pad+plainGutter+l.text)
		}
	}
	for _, h := range ev.headers {
		put(h)
	}
	if ev.moreHeaders > 0 {
		out = append(out, fmt.Sprintf("%s%s%s %d more headers", pad, plainGutter, moreMarker, ev.moreHeaders))
	}
	out = append(out, pad+bodyLabel+ev.body)
	for _, l := range ev.excerpt {
		put(l)
	}
	if ev.moreLines > 0 {
		out = append(out, fmt.Sprintf("%s%s(%d more lines)", pad, plainGutter, ev.moreLines))
	}
	if ev.diffHead != "" {
		out = append(out, pad+ev.diffHead+":")
		for _, d := range ev.diff {
			out = append(out, pad+plainGutter+d)
		}
	}
	return out
}
