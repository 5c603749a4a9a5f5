package daemon_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/config"
	"github.com/assay-monitor/assay/daemon"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"))
}

// results is a sink that lets tests wait for results.
type results struct {
	mu  sync.Mutex
	by  map[string][]*checks.Result
	got chan *checks.Result
}

func newResults() *results {
	return &results{by: map[string][]*checks.Result{}, got: make(chan *checks.Result, 1000)}
}

func (r *results) Record(_ context.Context, res *checks.Result) {
	r.mu.Lock()
	r.by[res.Check] = append(r.by[res.Check], res)
	r.mu.Unlock()
	select {
	case r.got <- res:
	default:
	}
}

func (r *results) count(name string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.by[name])
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func writeChecks(t *testing.T, dir, name, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func checkYAML(name, url string, extra string) string {
	return fmt.Sprintf(`
  - name: %s
    schedule: "@every 1s"
    timeout: 2s
    steps:
      - name: get
        request: { url: "%s", timeout: 300ms }
        expect: { status: 200 }
%s`, name, url, extra)
}

type started struct {
	d      *daemon.Daemon
	addr   string
	reg    prometheus.Gatherer // what /metrics serves
	res    *results
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, dir string) *started {
	t.Helper()
	return startWith(t, dir, nil)
}

// startWith is start with the config changed by edit first.
func startWith(t *testing.T, dir string, edit func(*config.Config)) *started {
	t.Helper()
	cfg := config.Default()
	cfg.Checks.Dir = dir
	cfg.Checks.ReloadDebounce = checks.Duration(50 * time.Millisecond)
	cfg.Server.ShutdownGrace = checks.Duration(5 * time.Second)
	if edit != nil {
		edit(cfg)
	}
	s := &started{res: newResults(), done: make(chan error, 1)}
	d, err := daemon.New(daemon.Options{Config: cfg, Registry: prometheus.NewRegistry(), Sinks: []checks.Sink{s.res}})
	if err != nil {
		t.Fatalf("daemon.New: %v", err)
	}
	s.reg = d.Gatherer()
	a, err := d.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.d, s.addr = d, a.String()
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	reload := make(chan struct{})
	go func() { s.done <- d.Run(ctx, reload) }()
	t.Cleanup(func() {
		cancel()
		if err := <-s.done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	waitFor(t, "ready", 5*time.Second, d.Ready)
	return s
}

func (s *started) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + s.addr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func gauge(t *testing.T, reg prometheus.Gatherer, name, check string) (float64, bool) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			match := check == ""
			for _, l := range m.GetLabel() {
				if l.GetName() == "check" && l.GetValue() == check {
					match = true
				}
			}
			if match {
				return m.GetGauge().GetValue(), true
			}
		}
	}
	return 0, false
}

// TestBadTargetsNeverStallOthers runs a good check beside targets that
// hang, reset the connection and answer garbage.
func TestBadTargetsNeverStallOthers(t *testing.T) {
	good := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer good.Close()
	hang := make(chan struct{})
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	defer hanging.Close()
	defer close(hang)
	reset := rawServer(t, func(c net.Conn) {
		_, _ = bufio.NewReader(c).ReadString('\n')
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
	})
	garbage := rawServer(t, func(c net.Conn) {
		_, _ = bufio.NewReader(c).ReadString('\n')
		_, _ = c.Write([]byte("\x00\x01 this is not HTTP\r\n\r\n"))
	})

	dir := t.TempDir()
	writeChecks(t, dir, "c.yaml", "checks:"+checkYAML("good", good.URL, "")+checkYAML("hang", hanging.URL, "")+
		checkYAML("reset", "http://"+reset, "")+checkYAML("garbage", "http://"+garbage, ""))
	s := start(t, dir)
	waitFor(t, "3 runs of the good check", 10*time.Second, func() bool { return s.res.count("good") >= 3 })
	waitFor(t, "a result of each bad check", 10*time.Second, func() bool {
		return s.res.count("hang") > 0 && s.res.count("reset") > 0 && s.res.count("garbage") > 0
	})
	s.res.mu.Lock()
	defer s.res.mu.Unlock()
	for name, reason := range map[string]checks.Reason{"hang": checks.ReasonTimeout, "reset": checks.ReasonNetwork, "garbage": checks.ReasonProtocol} {
		r := s.res.by[name][0]
		if r.Passed || r.Reason != reason {
			t.Errorf("%s: passed=%v reason=%q (%s), want failed with %q", name, r.Passed, r.Reason, r.Message, reason)
		}
	}
	for _, r := range s.res.by["good"] {
		if !r.Passed {
			t.Errorf("good check failed: %s", r.Message)
		}
	}
}

