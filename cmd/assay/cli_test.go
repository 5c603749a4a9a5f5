package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// runMainEnv makes the test binary run assay's main instead of the tests:
// the tests that need a real process (signals) start it as a child.
const runMainEnv = "ASSAY_CLI_TEST_RUN_MAIN"

// TestMain fails the package's tests if a goroutine outlives them (the
// runner's connections, test servers).
func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		return
	}
	goleak.VerifyTestMain(m)
}

// invoke runs the CLI as main does and returns the exit code and output.
func invoke(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// writeConfig writes a global config file and returns its path.
func writeConfig(t *testing.T, content string) string {
	t.Helper()
	return filepath.Join(writeFiles(t, map[string]string{"assay.yaml": content}), "assay.yaml")
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func nonEmptyLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// wantOneLine asserts a user error: exit 2 and a single line on stderr,
// with no Go stack trace or panic.
func wantOneLine(t *testing.T, code int, stderr string, contains ...string) {
	t.Helper()
	if code != exitUsage {
		t.Errorf("exit code %d, want %d", code, exitUsage)
	}
	lines := nonEmptyLines(stderr)
	if len(lines) != 1 || !strings.HasSuffix(stderr, "\n") {
		t.Fatalf("stderr is not one line:\n%s", stderr)
	}
	for _, bad := range []string{"goroutine ", "panic", ".go:"} {
		if strings.Contains(stderr, bad) {
			t.Errorf("stderr looks like a stack trace (%q): %s", bad, stderr)
		}
	}
	for _, c := range contains {
		if !strings.Contains(lines[0], c) {
			t.Errorf("stderr %q does not contain %q", lines[0], c)
		}
	}
}

const goodChecks = `checks:
  - name: one
    steps:
      - request: { url: "http://example.com/" }
      - request: { url: "http://example.com/2" }
`

func TestValidateGoodFiles(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"a.yaml": goodChecks,
		"sub/b.yml": `checks:
  - name: two
    steps:
      - request: { url: "http://example.com/" }
`,
	})
	code, stdout, stderr := invoke(t, "validate", dir)
	if code != exitOK || stderr != "" {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	if want := "ok: 2 checks, 3 steps in 2 files\n"; stdout != want {
		t.Errorf("stdout %q, want %q", stdout, want)
	}
	// A file given by name works as well as a directory.
	if code, _, stderr := invoke(t, "validate", filepath.Join(dir, "a.yaml")); code != exitOK {
		t.Errorf("validate FILE: exit %d, stderr:\n%s", code, stderr)
	}
}

func TestValidatePrintsEveryErrorOfEveryFile(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"a.yaml": `checks:
  - name: a
    schedule: "every minute"
    steps:
      - request: { url: "http://example.com/" }
        expcet: { status: 200 }
`,
		"sub/b.yaml": `checks:
  - name: b
    steps:
      - request: { url: "http://example.com/", timeout: soon }
`,
		"ok.yaml": goodChecks,
	})
	code, stdout, stderr := invoke(t, "validate", dir)
	if code != exitUsage {
		t.Errorf("exit %d, want %d", code, exitUsage)
	}
	if stdout != "" {
		t.Errorf("stdout %q, want nothing", stdout)
	}
	a, b := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "sub", "b.yaml")
	want := []string{
		a + `:3:15: checks[0].schedule: invalid cron spec "every minute": expected 5 to 6 fields, found 2: [every minute]`,
		a + `:6:9: checks[0].steps[0].expcet: unknown field "expcet" (did you mean "expect"?)`,
		b + `:4:57: checks[0].steps[0].request.timeout: expected a duration like 10s or 1m30s, got string "soon"`,
		"3 error(s) in the check files",
	}
	if got := nonEmptyLines(stderr); !slices.Equal(got, want) {
		t.Errorf("stderr:\n%s\nwant:\n%s", stderr, strings.Join(want, "\n"))
	}
}

func TestValidateMissingPath(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope")
	code, _, stderr := invoke(t, "validate", missing)
	if code != exitUsage {
		t.Errorf("exit %d, want %d", code, exitUsage)
	}
	if !strings.HasPrefix(stderr, missing+": cannot read: no such file or directory\n") {
		t.Errorf("stderr:\n%s", stderr)
	}
}

