package daemon_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/assay-monitor/assay/alerting"
	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/config"
	"github.com/assay-monitor/assay/daemon"
	"github.com/prometheus/client_golang/prometheus"
)

// TestASilenceStopsAPage: a silence made through the API (with the
// token) keeps a failing check from paging while its results are marked
// in_maintenance; expiring it pages once, at once.
func TestASilenceStopsAPage(t *testing.T) {
	var failing atomic.Bool
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if failing.Load() {
			w.WriteHeader(500)
		}
	}))
	defer target.Close()
	var mu sync.Mutex
	var kinds []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		kinds = append(kinds, r.Header.Get(alerting.HeaderEvent))
		mu.Unlock()
	}))
	defer hook.Close()
	pages := func() string {
		mu.Lock()
		defer mu.Unlock()
		return strings.Join(kinds, " ")
	}

	dir := t.TempDir()
	checksDir := filepath.Join(dir, "checks.d")
	mkdirAll(t, checksDir)
	writeChecks(t, checksDir, "a.yaml", "checks:"+checkYAML("db", target.URL, "    labels: { team: data }\n"))
	cfg := config.Default()
	cfg.Checks.Dir = checksDir
	cfg.Storage.Path = filepath.Join(dir, "assay.db")
	cfg.Server.ShutdownGrace = checks.Duration(2 * time.Second)
	cfg.Server.APIToken = "token-of-the-maintenance-test"
	cfg.Notifiers = map[string]*alerting.NotifierConfig{"hook": {Type: alerting.TypeWebhook, URL: hook.URL}}
	cfg.Defaults.Alert = checks.AlertPolicy{Notify: []string{"hook"}, Failures: 1, Successes: 1}
	opts := daemon.Options{Config: cfg, Registry: prometheus.NewRegistry()}
	stopStorage, err := daemon.OpenStorage(&opts)
	if err != nil {
		t.Fatal(err)
	}
	defer stopStorage()
	_, addr, stop := runDaemon(t, opts)
	defer stop()
	call := func(method, path, body, token string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	silence := fmt.Sprintf(`{"matchers": [{"name": "team", "value": "data"}], "ends": %q, "comment": "failover drill"}`,
		time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	if code, _ := call("POST", "/api/v1/silences", silence, ""); code != http.StatusUnauthorized {
		t.Fatalf("POST without the token = %d, want 401", code)
	}
	code, s := call("POST", "/api/v1/silences", silence, cfg.Server.APIToken)
	if code != http.StatusCreated {
		t.Fatalf("POST = %d %v", code, s)
	}
	failing.Store(true)
	runs := map[any]bool{} // distinct failed runs in maintenance, by start
	waitFor(t, "three failed runs in maintenance", 20*time.Second, func() bool {
		_, c := call("GET", "/api/v1/checks/db", "", "")
		res, _ := c["result"].(map[string]any)
		if res != nil && res["passed"] == false && res["in_maintenance"] == true {
			runs[res["started"]] = true
		}
		return len(runs) >= 3
	})
	if _, c := call("GET", "/api/v1/checks/db", "", ""); c["maintenance"].(map[string]any)["in_maintenance"] != true {
		t.Errorf("the check's maintenance = %v", c["maintenance"])
	}
	if got := pages(); got != "" {
		t.Fatalf("pages while silenced: %q", got)
	}
	if code, x := call("DELETE", "/api/v1/silences/"+s["id"].(string), "", cfg.Server.APIToken); code != 200 {
		t.Fatalf("DELETE = %d %v", code, x)
	}
	waitFor(t, "the page once the silence is expired", 10*time.Second, func() bool { return pages() == "firing" })
	failing.Store(false)
	waitFor(t, "the recovery", 10*time.Second, func() bool { return pages() == "firing resolved" })
}