func rawServer(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return l.Addr().String()
}

func TestInvalidReloadKeepsTheRunningChecks(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer srv.Close()
	dir := t.TempDir()
	writeChecks(t, dir, "a.yaml", "checks:"+checkYAML("a", srv.URL, ""))
	s := start(t, dir)
	waitFor(t, "a result", 5*time.Second, func() bool { return s.res.count("a") > 0 })

	writeChecks(t, dir, "b.yaml", "checks:\n  - name: b\n    stepz: []\n")
	err := s.d.Reload()
	if err == nil || !strings.Contains(err.Error(), "b.yaml:3:5") {
		t.Fatalf("reload of an invalid set: %v, want an error naming b.yaml:3:5", err)
	}
	if v, _ := gauge(t, s.reg, "assay_config_last_reload_successful", ""); v != 0 {
		t.Errorf("assay_config_last_reload_successful = %v, want 0", v)
	}
	if cs := s.d.Checks(); len(cs) != 1 || cs[0].Name != "a" {
		t.Errorf("checks after a rejected reload: %v, want [a]", cs)
	}
	n := s.res.count("a")
	waitFor(t, "the old check to go on running", 5*time.Second, func() bool { return s.res.count("a") > n })
	code, body := s.get(t, "/readyz")
	if code != 200 {
		t.Errorf("/readyz = %d %s after a rejected reload, want 200", code, body)
	}

	// POST /-/reload answers with the errors.
	resp, err := http.Post("http://"+s.addr+"/-/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(b), `unknown field \"stepz\"`) {
		t.Errorf("POST /-/reload = %d %s", resp.StatusCode, b)
	}
}

func TestFileChangesReloadAndRemovedChecksLoseTheirSeries(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer srv.Close()
	dir := t.TempDir()
	writeChecks(t, dir, "a.yaml", "checks:"+checkYAML("a", srv.URL, ""))
	writeChecks(t, dir, "gone.yaml", "checks:"+checkYAML("gone", srv.URL, ""))
	s := start(t, dir)
	waitFor(t, "a result of a and of gone", 5*time.Second, func() bool {
		_, ok1 := gauge(t, s.reg, "assay_check_success", "a")
		_, ok2 := gauge(t, s.reg, "assay_check_success", "gone")
		return ok1 && ok2
	})
	nextA, _ := s.d.Checks()[0], 0

	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeChecks(t, filepath.Join(dir, "sub"), "new.yaml", "checks:"+checkYAML("new", srv.URL, ""))
	if err := os.Remove(filepath.Join(dir, "gone.yaml")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the new check to be scraped", 10*time.Second, func() bool {
		_, ok := gauge(t, s.reg, "assay_check_success", "new")
		return ok
	})
	for _, name := range []string{"assay_check_success", "assay_check_runs_total"} {
		if n, err := testutil.GatherAndCount(s.reg, name); err != nil || n != 2 {
			t.Errorf("%s has %d series, want 2 (a and new; gone removed)", name, n)
		}
	}
	// The unchanged check kept its definition object (its state).
	for _, c := range s.d.Checks() {
		if c.Name == "a" && c.Fingerprint != nextA.Fingerprint {
			t.Errorf("check a changed fingerprint on an unrelated reload")
		}
	}
}