func TestUsageErrors(t *testing.T) {
	dir := writeFiles(t, map[string]string{"a.yaml": goodChecks})
	tests := []struct {
		name     string
		args     []string
		contains []string
	}{
		{"unknown command", []string{"tset"}, []string{`assay: unknown command "tset"`, "assay help"}},
		{"bad flag on test", []string{"test", "--bogus", dir}, []string{"assay test:", "unknown flag: --bogus"}},
		{"bad flag on validate", []string{"validate", "-x"}, []string{"assay validate:", "unknown shorthand flag: 'x' in -x"}},
		{"flag without value", []string{"test", dir, "--junit"}, []string{"assay test:", "flag needs an argument: --junit"}},
		{"parallel 0", []string{"test", dir, "--parallel", "0"}, []string{"--parallel must be at least 1, got 0"}},
		{"parallel not a number", []string{"test", dir, "--parallel", "many"}, []string{"assay test:", `invalid argument "many" for "--parallel"`}},
		{"tag selects nothing", []string{"test", dir, "--tag", "nope"}, []string{"no checks selected"}},
		{"name selects nothing", []string{"test", "--name", "zz*", dir}, []string{"no checks selected"}},
		{"bad name pattern", []string{"test", dir, "--name", "[x"}, []string{`--name "[x": bad pattern`}},
		{"bad color", []string{"test", dir, "--color", "purple"}, []string{"--color"}},
		{"unknown fault", []string{"demo-api", "--fault", "nope"}, []string{`unknown fault "nope"`, "ignore-if-match, no-etag, body-on-204, slow, error"}},
		{"demo-api extra argument", []string{"demo-api", "extra"}, []string{"assay demo-api:", `unexpected argument "extra"`}},
		{"unknown command suggests", []string{"valdiate"}, []string{`assay: unknown command "valdiate"`, `did you mean "validate"?`}},
		{"single-dash unknown flag", []string{"test", dir, "-bogus"}, []string{"assay test:", "unknown flag: --bogus"}},
		{"run extra argument", []string{"run", "checks.d"}, []string{"assay run:", `unexpected argument "checks.d" (use --checks DIR)`}},
		{"run bad log format", []string{"run", "--log-format", "xml"}, []string{"--log-format must be json or text"}},
		{"demo every too short", []string{"demo", "--every", "10ms"}, []string{"assay demo:", "--every must be at least 1s"}},
		{"version extra argument", []string{"version", "x"}, []string{"assay version:", `unexpected argument "x"`}},
		{"help unknown command", []string{"help", "nope"}, []string{"assay help:", `unknown command "nope"`}},
		{"notify without subcommand", []string{"notify"}, []string{"assay notify:", "missing subcommand (test)"}},
		{"notify unknown subcommand", []string{"notify", "send"}, []string{`unknown subcommand "send" (valid: test)`}},
		{"notify test without name", []string{"notify", "test"}, []string{"assay notify test:", "want exactly one notifier name, got 0"}},
		{"notify test missing config", []string{"notify", "test", "x", "--config", filepath.Join(dir, "nope.yaml")}, []string{"no such file (notifiers are defined in the global config)"}},
		{"replay without id", []string{"replay"}, []string{"assay replay:", "want exactly one RUN_ID, got 0"}},
		{"replay bad id", []string{"replay", "abc"}, []string{`RUN_ID is a positive integer, got "abc"`}},
		{"replay config and server", []string{"replay", "1", "--config", "a.yaml", "--server", "http://127.0.0.1:1"}, []string{"use --config or --server, not both"}},
		{"replay bad server", []string{"replay", "1", "--server", "ftp://x"}, []string{"--server must be an http or https URL"}},
		{"notifications bad status", []string{"notifications", "--status", "sent"}, []string{"assay notifications:", `--status must be pending or dead, got "sent"`}},
		{"notifications list bad limit", []string{"notifications", "list", "--limit", "0"}, []string{"assay notifications list:", "--limit must be between 1 and 1000"}},
		{"notifications list extra", []string{"notifications", "list", "5"}, []string{`unexpected argument "5"`}},
		{"notifications retry without id", []string{"notifications", "retry"}, []string{"assay notifications retry:", "needs the ID of a notification"}},
		{"notifications drop bad id", []string{"notifications", "drop", "x1"}, []string{`a notification ID is a positive integer, got "x1"`}},
		{"notifications no store", []string{"notifications", "--config", writeConfig(t, "storage: { path: nowhere/assay.db }\n")}, []string{"no store at", "nowhere/assay.db"}},
		{"completion without shell", []string{"completion"}, []string{"assay completion:", "name the shell: bash, zsh, fish or powershell"}},
		{"completion unknown shell", []string{"completion", "tcsh"}, []string{`unknown shell "tcsh"`}},
		{"completion extra argument", []string{"completion", "bash", "extra"}, []string{"assay completion bash:", `"extra"`}},
		{"control characters are escaped", []string{"test", dir, "--\x1b[2Jevil\nline"}, []string{`assay test: unknown flag: --\x1b[2Jevil\nline`}},
		{"both reports on stdout", []string{"test", dir, "--json", "-", "--junit", "-"}, []string{"--json - and --junit - both want standard output"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := invoke(t, tt.args...)
			wantOneLine(t, code, stderr, tt.contains...)
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	// No command is a mistake: the help goes to stderr, exit 2.
	code, stdout, stderr := invoke(t)
	if code != exitUsage || stdout != "" || !strings.Contains(stderr, "Usage:\n  assay [--version]\n  assay [command]") {
		t.Errorf("no arguments: exit %d, stdout %q, stderr:\n%s", code, stdout, stderr)
	}
	// Asked for, help is on stdout with exit 0.
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}} {
		code, stdout, stderr = invoke(t, args...)
		if code != exitOK || stderr != "" || !strings.Contains(stdout, "validate      check files for errors") || !strings.Contains(stdout, "130  interrupted by SIGINT") {
			t.Errorf("%v: exit %d, stderr %q, stdout:\n%s", args, code, stderr, stdout)
		}
	}
	code, stdout, _ = invoke(t, "test", "--help")
	if code != exitOK || !strings.Contains(stdout, "--junit FILE") {
		t.Errorf("test --help: exit %d, stdout:\n%s", code, stdout)
	}
}

// docServer serves GET /doc: 200 with a JSON body and an ETag, or 304 for
// a matching If-None-Match.
func docServer(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/doc" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("ETag", `"v1"`)
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":42,"title":"hello"}`))
	}))
	t.Cleanup(srv.Close)
	t.Setenv("ASSAY_TEST_URL", srv.URL)
	return srv
}

