package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/history"
	"github.com/assay-monitor/assay/store"
	"github.com/assay-monitor/assay/store/outbox"
	"github.com/assay-monitor/assay/web"
	"github.com/prometheus/client_golang/prometheus"
)

// apiStore is a real SQLite store with a check "api" of 6 runs (2 and 5
// failed), an open incident and a pending and a dead notification.
func apiStore(t *testing.T) (*store.Store, time.Time) {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "assay.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	var runs []history.StoredRun
	for i := int64(1); i <= 6; i++ {
		passed := i != 2 && i != 5
		r := &checks.Result{ID: i, Check: "api", Started: now.Add(time.Duration(i-7) * time.Minute), Duration: time.Duration(i) * 100 * time.Millisecond, Passed: passed}
		sum := history.RunSummary{ID: i, Check: "api", Started: r.Started, DurationSeconds: r.Duration.Seconds(), Passed: passed}
		if !passed {
			sum.Reason, sum.Message, sum.FailingStep = checks.ReasonAssertion, "step \"read\": status: expected 200, got 500 at https://internal.example/x", "read"
			r.Reason, r.Message = sum.Reason, sum.Message
		}
		data, _ := json.Marshal(r)
		runs = append(runs, history.StoredRun{RunSummary: sum, Data: data})
	}
	if err := st.WriteBatch(ctx, history.Batch{Runs: runs}); err != nil {
		t.Fatal(err)
	}
	ev := func(key, notifier string) outbox.Event {
		return outbox.Event{Key: key, Check: "api", Notifier: notifier, Kind: "firing", Payload: []byte(`{}`), Created: now}
	}
	if err := st.Apply(ctx, outbox.Change{Check: "api", State: []byte(`{}`), Events: []outbox.Event{ev("k1", "hook"), ev("k1", "pager")},
		Incident: &outbox.IncidentRecord{ID: "inc1", Check: "api", Started: runs[4].Started, Opened: runs[4].Started,
			FirstReason: "assertion", FirstFailure: "status: expected 200, got 500 at https://internal.example/x", Runs: 1, FailedRuns: 1}}); err != nil {
		t.Fatal(err)
	}
	heads, _ := st.Heads(ctx)
	if err := st.DeadLetter(ctx, heads[0].Seq, 3, "http_4xx", "HTTP 400", now); err != nil {
		t.Fatal(err)
	}
	return st, now
}

func apiServer(t *testing.T, st *store.Store, now time.Time, public bool, woke *int) *httptest.Server {
	t.Helper()
	status := web.NewStatus(nil)
	cs, err := checks.Parse("api.yaml", []byte("checks:\n  - name: api\n    steps: [{ request: { url: \"http://127.0.0.1:1/\" } }]\n"))
	if err != nil {
		t.Fatal(err)
	}
	status.SetChecks(cs)
	srv := httptest.NewServer(web.Handler(web.Options{Gatherer: prometheus.NewRegistry(), Status: status, History: st, Notifications: st,
		NotificationsChanged: func() { *woke++ }, Public: public, Now: func() time.Time { return now }}))
	t.Cleanup(srv.Close)
	return srv
}

func apiCall(t *testing.T, method, url string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s %s: Content-Type %q", method, url, ct)
	}
	return resp.StatusCode, string(b)
}

func decode[T any](t *testing.T, body string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	return v
}

func TestResultsAPIPaginatesNewestFirstAndFilters(t *testing.T) {
	st, now := apiStore(t)
	var woke int
	srv := apiServer(t, st, now, false, &woke)
	ids := func(p web.ResultsPage) string {
		var s []string
		for _, r := range p.Results {
			s = append(s, fmt.Sprint(r.ID))
		}
		return strings.Join(s, ",")
	}
	code, body := apiCall(t, "GET", srv.URL+"/api/v1/checks/api/results?limit=2")
	p := decode[web.ResultsPage](t, body)
	if code != 200 || ids(p) != "6,5" || p.Next != "/api/v1/checks/api/results?before=5&limit=2" {
		t.Fatalf("first page: %d %s", code, body)
	}
	_, body = apiCall(t, "GET", srv.URL+p.Next)
	if p = decode[web.ResultsPage](t, body); ids(p) != "4,3" {
		t.Fatalf("second page: %s", body)
	}
	_, body = apiCall(t, "GET", srv.URL+"/api/v1/checks/api/results?status=failed")
	if p = decode[web.ResultsPage](t, body); ids(p) != "5,2" || p.Next != "" || p.Results[0].FailingStep != "read" {
		t.Fatalf("failed runs: %s", body)
	}
	for _, bad := range []string{"?status=broken", "?limit=-1", "?before=x"} {
		if code, body := apiCall(t, "GET", srv.URL+"/api/v1/checks/api/results"+bad); code != 400 || !strings.Contains(body, "error") {
			t.Errorf("%s: %d %s, want 400", bad, code, body)
		}
	}
	if code, _ := apiCall(t, "GET", srv.URL+"/api/v1/checks/nobody/results"); code != 404 {
		t.Errorf("unknown check: %d, want 404", code)
	}
	code, body = apiCall(t, "GET", srv.URL+"/api/v1/results/5")
	run := decode[history.Run](t, body)
	if code != 200 || run.ID != 5 || run.Passed || run.Result == nil || run.Result.ID != 5 {
		t.Fatalf("run 5: %d %s", code, body)
	}
	if code, _ := apiCall(t, "GET", srv.URL+"/api/v1/results/99"); code != 404 {
		t.Errorf("unknown run: %d, want 404", code)
	}
	if code, _ := apiCall(t, "GET", srv.URL+"/api/v1/results/abc"); code != 400 {
		t.Errorf("bad run id: %d, want 400", code)
	}
}

