package alerting

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The fixed instants of the sample events.
var (
	sampleNow     = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	sampleStarted = time.Date(2026, 3, 1, 11, 57, 0, 0, time.UTC)
)

func sampleEvent(kind Kind) *Event {
	ev := &Event{
		Version: PayloadVersion, ID: "5f0c9e1a2b3c4d5e6f708192a3b4c5d6", Kind: kind, Status: StatusFiring,
		Time: sampleNow, Sequence: 1,
		Check: CheckInfo{Name: "documents-conditional-update", Description: "RFC 9110 conditional update",
			Labels: map[string]string{"team": "docs", "severity": "page"}, Interval: "1m0s",
			URL: "https://assay.example.com/api/v1/checks/documents-conditional-update"},
		Incident: Incident{ID: "9a8b7c6d5e4f30211203a4b5c6d7e8f9", Started: sampleStarted, Runs: 3, FailedRuns: 3},
		Failure: &Failure{Time: sampleNow.Add(-time.Minute), Reason: "assertion",
			Message: `step "conditional update": status: expected 204, got 500`, Step: "conditional update",
			Assertions: []Assertion{{Name: "status", Expected: "204", Actual: "500", Message: "status: expected 204, got 500"}}},
	}
	if kind == KindResolved {
		resolved := sampleNow.Add(5 * time.Minute)
		ev.ID, ev.Status, ev.Sequence, ev.Time = "0d1e2f3a4b5c6d7e8f90a1b2c3d4e5f6", StatusResolved, 2, resolved
		ev.Incident.Resolved, ev.Incident.Resolution = &resolved, ResolutionRecovered
		ev.Incident.Runs, ev.Incident.FailedRuns = 10, 8
	}
	return ev
}

type request struct {
	method string
	path   string
	query  string
	header http.Header
	body   []byte
}

// receiver records every request and answers with the given status,
// body and headers.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	requests []request
	status   int
	body     string
	header   map[string]string
	// queue holds the statuses of the next answers; status answers once
	// it is empty.
	queue []int
}

func newReceiver(t *testing.T, status int, body string) *receiver {
	r := newUnstartedReceiver(t, status, body)
	r.Start()
	return r
}

// newUnstartedReceiver is a receiver to Start once its Listener is set.
func newUnstartedReceiver(t *testing.T, status int, body string) *receiver {
	r := &receiver{status: status, body: body}
	r.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.requests = append(r.requests, request{req.Method, req.URL.Path, req.URL.RawQuery, req.Header.Clone(), b})
		status, body, header := r.status, r.body, r.header
		if len(r.queue) > 0 && len(r.requests) > 1 {
			r.status, r.queue = r.queue[0], r.queue[1:]
			status = r.status
		}
		r.mu.Unlock()
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) got() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]request(nil), r.requests...)
}

func notifierFor(t *testing.T, cfg *NotifierConfig) Notifier {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = "test"
	}
	n, err := NewNotifier(cfg, nil, func() time.Time { return sampleNow })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		switch n := n.(type) {
		case *webhook:
			n.s.client.CloseIdleConnections()
		case *slack:
			n.s.client.CloseIdleConnections()
		case *pagerDuty:
			n.s.client.CloseIdleConnections()
		case *alertmanager:
			n.s.client.CloseIdleConnections()
		case *opsgenie:
			n.s.client.CloseIdleConnections()
		case *teams:
			n.s.client.CloseIdleConnections()
		case *discord:
			n.s.client.CloseIdleConnections()
		case *ntfy:
			n.s.client.CloseIdleConnections()
		}
	})
	return n
}

func notify(t *testing.T, n Notifier, ev *Event) {
	t.Helper()
	if retry, err := n.Notify(context.Background(), ev); err != nil {
		t.Fatalf("Notify: retry=%v err=%v", retry, err)
	}
}

// golden compares a JSON body, indented, with testdata/name.golden.
func golden(t *testing.T, name string, body []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, body, "", "  "); err != nil {
		t.Fatalf("%s: body is not JSON: %v\n%s", name, err, body)
	}
	buf.WriteByte('\n')
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./alerting -run %s -update)", err, t.Name())
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("%s differs from %s:\n%s", name, path, buf.String())
	}
}

