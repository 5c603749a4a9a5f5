//go:build linux

package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// writeConfig writes an assay.yaml into dir and returns its path.
func writeConfig(t *testing.T, dir, content string) string {
	t.Helper()
	p := filepath.Join(dir, "assay.yaml")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func mkdir(t *testing.T, parts ...string) string {
	t.Helper()
	p := filepath.Join(parts...)
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// logTime is the time of a daemon JSON log line.
func logTime(t *testing.T, m map[string]any) time.Time {
	t.Helper()
	s, _ := m["time"].(string)
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("log line without a time: %v", m)
	}
	return ts
}

// TestGracefulShutdownFinishesRunInFlight sends SIGTERM while a run is
// waiting on a slow target (demo-api --fault slow, 2 s per response): the
// daemon takes no new runs, lets that run finish and record its result,
// then exits 0.
func TestGracefulShutdownFinishesRunInFlight(t *testing.T) {
	slow := startDemoAPI(t, "slow")
	target, err := url.Parse(slow)
	if err != nil {
		t.Fatal(err)
	}
	// A pass-through proxy in front of the slow API tells the test when a
	// request is in flight and when its response has been sent back.
	type event struct {
		at     time.Time
		status int
	}
	arrived := make(chan time.Time, 16)
	answered := make(chan event, 16)
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport = &http.Transport{DisableKeepAlives: true}
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: 200}
		rp.ServeHTTP(rec, r)
		answered <- event{time.Now(), rec.status}
	}))
	defer proxy.Close()

	dir := t.TempDir()
	checksDir := mkdir(t, dir, "checks.d")
	// The check asks for an answer within 1 s, so a run that completes
	// against the 2 s target fails with reason "assertion" and leaves a
	// "check failed" log line; a run cut short by the shutdown would say
	// "timeout" (or nothing) instead.
	writeFile(t, checksDir, "slow.yaml", fmt.Sprintf(`checks:
  - name: e2e-slow
    schedule: "@every 1s"
    timeout: 10s
    steps:
      - name: slow read
        request: { method: GET, url: "%s/documents/1" }
        expect:
          status: 200
          response_time: 1s
`, proxy.URL))
	cfg := writeConfig(t, dir, "server:\n  shutdown_grace: 10s\n")
	daemon, _ := startDaemon(t, checksDir, cfg)

	var inFlight time.Time
	select {
	case inFlight = <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the check did not reach the slow target within 10s")
	}
	daemon.signal(t, syscall.SIGTERM)
	termAt := time.Now()
	code := daemon.wait(t, 15*time.Second)
	exitAt := time.Now()
	if code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0", code)
	}

	var resp event
	select {
	case resp = <-answered:
	default:
		t.Fatal("the daemon exited before the slow response came back")
	}
	if resp.status != 200 {
		t.Fatalf("slow target answered %d, want 200 (a complete response)", resp.status)
	}
	if !resp.at.Before(exitAt) {
		t.Fatalf("the slow response came back at %v, after the exit at %v", resp.at, exitAt)
	}
	if n := len(arrived); n != 0 {
		t.Errorf("%d more request(s) started after SIGTERM; want none", n)
	}

	var shutdown, failed map[string]any
	for _, m := range daemon.jsonLines() {
		switch m["msg"] {
		case "shutting down: no new runs; waiting for runs in flight":
			shutdown = m
		case "check failed":
			if m["check"] == "e2e-slow" {
				failed = m
			}
		}
	}
	if shutdown == nil {
		t.Fatal(`no "shutting down" log line`)
	}
	if failed == nil {
		t.Fatal(`no "check failed" log line: the run in flight did not record its result`)
	}
	if failed["reason"] != "assertion" || failed["step"] != "slow read" {
		t.Errorf(`"check failed" line = %v; want reason "assertion" in step "slow read" (the run completed)`, failed)
	}
	if !logTime(t, failed).After(logTime(t, shutdown)) {
		t.Errorf("the run's result (%v) was logged before the shutdown began (%v); the test did not catch a run in flight",
			failed["time"], shutdown["time"])
	}
	t.Logf("request in flight at SIGTERM for %v; response %v after SIGTERM; exit 0 %v after SIGTERM",
		termAt.Sub(inFlight).Round(time.Millisecond), resp.at.Sub(termAt).Round(time.Millisecond),
		exitAt.Sub(termAt).Round(time.Millisecond))
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// TestReloadRejectsInvalidChecks: an invalid check file is rejected whole
// on SIGHUP and on POST /-/reload (400 with the errors); the running checks
// go on and assay_config_last_reload_successful is 0; a valid set is
// accepted with 200.
func TestReloadRejectsInvalidChecks(t *testing.T) {
	good := startDemoAPI(t, "")
	dir := t.TempDir()
	checksDir := mkdir(t, dir, "checks.d")
	writeFile(t, checksDir, "keep.yaml", checkFile("e2e-keep", "GET", good+"/documents/1", "200"))
	// A debounce far beyond the test's length: file changes alone reload
	// nothing here, so each reload below is the signal's or the request's.
	cfg := writeConfig(t, dir, "checks:\n  reload_debounce: 1h\nserver:\n  shutdown_grace: 5s\n")
	daemon, base := startDaemon(t, checksDir, cfg)

	metrics := func() string {
		code, body := httpDo(t, "GET", base+"/metrics")
		if code != 200 {
			t.Fatalf("GET /metrics: %d", code)
		}
		return body
	}
	runs := func() float64 {
		v, _ := metricValue(metrics(), "assay_check_runs_total", "check", "e2e-keep")
		return v
	}
	reloadOK := func() (float64, bool) {
		return metricValue(metrics(), "assay_config_last_reload_successful")
	}
	checkNames := func() []string {
		code, body := httpDo(t, "GET", base+"/api/v1/checks")
		if code != 200 {
			t.Fatalf("GET /api/v1/checks: %d %s", code, body)
		}
		var r struct{ Checks []struct{ Name string } }
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, c := range r.Checks {
			names = append(names, c.Name)
		}
		return names
	}
	// waitRunsAfter waits until e2e-keep has run again.
	waitRunsAfter := func(what string) {
		t.Helper()
		r0 := runs()
		poll(t, 10*time.Second, 50*time.Millisecond, what, func() (bool, string) {
			r := runs()
			return r > r0, fmt.Sprintf("assay_check_runs_total{check=\"e2e-keep\"} = %v (was %v)", r, r0)
		})
	}

	waitRunsAfter("e2e-keep runs")
	if v, ok := reloadOK(); !ok || v != 1 {
		t.Fatalf("assay_config_last_reload_successful = %v (present %v) after start, want 1", v, ok)
	}

	const badCheck = `checks:
  - name: e2e-bad
    schedule: "@every 1s"
    bogus: 1
    steps:
      - name: s
        request: { method: GET, url: "http://127.0.0.1:1/" }
`
	writeFile(t, checksDir, "bad.yaml", badCheck)
	wantPos := filepath.Join(checksDir, "bad.yaml") + ":4:5"

	t.Run("SIGHUP", func(t *testing.T) {
		daemon.signal(t, syscall.SIGHUP)
		poll(t, 10*time.Second, 50*time.Millisecond, "reload rejected", func() (bool, string) {
			v, ok := reloadOK()
			return ok && v == 0, fmt.Sprintf("assay_config_last_reload_successful = %v", v)
		})
		line := daemon.awaitLine(t, 5*time.Second, `"configuration rejected" log line`, func(l string) bool {
			return strings.Contains(l, "configuration rejected")
		})
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %s", line)
		}
		if m["level"] != "ERROR" || m["pos"] != wantPos || !strings.Contains(fmt.Sprint(m["err"]), "bogus") {
			t.Errorf("rejection log line = %s; want level ERROR, pos %s and the unknown field", line, wantPos)
		}
		waitRunsAfter("e2e-keep runs on after the rejected reload")
		if names := checkNames(); strings.Join(names, ",") != "e2e-keep" {
			t.Errorf("/api/v1/checks = %v after a rejected reload, want [e2e-keep]", names)
		}
		if code, body := httpDo(t, "GET", base+"/readyz"); code != 200 {
			t.Errorf("/readyz = %d %q after a rejected reload, want 200", code, body)
		}
	})

	t.Run("POST /-/reload invalid", func(t *testing.T) {
		code, body := httpDo(t, "POST", base+"/-/reload")
		if code != 400 {
			t.Fatalf("POST /-/reload = %d %s, want 400", code, body)
		}
		var r struct {
			Status string
			Errors []string
		}
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			t.Fatalf("POST /-/reload body %q: %v", body, err)
		}
		if r.Status != "rejected" || len(r.Errors) == 0 || !strings.Contains(strings.Join(r.Errors, "\n"), wantPos) ||
			!strings.Contains(strings.Join(r.Errors, "\n"), `unknown field "bogus"`) {
			t.Errorf("POST /-/reload body = %s; want status rejected and the error at %s", body, wantPos)
		}
		if v, _ := reloadOK(); v != 0 {
			t.Errorf("assay_config_last_reload_successful = %v, want 0", v)
		}
		waitRunsAfter("e2e-keep runs on")
	})

	t.Run("POST /-/reload valid", func(t *testing.T) {
		writeFile(t, checksDir, "bad.yaml", checkFile("e2e-fixed", "GET", good+"/documents/2", "200"))
		code, body := httpDo(t, "POST", base+"/-/reload")
		if code != 200 || !strings.Contains(body, `"reloaded"`) {
			t.Fatalf("POST /-/reload = %d %s, want 200 reloaded", code, body)
		}
		if v, _ := reloadOK(); v != 1 {
			t.Errorf("assay_config_last_reload_successful = %v, want 1", v)
		}
		if names := checkNames(); strings.Join(names, ",") != "e2e-fixed,e2e-keep" {
			t.Errorf("/api/v1/checks = %v, want [e2e-fixed e2e-keep]", names)
		}
		poll(t, 10*time.Second, 50*time.Millisecond, "e2e-fixed runs", func() (bool, string) {
			v, ok := metricValue(metrics(), "assay_check_success", "check", "e2e-fixed")
			return ok && v == 1, fmt.Sprintf("assay_check_success{check=\"e2e-fixed\"} = %v (present %v)", v, ok)
		})
	})

	daemon.signal(t, syscall.SIGTERM)
	if code := daemon.wait(t, 10*time.Second); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
}

