package web_test

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/assay-monitor/assay/checks"
)

// Rule: the evidence of a run shows its finally steps after its steps,
// marked "finally:", each with its state.
func TestEvidenceMarksFinallySteps(t *testing.T) {
	f := newFixture(t)
	at := fixtureNow.Add(-10 * time.Second)
	r := &checks.Result{Check: "checkout", Started: at, Reason: checks.ReasonAssertion, Message: `finally step "delete cart": status: expected 204, got 404`,
		Attempts: []checks.Attempt{{Number: 1, Started: at, Reason: checks.ReasonAssertion, Steps: []checks.StepResult{
			{Name: "get cart", Passed: true, Request: checks.RequestSummary{Method: "GET", URL: secretURL}},
			{Name: "delete cart", Finally: true, Reason: checks.ReasonAssertion, Message: "status: expected 204, got 404",
				Request: checks.RequestSummary{Method: "DELETE", URL: secretURL}, Response: &checks.ResponseSummary{Status: 404, Proto: "HTTP/1.1"}},
			{Name: "audit", Finally: true, Skipped: true, Message: `skipped: needs the capture "audit_id"`},
		}}}}
	f.hist.add(r)
	f.status.Record(context.Background(), r)
	page := getPage(t, f.serve(t, false).URL+"/checks/checkout", 200)
	ev := section(t, page, "evidence")
	var got []string
	for _, m := range regexp.MustCompile(`(?s)<summary>(.*?)</summary>`).FindAllStringSubmatch(ev, -1) {
		got = append(got, textOf(m[1]))
	}
	want := []string{"passed get cart GET", "failed finally: delete cart assertion DELETE → 404", "skipped finally: audit"}
	if !slices.Equal(got, want) {
		t.Errorf("steps:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
