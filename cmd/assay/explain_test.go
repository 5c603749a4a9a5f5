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
	if code != exitOK || !strings.Contains(out, "Usage:\n  assay explain CHECK... [--checks PATH]") {
		t.Errorf("help: exit %d, %q", code, out)
	}
}

func TestTestSemanticsFlag(t *testing.T) {
	code, _, errOut := invoke(t, "test", "--semantics", "loud", "../../checks.d")
	wantOneLine(t, code, errOut, "--semantics", "expected strict, warn or off")
}

// TestExplainKeepsSLO: the slo block is printed (the objective as a
// percentage, the window in days) and the output still loads and runs,
// with the same objective.
func TestExplainKeepsSLO(t *testing.T) {
	srv := httptest.NewServer(demoapi.New(demoapi.Options{}))
	defer srv.Close()
	t.Setenv("DEMO_API_URL", srv.URL)
	dir := writeFiles(t, map[string]string{"slo.yaml": `checks:
  - name: documents-slo
    slo: { objective: 0.995, window: 1w2d }
    steps:
      - request: { url: "${DEMO_API_URL}/documents/1" }
        expect: { status: 200 }
  - name: documents-default-window
    slo:
      objective: "99.9%"
    steps:
      - request: { url: "${DEMO_API_URL}/documents/1" }
`})
	for _, tc := range []struct{ check, want string }{
		{"documents-slo", "    slo: {objective: 99.5%, window: 9d}\n"},
		{"documents-default-window", "    slo: {objective: 99.9%, window: 30d}\n"},
	} {
		t.Run(tc.check, func(t *testing.T) {
			code, out, errOut := invoke(t, "explain", tc.check, "--checks", filepath.Join(dir, "slo.yaml"))
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if !strings.Contains(out, tc.want) {
				t.Errorf("output lacks %q:\n%s", tc.want, out)
			}
			again := writeFiles(t, map[string]string{"explained.yaml": out})
			code, testOut, errOut := invoke(t, "test", filepath.Join(again, "explained.yaml"))
			if code != exitOK {
				t.Fatalf("explained check: exit %d\n%s%s\n--- file:\n%s", code, testOut, errOut, out)
			}
			code, out2, errOut := invoke(t, "explain", tc.check, "--checks", filepath.Join(again, "explained.yaml"))
			if code != exitOK || !strings.Contains(out2, tc.want) {
				t.Errorf("explaining the output: exit %d %s\n%s", code, errOut, out2)
			}
		})
	}
}
