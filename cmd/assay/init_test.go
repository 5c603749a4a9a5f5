package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/assay-monitor/assay/checks/scaffold"
	"github.com/assay-monitor/assay/internal/demoapi"
)

// demoSpec is the demo API's own spec, as the example checks use it.
var demoSpec, _ = filepath.Abs("../../checks.d/schemas/demo-api.openapi.json")

// documentCount is the number of documents the demo API holds.
func documentCount(t *testing.T, base string) int {
	t.Helper()
	resp, err := http.Get(base + "/documents")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var docs []any
	if err := json.NewDecoder(resp.Body).Decode(&docs); err != nil {
		t.Fatal(err)
	}
	return len(docs)
}

// Rule: assay init writes the commented starter check file and config;
// the config validates with the checks it points at, and the check file
// passes against the demo API, its teardown deleting what it created.
func TestInitWritesStarterFilesThatRun(t *testing.T) {
	t.Chdir(t.TempDir())
	code, stdout, stderr := invoke(t, "init")
	if code != exitOK || stdout != "wrote checks.d/example.yaml and assay.yaml\nnext: start assay demo-api, then run assay test checks.d\n" {
		t.Fatalf("init: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	for path, want := range map[string][]byte{"checks.d/example.yaml": scaffold.StarterChecks, "assay.yaml": scaffold.StarterConfig} {
		if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: %v (equal to the starter: %v)", path, err, bytes.Equal(got, want))
		}
	}
	if code, stdout, stderr := invoke(t, "validate", "--config", "assay.yaml"); code != exitOK || stdout != "ok: 2 checks, 4 steps in 1 files; assay.yaml: 0 notifiers, storage assay.db\n" {
		t.Fatalf("validate --config: exit %d %q %q", code, stdout, stderr)
	}
	api := httptest.NewServer(demoapi.New(demoapi.Options{}))
	t.Cleanup(api.Close)
	t.Setenv("API_URL", api.URL)
	before := documentCount(t, api.URL)
	if code, stdout, stderr := invoke(t, "test", "checks.d"); code != exitOK || !strings.Contains(stdout, "2 passed, 0 failed") {
		t.Fatalf("test: exit %d\n%s%s", code, stdout, stderr)
	}
	if after := documentCount(t, api.URL); after != before {
		t.Errorf("%d documents after the run, %d before: the teardown did not delete", after, before)
	}
}

// Rule: assay init never overwrites: a file in the way is exit 2 naming
// it, and nothing is written (not even the other file); --force replaces.
func TestInitNeverOverwrites(t *testing.T) {
	t.Chdir(t.TempDir())
	if err := os.MkdirAll("checks.d", 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("checks.d/example.yaml", []byte("mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := invoke(t, "init")
	wantOneLine(t, code, stderr)
	if stderr != "assay init: checks.d/example.yaml exists: not overwriting it (--force replaces it)\n" {
		t.Errorf("stderr %q", stderr)
	}
	if got, _ := os.ReadFile("checks.d/example.yaml"); string(got) != "mine\n" {
		t.Errorf("the file was changed: %q", got)
	}
	if _, err := os.Stat("assay.yaml"); err == nil {
		t.Errorf("assay.yaml was written although init refused")
	}
	if code, _, stderr := invoke(t, "init", "--force"); code != exitOK {
		t.Fatalf("init --force: exit %d %s", code, stderr)
	}
	if got, _ := os.ReadFile("checks.d/example.yaml"); !bytes.Equal(got, scaffold.StarterChecks) {
		t.Errorf("--force did not replace the file")
	}
	// --from-openapi refuses an existing --out the same way.
	code, _, stderr = invoke(t, "init", "--from-openapi", demoSpec, "--out", "checks.d/example.yaml")
	wantOneLine(t, code, stderr, "assay init: checks.d/example.yaml exists: not overwriting it (--force replaces it)")
}

// Rule: the check file generated from the demo API's own spec validates
// and passes against the demo API, with and without --writes, and names
// the spec relative to itself.
func TestInitFromOpenAPIPassesAgainstTheDemoAPI(t *testing.T) {
	api := httptest.NewServer(demoapi.New(demoapi.Options{}))
	t.Cleanup(api.Close)
	for _, tc := range []struct {
		name   string
		extra  []string
		checks int
	}{{"reads", nil, 4}, {"writes", []string{"--writes"}, 5}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "gen", "api.yaml")
			args := append([]string{"init", "--from-openapi", demoSpec, "--base-url", api.URL, "--out", out}, tc.extra...)
			code, stdout, stderr := invoke(t, args...)
			if code != exitOK || !strings.HasPrefix(stdout, "wrote "+out+": ") {
				t.Fatalf("init: exit %d %q %q", code, stdout, stderr)
			}
			data, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(string(data), "\n  - name: "); n != tc.checks {
				t.Errorf("%d checks generated, want %d:\n%s", n, tc.checks, data)
			}
			// The spec is named as the loader resolves it, from the file.
			_, ref, _ := strings.Cut(string(data), "openapi: { spec: ")
			ref, _, _ = strings.Cut(ref, ",")
			if uq, err := strconv.Unquote(ref); err == nil {
				ref = uq // a quoted scalar (a path that starts with "." is quoted)
			}
			if !filepath.IsAbs(ref) {
				ref = filepath.Join(filepath.Dir(out), ref)
			}
			if ref != demoSpec {
				t.Errorf("the file names the spec %s, want %s", ref, demoSpec)
			}
			if code, stdout, stderr := invoke(t, "validate", filepath.Dir(out)); code != exitOK {
				t.Fatalf("validate: exit %d %q %q", code, stdout, stderr)
			}
			code, stdout, stderr = invoke(t, "test", filepath.Dir(out))
			if code != exitOK {
				t.Fatalf("test: exit %d\n%s%s\nfile:\n%s", code, stdout, stderr, data)
			}
		})
	}
}

