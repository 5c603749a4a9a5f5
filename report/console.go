package report

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/assay-monitor/assay/checks"
)

// ConsoleOptions tune WriteConsole.
type ConsoleOptions struct {
	// Color adds ANSI colors; leave it off when the output is not a terminal.
	Color bool
	// Verbose lists every step of every check under its line.
	Verbose bool
}

const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiDim    = "\x1b[2m"
)

type console struct {
	b     bytes.Buffer
	color bool
}

func (c *console) paint(code, s string) string {
	if !c.color {
		return s
	}
	return code + s + ansiReset
}

func (c *console) line(format string, args ...any) {
	fmt.Fprintf(&c.b, format, args...)
	c.b.WriteByte('\n')
}

// WriteConsole writes a human report of results to w: one line per check in
// the order given, then a block for each failed check (failing step, reason,
// failed assertions with expected and actual, semantics findings, the
// request sent, the response status and headers, an excerpt of the body
// with the values failed assertions name marked, and the diff against the
// last passing run when the result has one), and last the line
// "N passed, N failed". Write errors are ignored: the console is best
// effort and the exit code carries the verdict.
func WriteConsole(w io.Writer, results []*checks.Result, opts ConsoleOptions) {
	c := &console{color: opts.Color}
	for _, r := range results {
		if r == nil {
			continue
		}
		c.checkLine(r)
		if opts.Verbose {
			c.stepLines(r)
		}
	}
	for _, r := range results {
		if r == nil || r.Passed {
			continue
		}
		c.b.WriteByte('\n')
		c.failureBlock(r)
	}
	for _, r := range results {
		if r != nil {
			c.findingsBlock(r)
		}
	}
	passed, failed := Summary(results)
	if c.b.Len() > 0 {
		c.b.WriteByte('\n')
	}
	c.line("%d passed, %d failed", passed, failed)
	_, _ = w.Write(c.b.Bytes())
}

// checkLine is "PASS  name  (123ms)", with "  attempts: N" when retried.
func (c *console) checkLine(r *checks.Result) {
	verdict := c.paint(ansiGreen, "PASS")
	if !r.Passed {
		verdict = c.paint(ansiBold+ansiRed, "FAIL")
	}
	s := fmt.Sprintf("%s  %s  (%s)", verdict, oneLine(r.Check), formatDuration(r.Duration))
	if n := len(r.Attempts); n > 1 {
		s += fmt.Sprintf("  attempts: %d", n)
	}
	c.line("%s", s)
}

// stepLines lists the steps of the deciding attempt (verbose mode).
func (c *console) stepLines(r *checks.Result) {
	for i := range r.Steps() {
		s := &r.Steps()[i]
		switch {
		case s.Skipped && s.Finally:
			c.line("      %s  %s  (%s)", c.paint(ansiDim, "skip"), c.paint(ansiDim, stepName(s, i)), skippedMessage(s))
		case s.Skipped:
			c.line("      %s  %s", c.paint(ansiDim, "skip"), c.paint(ansiDim, stepName(s, i)))
		case s.Passed:
			c.line("      %s    %s  (%s)", c.paint(ansiGreen, "ok"), stepName(s, i), formatDuration(s.Timings.Total))
		default:
			c.line("      %s  %s  (%s)", c.paint(ansiRed, "FAIL"), stepName(s, i), formatDuration(s.Timings.Total))
		}
	}
}

// failureBlock explains one failed check.
func (c *console) failureBlock(r *checks.Result) {
	head := "--- FAIL  " + oneLine(r.Check)
	if r.File != "" {
		head += "  (" + oneLine(r.File) + ")"
	}
	c.line("%s", c.paint(ansiBold+ansiRed, head))

	steps := r.Steps()
	idx := -1
	for i := range steps {
		if stepFailed(&steps[i]) {
			idx = i
			break
		}
	}
	if idx < 0 {
		// The check failed outside any step (template, check deadline, ...).
		c.line("    reason:   %s", reasonOr(r.Reason))
		c.line("    message:  %s", indent(clean(checkMessage(r)), "              "))
		c.attempts(r)
		c.line("    total:    %s", formatDuration(r.Duration))
		return
	}
	s := &steps[idx]
	if s.Finally {
		c.teardownLines(steps, s)
	}
	c.line("    step:     %s  (%d of %d)", c.paint(ansiBold, stepName(s, idx)), idx+1, len(steps))
	c.line("    reason:   %s", reasonOr(s.Reason, r.Reason))
	msg := s.Message
	if msg == "" {
		msg = stepMessage(s)
	}
	c.line("    message:  %s", indent(clean(msg), "              "))
	if !s.Finally {
		c.teardownLines(steps, s)
	}

	for _, a := range s.Assertions {
		if a.Passed {
			continue
		}
		c.line("    %s %s", c.paint(ansiRed, "assertion failed:"), assertionMessage(a))
		c.line("      expected: %s", indent(clean(a.Expected), "                "))
		c.line("      actual:   %s", indent(clean(a.Actual), "                "))
	}

	if len(s.Findings) > 0 {
		c.line("    findings:")
		for _, f := range s.Findings {
			rule := oneLine(f.Rule)
			if f.Section != "" {
				rule += " (" + oneLine(f.Section) + ")"
			}
			level := oneLine(f.Level)
			if f.Failed {
				level = c.paint(ansiRed, level)
			} else {
				level = c.paint(ansiYellow, level)
			}
			c.line("      [%s] %s: %s", level, rule, indent(clean(f.Message), "        "))
			if f.Expected != "" || f.Actual != "" {
				c.line("        expected: %s", indent(clean(f.Expected), "                  "))
				c.line("        actual:   %s", indent(clean(f.Actual), "                  "))
			}
		}
	}

	c.line("    request:")
	c.line("      %s", requestLine(s.Request))
	for _, k := range slices.Sorted(maps.Keys(s.Request.Headers)) {
		for _, v := range s.Request.Headers[k] {
			c.line("      %s: %s", oneLine(k), oneLine(v))
		}
	}
	if s.Request.Body != "" {
		c.line("")
		c.line("      %s", indent(preview(s.Request.Body), "      "))
	}
	if s.Response != nil {
		c.line("    response: %s", statusLine(s.Response))
		if ev := stepEvidence(s); ev != nil {
			for _, l := range ev.lines("    ", "body:     ", func(t string) string { return c.paint(ansiRed, t) }) {
				c.line("%s", l)
			}
		}
	} else {
		c.line("    response: none")
	}
	c.attempts(r)
	c.line("    total:    %s", formatDuration(r.Duration))
}

// attempts lists every attempt when the check was retried.
func (c *console) attempts(r *checks.Result) {
	if len(r.Attempts) < 2 {
		return
	}
	c.line("    attempts: %d", len(r.Attempts))
	for i, a := range r.Attempts {
		c.line("      %s", attemptLine(a, i))
	}
}
