package checks_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/assay-monitor/assay/checks"
)

// oneCheck is a check file with one check whose fields are extra (indented
// for the check's mapping) and one step.
func oneCheck(extra string) string {
	return "checks:\n  - name: c1\n" + extra + "    steps:\n      - request: { url: \"http://127.0.0.1:1/\" }\n"
}

// TestScheduleWithoutNextTimeIsRejected: a schedule that no time in the
// next five years matches (robfig/cron's Next is then the zero time, on
// which a scheduler loop spins) is a load error naming the field, in any
// form: five or six fields, with a time zone, or an @every past the
// horizon. Rare but real dates (February 29th) load.
func TestScheduleWithoutNextTimeIsRejected(t *testing.T) {
	for _, spec := range []string{
		"0 0 30 2 *",    // February 30th
		"0 0 31 2 *",    // February 31st
		"0 0 31 4 *",    // April 31st
		"0 12 31 6,9 *", // June and September 31st
		"0 0 0 30 2 *",  // with seconds
		"CRON_TZ=Europe/Berlin 0 0 30 2 *",
		"TZ=America/New_York 0 0 31 11 *",
		"@every 2562047h",
		"@every 43830h", // five years and a day
	} {
		writeTree(t, map[string]string{"c.yaml": oneCheck(fmt.Sprintf("    schedule: %q\n", spec))})
		got := errorLines(t, "c.yaml")
		want := fmt.Sprintf("c.yaml:3:15: checks[0].schedule: schedule %q never fires: no time in the next 5 years matches it", spec)
		if !slices.Equal(got, []string{want}) {
			t.Errorf("%s:\n%s\nwant %s", spec, strings.Join(got, "\n"), want)
		}
	}
	for _, spec := range []string{"0 0 29 2 *", "0 0 31 * *", "0 0 30 2 1", "CRON_TZ=UTC 0 0 29 2 *", "@every 8760h", "@yearly"} {
		writeTree(t, map[string]string{"c.yaml": oneCheck(fmt.Sprintf("    schedule: %q\n", spec))})
		loadOK(t, "c.yaml")
	}
	// A time zone with nothing after it panicked inside robfig/cron.
	writeTree(t, map[string]string{"c.yaml": oneCheck("    schedule: \"CRON_TZ=UTC\"\n")})
	if got := errorLines(t, "c.yaml"); len(got) != 1 || !strings.Contains(got[0], "checks[0].schedule: invalid cron spec") {
		t.Errorf("CRON_TZ=UTC: %q", got)
	}
}

// laughs is a check file holding the "billion laughs": levels anchors of
// width aliases each, used as the vars of a check.
func laughs(levels, width int) string {
	var b strings.Builder
	b.WriteString("x0: &x0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for i := 1; i <= levels; i++ {
		fmt.Fprintf(&b, "x%d: &x%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*x%d, ", i-1), width), ", "))
	}
	fmt.Fprintf(&b, "checks:\n  - name: c1\n    vars: *x%d\n    steps: [ { request: { url: \"http://127.0.0.1:1/\" } } ]\n", levels)
	return b.String()
}

// TestAliasExpansionIsBounded: a check file whose aliases expand past the
// node limit is one error with its position, found fast and in small
// memory; the same shape under a limit of its own loads, and the limit is
// an option. The global config is bounded the same way (config tests).
func TestAliasExpansionIsBounded(t *testing.T) {
	for _, tc := range []struct{ levels, width int }{{6, 10}, {9, 10}, {30, 9}, {25, 3}} {
		src := laughs(tc.levels, tc.width)
		writeTree(t, map[string]string{"bomb.yaml": src})
		var got []string
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		got = errorLines(t, "bomb.yaml")
		runtime.ReadMemStats(&after)
		if len(got) != 1 || !strings.HasPrefix(got[0], "bomb.yaml:") || !strings.HasSuffix(got[0], ": the document expands to more than 1000000 nodes (YAML aliases)") {
			t.Errorf("%d levels of %d (%d bytes): %q", tc.levels, tc.width, len(src), got)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
			t.Errorf("%d levels of %d: loading allocated %d MiB", tc.levels, tc.width, alloc>>20)
		}
	}
	// 111,111 nodes: within the default limit, over a limit of 100,000.
	writeTree(t, map[string]string{"c.yaml": laughs(4, 10)})
	_, err := checks.LoadOptions{LookupEnv: lookup(testEnv), MaxNodes: 100_000}.Load("c.yaml")
	if err == nil || !strings.Contains(err.Error(), "expands to more than 100000 nodes") {
		t.Errorf("MaxNodes 100000: %v", err)
	}
	// Under it, loading goes on to the real errors: x0 to x4 are unknown
	// fields, and the vars a list rather than a mapping.
	if got := errorLines(t, "c.yaml"); len(got) != 6 || !strings.Contains(got[len(got)-1], "checks[0].vars: expected a mapping, got a list") {
		t.Errorf("under the limit: %q", got)
	}
}

