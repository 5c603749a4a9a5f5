package report

import (
	"fmt"
	"strings"

	"github.com/assay-monitor/assay/checks"
)

// findingsBlock lists the HTTP semantics findings that no failure block
// showed: those of passing checks (semantics: warn, or SHOULD-level
// findings) and those of the steps of a failed check other than the one
// that failed. A check without findings prints nothing.
func (c *console) findingsBlock(r *checks.Result) {
	steps := r.Steps()
	shown := -1
	if !r.Passed {
		for i := range steps {
			if stepFailed(&steps[i]) {
				shown = i
				break
			}
		}
	}
	head := false
	for i := range steps {
		s := &steps[i]
		if i == shown || len(s.Findings) == 0 {
			continue
		}
		if !head {
			line := "--- WARN  " + oneLine(r.Check)
			if r.File != "" {
				line += "  (" + oneLine(r.File) + ")"
			}
			c.b.WriteByte('\n')
			c.line("%s", c.paint(ansiBold+ansiYellow, line))
			head = true
		}
		c.line("    step:     %s  (%d of %d)", stepName(s, i), i+1, len(steps))
		for _, f := range s.Findings {
			c.line("      [%s] %s: %s", c.paint(ansiYellow, oneLine(f.Level)), findingRule(f), indent(clean(f.Message), "        "))
			if f.Expected != "" || f.Actual != "" {
				c.line("        expected: %s", indent(clean(f.Expected), "                  "))
				c.line("        actual:   %s", indent(clean(f.Actual), "                  "))
			}
		}
	}
}

// findingRule is "rule (section)".
func findingRule(f checks.Finding) string {
	rule := oneLine(f.Rule)
	if f.Section != "" {
		rule += " (" + oneLine(f.Section) + ")"
	}
	return rule
}

// findingsText is the <system-out> of a passing JUnit test case with
// findings, or nil.
func findingsText(s *checks.StepResult) *junitText {
	if len(s.Findings) == 0 {
		return nil
	}
	var b strings.Builder
	for _, f := range s.Findings {
		fmt.Fprintf(&b, "finding [%s] %s: %s\n", oneLine(f.Level), findingRule(f), oneLine(f.Message))
		if f.Expected != "" || f.Actual != "" {
			fmt.Fprintf(&b, "  expected: %s\n  actual:   %s\n", oneLine(f.Expected), oneLine(f.Actual))
		}
	}
	return &junitText{Text: b.String()}
}
