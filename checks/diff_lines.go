package checks

import (
	"strconv"
	"strings"

	"github.com/assay-monitor/assay/internal/oneline"
)

// Lines renders the diff as at most max one-line changes for consoles,
// logs and chat ("status: 200 -> 500", `$.items[2].price: 10 -> "10"`);
// max <= 0 means all. The order is status, headers, JSON, then the body
// text: its notes and changed lines ("body: -old", "body: +new"), context
// left out. When more entries exist than max allows, the last one says
// how many were left out ("... and 7 more changes"); a diff that was
// truncated when it was made says so in its last entry. Every entry is
// one line: header values are quoted, everything else is cleaned of
// control characters, since all of it comes from the responses.
func (d *ResponseDiff) Lines(max int) []string {
	if d == nil {
		return nil
	}
	var out []string
	if d.Status != nil {
		out = append(out, "status: "+oneline.Clean(d.Status.From)+" -> "+oneline.Clean(d.Status.To))
	}
	for _, h := range d.Headers {
		out = append(out, "header "+oneline.Clean(h.Name)+": "+change(h, strconv.Quote))
	}
	for _, j := range d.JSON {
		out = append(out, oneline.Clean(j.Name)+": "+change(j, oneline.Clean))
	}
	out = append(out, textLines(d.Text)...)
	switch n := len(out); {
	case max > 0 && n > max:
		out = append(out[:max-1], more(n-(max-1), d.Truncated))
	case d.Truncated && max > 0 && n == max:
		out = append(out[:max-1], more(1, true))
	case d.Truncated:
		out = append(out, "... (diff truncated)")
	}
	return out
}

// change renders "from -> to" with (absent) for the missing side.
func change(c FieldChange, render func(string) string) string {
	from, to := "(absent)", "(absent)"
	if c.Change != ChangeAdded {
		from = render(c.From)
	}
	if c.Change != ChangeRemoved {
		to = render(c.To)
	}
	return from + " -> " + to
}

func more(n int, truncated bool) string {
	s := "... and " + strconv.Itoa(n) + " more change"
	if n != 1 {
		s += "s"
	}
	if truncated {
		s += " (diff truncated)"
	}
	return s
}

// textLines turns the body text of a diff into entries: notes before the
// unified diff as they are, then its removed and added lines. File
// headers, hunk headers, context and "\ No newline" markers are left out.
func textLines(text string) []string {
	if text == "" {
		return nil
	}
	var out []string
	inHunks := false
	for _, line := range strings.Split(text, "\n") {
		switch {
		case strings.HasPrefix(line, "@@"):
			inHunks = true
		case !inHunks && (line == "--- baseline" || line == "+++ failed" || line == ""):
		case !inHunks, strings.HasPrefix(line, "-"), strings.HasPrefix(line, "+"):
			out = append(out, "body: "+oneline.Clean(line))
		}
	}
	return out
}