// TestOnlyRegularFilesAreRead: a directory walk reads every *.yaml, and a
// special file among them (a symlink to /dev/zero, a directory named
// x.yaml) is one error naming what it is, while a symlink to a regular file
// (a Kubernetes ConfigMap) loads. Files the checks name are read the same
// way. FIFOs are in loader_fifo_test.go.
func TestOnlyRegularFilesAreRead(t *testing.T) {
	writeTree(t, map[string]string{
		"d/..2025_01_01/ok.yaml": oneCheck(""),
		"d/ca/..data/ca.pem":     "",
	})
	for _, l := range [][2]string{
		{"..2025_01_01", "d/..data"}, {"..data/ok.yaml", "d/ok.yaml"}, {"/dev/zero", "d/zero.yaml"},
	} {
		if err := os.Symlink(l[0], l[1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir("d/dir.yaml", 0o755); err != nil {
		t.Fatal(err)
	}
	got := errorLines(t, "d")
	want := []string{
		"d/zero.yaml: cannot read: not a regular file (a character device)",
	}
	if !slices.Equal(got, want) {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if err := os.Remove("d/zero.yaml"); err != nil {
		t.Fatal(err)
	}
	if cs := loadOK(t, "d"); len(cs) != 1 || cs[0].Name != "c1" {
		t.Errorf("the ConfigMap's check: %v", cs)
	}

	// Files named by a check: /dev/zero behind each kind of reference.
	for _, l := range []string{"zero.pem", "zero.json", "zero.openapi.yaml"} {
		if err := os.Symlink("/dev/zero", l); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile("c.yaml", []byte(`checks:
  - name: c1
    openapi: { spec: zero.openapi.yaml }
    steps:
      - request: { url: "https://127.0.0.1:1/", tls: { ca_file: zero.pem } }
        expect: { json_schema: zero.json }
`), 0o644); err != nil {
		t.Fatal(err)
	}
	got = errorLines(t, "c.yaml")
	for _, w := range []string{
		"checks[0].openapi.spec: zero.openapi.yaml: cannot read the spec: not a regular file (a character device)",
		"checks[0].steps[0].request.tls.ca_file: cannot read zero.pem: not a regular file (a character device)",
		`checks[0].steps[0].expect.json_schema: invalid JSON Schema: ` + mustAbs(t, "zero.json") + `: cannot read: not a regular file (a character device)`,
	} {
		if !slices.ContainsFunc(got, func(l string) bool { return strings.HasSuffix(l, w) }) {
			t.Errorf("no error ending %q in:\n%s", w, strings.Join(got, "\n"))
		}
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestFileSizeIsBounded: a check file over LoadOptions.MaxFileSize (16
// MiB by default) is one error; so is a file a check names.
func TestFileSizeIsBounded(t *testing.T) {
	src := oneCheck("    description: \"" + strings.Repeat("d", 2000) + "\"\n")
	writeTree(t, map[string]string{"c.yaml": src, "ca.pem": strings.Repeat("-", 5000)})
	_, err := checks.LoadOptions{LookupEnv: lookup(testEnv), MaxFileSize: 1024}.Load("c.yaml")
	if err == nil || err.Error() != "c.yaml: cannot read: larger than 1 KiB" {
		t.Errorf("err = %v", err)
	}
	if _, err := (checks.LoadOptions{LookupEnv: lookup(testEnv), MaxFileSize: int64(len(src))}).Load("c.yaml"); err != nil {
		t.Errorf("a file of exactly the limit: %v", err)
	}
	tls := "checks:\n  - name: c1\n    steps:\n      - request: { url: \"https://127.0.0.1:1/\", tls: { ca_file: ca.pem } }\n"
	if err := os.WriteFile("c.yaml", []byte(tls), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = checks.LoadOptions{LookupEnv: lookup(testEnv), MaxFileSize: 1024}.Load("c.yaml")
	if err == nil || !strings.HasSuffix(err.Error(), "checks[0].steps[0].request.tls.ca_file: cannot read ca.pem: larger than 1 KiB") {
		t.Errorf("err = %v", err)
	}
}

// TestLoadHonoursCancellation: LoadContext returns the context's error as
// soon as it is done, even while a file is still being parsed (here a
// lookup of the environment that does not return until the test ends),
// and at once for a context done before it starts.
func TestLoadHonoursCancellation(t *testing.T) {
	files := map[string]string{}
	for i := range 20 {
		files[fmt.Sprintf("d/c%02d.yaml", i)] = fmt.Sprintf("checks:\n  - name: c%d\n    steps: [ { request: { url: \"${HOST:-http://127.0.0.1:1/}\" } } ]\n", i)
	}
	writeTree(t, files)
	entered := make(chan struct{}, 20)
	release := make(chan struct{})
	defer close(release)
	slow := func(string) (string, bool) {
		entered <- struct{}{}
		<-release
		return "", false
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := checks.LoadOptions{LookupEnv: slow}.LoadContext(ctx, "d")
		done <- err
	}()
	<-entered // a file is being parsed
	cancel()
	select {
	case err := <-done:
		var les checks.LoadErrors
		if !errors.Is(err, context.Canceled) || errors.As(err, &les) {
			t.Errorf("err = %v; want context.Canceled, not LoadErrors", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("LoadContext did not return after its context was cancelled")
	}
	if _, err := checks.LoadContext(ctx, "d"); !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled context: %v", err)
	}
	// Load keeps working without a context.
	if cs, err := (checks.LoadOptions{LookupEnv: lookup(nil)}).Load("d"); err != nil || len(cs) != 20 {
		t.Errorf("Load: %d checks, %v", len(cs), err)
	}
}
