package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/assay-monitor/assay/checks"
)

// warnedCheck passed, with a semantics finding in warn mode on its second
// step.
func warnedCheck() *checks.Result {
	f := checks.Finding{Rule: "rfc9110/204-content-length", Section: "RFC 9110 §8.6", Level: "MUST",
		Expected: "no Content-Length (or 0)", Actual: "Content-Length: 20", Message: "a server must not send Content-Length in a 204 response"}
	return &checks.Result{Check: "documents", File: "checks.d/documents.yaml", Passed: true,
		Attempts: []checks.Attempt{{Number: 1, Passed: true, Steps: []checks.StepResult{
			{Name: "read", Passed: true, Request: checks.RequestSummary{Method: "GET", URL: "http://x/documents/1"}},
			{Name: "update", Passed: true, Request: checks.RequestSummary{Method: "PATCH", URL: "http://x/documents/1"}, Findings: []checks.Finding{f}},
		}}}}
}

func TestConsoleWarnsAboutFindingsOfPassingChecks(t *testing.T) {
	var b bytes.Buffer
	WriteConsole(&b, []*checks.Result{warnedCheck()}, ConsoleOptions{})
	want := `PASS  documents  (0ms)

--- WARN  documents  (checks.d/documents.yaml)
    step:     update  (2 of 2)
      [MUST] rfc9110/204-content-length (RFC 9110 §8.6): a server must not send Content-Length in a 204 response
        expected: no Content-Length (or 0)
        actual:   Content-Length: 20

1 passed, 0 failed
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestJUnitFindingsOfPassingStep(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJUnit(&b, []*checks.Result{warnedCheck()}, "assay"); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if !strings.Contains(out, `<testcase name="update" classname="documents" time="0.000">
      <system-out>finding [MUST] rfc9110/204-content-length (RFC 9110 §8.6): a server must not send Content-Length in a 204 response
  expected: no Content-Length (or 0)
  actual:   Content-Length: 20
</system-out>`) || !strings.Contains(out, `failures="0"`) {
		t.Errorf("junit:\n%s", out)
	}
	parseJUnit(t, b.Bytes())
}
