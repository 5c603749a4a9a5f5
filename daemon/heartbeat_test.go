package daemon_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/config"
	"github.com/assay-monitor/assay/daemon"
	"github.com/assay-monitor/assay/internal/clocktest"
	"github.com/assay-monitor/assay/store"
	"github.com/prometheus/client_golang/prometheus"
)

// hbToken is the heartbeat token of the tests: it must show nowhere.
const hbToken = "hb-7731-very-secret"

func (s *syncBuffer) text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// hbDaemon is a daemon with SQLite storage on a manual clock.
type hbDaemon struct {
	addr   string
	reg    *prometheus.Registry
	gather prometheus.Gatherer // what /metrics serves
	res    *results
	clk    *clocktest.Clock
	logs   *syncBuffer
	reload func() error
	stop   func()
}

func startHeartbeatDaemon(t *testing.T, dir, dbPath string, clk *clocktest.Clock) *hbDaemon {
	t.Helper()
	t.Setenv("HB_TOKEN", hbToken)
	cfg := config.Default()
	cfg.Checks.Dir = dir
	cfg.Storage.Path = dbPath
	cfg.Server.ShutdownGrace = checks.Duration(2 * time.Second)
	h := &hbDaemon{reg: prometheus.NewRegistry(), res: newResults(), clk: clk, logs: &syncBuffer{}}
	log := slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opts := daemon.Options{Config: cfg, Registry: h.reg, Clock: clk, Logger: log, Sinks: []checks.Sink{h.res}}
	stopStorage, err := daemon.OpenStorage(&opts)
	if err != nil {
		t.Fatal(err)
	}
	d, addr, stopDaemon := runDaemon(t, opts)
	h.addr, h.gather, h.reload = addr, d.Gatherer(), d.Reload
	var once sync.Once
	h.stop = func() { once.Do(func() { stopDaemon(); stopStorage() }) }
	t.Cleanup(h.stop)
	return h
}

func (h *hbDaemon) post(t *testing.T, path, token, body string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://"+h.addr+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// next waits for the next result of the heartbeat check.
func (h *hbDaemon) next(t *testing.T) *checks.Result {
	t.Helper()
	select {
	case r := <-h.res.got:
		return r
	case <-time.After(10 * time.Second):
		t.Fatalf("no result within 10s; logs:\n%s", h.logs.text())
		return nil
	}
}

// none makes sure no result comes while the clock stands still.
func (h *hbDaemon) none(t *testing.T) {
	t.Helper()
	select {
	case r := <-h.res.got:
		t.Fatalf("unexpected result: passed=%v reason=%q %s", r.Passed, r.Reason, r.Message)
	case <-time.After(300 * time.Millisecond):
	}
}

// advance moves the clock once the scheduler sleeps on it.
func (h *hbDaemon) advance(t *testing.T, d time.Duration) {
	t.Helper()
	waitFor(t, "the scheduler to sleep", 10*time.Second, func() bool { return h.clk.Waiting() >= 1 })
	h.clk.Advance(d)
}

const heartbeatFile = `checks:
  - name: nightly-job
    heartbeat: { period: 3s, grace: 1s, token: "${HB_TOKEN}" }
`

var hbStart = time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)

