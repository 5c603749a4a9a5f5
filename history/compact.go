package history

import "github.com/assay-monitor/assay/checks"

// Compact returns what the history keeps of a result, never changing r:
// a failed run whole (its evidence); a passing run its summary and
// timings, without request and response headers, bodies, assertions or
// captures (the step's last passing response is kept as its baseline
// instead).
func Compact(r *checks.Result) *checks.Result {
	if r == nil || !r.Passed {
		return r
	}
	out := *r
	out.Attempts = make([]checks.Attempt, len(r.Attempts))
	for i, a := range r.Attempts {
		ca := a
		ca.Steps = make([]checks.StepResult, len(a.Steps))
		for j := range a.Steps {
			ca.Steps[j] = compactStep(&a.Steps[j])
		}
		out.Attempts[i] = ca
	}
	return &out
}

func compactStep(s *checks.StepResult) checks.StepResult {
	c := checks.StepResult{
		Name: s.Name, Kind: s.Kind, Passed: s.Passed, Skipped: s.Skipped, Finally: s.Finally, Reason: s.Reason, Message: s.Message,
		Request:  checks.RequestSummary{Method: s.Request.Method, URL: s.Request.URL, Auth: s.Request.Auth},
		Timings:  s.Timings,
		TLS:      s.TLS,
		Findings: s.Findings,
	}
	if s.Response != nil {
		c.Response = &checks.ResponseSummary{Status: s.Response.Status, Proto: s.Response.Proto, Line: s.Response.Line, BodySize: s.Response.BodySize, Truncated: s.Response.Truncated}
	}
	return c
}
