package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const heartbeatChecks = `checks:
  - name: nightly-job
    heartbeat: { period: 1h, grace: 10m, token: "${NIGHTLY_TOKEN}" }
`

// assay test has no pings to judge: a heartbeat check is listed as
// skipped, neither run nor failed; beside an HTTP check, that one runs.
func TestTestSkipsHeartbeatChecks(t *testing.T) {
	docServer(t)
	t.Setenv("NIGHTLY_TOKEN", "cli-hb-token")
	dir := writeFiles(t, map[string]string{"hb.yaml": heartbeatChecks, "pass.yaml": passingCheck})
	out := filepath.Join(t.TempDir(), "out.json")
	code, stdout, stderr := invoke(t, "test", dir, "--json", out)
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "1 passed, 0 failed") || !strings.Contains(stdout, "skipped 1 heartbeat check(s), judged by assay run from their jobs' pings: nightly-job") {
		t.Errorf("stdout:\n%s", stdout)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep map[string]any
	if err := json.Unmarshal(b, &rep); err != nil || strings.Contains(string(b), "nightly-job") {
		t.Errorf("the JSON report has the heartbeat check as a run (%v):\n%s", err, b)
	}
	// Only heartbeat checks: nothing fails.
	code, stdout, _ = invoke(t, "test", filepath.Join(dir, "hb.yaml"))
	if code != exitOK || !strings.Contains(stdout, "skipped 1 heartbeat check(s)") || strings.Contains(stdout, "passed") {
		t.Errorf("only a heartbeat check: exit %d\n%s", code, stdout)
	}
}

func TestValidateAndExplainHeartbeat(t *testing.T) {
	t.Setenv("NIGHTLY_TOKEN", "cli-hb-token")
	dir := writeFiles(t, map[string]string{"hb.yaml": heartbeatChecks})
	if code, stdout, stderr := invoke(t, "validate", dir); code != exitOK || !strings.Contains(stdout, "1 checks") {
		t.Errorf("validate: exit %d\n%s%s", code, stdout, stderr)
	}
	code, out, errOut := invoke(t, "explain", "nightly-job", "--checks", dir)
	if code != exitOK {
		t.Fatalf("explain: exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, `    heartbeat: {period: 1h, grace: 10m, token: "[REDACTED]"}`) || strings.Contains(out, "cli-hb-token") ||
		!strings.Contains(out, "POST /api/v1/heartbeat/nightly-job") || strings.Contains(out, "steps:") || strings.Contains(out, "schedule:") {
		t.Errorf("explain:\n%s", out)
	}
	// A heartbeat check with steps is a load error naming the field.
	bad := writeFiles(t, map[string]string{"bad.yaml": heartbeatChecks + "    steps:\n      - request: { url: \"http://127.0.0.1:1/\" }\n"})
	code, _, stderr := invoke(t, "validate", bad)
	if code != exitUsage || !strings.Contains(stderr, "bad.yaml:4:5: checks[0].steps: a heartbeat check has no steps") {
		t.Errorf("validate steps beside a heartbeat: exit %d\n%s", code, stderr)
	}
}
