package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"strings"
	"testing"

	"github.com/assay-monitor/assay/checks"
)

// teardownResults are a check that failed in teardown (its steps passed,
// a finally step got 404) and one that failed in a step (its finally
// steps ran: one passed, one was skipped for a missing capture).
func teardownResults() []*checks.Result {
	req := func(method, url string) checks.RequestSummary { return checks.RequestSummary{Method: method, URL: url} }
	resp := func(status int) *checks.ResponseSummary {
		return &checks.ResponseSummary{Status: status, Proto: "HTTP/1.1"}
	}
	status := func(want, got string) []checks.AssertionResult {
		return []checks.AssertionResult{{Name: "status", Expected: want, Actual: got, Message: "status: expected " + want + ", got " + got}}
	}
	inTeardown := []checks.StepResult{
		{Name: "use", Passed: true, Request: req("GET", "http://demo.local/ok"), Response: resp(200), Timings: checks.Timings{Total: ms(3)}},
		{Name: "delete", Finally: true, Reason: checks.ReasonAssertion, Message: "status: expected 204, got 404",
			Request: req("DELETE", "http://demo.local/things/9"), Response: resp(404), Timings: checks.Timings{Total: ms(2)}, Assertions: status("204", "404")},
	}
	inStep := []checks.StepResult{
		{Name: "create", Passed: true, Request: req("POST", "http://demo.local/things"), Response: resp(201), Timings: checks.Timings{Total: ms(4)}},
		{Name: "use", Reason: checks.ReasonAssertion, Message: "status: expected 200, got 500",
			Request: req("GET", "http://demo.local/fail"), Response: resp(500), Timings: checks.Timings{Total: ms(5)}, Assertions: status("200", "500")},
		{Name: "delete", Finally: true, Passed: true, Request: req("DELETE", "http://demo.local/things/1"), Response: resp(204), Timings: checks.Timings{Total: ms(2)}},
		{Name: "audit", Finally: true, Skipped: true, Message: `skipped: needs the capture "audit_id" (step "use" did not capture it)`,
			Request: req("DELETE", "http://demo.local/audit/{{ .audit_id }}")},
	}
	result := func(name, msg string, steps []checks.StepResult) *checks.Result {
		return &checks.Result{Check: name, File: "c.yaml", Started: t0, Duration: ms(10), Reason: checks.ReasonAssertion, Message: msg,
			Attempts: []checks.Attempt{{Number: 1, Started: t0, Duration: ms(10), Reason: checks.ReasonAssertion, Message: msg, Steps: steps}}}
	}
	return []*checks.Result{
		result("teardown-fails", `finally step "delete": status: expected 204, got 404`, inTeardown),
		result("step-fails", `step "use": status: expected 200, got 500`, inStep),
	}
}

// Rule: the console says whether a check failed in a step or in
// teardown, names finally steps "finally: NAME", and tells what the
// teardown did after a failed step and why a finally step was skipped.
func TestConsoleTellsStepFromTeardown(t *testing.T) {
	var b bytes.Buffer
	WriteConsole(&b, teardownResults(), ConsoleOptions{Verbose: true})
	out := b.String()
	for _, want := range []string{
		"FAIL  teardown-fails  (10ms)\n      ok    use  (3ms)\n      FAIL  finally: delete  (2ms)\n",
		"      skip  finally: audit  (skipped: needs the capture \"audit_id\" (step \"use\" did not capture it))\n",
		"--- FAIL  teardown-fails  (c.yaml)\n    failed:   in teardown (the steps passed; finally steps: 1 failed)\n    step:     finally: delete  (2 of 2)\n    reason:   assertion\n    message:  status: expected 204, got 404\n",
		"--- FAIL  step-fails  (c.yaml)\n    step:     use  (2 of 4)\n    reason:   assertion\n    message:  status: expected 200, got 500\n" +
			"    teardown: after the failed step: 1 passed, 1 skipped\n      finally: audit: skipped: needs the capture \"audit_id\" (step \"use\" did not capture it)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("console lacks:\n%s\nin:\n%s", want, out)
		}
	}
}

// Rule: finally steps are JUnit test cases named "finally: NAME"; a
// failed one is a failure, a skipped one says why it was skipped.
func TestJUnitHasFinallyTestCases(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJUnit(&b, teardownResults(), "assay"); err != nil {
		t.Fatal(err)
	}
	var doc junitTestsuites
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ts := range doc.Suites {
		for _, tc := range ts.Testcases {
			line := ts.Name + " / " + tc.Name
			switch {
			case tc.Failure != nil:
				line += ": failure " + tc.Failure.Message
			case tc.Skipped != nil:
				line += ": skipped " + tc.Skipped.Message
			}
			got = append(got, line)
		}
	}
	want := []string{
		"teardown-fails / use",
		"teardown-fails / finally: delete: failure status: expected 204, got 404",
		"step-fails / create",
		"step-fails / use: failure status: expected 200, got 500",
		"step-fails / finally: delete",
		`step-fails / finally: audit: skipped skipped: needs the capture "audit_id" (step "use" did not capture it)`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("test cases:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Rule: the JSON report marks finally steps.
func TestJSONMarksFinallySteps(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, teardownResults()); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Results []struct {
			Attempts []struct {
				Steps []struct {
					Name    string `json:"name"`
					Finally bool   `json:"finally"`
				} `json:"steps"`
			} `json:"attempts"`
		} `json:"results"`
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	var got []string
	for _, r := range doc.Results {
		for _, s := range r.Attempts[0].Steps {
			if s.Finally {
				got = append(got, s.Name)
			}
		}
	}
	if strings.Join(got, ",") != "delete,delete,audit" {
		t.Errorf("finally steps in the JSON report: %v\n%s", got, b.String())
	}
}

// Rule: the curl replay of a run names finally steps and says why a
// skipped one did not run.
func TestCurlNamesFinallySteps(t *testing.T) {
	var b bytes.Buffer
	if err := Curl(&b, teardownResults()[1]); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"# step 3: finally: delete: passed\n",
		`# step 4: finally: audit: skipped: needs the capture "audit_id" (step "use" did not capture it)` + "\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("curl lacks %q in:\n%s", want, out)
		}
	}
}
