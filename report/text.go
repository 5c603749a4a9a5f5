package report

import (
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/assay-monitor/assay/checks"
)

// bodyPreviewLimit bounds how much of a request body a report shows.
const bodyPreviewLimit = 1024

// Summary counts the checks that passed and failed. Nil entries are ignored.
func Summary(results []*checks.Result) (passed, failed int) {
	for _, r := range results {
		if r == nil {
			continue
		}
		if r.Passed {
			passed++
		} else {
			failed++
		}
	}
	return passed, failed
}

// clean makes s safe to print in a terminal log or an XML document: invalid
// UTF-8 becomes U+FFFD, and control characters other than newline and tab
// (which XML 1.0 forbids or a terminal would interpret, like ESC) become a
// visible \xNN escape. A carriage return is escaped as well so that a
// value cannot overwrite the start of its line.
func clean(s string) string {
	if isClean(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			b.WriteRune(utf8.RuneError)
		case r == '\n' || r == '\t':
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case (r >= 0x80 && r <= 0x9f) || r == 0xfffe || r == 0xffff:
			// C1 controls and XML 1.0 non-characters.
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
		i += size
	}
	return b.String()
}

func isClean(s string) bool {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size <= 1) ||
			(r < 0x20 && r != '\n' && r != '\t') || r == 0x7f ||
			(r >= 0x80 && r <= 0x9f) || r == 0xfffe || r == 0xffff {
			return false
		}
		i += size
	}
	return true
}

// oneLine cleans s and folds it onto one line, for attributes and headers.
func oneLine(s string) string {
	s = clean(s)
	if !strings.ContainsAny(s, "\n\t") {
		return strings.TrimSpace(s)
	}
	return strings.Join(strings.Fields(s), " ")
}

// preview cleans body and cuts it to about bodyPreviewLimit bytes on a rune
// boundary, saying how much was left out.
func preview(body string) string {
	if len(body) <= bodyPreviewLimit {
		return clean(body)
	}
	cut := bodyPreviewLimit
	for cut > 0 && !utf8.RuneStart(body[cut]) {
		cut--
	}
	return clean(body[:cut]) + fmt.Sprintf("... (%d more bytes)", len(body)-cut)
}

// formatDuration renders d for people: 0ms, 123ms, 2.1s, 1m5s.
func formatDuration(d time.Duration) string {
	switch {
	case d < 0:
		d = 0
		fallthrough
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Round(time.Millisecond)/time.Millisecond)
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	default:
		return d.Round(time.Second).String()
	}
}

// seconds renders d in seconds with three decimals, as JUnit expects.
func seconds(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	return fmt.Sprintf("%.3f", d.Seconds())
}

// requestLine is "METHOD URL".
func requestLine(req checks.RequestSummary) string {
	m := req.Method
	if m == "" {
		m = "GET"
	}
	return oneLine(m + " " + req.URL)
}

// statusLine is "HTTP/1.1 204 No Content".
func statusLine(resp *checks.ResponseSummary) string {
	if resp.Line != "" { // a probe's answer
		return oneLine(resp.Proto + " " + resp.Line)
	}
	s := fmt.Sprintf("%d", resp.Status)
	if t := http.StatusText(resp.Status); t != "" {
		s += " " + t
	}
	if resp.Proto != "" {
		s = oneLine(resp.Proto) + " " + s
	}
	return s
}

// stepFailed reports whether a step ran and failed.
func stepFailed(s *checks.StepResult) bool { return !s.Passed && !s.Skipped }

// stepName is the step's name, or "step N" when it has none; a finally
// step's is "finally: NAME".
func stepName(s *checks.StepResult, i int) string {
	name := fmt.Sprintf("step %d", i+1)
	if s.Name != "" {
		name = oneLine(s.Name)
	}
	if s.Finally {
		return finallyPrefix + name
	}
	return name
}

// stepMessage is a one-line description of why a step failed.
func stepMessage(s *checks.StepResult) string {
	if s.Message != "" {
		return oneLine(s.Message)
	}
	for _, a := range s.Assertions {
		if !a.Passed {
			return assertionMessage(a)
		}
	}
	for _, f := range s.Findings {
		if f.Failed {
			return oneLine(f.Rule + ": " + f.Message)
		}
	}
	if s.Reason != checks.ReasonNone {
		return string(s.Reason)
	}
	return "step failed"
}

// assertionMessage is the assertion's one-line message, or one made up from
// its parts.
func assertionMessage(a checks.AssertionResult) string {
	if a.Message != "" {
		return oneLine(a.Message)
	}
	return oneLine(fmt.Sprintf("%s: expected %s, got %s", a.Name, a.Expected, a.Actual))
}

// checkMessage is a one-line description of why a check failed.
func checkMessage(r *checks.Result) string {
	if r.Message != "" {
		return oneLine(r.Message)
	}
	if r.Reason != checks.ReasonNone {
		return string(r.Reason)
	}
	return "check failed"
}

// reasonOr returns r, or the fallbacks in turn when it is empty.
func reasonOr(rs ...checks.Reason) string {
	for _, r := range rs {
		if r != checks.ReasonNone {
			return string(r)
		}
	}
	return "failure"
}

// attemptLine summarises one attempt: "attempt 1: FAIL (timeout) 5.0s: msg".
func attemptLine(a checks.Attempt, i int) string {
	n := a.Number
	if n == 0 {
		n = i + 1
	}
	s := fmt.Sprintf("attempt %d: ", n)
	if a.Passed {
		return s + "PASS " + formatDuration(a.Duration)
	}
	s += "FAIL"
	if a.Reason != checks.ReasonNone {
		s += " (" + string(a.Reason) + ")"
	}
	s += " " + formatDuration(a.Duration)
	if a.Message != "" {
		s += ": " + oneLine(a.Message)
	}
	return s
}

// indent prefixes every line of s after the first with pad, so a
// multi-line value stays inside its block.
func indent(s, pad string) string {
	return strings.ReplaceAll(s, "\n", "\n"+pad)
}
