//go:build linux

package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/assay-monitor/assay/internal/demoapi"
)

// webhookReceiver verifies and records webhook deliveries the way the
// README tells a receiver to: HMAC-SHA256 over timestamp + "." + body,
// a fresh timestamp, and one processing per Idempotency-Key.
type webhookReceiver struct {
	secret string
	mu     sync.Mutex
	events []receivedEvent
	seen   map[string]int
	bad    []string
}

type receivedEvent struct {
	ID       string `json:"id"`
	Kind     string `json:"kind"`
	Sequence int64  `json:"sequence"`
	Check    struct {
		Name string `json:"name"`
	} `json:"check"`
	Incident struct {
		ID string `json:"id"`
	} `json:"incident"`
}

func (rv *webhookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	ts := r.Header.Get("X-Assay-Timestamp")
	mac := hmac.New(sha256.New, []byte(rv.secret))
	mac.Write([]byte(ts + "." + string(body)))
	want := "v1=" + hex.EncodeToString(mac.Sum(nil))
	sec, _ := strconv.ParseInt(ts, 10, 64)
	rv.mu.Lock()
	defer rv.mu.Unlock()
	if !hmac.Equal([]byte(r.Header.Get("X-Assay-Signature")), []byte(want)) || time.Since(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		rv.bad = append(rv.bad, fmt.Sprintf("bad signature or timestamp: %q %q", ts, r.Header.Get("X-Assay-Signature")))
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var ev receivedEvent
	if err := json.Unmarshal(body, &ev); err != nil || ev.ID == "" || ev.ID != r.Header.Get("Idempotency-Key") {
		rv.bad = append(rv.bad, fmt.Sprintf("bad event (key %q): %v %s", r.Header.Get("Idempotency-Key"), err, body))
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	rv.seen[ev.ID]++
	rv.events = append(rv.events, ev)
	w.WriteHeader(http.StatusNoContent)
}

func (rv *webhookReceiver) snapshot() ([]receivedEvent, map[string]int, []string) {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	seen := map[string]int{}
	for k, v := range rv.seen {
		seen[k] = v
	}
	return append([]receivedEvent(nil), rv.events...), seen, append([]string(nil), rv.bad...)
}

// TestWebhookSurvivesOutageAndSIGKILL: the webhook receiver is down while
// a check fails and recovers twice, and assay is killed with SIGKILL and
// restarted in between. When the receiver comes back it gets every event,
// each once per idempotency key, validly signed, in order.
func TestWebhookSurvivesOutageAndSIGKILL(t *testing.T) {
	api := demoapi.New(demoapi.Options{Fault: demoapi.FaultError})
	apiURL, stopAPI, err := api.Start("")
	if err != nil {
		t.Fatal(err)
	}
	defer stopAPI()

	dir := t.TempDir()
	checksDir := mkdir(t, dir, "checks")
	writeFile(t, checksDir, "create.yaml", fmt.Sprintf(`checks:
  - name: documents-create
    schedule: "@every 1s"
    timeout: 5s
    labels: { team: docs }
    steps:
      - name: create document
        request:
          method: POST
          url: %s/documents
          json: { title: "probe", body: "written by the webhook e2e test" }
        expect:
          status: 201
`, apiURL))
	hookPort := freePort(t) // nothing listens there until the receiver comes back
	cfg := writeConfig(t, dir, fmt.Sprintf(`storage:
  path: %s
notifiers:
  hook:
    type: webhook
    url: http://127.0.0.1:%d/hook
    secret: e2e-secret
defaults:
  alert: { notify: [hook], failures: 1, successes: 1 }
`, filepath.Join(dir, "state", "assay.db"), hookPort))

	metric := func(base, name string, labels ...string) float64 {
		_, body := httpDo(t, "GET", base+"/metrics")
		v, _ := metricValue(body, name, labels...)
		return v
	}
	outboxIs := func(base string, n float64) func() (bool, string) {
		return func() (bool, string) {
			v := metric(base, "assay_outbox_events", "notifier", "hook")
			return v == n, fmt.Sprintf("assay_outbox_events{notifier=\"hook\"} = %v, want %v", v, n)
		}
	}

	p, base := startDaemon(t, checksDir, cfg)
	poll(t, 20*time.Second, 100*time.Millisecond, "firing queued", outboxIs(base, 1))
	api.SetFault(demoapi.FaultNone)
	poll(t, 20*time.Second, 100*time.Millisecond, "resolved queued", outboxIs(base, 2))
	api.SetFault(demoapi.FaultError)
	poll(t, 20*time.Second, 100*time.Millisecond, "second firing queued", outboxIs(base, 3))
	if v := metric(base, "assay_notification_failures_total", "notifier", "hook", "reason", "network"); v < 1 {
		t.Errorf("no network failures counted while the receiver is down: %v", v)
	}

	p.signal(t, syscall.SIGKILL)
	p.wait(t, 10*time.Second)

	p, base = startDaemon(t, checksDir, cfg)
	// Still failing after the restart: runs go on, no second page.
	poll(t, 20*time.Second, 100*time.Millisecond, "runs after the restart", func() (bool, string) {
		v := metric(base, "assay_check_runs_total", "check", "documents-create")
		return v >= 3, fmt.Sprintf("runs = %v", v)
	})
	if v := metric(base, "assay_outbox_events", "notifier", "hook"); v != 3 {
		t.Fatalf("after the restart the outbox holds %v events, want the 3 from before", v)
	}
	api.SetFault(demoapi.FaultNone)
	poll(t, 20*time.Second, 100*time.Millisecond, "second resolved queued", outboxIs(base, 4))

	// The receiver comes back.
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", hookPort))
	if err != nil {
		t.Fatalf("the receiver's port was taken meanwhile: %v", err)
	}
	rv := &webhookReceiver{secret: "e2e-secret", seen: map[string]int{}}
	srv := &http.Server{Handler: rv, ReadHeaderTimeout: 5 * time.Second}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(ln)
	}()
	defer func() {
		srv.Close()
		<-served
	}()
	// Backoff doubles per failed attempt (up to 5m); the outage here is
	// short, so the next attempts are seconds away.
	poll(t, 90*time.Second, 200*time.Millisecond, "every event delivered", outboxIs(base, 0))

	events, seen, bad := rv.snapshot()
	if len(bad) > 0 {
		t.Fatalf("the receiver rejected deliveries: %v", bad)
	}
	var got []string
	for _, ev := range events {
		got = append(got, fmt.Sprintf("%d:%s", ev.Sequence, ev.Kind))
	}
	if strings.Join(got, " ") != "1:firing 2:resolved 3:firing 4:resolved" {
		t.Fatalf("received %v", got)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("idempotency key %s delivered %d times", id, n)
		}
	}
	if len(seen) != 4 || events[0].Incident.ID != events[1].Incident.ID || events[2].Incident.ID != events[3].Incident.ID ||
		events[0].Incident.ID == events[2].Incident.ID {
		t.Errorf("keys %v, incidents %s %s %s %s", seen, events[0].Incident.ID, events[1].Incident.ID, events[2].Incident.ID, events[3].Incident.ID)
	}
	if v := metric(base, "assay_notifications_total", "notifier", "hook", "outcome", "delivered"); v != 4 {
		t.Errorf("assay_notifications_total{outcome=\"delivered\"} = %v after the restart, want 4", v)
	}
}