const passingCheck = `checks:
  - name: doc-revalidates
    tags: [smoke]
    steps:
      - name: read
        request: { url: "${ASSAY_TEST_URL}/doc" }
        expect:
          status: 200
          json: { $.id: 42 }
        capture: { etag: { header: ETag } }
      - name: revalidate
        request:
          url: "${ASSAY_TEST_URL}/doc"
          headers: { If-None-Match: "{{ .etag }}" }
        expect: { status: 304 }
`

const failingCheck = `checks:
  - name: doc-is-created
    tags: [contract]
    steps:
      - name: create
        request: { url: "${ASSAY_TEST_URL}/doc" }
        expect: { status: 201 }
`

func TestTestPassing(t *testing.T) {
	docServer(t)
	dir := writeFiles(t, map[string]string{"pass.yaml": passingCheck})
	code, stdout, stderr := invoke(t, "test", dir)
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	lines := nonEmptyLines(stdout)
	if len(lines) == 0 || lines[len(lines)-1] != "1 passed, 0 failed" {
		t.Errorf("last line is not the summary:\n%s", stdout)
	}
	if !strings.Contains(stdout, "doc-revalidates") {
		t.Errorf("no line for the check:\n%s", stdout)
	}
}

func TestTestFailing(t *testing.T) {
	docServer(t)
	dir := writeFiles(t, map[string]string{"pass.yaml": passingCheck, "fail.yaml": failingCheck})
	code, stdout, stderr := invoke(t, "test", dir)
	if code != exitFailed {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, exitFailed, stdout, stderr)
	}
	lines := nonEmptyLines(stdout)
	if lines[len(lines)-1] != "1 passed, 1 failed" {
		t.Errorf("last line is not the summary:\n%s", stdout)
	}
	for _, want := range []string{"doc-is-created", "step:     create", "status: expected 201, got 200"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout does not name %q:\n%s", want, stdout)
		}
	}

	// The filters select what runs: only the passing check has the tag.
	code, stdout, _ = invoke(t, "test", dir, "--tag", "smoke")
	if code != exitOK || !strings.HasSuffix(stdout, "1 passed, 0 failed\n") {
		t.Errorf("--tag smoke: exit %d\n%s", code, stdout)
	}
	code, stdout, _ = invoke(t, "test", "--name", "doc-is-*", dir)
	if code != exitFailed || !strings.HasSuffix(stdout, "0 passed, 1 failed\n") {
		t.Errorf("--name doc-is-*: exit %d\n%s", code, stdout)
	}
}