func TestWebhookPayload(t *testing.T) {
	r := newReceiver(t, http.StatusNoContent, "")
	n := notifierFor(t, &NotifierConfig{Type: TypeWebhook, URL: r.URL + "/hooks/assay", Secret: "s3cret",
		Headers: map[string]string{"X-Team": "sre"}})
	notify(t, n, sampleEvent(KindFiring))
	notify(t, n, sampleEvent(KindResolved))
	reqs := r.got()
	golden(t, "webhook_firing", reqs[0].body)
	golden(t, "webhook_resolved", reqs[1].body)
	for i, ev := range []*Event{sampleEvent(KindFiring), sampleEvent(KindResolved)} {
		h := reqs[i].header
		if h.Get("Content-Type") != "application/json" || h.Get("Idempotency-Key") != ev.ID ||
			h.Get("X-Assay-Event") != string(ev.Kind) || h.Get("X-Team") != "sre" || !strings.HasPrefix(h.Get("User-Agent"), "assay/") {
			t.Errorf("request %d headers: %v", i, h)
		}
		if err := VerifySignature([]byte("s3cret"), h, reqs[i].body, sampleNow, 5*time.Minute); err != nil {
			t.Errorf("request %d: signature: %v", i, err)
		}
		// The body is exactly the documented Event.
		var back Event
		if err := json.Unmarshal(reqs[i].body, &back); err != nil || back.ID != ev.ID || back.Version != "1" || back.Status != ev.Status {
			t.Errorf("request %d does not decode as an Event: %v %+v", i, err, back)
		}
	}
	if reqs[0].path != "/hooks/assay" {
		t.Errorf("path %q", reqs[0].path)
	}
}

func TestWebhookTemplateBody(t *testing.T) {
	r := newReceiver(t, http.StatusOK, "")
	cfg := &NotifierConfig{Type: TypeWebhook, URL: r.URL,
		Body: `{"text": {{ json .Summary }}, "status": "{{ .Status }}", "labels": {{ json .Check.Labels }}, "key": "{{ .ID }}"}`}
	n := notifierFor(t, cfg)
	notify(t, n, sampleEvent(KindFiring))
	req := r.got()[0]
	golden(t, "webhook_template", req.body)
	if req.header.Get(HeaderSignature) != "" {
		t.Error("signed without a secret")
	}
	// A template that fails at send time is a permanent failure.
	bad := notifierFor(t, &NotifierConfig{Type: TypeWebhook, URL: r.URL, Body: `{{ .NoSuchField }}`})
	retry, err := bad.Notify(context.Background(), sampleEvent(KindFiring))
	if retry || reasonOf(err) != ReasonInvalid {
		t.Errorf("bad template: retry=%v err=%v", retry, err)
	}
}

func TestSlackPayload(t *testing.T) {
	r := newReceiver(t, http.StatusOK, "ok")
	n := notifierFor(t, &NotifierConfig{Type: TypeSlack, URL: r.URL + "/services/T000/B000/XXXX"})
	notify(t, n, sampleEvent(KindFiring))
	notify(t, n, sampleEvent(KindResolved))
	reqs := r.got()
	golden(t, "slack_firing", reqs[0].body)
	golden(t, "slack_resolved", reqs[1].body)
	var msg struct {
		Text   string           `json:"text"`
		Blocks []map[string]any `json:"blocks"`
	}
	if err := json.Unmarshal(reqs[0].body, &msg); err != nil || msg.Text == "" || len(msg.Blocks) == 0 {
		t.Fatalf("slack message needs text and blocks: %v %s", err, reqs[0].body)
	}
}

func TestPagerDutyPayload(t *testing.T) {
	r := newReceiver(t, http.StatusAccepted, `{"status":"success","message":"Event processed","dedup_key":"assay/documents-conditional-update"}`)
	n := notifierFor(t, &NotifierConfig{Type: TypePagerDuty, RoutingKey: "R0UT1NGKEY0000000000000000000000", URL: r.URL + "/v2/enqueue"})
	notify(t, n, sampleEvent(KindFiring))
	notify(t, n, sampleEvent(KindResolved))
	reqs := r.got()
	golden(t, "pagerduty_trigger", reqs[0].body)
	golden(t, "pagerduty_resolve", reqs[1].body)
	for i, action := range []string{"trigger", "resolve"} {
		var e pdEvent
		if err := json.Unmarshal(reqs[i].body, &e); err != nil {
			t.Fatal(err)
		}
		if want := "assay/documents-conditional-update/" + sampleEvent(KindFiring).Incident.ID; e.EventAction != action || e.DedupKey != want || e.RoutingKey == "" {
			t.Errorf("%s: %+v", action, e)
		}
		if action == "trigger" && (e.Payload == nil || e.Payload.Summary == "" || e.Payload.Source == "" ||
			len([]rune(e.Payload.Summary)) > 1024 || e.Payload.Severity != "critical") {
			t.Errorf("trigger payload: %+v", e.Payload)
		}
	}
	// A check's severity label with a PagerDuty value wins.
	ev := sampleEvent(KindFiring)
	ev.Check.Labels = map[string]string{"severity": "warning"}
	notify(t, n, ev)
	var e pdEvent
	_ = json.Unmarshal(r.got()[2].body, &e)
	if e.Payload.Severity != "warning" {
		t.Errorf("severity = %q, want the label's warning", e.Payload.Severity)
	}
	id := "9a8b7c6d5e4f30211203a4b5c6d7e8f9"
	if got := DedupKey(strings.Repeat("x", 300), id); len([]rune(got)) != 255 || !strings.HasSuffix(got, "/"+id) {
		t.Errorf("dedup key not capped at 255 with the incident id whole: %d %q", len([]rune(got)), got)
	}
}

