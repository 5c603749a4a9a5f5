package web_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/history"
	"github.com/assay-monitor/assay/web"
	"github.com/prometheus/client_golang/prometheus"
)

// fixtureNow is the clock of every page test.
var fixtureNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// Text that only the operators' page may show: the public page must never
// contain any of it.
const (
	secretURL        = "https://shop.internal.test/cart/77?session=abc"
	secretReqHeader  = "trace-7f3a-req-header"
	secretReqBody    = "req-body-secret-widget"
	secretRespHeader = "pod-secret-42"
	secretRespBody   = "resp-body-db-timeout"
	secretMessage    = "status: expected 200, got 500"
	secretBaseline   = "pod-baseline-7"
	secretJSONBefore = "in_stock_before"
	secretDiffText   = "-diff-line-before"
	secretLabel      = "team-payments"
	secretFile       = "checks.d/shop.yaml"
	secretAssertion  = "json $.items[0].sku"
	secretIncident   = "incident-message-connection-reset"
)

// fixture is a daemon's view of three checks: one passing, one failing
// with full evidence and an open incident, one that never ran.
type fixture struct {
	status *web.Status
	hist   *fakeHistory
	// failedID is the latest (failed) run of "checkout"; baselineID its
	// last passing run.
	failedID, baselineID int64
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{status: web.NewStatus(func(string) (time.Time, bool) { return fixtureNow.Add(20 * time.Second), true }), hist: &fakeHistory{}}
	f.status.SetChecks([]*checks.Check{
		{Name: "api-health", Description: "The public API answers", Schedule: "@every 10m",
			Labels: map[string]string{"team": "core"}, Steps: []*checks.Step{{}}, Pos: checks.Position{File: "checks.d/api.yaml"}},
		{Name: "checkout", Description: "Checkout works end to end", Schedule: "@every 1m",
			Labels: map[string]string{"team": secretLabel, "severity": "page"}, Steps: []*checks.Step{{}, {}},
			Pos: checks.Position{File: secretFile}},
		{Name: "never-ran", Description: "Added a moment ago", Schedule: "@every 1h"},
	})

	// api-health: 144 passing runs in the last 24h; 56 more in the rest of
	// the week with one failure; 100 more in the rest of the month with 9.
	var last *checks.Result
	for i := 299; i >= 0; i-- {
		var at time.Time
		passed := true
		switch {
		case i < 144:
			at = fixtureNow.Add(-time.Duration(i)*10*time.Minute - time.Minute)
		case i < 200:
			at = fixtureNow.Add(-25*time.Hour - time.Duration(i-144)*2*time.Hour)
			passed = i != 150
		default:
			at = fixtureNow.Add(-8*24*time.Hour - time.Duration(i-200)*5*time.Hour)
			passed = (i-200)%10 != 0 || i-200 >= 90
		}
		r := &checks.Result{Check: "api-health", Started: at, Duration: time.Duration(40+i%7*9) * time.Millisecond, Passed: passed}
		if !passed {
			r.Reason, r.Message = checks.ReasonTimeout, "step health: timeout after 5s"
		}
		f.hist.add(r)
		last = r
	}
	f.status.Record(context.Background(), last)

	// checkout: 10 runs in the last 24h, the 4 latest failed.
	for i := 9; i >= 0; i-- {
		at := fixtureNow.Add(-time.Duration(i)*time.Minute - 30*time.Second)
		if i >= 4 {
			r := passingCheckout(at)
			f.baselineID = f.hist.add(r)
			continue
		}
		r := failingCheckout(at, f.baselineID)
		f.failedID = f.hist.add(r)
		last = r
	}
	f.status.Record(context.Background(), last)

	resolved := fixtureNow.Add(-50 * time.Hour)
	f.hist.incidents = []history.Incident{
		{ID: "inc-2", Check: "checkout", Started: fixtureNow.Add(-3*time.Minute - 30*time.Second), Opened: fixtureNow.Add(-2 * time.Minute),
			FirstFailure: secretIncident, FirstReason: "assertion", LastFailure: secretMessage, Runs: 4, FailedRuns: 4},
		{ID: "inc-1", Check: "api-health", Started: fixtureNow.Add(-52 * time.Hour), Opened: fixtureNow.Add(-51 * time.Hour),
			Resolved: &resolved, Resolution: "recovered", FirstFailure: "step health: timeout after 5s", FirstReason: "timeout", Runs: 3, FailedRuns: 2},
	}
	return f
}