// A heartbeat never received fails at period + grace with
// missed_heartbeat, and again every period; a wrong token changes
// nothing; a ping passes at once; a /fail fails at once; results reach
// the metrics and the history like any check's; the token shows nowhere.
func TestHeartbeatMissedThenReceived(t *testing.T) {
	dir := t.TempDir()
	writeChecks(t, dir, "hb.yaml", heartbeatFile)
	db := filepath.Join(t.TempDir(), "assay.db")
	h := startHeartbeatDaemon(t, dir, db, clocktest.New(hbStart))

	h.none(t) // nothing is judged before the first deadline
	h.advance(t, 4*time.Second)
	r := h.next(t)
	if r.Passed || r.Reason != checks.ReasonMissedHeartbeat || !strings.Contains(r.Message, "no heartbeat received since assay began watching") {
		t.Fatalf("first deadline: passed=%v reason=%q %s", r.Passed, r.Reason, r.Message)
	}
	if v, ok := gauge(t, h.gather, "assay_check_success", "nightly-job"); !ok || v != 0 {
		t.Errorf("assay_check_success = %v, %v; want 0", v, ok)
	}
	h.advance(t, 3*time.Second)
	if r := h.next(t); r.Passed || r.Reason != checks.ReasonMissedHeartbeat {
		t.Fatalf("one period later: passed=%v reason=%q, want missed again (alert thresholds count runs)", r.Passed, r.Reason)
	}

	for _, tok := range []string{"", "wrong", hbToken + "x", hbToken[:len(hbToken)-1]} {
		if code := h.post(t, "/api/v1/heartbeat/nightly-job", tok, ""); code != http.StatusUnauthorized {
			t.Errorf("token %q: %d, want 401", tok, code)
		}
	}
	if code := h.post(t, "/api/v1/heartbeat/no-such-job", hbToken, ""); code != http.StatusNotFound {
		t.Errorf("unknown check: %d, want 404", code)
	}
	h.none(t)
	st, err := store.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if p, err := st.LastPing(context.Background(), "nightly-job"); err != nil || !p.At.IsZero() {
		t.Fatalf("refused pings were stored: %+v %v", p, err)
	}

	if code := h.post(t, "/api/v1/heartbeat/nightly-job", hbToken, ""); code != http.StatusOK {
		t.Fatalf("ping: %d", code)
	}
	if r := h.next(t); !r.Passed || r.Reason != "" {
		t.Fatalf("after a ping: passed=%v reason=%q %s", r.Passed, r.Reason, r.Message)
	}
	if v, _ := gauge(t, h.gather, "assay_check_success", "nightly-job"); v != 1 {
		t.Errorf("assay_check_success after a ping = %v, want 1", v)
	}
	if p, _ := st.LastPing(context.Background(), "nightly-job"); !p.At.Equal(hbStart.Add(7 * time.Second)) {
		t.Errorf("stored ping at %s, want the clock's %s", p.At, hbStart.Add(7*time.Second))
	}
	// Within period + grace of the ping nothing more happens.
	h.advance(t, 3500*time.Millisecond)
	h.none(t)

	if code := h.post(t, "/api/v1/heartbeat/nightly-job/fail", hbToken, "backup failed: disk full (token "+hbToken+")\n"); code != http.StatusOK {
		t.Fatalf("fail ping: %d", code)
	}
	r = h.next(t)
	if r.Passed || r.Reason != checks.ReasonHeartbeatFailed || r.Message != "the job reported a failure: backup failed: disk full (token [REDACTED])" {
		t.Fatalf("after /fail: passed=%v reason=%q %q", r.Passed, r.Reason, r.Message)
	}
	// Silence after the failure: missed at period + grace (fired at the
	// end of the scheduler's slot, at most 200ms later).
	h.advance(t, 4*time.Second+200*time.Millisecond)
	if r := h.next(t); r.Passed || r.Reason != checks.ReasonMissedHeartbeat || !strings.Contains(r.Message, "a failure") {
		t.Fatalf("silence after /fail: passed=%v reason=%q %s", r.Passed, r.Reason, r.Message)
	}

	// Every reason is a series of the failures counter.
	code, metrics := get(t, h.addr, "/metrics")
	if code != 200 || !strings.Contains(metrics, `reason="missed_heartbeat"`) || !strings.Contains(metrics, `reason="heartbeat_failed"`) {
		t.Errorf("metrics lack the heartbeat reasons")
	}
	// The history has the runs (the page and the API read it).
	waitFor(t, "the runs stored", 10*time.Second, func() bool {
		_, body := get(t, h.addr, "/api/v1/checks/nightly-job/results")
		return strings.Count(body, `"check": "nightly-job"`) >= 5 || strings.Count(body, `"id":`) >= 5
	})
	var seen []string
	for _, p := range []string{"/metrics", "/api/v1/checks", "/api/v1/checks/nightly-job", "/api/v1/checks/nightly-job/results", "/", "/checks/nightly-job"} {
		code, body := get(t, h.addr, p)
		if code != http.StatusOK {
			t.Errorf("GET %s: %d", p, code) // the page and the API show a heartbeat check like any
		}
		if strings.Contains(body, hbToken) {
			seen = append(seen, p)
		}
	}
	h.stop()
	if strings.Contains(h.logs.text(), hbToken) {
		seen = append(seen, "logs")
	}
	for _, f := range []string{db, db + "-wal"} {
		if b, err := os.ReadFile(f); err == nil && bytes.Contains(b, []byte(hbToken)) {
			seen = append(seen, f)
		}
	}
	if len(seen) > 0 {
		t.Errorf("the heartbeat token shows in %v", seen)
	}
}