func TestTestReports(t *testing.T) {
	docServer(t)
	dir := writeFiles(t, map[string]string{"pass.yaml": passingCheck, "fail.yaml": failingCheck})
	out := t.TempDir()
	junit, jsonFile := filepath.Join(out, "junit.xml"), filepath.Join(out, "results.json")
	// Flags may follow the paths, as in `assay test checks.d --junit out.xml`.
	code, stdout, stderr := invoke(t, "test", dir, "--junit", junit, "--json", jsonFile, "--parallel", "1")
	if code != exitFailed {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}

	var doc struct {
		XMLName  xml.Name `xml:"testsuites"`
		Tests    int      `xml:"tests,attr"`
		Failures int      `xml:"failures,attr"`
		Suites   []struct {
			Name      string `xml:"name,attr"`
			Testcases []struct {
				Name    string `xml:"name,attr"`
				Failure *struct {
					Message string `xml:"message,attr"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	b, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("JUnit does not parse: %v\n%s", err, b)
	}
	cases := map[string][]string{}
	var failures []string
	for _, s := range doc.Suites {
		for _, tc := range s.Testcases {
			cases[s.Name] = append(cases[s.Name], tc.Name)
			if tc.Failure != nil {
				failures = append(failures, s.Name+"/"+tc.Name+": "+tc.Failure.Message)
			}
		}
	}
	wantCases := map[string][]string{
		"doc-is-created":  {"create"},
		"doc-revalidates": {"read", "revalidate"},
	}
	if len(cases) != 2 || !slices.Equal(cases["doc-is-created"], wantCases["doc-is-created"]) ||
		!slices.Equal(cases["doc-revalidates"], wantCases["doc-revalidates"]) {
		t.Errorf("one testsuite per check and one testcase per step: got %v, want %v", cases, wantCases)
	}
	if doc.Tests != 3 || doc.Failures != 1 || len(failures) != 1 || !strings.Contains(failures[0], "expected 201, got 200") {
		t.Errorf("tests=%d failures=%d %q", doc.Tests, doc.Failures, failures)
	}

	var res struct {
		Version int `json:"version"`
		Passed  int `json:"passed"`
		Failed  int `json:"failed"`
		Results []struct {
			Check    string `json:"check"`
			Passed   bool   `json:"passed"`
			Attempts []struct {
				Steps []json.RawMessage `json:"steps"`
			} `json:"attempts"`
		} `json:"results"`
	}
	b, err = os.ReadFile(jsonFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatalf("JSON does not parse: %v", err)
	}
	if res.Version != 1 || res.Passed != 1 || res.Failed != 1 || len(res.Results) != 2 {
		t.Fatalf("json: version %d passed %d failed %d results %d", res.Version, res.Passed, res.Failed, len(res.Results))
	}
	steps := map[string]int{}
	for _, r := range res.Results {
		if r.Passed != (r.Check == "doc-revalidates") {
			t.Errorf("%s passed=%v", r.Check, r.Passed)
		}
		if len(r.Attempts) > 0 {
			steps[r.Check] = len(r.Attempts[len(r.Attempts)-1].Steps)
		}
	}
	if steps["doc-revalidates"] != 2 || steps["doc-is-created"] != 1 {
		t.Errorf("steps per check in the JSON: %v", steps)
	}
}

func TestTestWithBadCheckFilesExits2(t *testing.T) {
	dir := writeFiles(t, map[string]string{"bad.yaml": `checks:
  - name: x
    stepz: []
`})
	code, stdout, stderr := invoke(t, "test", dir)
	if code != exitUsage || stdout != "" {
		t.Errorf("exit %d, stdout %q", code, stdout)
	}
	p := filepath.Join(dir, "bad.yaml")
	want := []string{
		p + `:2:5: checks[0].steps: a check needs at least one step`,
		p + `:3:5: checks[0].stepz: unknown field "stepz" (did you mean "steps"?)`,
		"2 error(s) in the check files",
	}
	if got := nonEmptyLines(stderr); !slices.Equal(got, want) {
		t.Errorf("stderr:\n%s\nwant:\n%s", stderr, strings.Join(want, "\n"))
	}
}
