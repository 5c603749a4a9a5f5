package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// Rule: validate --config applies assay.yaml's secrets: to the check
// files, as assay run does: the value of a listed variable is hidden in
// their errors; without the config the same value is shown.
func TestValidateConfigSecretsHideValues(t *testing.T) {
	t.Setenv("MY_SESSION", "ftp://host/not-a-url-v4lue")
	dir := writeFiles(t, map[string]string{
		"assay.yaml":    "checks: { dir: checks }\nstorage: { path: state/assay.db }\nsecrets: [MY_SESSION]\n",
		"checks/a.yaml": "checks:\n  - name: a\n    steps:\n      - request: { url: \"${MY_SESSION}\" }\n",
	})
	code, _, stderr := invoke(t, "validate", filepath.Join(dir, "checks"))
	if code != exitUsage || !strings.Contains(stderr, "v4lue") {
		t.Fatalf("without --config: exit %d, stderr %q; want the value shown (the test is not testing)", code, stderr)
	}
	code, _, stderr = invoke(t, "validate", "--config", filepath.Join(dir, "assay.yaml"))
	if code != exitUsage || strings.Contains(stderr, "v4lue") || !strings.Contains(stderr, `expected an absolute http or https URL, got "[REDACTED]"`) {
		t.Fatalf("with --config: exit %d, stderr %q; want the value hidden", code, stderr)
	}
}
