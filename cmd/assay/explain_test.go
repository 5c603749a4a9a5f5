package main

import (
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assay-monitor/assay/internal/demoapi"
)

func TestExplainShippedContract(t *testing.T) {
	code, out, errOut := invoke(t, "explain", "documents-contract", "--checks", "../../checks.d")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"# contract conditional-update expanded into 6 steps",
		"- name: 'read: GET returns a strong ETag'",
		"- name: 'stale write: PATCH with the old If-Match gets 412'",
		"- name: 'unconditional write: PATCH without If-Match gets 428'",
		"headers: {If-None-Match: '{{ .updated_etag }}'}",
		"openapi: {spec: schemas/demo-api.openapi.json}",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\n    contract:") {
		t.Errorf("contract block not expanded:\n%s", out)
	}
}

// TestExplainOutputRuns: the printed steps are a check file that passes
// against the demo API, like the contract it came from.
func TestExplainOutputRuns(t *testing.T) {
	srv := httptest.NewServer(demoapi.New(demoapi.Options{}))
	defer srv.Close()
	t.Setenv("DEMO_API_URL", srv.URL)
	code, out, errOut := invoke(t, "explain", "documents-method-not-allowed", "--checks", "../../checks.d/contracts.yaml")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	dir := writeFiles(t, map[string]string{"explained.yaml": out})
	code, testOut, errOut := invoke(t, "test", filepath.Join(dir, "explained.yaml"))
	if code != exitOK {
		t.Fatalf("explained check: exit %d\n%s%s\n--- file:\n%s", code, testOut, errOut, out)
	}
}

func TestExplainUsage(t *testing.T) {
	code, _, errOut := invoke(t, "explain", "--checks", "../../checks.d")
	wantOneLine(t, code, errOut, "name the check to explain")
	code, _, errOut = invoke(t, "explain", "documents-contrac", "--checks", "../../checks.d")
	wantOneLine(t, code, errOut, `no check named "documents-contrac"`, "did you mean documents-contract?")
	code, out, _ := invoke(t, "explain", "--help")
	if code != exitOK || !strings.Contains(out, "usage: assay explain CHECK") {
		t.Errorf("help: exit %d, %q", code, out)
	}
}

func TestTestSemanticsFlag(t *testing.T) {
	code, _, errOut := invoke(t, "test", "--semantics", "loud", "../../checks.d")
	wantOneLine(t, code, errOut, "--semantics", "expected strict, warn or off")
}
