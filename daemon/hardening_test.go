package daemon_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/config"
	"github.com/assay-monitor/assay/daemon"
	"github.com/prometheus/client_golang/prometheus"
)

// syncBuffer is a log sink safe for the daemon's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// lines decodes the JSON log lines.
func (s *syncBuffer) lines(t *testing.T) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s.b.String()), "\n") {
		if l == "" {
			continue
		}
		m := map[string]any{}
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

func runDaemon(t *testing.T, opts daemon.Options) (*daemon.Daemon, string, func() time.Duration) {
	t.Helper()
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	d, err := daemon.New(opts)
	if err != nil {
		t.Fatalf("daemon.New: %v", err)
	}
	a, err := d.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, nil) }()
	var once sync.Once
	var took time.Duration
	stop := func() time.Duration {
		once.Do(func() {
			begin := time.Now()
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
			took = time.Since(begin)
		})
		return took
	}
	t.Cleanup(func() { stop() })
	waitFor(t, "ready", 5*time.Second, d.Ready)
	return d, a.String(), stop
}

func post(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestConcurrentReloadsAreCoalesced: forty reload requests at once make
// one or two reloads, not forty, and every request gets the outcome.
func TestConcurrentReloadsAreCoalesced(t *testing.T) {
	var loads atomic.Int32
	cfg := config.Default()
	load := func() ([]*checks.Check, error) {
		loads.Add(1)
		time.Sleep(20 * time.Millisecond) // a reload takes a while
		return []*checks.Check{}, nil
	}
	_, addr, _ := runDaemon(t, daemon.Options{Config: cfg, Load: load, ReloadMinInterval: 100 * time.Millisecond})
	before := loads.Load()
	var wg sync.WaitGroup
	codes := make(chan int, 40)
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, _ := post(t, "http://"+addr+"/-/reload")
			codes <- code
		}()
	}
	wg.Wait()
	close(codes)
	for code := range codes {
		if code != 200 {
			t.Errorf("a reload request got %d, want 200", code)
		}
	}
	if n := loads.Load() - before; n < 1 || n > 2 {
		t.Errorf("40 concurrent reload requests made %d reloads, want 1 or 2", n)
	}
	// Requests in a row are spaced, not queued back to back.
	begin := time.Now()
	for i := 0; i < 3; i++ {
		if code, body := post(t, "http://"+addr+"/-/reload"); code != 200 {
			t.Fatalf("reload = %d %s", code, body)
		}
	}
	if took := time.Since(begin); took < 200*time.Millisecond {
		t.Errorf("3 reloads in a row took %s, want at least 2 intervals of 100ms", took)
	}
}

// TestTheWatcherSurvivesARecreatedChecksDirectory: after the checks
// directory is removed and made again, or swapped for another through a
// symlink, edits reload again (fsnotify, for real).
func TestTheWatcherSurvivesARecreatedChecksDirectory(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer srv.Close()
	has := func(d *daemon.Daemon, name string) func() bool {
		return func() bool {
			for _, c := range d.Checks() {
				if c.Name == name {
					return true
				}
			}
			return false
		}
	}
	t.Run("removed and made again", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "checks.d")
		os.Mkdir(dir, 0o755)
		writeChecks(t, dir, "a.yaml", "checks:"+checkYAML("a", srv.URL, ""))
		s := start(t, dir)
		for i, name := range []string{"b", "c", "d"} {
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			writeChecks(t, dir, "x.yaml", "checks:"+checkYAML(name, srv.URL, ""))
			waitFor(t, fmt.Sprintf("check %s after recreation %d", name, i+1), 10*time.Second, has(s.d, name))
			// And an edit inside the new directory reloads too.
			writeChecks(t, dir, "y.yaml", "checks:"+checkYAML(name+"-edit", srv.URL, ""))
			waitFor(t, "the edit in the new directory", 10*time.Second, has(s.d, name+"-edit"))
		}
	})
	t.Run("symlink swapped", func(t *testing.T) {
		base := t.TempDir()
		for _, v := range []string{"v1", "v2", "v3"} {
			os.Mkdir(filepath.Join(base, v), 0o755)
			writeChecks(t, filepath.Join(base, v), "x.yaml", "checks:"+checkYAML("from-"+v, srv.URL, ""))
		}
		link := filepath.Join(base, "checks.d")
		if err := os.Symlink("v1", link); err != nil {
			t.Fatal(err)
		}
		s := start(t, link)
		if !has(s.d, "from-v1")() {
			t.Fatalf("checks through the symlink: %v", s.d.Checks())
		}
		for _, v := range []string{"v2", "v3"} {
			// An atomic swap: a new link renamed over the old one.
			tmp := filepath.Join(base, "tmp-link")
			if err := os.Symlink(v, tmp); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, link); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the swapped-in checks of "+v, 10*time.Second, has(s.d, "from-"+v))
			writeChecks(t, filepath.Join(base, v), "y.yaml", "checks:"+checkYAML("edit-"+v, srv.URL, ""))
			waitFor(t, "an edit in "+v, 10*time.Second, has(s.d, "edit-"+v))
		}
	})
}