// Rule: --out - writes the generated file to standard output, naming the
// spec relative to the working directory.
func TestInitFromOpenAPIToStdout(t *testing.T) {
	t.Chdir(filepath.Dir(demoSpec))
	code, stdout, stderr := invoke(t, "init", "--from-openapi", "demo-api.openapi.json", "--out", "-")
	if code != exitOK || !strings.HasPrefix(stdout, "# Generated by assay init --from-openapi demo-api.openapi.json\n") ||
		!strings.Contains(stdout, "openapi: { spec: demo-api.openapi.json, operation: getIndex }") {
		t.Fatalf("exit %d, stderr %q, stdout:\n%s", code, stderr, stdout)
	}
}

// Rule: init's mistakes are one line and exit 2.
func TestInitUsageErrors(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"init", "--writes"}, "assay init: --writes applies to --from-openapi SPEC; assay init alone writes checks.d/example.yaml and assay.yaml"},
		{[]string{"init", "--out", "x.yaml"}, "assay init: --out applies to --from-openapi SPEC"},
		{[]string{"init", "spec.yaml"}, `assay init: unexpected argument "spec.yaml" (use --from-openapi SPEC)`},
		{[]string{"init", "--from-openapi", "missing.yaml"}, "assay init: missing.yaml: cannot read the spec: no such file or directory"},
		{[]string{"init", "--from-openapi", demoSpec, "--base-url", "127.0.0.1:8787"}, `assay init: --base-url "127.0.0.1:8787": expected an absolute http or https URL like http://127.0.0.1:8787`},
	} {
		code, _, stderr := invoke(t, tc.args...)
		wantOneLine(t, code, stderr, tc.want)
	}
	if _, err := os.Stat("checks.d"); err == nil {
		t.Errorf("a failed init wrote checks.d")
	}
}

// Rule: the generated file names the spec relative to itself when they
// share a top directory, else by its absolute path.
func TestSpecRef(t *testing.T) {
	for _, tc := range []struct{ spec, out, want string }{
		{"/work/api/openapi.yaml", "/work/checks.d/openapi.yaml", "../api/openapi.yaml"},
		{"/work/checks.d/schemas/api.json", "/work/checks.d/api.yaml", "schemas/api.json"},
		{"/work/api/openapi.yaml", "/tmp/gen/api.yaml", "/work/api/openapi.yaml"},
	} {
		if got, err := specRef(tc.spec, tc.out); err != nil || got != tc.want {
			t.Errorf("specRef(%s, %s) = %q, %v; want %q", tc.spec, tc.out, got, err, tc.want)
		}
	}
}