func TestAPIShowsTheFailingAssertion(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(503) }))
	defer srv.Close()
	dir := t.TempDir()
	writeChecks(t, dir, "a.yaml", "checks:"+checkYAML("down", srv.URL, ""))
	s := start(t, dir)
	waitFor(t, "a result", 5*time.Second, func() bool { return s.res.count("down") > 0 })
	code, body := s.get(t, "/api/v1/checks")
	if code != 200 {
		t.Fatalf("/api/v1/checks = %d", code)
	}
	var got struct {
		Checks []struct {
			Name       string
			NextRun    *time.Time `json:"next_run"`
			LastResult struct {
				Passed           bool
				Reason           string
				FailingStep      string `json:"failing_step"`
				FailingAssertion struct {
					Name, Expected, Actual string
				} `json:"failing_assertion"`
			} `json:"last_result"`
		}
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	if len(got.Checks) != 1 {
		t.Fatalf("checks: %s", body)
	}
	c := got.Checks[0]
	lr := c.LastResult
	if c.Name != "down" || lr.Passed || lr.Reason != "assertion" || lr.FailingStep != "get" ||
		lr.FailingAssertion.Name != "status" || lr.FailingAssertion.Expected != "200" || lr.FailingAssertion.Actual != "503" || c.NextRun == nil {
		t.Errorf("unexpected summary: %s", body)
	}
	if code, _ := s.get(t, "/api/v1/checks/nope"); code != 404 {
		t.Errorf("/api/v1/checks/nope = %d, want 404", code)
	}
	if code, _ := s.get(t, "/healthz"); code != 200 {
		t.Errorf("/healthz = %d", code)
	}
}

// TestRunCancelledByShutdownIsNotRecorded: a run cut short when the grace
// period ends says nothing about the target and must not become a failure.
func TestRunCancelledByShutdownIsNotRecorded(t *testing.T) {
	arrived := make(chan struct{}, 1)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	dir := t.TempDir()
	writeChecks(t, dir, "a.yaml", `checks:
  - name: slow
    schedule: "@every 1s"
    timeout: 30s
    steps:
      - request: { url: "`+srv.URL+`" }
`)
	cfg := config.Default()
	cfg.Checks.Dir = dir
	cfg.Server.ShutdownGrace = checks.Duration(50 * time.Millisecond)
	res := newResults()
	d, err := daemon.New(daemon.Options{Config: cfg, Registry: prometheus.NewRegistry(), Sinks: []checks.Sink{res}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Listen("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, nil) }()
	<-arrived
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if n := res.count("slow"); n != 0 {
		t.Errorf("%d results recorded for a run cancelled by shutdown, want 0", n)
	}
}

// metrics.classic_histograms adds the classic buckets of the duration
// histogram to /metrics; without it the text exposition has only the
// +Inf bucket, _sum and _count (the native buckets need protobuf).
func TestClassicHistogramsConfigAddsBuckets(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer srv.Close()
	for _, classic := range []bool{false, true} {
		t.Run(fmt.Sprint("classic_histograms=", classic), func(t *testing.T) {
			dir := t.TempDir()
			writeChecks(t, dir, "a.yaml", "checks:"+checkYAML("a", srv.URL, ""))
			s := startWith(t, dir, func(c *config.Config) { c.Metrics.ClassicHistograms = classic })
			waitFor(t, "a result of a", 5*time.Second, func() bool {
				_, ok := gauge(t, s.reg, "assay_check_success", "a")
				return ok
			})
			_, body := s.get(t, "/metrics")
			var buckets []string
			for _, line := range strings.Split(body, "\n") {
				if strings.HasPrefix(line, `assay_check_duration_seconds_bucket{check="a",`) {
					le := line[strings.Index(line, "le=")+3 : strings.LastIndex(line, "}")]
					buckets = append(buckets, le)
				}
			}
			want := `"+Inf"`
			if classic {
				want = `"0.005" "0.01" "0.025" "0.05" "0.1" "0.25" "0.5" "1" "2.5" "5" "10" "30" "60" "+Inf"`
			}
			if got := strings.Join(buckets, " "); got != want {
				t.Errorf("buckets of assay_check_duration_seconds in /metrics: %s, want %s", got, want)
			}
		})
	}
}