// stuckSink blocks on its first result without looking at its context,
// as CPU-bound work in a sink would.
type stuckSink struct {
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (s *stuckSink) Record(context.Context, *checks.Result) {
	s.once.Do(func() {
		close(s.entered)
		<-s.release
	})
}

// TestShutdownKeepsItsGrace: whatever a run is stuck in, SIGTERM returns
// within shutdown_grace and a small margin.
func TestShutdownKeepsItsGrace(t *testing.T) {
	hang := make(chan struct{})
	defer close(hang)
	arrived := make(chan struct{}, 10)
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case arrived <- struct{}{}:
		default:
		}
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	defer hanging.Close()
	fast := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer fast.Close()
	const grace = time.Second
	for _, tc := range []struct {
		name   string
		target string
		sink   *stuckSink
	}{
		{"a run waiting on a target that never answers", hanging.URL, nil},
		{"a run stuck in work that ignores its context", fast.URL, &stuckSink{entered: make(chan struct{}), release: make(chan struct{})}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeChecks(t, dir, "a.yaml", `checks:
  - name: stuck
    schedule: "@every 1s"
    timeout: 1h
    steps:
      - request: { url: "`+tc.target+`", timeout: 1h }
`)
			cfg := config.Default()
			cfg.Checks.Dir = dir
			cfg.Server.ShutdownGrace = checks.Duration(grace)
			opts := daemon.Options{Config: cfg}
			if tc.sink != nil {
				opts.Sinks = []checks.Sink{tc.sink}
				defer close(tc.sink.release)
			}
			_, _, stop := runDaemon(t, opts)
			if tc.sink != nil {
				<-tc.sink.entered
			} else {
				<-arrived
			}
			if took := stop(); took > grace+500*time.Millisecond {
				t.Errorf("Run returned %s after the signal, want within the grace of %s", took, grace)
			}
		})
	}
}

// TestUnschedulableChecksAreCountedAndHarmless: a check whose schedule
// has no future time is counted in assay_scheduler_unschedulable_checks,
// and the daemon goes on serving and running the others.
func TestUnschedulableChecksAreCountedAndHarmless(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer srv.Close()
	dir := t.TempDir()
	writeChecks(t, dir, "a.yaml", "checks:"+checkYAML("often", srv.URL, ""))
	cfg := config.Default()
	cfg.Checks.Dir = dir
	load := func() ([]*checks.Check, error) {
		cs, err := checks.Load(dir)
		if err != nil {
			return nil, err
		}
		never := *cs[0]
		never.Name, never.Schedule, never.Fingerprint = "never", "0 0 30 2 *", "never"
		return append(cs, &never), nil
	}
	res := newResults()
	reg := prometheus.NewRegistry()
	_, addr, _ := runDaemon(t, daemon.Options{Config: cfg, Load: load, Registry: reg, Sinks: []checks.Sink{res}})
	waitFor(t, "two runs of the other check", 10*time.Second, func() bool { return res.count("often") >= 2 })
	if v, _ := gauge(t, reg, "assay_scheduler_unschedulable_checks", ""); v != 1 {
		t.Errorf("assay_scheduler_unschedulable_checks = %v, want 1", v)
	}
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("/readyz: %v %v", resp, err)
	}
	resp.Body.Close()
	if res.count("never") != 0 {
		t.Error("the never-firing check ran")
	}
}

// TestLogsSayRecoveriesAtInfoAndUseErrForErrors: a failing check that
// passes again logs "check recovered" at info with the failed runs;
// every run is logged at debug; no line uses "error" as a key.
func TestLogsSayRecoveriesAtInfoAndUseErrForErrors(t *testing.T) {
	var fail atomic.Int32
	fail.Store(2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if fail.Add(-1) >= 0 {
			w.WriteHeader(503)
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	writeChecks(t, dir, "a.yaml", "checks:"+checkYAML("flaky", srv.URL, ""))
	writeChecks(t, dir, "bad.yaml", "checks:\n  - name: b\n    stepz: []\n")
	cfg := config.Default()
	cfg.Checks.Dir = dir
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	load := func() ([]*checks.Check, error) { return checks.Load(filepath.Join(dir, "a.yaml")) }
	d, _, _ := runDaemon(t, daemon.Options{Config: cfg, Logger: log, Load: load, ReloadMinInterval: time.Millisecond})
	find := func(msg string) map[string]any {
		for _, m := range logs.lines(t) {
			if m["msg"] == msg {
				return m
			}
		}
		return nil
	}
	waitFor(t, "a recovery", 15*time.Second, func() bool { return find("check recovered") != nil })
	rec := find("check recovered")
	if rec["level"] != "INFO" || rec["check"] != "flaky" || rec["failed_runs"] != float64(2) {
		t.Errorf("recovery line = %v, want INFO with check flaky and failed_runs 2", rec)
	}
	runs := 0
	for _, m := range logs.lines(t) {
		if m["msg"] == "check run" {
			runs++
			if m["level"] != "DEBUG" {
				t.Errorf("a run logged at %v, want DEBUG", m["level"])
			}
		}
	}
	if runs < 3 {
		t.Errorf("%d runs logged at debug, want one per run (at least 3)", runs)
	}
	// A rejected configuration is an error line: its key is err.
	_ = d
	bad, err := daemon.New(daemon.Options{Config: config.Default(), Logger: log, Registry: prometheus.NewRegistry(),
		Load: func() ([]*checks.Check, error) { return checks.Load(dir) }})
	if err == nil || bad != nil {
		t.Fatalf("a bad set loaded: %v", err)
	}
	sawErr := false
	for _, m := range logs.lines(t) {
		if _, ok := m["error"]; ok {
			t.Errorf("a log line uses the key \"error\": %v", m)
		}
		if m["level"] == "ERROR" && m["err"] != nil {
			sawErr = true
		}
	}
	if !sawErr {
		t.Error("no error line with an err key")
	}
}
