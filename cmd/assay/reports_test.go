package main

import (
	"encoding/json"
	"encoding/xml"
	"strings"
	"testing"
)

// TestReportOnStdoutKeepsStdoutParseable: with --json - or --junit - the
// report is all of stdout, and the console report moves to stderr.
func TestReportOnStdoutKeepsStdoutParseable(t *testing.T) {
	docServer(t)
	dir := writeFiles(t, map[string]string{"pass.yaml": passingCheck, "fail.yaml": failingCheck})

	code, stdout, stderr := invoke(t, "test", dir, "--json", "-")
	if code != exitFailed {
		t.Fatalf("--json -: exit %d\nstderr:\n%s", code, stderr)
	}
	var res struct {
		Passed, Failed int
		Results        []struct{ Check string }
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("stdout is not one JSON document: %v\n%s", err, stdout)
	}
	if res.Passed != 1 || res.Failed != 1 || len(res.Results) != 2 {
		t.Errorf("JSON: passed %d failed %d results %d", res.Passed, res.Failed, len(res.Results))
	}
	if !strings.HasSuffix(stderr, "1 passed, 1 failed\n") || !strings.Contains(stderr, "--- FAIL  doc-is-created") {
		t.Errorf("the console report is not on stderr:\n%s", stderr)
	}

	code, stdout, stderr = invoke(t, "test", "-junit", "-", dir, "--tag", "smoke")
	if code != exitOK {
		t.Fatalf("--junit -: exit %d\nstderr:\n%s", code, stderr)
	}
	var doc struct {
		XMLName xml.Name `xml:"testsuites"`
		Tests   int      `xml:"tests,attr"`
	}
	if err := xml.Unmarshal([]byte(stdout), &doc); err != nil || doc.Tests != 2 {
		t.Errorf("stdout is not the JUnit report (tests=%d, %v):\n%s", doc.Tests, err, stdout)
	}
	if !strings.HasSuffix(stderr, "1 passed, 0 failed\n") {
		t.Errorf("the console report is not on stderr:\n%s", stderr)
	}
}

// TestJSONReportMarksMaintenance: a check whose own window covers the
// run is marked in_maintenance in the JSON report; one without is not.
func TestJSONReportMarksMaintenance(t *testing.T) {
	docServer(t)
	inWindow := strings.Replace(passingCheck, "    tags: [smoke]\n", "    tags: [smoke]\n    maintenance: [{ schedule: \"* * * * *\", duration: 1h }]\n", 1)
	dir := writeFiles(t, map[string]string{"pass.yaml": inWindow, "fail.yaml": failingCheck})
	_, stdout, stderr := invoke(t, "test", dir, "--json", "-")
	var res struct {
		Results []struct {
			Check         string
			InMaintenance bool `json:"in_maintenance"`
		}
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil || len(res.Results) != 2 {
		t.Fatalf("report: %v\n%s\n%s", err, stdout, stderr)
	}
	for _, r := range res.Results {
		if want := r.Check == "doc-revalidates"; r.InMaintenance != want {
			t.Errorf("%s: in_maintenance %v, want %v", r.Check, r.InMaintenance, want)
		}
	}
}