// TestConfigMapSwapReloads updates the checks directory the way the
// kubelet updates a ConfigMap volume: the files are symlinks through
// ..data, and an update writes a new hidden directory and swaps ..data
// atomically (a symlink renamed over the old one). The watcher must see
// it and the loader must read each check once, not again from the hidden
// directories.
func TestConfigMapSwapReloads(t *testing.T) {
	good := startDemoAPI(t, "")
	dir := t.TempDir()
	checksDir := mkdir(t, dir, "checks.d")
	version := func(n int, check string) {
		t.Helper()
		v := fmt.Sprintf("..2026_01_01_00_00_0%d.000000001", n)
		mkdir(t, checksDir, v)
		writeFile(t, filepath.Join(checksDir, v), "checks.yaml", checkFile(check, "GET", good+"/documents/1", "200"))
		tmp := filepath.Join(checksDir, "..data_tmp")
		if err := os.Symlink(v, tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(checksDir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	version(1, "e2e-cm-v1")
	if err := os.Symlink(filepath.Join("..data", "checks.yaml"), filepath.Join(checksDir, "checks.yaml")); err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, dir, fmt.Sprintf("checks:\n  reload_debounce: %s\nserver:\n  shutdown_grace: 5s\n", reloadDebounce))
	daemon, base := startDaemon(t, checksDir, cfg)

	names := func() (bool, string) {
		code, body := httpDo(t, "GET", base+"/api/v1/checks")
		var r struct{ Checks []struct{ Name string } }
		if code != 200 || json.Unmarshal([]byte(body), &r) != nil {
			return false, fmt.Sprintf("%d %s", code, body)
		}
		var ns []string
		for _, c := range r.Checks {
			ns = append(ns, c.Name)
		}
		return true, strings.Join(ns, ",")
	}
	if _, got := names(); got != "e2e-cm-v1" {
		t.Fatalf("checks at start = %q, want e2e-cm-v1", got)
	}
	version(2, "e2e-cm-v2")
	if err := os.RemoveAll(filepath.Join(checksDir, "..2026_01_01_00_00_01.000000001")); err != nil {
		t.Fatal(err)
	}
	took := poll(t, 10*time.Second, 50*time.Millisecond, "reload after the ..data swap", func() (bool, string) {
		ok, got := names()
		return ok && got == "e2e-cm-v2", "checks: " + got
	})
	t.Logf("ConfigMap-style swap reloaded after %v (debounce %v)", took.Round(time.Millisecond), reloadDebounce)
	code, body := httpDo(t, "GET", base+"/metrics")
	if v, ok := metricValue(body, "assay_config_last_reload_successful"); code != 200 || !ok || v != 1 {
		t.Errorf("assay_config_last_reload_successful = %v (present %v), want 1", v, ok)
	}
	daemon.signal(t, syscall.SIGTERM)
	if code := daemon.wait(t, 10*time.Second); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
}