func TestUptimeAPIFromTheAggregates(t *testing.T) {
	st, now := apiStore(t)
	var woke int
	srv := apiServer(t, st, now, false, &woke)
	code, body := apiCall(t, "GET", srv.URL+"/api/v1/checks/api/uptime?window=1h")
	u := decode[history.Uptime](t, body)
	if code != 200 || u.Runs != 6 || u.Failures != 2 || u.Availability == nil || *u.Availability < 0.666 || *u.Availability > 0.667 ||
		u.P50Seconds == nil || *u.P50Seconds != 0.3 || *u.P95Seconds != 0.6 || u.Window != "1h" || !u.To.Equal(now) {
		t.Fatalf("uptime: %d %s", code, body)
	}
	_, body = apiCall(t, "GET", srv.URL+"/api/v1/checks/api/uptime")
	if u = decode[history.Uptime](t, body); u.Window != "24h" || u.Runs != 6 {
		t.Fatalf("default window: %s", body)
	}
	for _, bad := range []string{"x", "0s", "401d"} {
		if code, _ := apiCall(t, "GET", srv.URL+"/api/v1/checks/api/uptime?window="+bad); code != 400 {
			t.Errorf("window=%s: %d, want 400", bad, code)
		}
	}
}

func TestIncidentsAndNotificationsAPI(t *testing.T) {
	st, now := apiStore(t)
	var woke int
	srv := apiServer(t, st, now, false, &woke)
	_, body := apiCall(t, "GET", srv.URL+"/api/v1/incidents?open=true")
	in := decode[web.IncidentsPage](t, body)
	if len(in.Incidents) != 1 || in.Incidents[0].ID != "inc1" || in.Incidents[0].Resolved != nil || in.Incidents[0].FirstReason != "assertion" {
		t.Fatalf("open incidents: %s", body)
	}
	if code, _ := apiCall(t, "GET", srv.URL+"/api/v1/incidents?open=maybe"); code != 400 {
		t.Errorf("open=maybe: %d", code)
	}
	_, body = apiCall(t, "GET", srv.URL+"/api/v1/notifications?status=dead")
	dead := decode[web.NotificationsPage](t, body)
	if len(dead.Notifications) != 1 || dead.Notifications[0].Reason != "http_4xx" {
		t.Fatalf("dead letters: %s", body)
	}
	id := dead.Notifications[0].ID
	if code, body := apiCall(t, "POST", fmt.Sprintf("%s/api/v1/notifications/%d/retry", srv.URL, id)); code != 200 || woke != 1 {
		t.Fatalf("retry: %d %s (woke %d)", code, body, woke)
	}
	_, body = apiCall(t, "GET", srv.URL+"/api/v1/notifications?status=pending")
	if p := decode[web.NotificationsPage](t, body); len(p.Notifications) != 2 {
		t.Fatalf("pending after retry: %s", body)
	}
	if code, _ := apiCall(t, "DELETE", fmt.Sprintf("%s/api/v1/notifications/%d", srv.URL, id)); code != 404 {
		t.Errorf("dropping the retried dead letter by its old id: %d, want 404", code)
	}
	_, body = apiCall(t, "GET", srv.URL+"/api/v1/notifications")
	all := decode[web.NotificationsPage](t, body)
	for _, n := range all.Notifications {
		if code, _ := apiCall(t, "POST", fmt.Sprintf("%s/api/v1/notifications/%d/drop", srv.URL, n.ID)); code != 200 {
			t.Errorf("drop %d: %d", n.ID, code)
		}
	}
	if _, body = apiCall(t, "GET", srv.URL+"/api/v1/notifications"); len(decode[web.NotificationsPage](t, body).Notifications) != 0 {
		t.Fatalf("after dropping all: %s", body)
	}
	if code, _ := apiCall(t, "GET", srv.URL+"/api/v1/notifications?status=lost"); code != 400 {
		t.Errorf("status=lost: %d", code)
	}
}

// A public status page's API shows no evidence: stored runs and
// notifications are refused, messages are left out.
func TestPublicAPIShowsNoEvidence(t *testing.T) {
	st, now := apiStore(t)
	var woke int
	srv := apiServer(t, st, now, true, &woke)
	for _, u := range []string{"/api/v1/results/5", "/api/v1/notifications"} {
		if code, _ := apiCall(t, "GET", srv.URL+u); code != 403 {
			t.Errorf("public %s: %d, want 403", u, code)
		}
	}
	if code, _ := apiCall(t, "POST", srv.URL+"/api/v1/notifications/1/retry"); code != 403 {
		t.Errorf("public retry: %d, want 403", code)
	}
	for _, u := range []string{"/api/v1/checks/api/results?status=failed", "/api/v1/incidents", "/api/v1/checks", "/api/v1/checks/api"} {
		code, body := apiCall(t, "GET", srv.URL+u)
		if code != 200 || strings.Contains(body, "internal.example") || strings.Contains(body, "expected 200") || strings.Contains(body, "api.yaml") {
			t.Errorf("public %s: %d %s", u, code, body)
		}
	}
}

// Without a history the endpoints say so instead of failing.
func TestHistoryAPIWithoutHistory(t *testing.T) {
	srv := httptest.NewServer(web.Handler(web.Options{Gatherer: prometheus.NewRegistry(), Status: web.NewStatus(nil)}))
	defer srv.Close()
	for _, u := range []string{"/api/v1/checks/api/results", "/api/v1/results/1", "/api/v1/incidents", "/api/v1/checks/api/uptime"} {
		if code, _ := apiCall(t, "GET", srv.URL+u); code != 501 {
			t.Errorf("%s without a history: %d, want 501", u, code)
		}
	}
}
