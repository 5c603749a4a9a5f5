package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestValidateWithNoCheckFilesExits2: an empty directory, or files that
// define nothing, are a mistake to report, not "ok: 0 checks".
func TestValidateWithNoCheckFilesExits2(t *testing.T) {
	empty := t.TempDir()
	if err := os.WriteFile(filepath.Join(empty, "README.txt"), []byte("not a check file"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := invoke(t, "validate", empty)
	wantOneLine(t, code, stderr, "assay validate: no check files in "+empty+" (*.yaml or *.yml)")
	if stdout != "" {
		t.Errorf("stdout %q", stdout)
	}
	none := writeFiles(t, map[string]string{"a.yaml": "checks: []\n"})
	code, _, stderr = invoke(t, "validate", none)
	wantOneLine(t, code, stderr, "assay validate: no checks in "+none+": its 1 file(s) define none")
}

// TestValidateWithConfigChecksNotifierNames: validate --config loads the
// global config and the checks as assay run does, and rejects a notify
// name that no notifier defines.
func TestValidateWithConfigChecksNotifierNames(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"assay.yaml": `checks: { dir: checks }
storage: { path: state/assay.db }
notifiers:
  pager: { type: pagerduty, routing_key: k }
defaults:
  alert: { notify: [pager] }
`,
		"checks/api.yaml": `checks:
  - name: api
    alert: { notify: [pager, slack-typo] }
    steps:
      - request: { url: "http://127.0.0.1:1/" }
`,
		"checks/ok.yaml": goodChecks,
	})
	cfg := filepath.Join(dir, "assay.yaml")
	api := filepath.Join(dir, "checks", "api.yaml")

	// Alone, the check files are fine.
	if code, stdout, stderr := invoke(t, "validate", filepath.Join(dir, "checks")); code != exitOK || stdout != "ok: 2 checks, 3 steps in 2 files\n" {
		t.Fatalf("validate without --config: exit %d %q %q", code, stdout, stderr)
	}
	// With the config, from another working directory: checks.dir is
	// relative to the config file.
	t.Chdir(t.TempDir())
	code, stdout, stderr := invoke(t, "validate", "--config", cfg)
	want := []string{
		api + `:3:12: check "api".alert.notify[1]: unknown notifier "slack-typo" (configured: pager)`,
		"1 error(s) in the config and the check files",
	}
	if code != exitUsage || stdout != "" || !slices.Equal(nonEmptyLines(stderr), want) {
		t.Errorf("exit %d, stdout %q, stderr:\n%s\nwant:\n%s", code, stdout, stderr, strings.Join(want, "\n"))
	}

	// Fixed, it is ok, and says what it checked.
	if err := os.WriteFile(api, []byte(strings.Replace(goodChecks, "name: one", "name: api\n    alert: { notify: [pager] }", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = invoke(t, "validate", "--config", cfg)
	if want := "ok: 2 checks, 4 steps in 2 files; " + cfg + ": 1 notifiers, storage " + filepath.Join(dir, "state", "assay.db") + "\n"; code != exitOK || stdout != want {
		t.Errorf("exit %d, stderr %q\nstdout %q\nwant   %q", code, stderr, stdout, want)
	}
}

func TestValidateWithConfigChecksTheStoragePath(t *testing.T) {
	dir := writeFiles(t, map[string]string{"checks/ok.yaml": goodChecks, "file": "x"})
	if err := os.Mkdir(filepath.Join(dir, "db"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, want string }{
		{"db", filepath.Join(dir, "db") + " is a directory; name the database file in it, e.g. " + filepath.Join(dir, "db", "assay.db")},
		{"file/assay.db", filepath.Join(dir, "file") + " is not a directory (in " + filepath.Join(dir, "file", "assay.db") + ")"},
	} {
		cfg := filepath.Join(dir, "assay.yaml")
		if err := os.WriteFile(cfg, []byte("checks: { dir: checks }\nstorage: { path: "+tc.path+" }\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		code, _, stderr := invoke(t, "validate", "--config", cfg)
		want := []string{cfg + ": storage.path: " + tc.want, "1 error(s) in the config and the check files"}
		if code != exitUsage || !slices.Equal(nonEmptyLines(stderr), want) {
			t.Errorf("storage.path %s: exit %d, stderr:\n%s\nwant:\n%s", tc.path, code, stderr, strings.Join(want, "\n"))
		}
	}
}

func TestValidateWithABrokenConfig(t *testing.T) {
	cfg := writeConfig(t, "server:\n  lisen: x\n")
	code, stdout, stderr := invoke(t, "validate", "--config", cfg, "../../checks.d")
	want := cfg + `:2:3: server.lisen: unknown field "lisen" (did you mean "listen"?)` + "\n"
	if code != exitUsage || stdout != "" || stderr != want {
		t.Errorf("exit %d, stdout %q, stderr %q, want %q", code, stdout, stderr, want)
	}
}

// TestExampleConfigIsAccepted: examples/assay.yaml, with no variable
// set, validates with the example checks it points at.
func TestExampleConfigIsAccepted(t *testing.T) {
	for _, v := range exampleEnv {
		t.Setenv(v, "")
		os.Unsetenv(v)
	}
	code, stdout, stderr := invoke(t, "validate", "--config", "../../examples/assay.yaml")
	if code != exitOK || !strings.HasPrefix(stdout, "ok: ") || !strings.Contains(stdout, "examples/assay.yaml: 4 notifiers, storage ../../data/assay.db\n") {
		t.Errorf("exit %d, stdout %q, stderr:\n%s", code, stdout, stderr)
	}
}

// exampleEnv is every variable examples/assay.yaml reads.
var exampleEnv = []string{"ASSAY_LISTEN", "ASSAY_EXTERNAL_URL", "ASSAY_STORAGE_PATH", "ASSAY_WEBHOOK_URL", "ASSAY_WEBHOOK_SECRET",
	"SLACK_WEBHOOK_URL", "PAGERDUTY_ROUTING_KEY", "PAGERDUTY_URL", "ALERTMANAGER_URL"}

// TestNotifyTestGoesOnWithoutABrokenNotifier: notify test of a notifier
// works while another notifier's variable is unset; that problem is a
// warning on stderr.
func TestNotifyTestGoesOnWithoutABrokenNotifier(t *testing.T) {
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case got <- r.URL.Path:
		default:
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	cfg := writeConfig(t, `notifiers:
  team-slack:
    type: slack
    url: ${ASSAY_TEST_UNSET_SLACK_URL}
  hook:
    type: webhook
    url: `+srv.URL+`/hook
`)
	code, stdout, stderr := invoke(t, "notify", "test", "hook", "--config", cfg)
	if code != exitOK || !strings.Contains(stdout, "ok: the receiver accepted the test event") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if p := <-got; p != "/hook" {
		t.Errorf("the receiver got %s", p)
	}
	want := "warning: " + cfg + ":4:10: notifiers.team-slack.url: environment variable ASSAY_TEST_UNSET_SLACK_URL is not set (use ${ASSAY_TEST_UNSET_SLACK_URL:-default} for a default) (notify test hook goes on without that notifier)\n"
	if stderr != want {
		t.Errorf("stderr:\n%s\nwant:\n%s", stderr, want)
	}
	// The broken notifier itself is still a configuration error.
	code, _, stderr = invoke(t, "notify", "test", "team-slack", "--config", cfg)
	if code != exitUsage || !strings.Contains(stderr, "ASSAY_TEST_UNSET_SLACK_URL is not set") || strings.Contains(stderr, "warning") {
		t.Errorf("notify test team-slack: exit %d, stderr:\n%s", code, stderr)
	}
}