// A ping is kept in the store: after a restart the check is judged from
// it at once, not from scratch.
func TestHeartbeatRestartKeepsLastPing(t *testing.T) {
	dir := t.TempDir()
	writeChecks(t, dir, "hb.yaml", heartbeatFile)
	db := filepath.Join(t.TempDir(), "assay.db")
	h := startHeartbeatDaemon(t, dir, db, clocktest.New(hbStart))
	if code := h.post(t, "/api/v1/heartbeat/nightly-job", hbToken, ""); code != http.StatusOK {
		t.Fatalf("ping: %d", code)
	}
	if r := h.next(t); !r.Passed {
		t.Fatalf("after a ping: %q %s", r.Reason, r.Message)
	}
	h.stop()

	// Restarted 2s later: the ping is 2s old, within period + grace.
	h = startHeartbeatDaemon(t, dir, db, clocktest.New(hbStart.Add(2*time.Second)))
	if r := h.next(t); !r.Passed {
		t.Fatalf("first result after the restart: passed=%v %q %s; want the stored ping to count", r.Passed, r.Reason, r.Message)
	}
	// Its deadline is the ping's, not the restart's: 4s after the ping.
	h.advance(t, 2*time.Second)
	if r := h.next(t); r.Passed || r.Reason != checks.ReasonMissedHeartbeat || !strings.Contains(r.Message, "the last one came at 2026-12-01T02:00:00Z") {
		t.Fatalf("at the ping's deadline: passed=%v %q %s", r.Passed, r.Reason, r.Message)
	}
	h.stop()

	// Restarted long after: the deadline passed while assay was down.
	h = startHeartbeatDaemon(t, dir, db, clocktest.New(hbStart.Add(time.Hour)))
	if r := h.next(t); r.Passed || r.Reason != checks.ReasonMissedHeartbeat {
		t.Fatalf("restarted past the deadline: passed=%v %q %s", r.Passed, r.Reason, r.Message)
	}
}

// Regression (review of issue 14): the first deadline of a check never
// pinged counted from each process's start, held only in memory, so a
// restart inside period + grace (a daily deploy, a crash loop) put
// missed_heartbeat off forever. When watching began is stored, the
// earliest kept: restarts before the deadline do not move it, and one
// after it judges the check at once.
func TestHeartbeatNeverPingedSurvivesRestarts(t *testing.T) {
	dir := t.TempDir()
	writeChecks(t, dir, "hb.yaml", heartbeatFile) // period 3s, grace 1s: first deadline hbStart+4s
	db := filepath.Join(t.TempDir(), "assay.db")
	// A crash loop: restarted every 1.5s, each time before the deadline.
	for _, at := range []time.Duration{0, 1500 * time.Millisecond, 3 * time.Second} {
		h := startHeartbeatDaemon(t, dir, db, clocktest.New(hbStart.Add(at)))
		h.none(t)
		h.stop()
	}
	h := startHeartbeatDaemon(t, dir, db, clocktest.New(hbStart.Add(3500*time.Millisecond)))
	h.none(t)
	// The deadline is the first start's: half a second on, not four.
	h.advance(t, 500*time.Millisecond+200*time.Millisecond)
	r := h.next(t)
	if r.Passed || r.Reason != checks.ReasonMissedHeartbeat || !strings.Contains(r.Message, "began watching at 2026-12-01T02:00:00Z") {
		t.Fatalf("at the first start's deadline: passed=%v %q %s", r.Passed, r.Reason, r.Message)
	}
	h.stop()

	// Restarted 10s on (2.5 windows of silence): judged at once.
	h = startHeartbeatDaemon(t, dir, db, clocktest.New(hbStart.Add(10*time.Second)))
	if r := h.next(t); r.Passed || r.Reason != checks.ReasonMissedHeartbeat || !strings.Contains(r.Message, "began watching at 2026-12-01T02:00:00Z") {
		t.Fatalf("restarted past the deadline: passed=%v %q %s", r.Passed, r.Reason, r.Message)
	}
}

