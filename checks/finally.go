package checks

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Teardown. A check's finally: steps run after its steps (and the steps
// of its contract), in every attempt, whether the steps passed or not,
// with the captures taken so far, so that what the steps created is
// deleted each time (retries included). A finally step that needs a
// capture no step took (the step that takes it failed or never ran) is
// skipped, not failed. A failed finally step fails the attempt only when
// its steps passed; the result then says it failed in teardown.
//
// Budget: the steps' deadline (the check's timeout) does not cover the
// teardown, which would otherwise be cut short exactly when the steps ran
// out of time. The teardown has its own deadline, the check's timeout
// again, counted from its start; an attempt therefore lasts at most twice
// the timeout (AttemptTimeout). A run interrupted from outside (Ctrl-C,
// shutdown) runs no teardown: its finally steps are reported as skipped.

// AttemptTimeout bounds one attempt of the check: its timeout, and as
// much again for its finally steps when it has some.
func (c *Check) AttemptTimeout() time.Duration {
	if len(c.Finally) > 0 {
		return 2 * c.Timeout.D()
	}
	return c.Timeout.D()
}

// stepAt is the step with index i in a run: Steps, then Finally.
func (c *Check) stepAt(i int) *Step {
	if i < len(c.Steps) {
		return c.Steps[i]
	}
	return c.Finally[i-len(c.Steps)]
}

// allSteps lists Steps, then Finally.
func (c *Check) allSteps() []*Step {
	if len(c.Finally) == 0 {
		return c.Steps
	}
	return append(append(make([]*Step, 0, len(c.Steps)+len(c.Finally)), c.Steps...), c.Finally...)
}

// stepPath is the field path of the step with index i of allSteps.
func (c *Check) stepPath(path string, i int) string {
	if i < len(c.Steps) {
		return fmt.Sprintf("%s.steps[%d]", path, i)
	}
	return fmt.Sprintf("%s.finally[%d]", path, i-len(c.Steps))
}

// compileFinally compiles the finally steps after the steps and the
// contract: they may use every capture of those, and the captures of the
// finally steps before them. Names are unique across steps and finally.
func compileFinally(d *decoder, c *Check, path string, captured, stepNames map[string]bool) {
	for i, s := range c.Finally {
		sp := fmt.Sprintf("%s.finally[%d]", path, i)
		if s == nil {
			d.ErrAt(d.ValuePos(sp, c.Pos), sp, "empty step")
			continue
		}
		if s.Name == "" {
			s.Name = fmt.Sprintf("finally %d", i+1)
		}
		if stepNames[s.Name] {
			np := sp + ".name"
			d.ErrAt(d.ValuePos(np, s.Pos), np, "duplicate step name %q (steps and finally steps share names)", s.Name)
		}
		stepNames[s.Name] = true
		for _, b := range []struct {
			field string
			v     Duration
		}{{sp + ".request.timeout", s.Request.Timeout}, {sp + ".expect.response_time", s.Expect.ResponseTime}} {
			if b.v.D() > MaxTimeout {
				d.ErrAt(d.ValuePos(b.field, s.Pos), b.field, "must be at most %s, got %s", shortDuration(MaxTimeout), shortDuration(b.v.D()))
			}
		}
		compileStep(d, c, s, sp, captured)
	}
}

// neededCaptures lists the captures the step's templates read, in order.
func (s *Step) neededCaptures() []string {
	var out []string
	seen := map[string]bool{}
	for _, t := range s.templates() {
		for _, ref := range t.refs() {
			if ref[0] != "vars" && !seen[ref[0]] {
				seen[ref[0]] = true
				out = append(out, ref[0])
			}
		}
	}
	return out
}

// finallyInterrupted is the message of a finally step that did not run
// because the run was cancelled.
const finallyInterrupted = "not run: the run was interrupted before the teardown"

// runFinally runs the check's finally steps after the steps of attempt a,
// appending their results, and fails a with the first failed finally step
// when its steps passed. parent is the run's context: the teardown has
// its own deadline (see AttemptTimeout), so that steps that ran out of
// time leave it its whole budget.
func (r *Runner) runFinally(parent context.Context, c *Check, a *Attempt, data map[string]any, rd *redactor, hist *exchangeHistory) {
	if len(c.Finally) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(parent, c.Timeout.D())
	defer cancel()
	stepsPassed := a.Passed
	for j, s := range c.Finally {
		i := len(c.Steps) + j
		skipped := func(msg string) StepResult {
			return StepResult{Name: s.Name, Kind: s.kind(), Finally: true, Skipped: true, Message: msg, Request: s.summary()}
		}
		if parent.Err() != nil {
			a.Steps = append(a.Steps, skipped(finallyInterrupted))
			continue
		}
		if missing := missingCaptures(s, data); len(missing) > 0 {
			a.Steps = append(a.Steps, skipped(missingMessage(c, missing)))
			continue
		}
		sr := r.step(ctx, c, i, data, rd, hist)
		sr.Finally = true
		if !sr.Passed {
			if ctx.Err() != nil && parent.Err() == nil && sr.Reason == ReasonTimeout {
				msg := fmt.Sprintf("timeout: teardown timeout %s (the check's timeout) exceeded", c.Timeout.D())
				if w := strings.Index(sr.Message, " (while "); w >= 0 {
					msg += sr.Message[w:]
				}
				sr.Message = msg
			}
			if stepsPassed && a.Passed {
				a.Passed = false
				a.Reason = sr.Reason
				a.Message = fmt.Sprintf("finally step %q: %s", s.Name, sr.Message)
			}
		}
		a.Steps = append(a.Steps, sr)
	}
}

// missingCaptures lists the captures s needs that data lacks.
func missingCaptures(s *Step, data map[string]any) []string {
	var out []string
	for _, name := range s.neededCaptures() {
		if _, ok := data[name]; !ok {
			out = append(out, name)
		}
	}
	return out
}

// missingMessage says why a finally step did not run: the captures it
// needs, and the steps that would have taken them.
func missingMessage(c *Check, missing []string) string {
	parts := make([]string, len(missing))
	for k, name := range missing {
		parts[k] = fmt.Sprintf("%q", name)
		if by := capturedBy(c, name); by != "" {
			parts[k] += fmt.Sprintf(" (step %q did not capture it)", by)
		}
	}
	return "skipped: needs the capture " + strings.Join(parts, ", ")
}

// explainFinally is the finally list of Explain's output, nil without
// finally steps.
func explainFinally(c *Check) *yaml.Node {
	if len(c.Finally) == 0 {
		return nil
	}
	fin := &yaml.Node{Kind: yaml.SequenceNode}
	for j, s := range c.Finally {
		sn := stepNode(s)
		sn.HeadComment = fmt.Sprintf("finally %d: runs after the steps, whatever they did (%s)", j+1, s.Pos)
		fin.Content = append(fin.Content, sn)
	}
	return fin
}
