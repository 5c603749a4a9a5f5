package daemon_test

import (
	"context"
	"database/sql"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assay-monitor/assay/alerting"
	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/config"
	"github.com/assay-monitor/assay/daemon"
	"github.com/assay-monitor/assay/store"
	"github.com/prometheus/client_golang/prometheus"
)

// TestAStoreThatCannotWriteDegradesReadinessButStillPages: with the
// database locked by another process, a failing check still pages
// exactly once under its idempotency key, /readyz answers 503 with the
// reason, assay_store_write_errors_total counts; once the lock goes,
// /readyz is 200 again and nothing is sent twice.
func TestAStoreThatCannotWriteDegradesReadinessButStillPages(t *testing.T) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(503) }))
	defer down.Close()
	var mu sync.Mutex
	var keys []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		keys = append(keys, r.Header.Get(alerting.HeaderEvent)+" "+r.Header.Get(alerting.HeaderIdempotencyKey))
		mu.Unlock()
	}))
	defer hook.Close()
	pages := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), keys...)
	}

	dir := t.TempDir()
	path := filepath.Join(dir, "assay.db")
	st, err := store.Open(path) // the schema, before the lock
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	ctx := context.Background()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	locked := true
	defer func() {
		if locked {
			conn.ExecContext(ctx, "ROLLBACK")
		}
	}()

	checksDir := filepath.Join(dir, "checks.d")
	mkdirAll(t, checksDir)
	writeChecks(t, checksDir, "a.yaml", "checks:"+checkYAML("down", down.URL, ""))
	cfg := config.Default()
	cfg.Checks.Dir = checksDir
	cfg.Storage.Path = path
	cfg.Server.ShutdownGrace = checks.Duration(2 * time.Second)
	cfg.Notifiers = map[string]*alerting.NotifierConfig{"hook": {Type: alerting.TypeWebhook, URL: hook.URL}}
	cfg.Defaults.Alert = checks.AlertPolicy{Notify: []string{"hook"}, Failures: 2, Successes: 1}
	reg := prometheus.NewRegistry()
	opts := daemon.Options{Config: cfg, Registry: reg, StoreOptions: []store.Option{store.WithBusyTimeout(20 * time.Millisecond)}}
	stopStorage, err := daemon.OpenStorage(&opts)
	if err != nil {
		t.Fatal(err)
	}
	defer stopStorage()
	_, addr, stop := runDaemon(t, opts)
	defer stop()
	readyz := func() (int, string) {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	waitFor(t, "the page", 15*time.Second, func() bool { return len(pages()) > 0 })
	code, body := readyz()
	if code != 503 || !strings.HasPrefix(body, "degraded: the store cannot write: ") || !strings.Contains(body, "locked") {
		t.Errorf("/readyz while the store is locked = %d %q, want 503 degraded with the reason", code, body)
	}
	if n := value(t, reg, "assay_store_write_errors_total"); n < 1 {
		t.Errorf("assay_store_write_errors_total = %v, want the failed writes counted", n)
	}

	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	locked = false
	waitFor(t, "/readyz 200 once the store writes", 15*time.Second, func() bool { c, _ := readyz(); return c == 200 })
	// Everything reached the store: the state, and no event left to send
	// (the firing one was delivered from memory), so none can go twice.
	reader, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	waitFor(t, "the alert state stored with nothing pending", 15*time.Second, func() bool {
		states, err := reader.AlertStates(ctx)
		pending, perr := reader.Pending(ctx)
		return err == nil && perr == nil && strings.Contains(string(states["down"]), `"status":"failing"`) &&
			len(pending) == 0 && value(t, reg, "assay_alert_events_unsaved") == 0
	})
	got := pages()
	if len(got) != 1 || !strings.HasPrefix(got[0], "firing ") || len(got[0]) < len("firing ")+16 {
		t.Errorf("the receiver got %q, want exactly one firing event with its idempotency key", got)
	}
}

func mkdirAll(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

// value is the value of a metric without labels (counter or gauge).
func value(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			m := mf.GetMetric()[0]
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}