// A check removed from the configuration and added again keeps when
// watching began (a bad edit reverted, or a replica on an older
// configuration, does not restart the deadline either); a ping ends it.
func TestHeartbeatReaddedKeepsWatching(t *testing.T) {
	dir := t.TempDir()
	writeChecks(t, dir, "hb.yaml", heartbeatFile)
	db := filepath.Join(t.TempDir(), "assay.db")
	h := startHeartbeatDaemon(t, dir, db, clocktest.New(hbStart))
	h.none(t)
	writeChecks(t, dir, "hb.yaml", "checks: []\n")
	if err := h.reload(); err != nil {
		t.Fatal(err)
	}
	h.advance(t, 3*time.Second)
	writeChecks(t, dir, "hb.yaml", heartbeatFile)
	if err := h.reload(); err != nil {
		t.Fatal(err)
	}
	h.none(t)
	h.advance(t, time.Second+200*time.Millisecond) // hbStart+4.2s: the first deadline, not 3s+4s
	if r := h.next(t); r.Passed || r.Reason != checks.ReasonMissedHeartbeat || !strings.Contains(r.Message, "began watching at 2026-12-01T02:00:00Z") {
		t.Fatalf("re-added check at the first deadline: passed=%v %q %s", r.Passed, r.Reason, r.Message)
	}
	if code := h.post(t, "/api/v1/heartbeat/nightly-job", hbToken, ""); code != http.StatusOK {
		t.Fatalf("ping: %d", code)
	}
	if r := h.next(t); !r.Passed {
		t.Fatalf("after a ping: %q %s", r.Reason, r.Message)
	}
}

func get(t *testing.T, addr, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Two pings at the same time (the clock's resolution, or the store's
// milliseconds): the later call wins, as in the store, so a failure
// reported right after a success is judged a failure.
func TestHeartbeatSameTimeLaterWins(t *testing.T) {
	dir := t.TempDir()
	writeChecks(t, dir, "hb.yaml", heartbeatFile)
	h := startHeartbeatDaemon(t, dir, filepath.Join(t.TempDir(), "assay.db"), clocktest.New(hbStart))
	if code := h.post(t, "/api/v1/heartbeat/nightly-job", hbToken, ""); code != http.StatusOK {
		t.Fatalf("ping: %d", code)
	}
	if r := h.next(t); !r.Passed {
		t.Fatalf("ping: %q %s", r.Reason, r.Message)
	}
	if code := h.post(t, "/api/v1/heartbeat/nightly-job/fail", hbToken, "exit 2"); code != http.StatusOK {
		t.Fatalf("fail: %d", code)
	}
	if r := h.next(t); r.Passed || r.Reason != checks.ReasonHeartbeatFailed || r.Message != "the job reported a failure: exit 2" {
		t.Fatalf("a failure at the same time as the ping before it: passed=%v %q %s", r.Passed, r.Reason, r.Message)
	}
	if code := h.post(t, "/api/v1/heartbeat/nightly-job", hbToken, ""); code != http.StatusOK {
		t.Fatalf("ping: %d", code)
	}
	if r := h.next(t); !r.Passed {
		t.Fatalf("a success at the same time as the failure before it: %q %s", r.Reason, r.Message)
	}
}