func passingCheckout(at time.Time) *checks.Result {
	return &checks.Result{Check: "checkout", Started: at, Duration: 120 * time.Millisecond, Passed: true,
		Attempts: []checks.Attempt{{Number: 1, Started: at, Duration: 120 * time.Millisecond, Passed: true,
			Steps: []checks.StepResult{{Name: "login", Passed: true}, {Name: "get cart", Passed: true,
				Request:  checks.RequestSummary{Method: "GET", URL: secretURL},
				Response: &checks.ResponseSummary{Status: 200, Proto: "HTTP/1.1", Body: `{"items":[{"sku":"A-1","in_stock":true}]}`}}}}}}
}

// failingCheckout fails its second step on status and a JSON value, with a
// diff against the baseline run.
func failingCheckout(at time.Time, baseline int64) *checks.Result {
	get := checks.StepResult{Name: "get cart", Reason: checks.ReasonAssertion, Message: secretMessage,
		Request: checks.RequestSummary{Method: "POST", URL: secretURL,
			Headers: map[string][]string{"Authorization": {"Bearer [REDACTED]"}, "X-Trace": {secretReqHeader}},
			Body:    `{"item":"` + secretReqBody + `"}`},
		Response: &checks.ResponseSummary{Status: 500, Proto: "HTTP/1.1",
			Headers: map[string][]string{"Content-Type": {"application/json"}, "X-Backend": {secretRespHeader}},
			Body:    `{"error":"` + secretRespBody + `","items":[]}`, BodySize: 48},
		Timings: checks.Timings{DNS: 2 * time.Millisecond, Connect: 3 * time.Millisecond, TLS: 9 * time.Millisecond,
			FirstByte: 180 * time.Millisecond, Total: 190 * time.Millisecond},
		Assertions: []checks.AssertionResult{
			{Name: "status", Passed: false, Expected: "200", Actual: "500", Message: secretMessage},
			{Name: secretAssertion, Passed: false, Expected: `"A-1"`, Actual: "absent", Message: "json $.items[0].sku: expected \"A-1\", got nothing"},
			{Name: "header Content-Type", Passed: true, Expected: "application/json", Actual: "application/json"},
		},
		Findings: []checks.Finding{{Rule: "cache-control-on-error", Section: "RFC 9111 §3", Level: "SHOULD",
			Expected: "no-store", Actual: "absent", Message: "a 500 should not be cached"}},
		Diff: &checks.ResponseDiff{BaselineRunID: baseline, BaselineTime: at.Add(-time.Minute),
			Status:  &checks.FieldChange{Name: "status", Change: checks.ChangeChanged, From: "200", To: "500"},
			Headers: []checks.FieldChange{{Name: "X-Backend", Change: checks.ChangeChanged, From: secretBaseline, To: secretRespHeader}},
			JSON: []checks.FieldChange{{Name: "$.items[0].in_stock", Change: checks.ChangeRemoved, From: secretJSONBefore},
				{Name: "$.error", Change: checks.ChangeAdded, To: `"` + secretRespBody + `"`}},
			Text: "--- baseline\n+++ failed\n@@ -1 +1 @@\n" + secretDiffText + "\n+diff-line-after\n"},
	}
	return &checks.Result{Check: "checkout", File: secretFile, Started: at, Duration: 250 * time.Millisecond,
		Reason: checks.ReasonAssertion, Message: "step get cart: " + secretMessage,
		Attempts: []checks.Attempt{{Number: 1, Started: at, Duration: 250 * time.Millisecond, Reason: checks.ReasonAssertion,
			Steps: []checks.StepResult{{Name: "login", Passed: true, Request: checks.RequestSummary{Method: "POST", URL: secretURL}},
				get, {Name: "pay", Skipped: true}}}}}
}

// servePages serves the handler over the fixture.
func (f *fixture) serve(t *testing.T, public bool) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(web.Handler(web.Options{Gatherer: prometheus.NewRegistry(), Status: f.status,
		History: f.hist, Public: public, Now: func() time.Time { return fixtureNow }}))
	t.Cleanup(srv.Close)
	return srv
}