func TestAlertmanagerPayload(t *testing.T) {
	down := newReceiver(t, http.StatusServiceUnavailable, "")
	up := newReceiver(t, http.StatusOK, "")
	n := notifierFor(t, &NotifierConfig{Type: TypeAlertmanager, URLs: []string{down.URL, up.URL + "/"},
		Labels: map[string]string{"source": "assay", "team": "overridden-by-check"}})
	notify(t, n, sampleEvent(KindFiring))
	notify(t, n, sampleEvent(KindResolved))
	reqs := up.got()
	if len(reqs) != 2 || len(down.got()) != 2 || reqs[0].path != "/api/v2/alerts" {
		t.Fatalf("requests: up %d down %d path %q", len(reqs), len(down.got()), reqs[0].path)
	}
	golden(t, "alertmanager_firing", reqs[0].body)
	golden(t, "alertmanager_resolved", reqs[1].body)
	var alerts []postableAlert
	_ = json.Unmarshal(reqs[0].body, &alerts)
	a := alerts[0]
	want := map[string]string{"alertname": "AssayCheckFailing", "check": "documents-conditional-update", "team": "docs", "severity": "page", "source": "assay",
		"incident": "9a8b7c6d5e4f30211203a4b5c6d7e8f9"}
	if len(a.Labels) != len(want) {
		t.Errorf("labels %v, want %v", a.Labels, want)
	}
	for k, v := range want {
		if a.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, a.Labels[k], v)
		}
	}
	// Interval 1m: endsAt is 4 x 1m ahead of now.
	if !a.EndsAt.Equal(sampleNow.Add(4*time.Minute)) || !a.StartsAt.Equal(sampleStarted) {
		t.Errorf("startsAt %v endsAt %v", a.StartsAt, a.EndsAt)
	}
	_ = json.Unmarshal(reqs[1].body, &alerts)
	if !alerts[0].EndsAt.Equal(sampleNow.Add(5 * time.Minute)) {
		t.Errorf("resolved endsAt %v, want the recovery time", alerts[0].EndsAt)
	}
	for _, tc := range []struct {
		interval string
		want     time.Duration
	}{{"10s", 4 * time.Minute}, {"1m0s", 4 * time.Minute}, {"5m0s", 20 * time.Minute}, {"", 4 * time.Minute}} {
		if got := alertTTL(tc.interval); got != tc.want {
			t.Errorf("alertTTL(%q) = %v, want %v", tc.interval, got, tc.want)
		}
	}
	// No Alertmanager accepts: the failure is retried.
	up.mu.Lock()
	up.status = http.StatusBadGateway
	up.mu.Unlock()
	if retry, err := n.Notify(context.Background(), sampleEvent(KindFiring)); !retry || err == nil || reasonOf(err) != Reason5xx {
		t.Errorf("all down: retry=%v err=%v", retry, err)
	}
}

func TestTestEventThroughEachNotifier(t *testing.T) {
	pd := newReceiver(t, http.StatusAccepted, `{"status":"success"}`)
	responses, retry, err := SendTest(context.Background(), &NotifierConfig{Name: "pager", Type: TypePagerDuty, RoutingKey: "k", URL: pd.URL}, "", nil)
	if err != nil || retry || len(responses) != 2 || responses[0].Status != 202 {
		t.Fatalf("pagerduty test: %v %v %+v", err, retry, responses)
	}
	var e1, e2 pdEvent
	_ = json.Unmarshal(pd.got()[0].body, &e1)
	_ = json.Unmarshal(pd.got()[1].body, &e2)
	if e1.EventAction != "trigger" || e2.EventAction != "resolve" || e1.DedupKey != "assay/notify-test/pager" || e1.Payload.Severity != "info" {
		t.Errorf("test events: %+v / %+v", e1, e2)
	}
	hook := newReceiver(t, http.StatusTeapot, "no thanks")
	responses, retry, err = SendTest(context.Background(), &NotifierConfig{Name: "hook", Type: TypeWebhook, URL: hook.URL}, "", nil)
	if err == nil || retry || len(responses) != 1 || responses[0].Status != 418 || responses[0].Body != "no thanks" {
		t.Fatalf("webhook test: %v %v %+v", err, retry, responses)
	}
}
