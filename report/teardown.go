package report

import (
	"fmt"
	"strings"

	"github.com/assay-monitor/assay/checks"
)

// Finally steps (a check's teardown) are reported like steps, named
// "finally: NAME" so that a JUnit test case and a console line say which
// they are; a failure block says whether the check failed in a step or in
// teardown.

// finallyPrefix starts the reported name of a finally step.
const finallyPrefix = "finally: "

// teardownSummary counts the finally steps of steps that passed, failed
// and were skipped: "1 passed, 1 failed"; "" when there are none.
func teardownSummary(steps []checks.StepResult) string {
	var passed, failed, skipped int
	for i := range steps {
		s := &steps[i]
		switch {
		case !s.Finally:
		case s.Skipped:
			skipped++
		case s.Passed:
			passed++
		default:
			failed++
		}
	}
	if passed+failed+skipped == 0 {
		return ""
	}
	var parts []string
	for _, p := range []struct {
		n    int
		word string
	}{{passed, "passed"}, {failed, "failed"}, {skipped, "skipped"}} {
		if p.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", p.n, p.word))
		}
	}
	return strings.Join(parts, ", ")
}

// teardownLines tell, in a failure block, what the teardown did: after a
// failed step, how its finally steps went and why those that did not pass
// did not; for a failure in teardown, that the steps passed.
func (c *console) teardownLines(steps []checks.StepResult, failed *checks.StepResult) {
	sum := teardownSummary(steps)
	if sum == "" {
		return
	}
	if failed.Finally {
		c.line("    failed:   in teardown (the steps passed; finally steps: %s)", sum)
		return
	}
	c.line("    teardown: after the failed step: %s", sum)
	for i := range steps {
		s := &steps[i]
		if s.Finally && !s.Passed {
			c.line("      %s%s: %s", finallyPrefix, oneLine(s.Name), stepMessage(s))
		}
	}
}

// skippedMessage is why a skipped step did not run: an earlier step
// failed, or, for a finally step, its own message.
func skippedMessage(s *checks.StepResult) string {
	if s.Finally && s.Message != "" {
		return oneLine(s.Message)
	}
	return "not run: an earlier step failed"
}
