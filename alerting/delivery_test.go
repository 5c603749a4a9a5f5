package alerting

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestDeliveryRetriesThenDeliversInOrder(t *testing.T) {
	r := newReceiver(t, 503, "")
	r.queue = []int{503, 200}
	h := newHarness(t, map[string]*NotifierConfig{"hook": webhookAt(r.URL)}, checks.AlertPolicy{})
	cs := oneCheck(t, "{ notify: [hook], failures: 1, successes: 1 }")
	h.m.SetChecks(cs)
	h.runs(cs[0], "FP") // firing, then resolved, both queued
	h.start()

	for i := 1; i <= 2; i++ {
		a := h.next()
		if a.outcome != outcomeRetry || a.e.Kind != "firing" || reasonOf(a.err) != Reason5xx {
			t.Fatalf("attempt %d: %s %s %v", i, a.outcome, a.e.Kind, a.err)
		}
		// The resolved event waits behind the failing firing one.
		if got := len(r.got()); got != i {
			t.Fatalf("after attempt %d the receiver has %d requests", i, got)
		}
		pending, _ := h.store.Pending(context.Background())
		if pending[0].Attempts != i || pending[0].Next.Before(h.clock.Now().Add(500*time.Millisecond)) || pending[0].Next.After(h.clock.Now().Add(time.Second)) {
			t.Fatalf("after attempt %d: %+v (now %v)", i, pending[0], h.clock.Now())
		}
		h.clock.Advance(time.Second)
	}
	if a := h.next(); a.outcome != OutcomeDelivered || a.e.Kind != "firing" {
		t.Fatalf("third attempt: %+v", a)
	}
	if a := h.next(); a.outcome != OutcomeDelivered || a.e.Kind != "resolved" {
		t.Fatalf("then: %+v", a)
	}
	reqs := r.got()
	var kinds, keys []string
	for _, q := range reqs {
		kinds = append(kinds, q.header.Get(HeaderEvent))
		keys = append(keys, q.header.Get(HeaderIdempotencyKey))
		if err := VerifySignature([]byte("s3cret"), q.header, q.body, h.clock.Now(), 5*time.Minute); err != nil {
			t.Errorf("signature: %v", err)
		}
	}
	if strings.Join(kinds, " ") != "firing firing firing resolved" || keys[0] != keys[1] || keys[1] != keys[2] || keys[2] == keys[3] {
		t.Fatalf("receiver saw %v with keys %v", kinds, keys)
	}
	if h.pending() != "" {
		t.Fatalf("outbox not empty: %s", h.pending())
	}
	if got := testutil.ToFloat64(h.m.metrics.notifications.WithLabelValues("hook", OutcomeDelivered)); got != 2 {
		t.Errorf("delivered = %v", got)
	}
	if got := testutil.ToFloat64(h.m.metrics.failures.WithLabelValues("hook", Reason5xx)); got != 2 {
		t.Errorf("5xx failures = %v", got)
	}
}

func TestPermanentFailureIsDeadLettered(t *testing.T) {
	r := newReceiver(t, 400, `{"error":"bad payload"}`)
	r.queue = []int{200}
	h := newHarness(t, map[string]*NotifierConfig{"hook": webhookAt(r.URL)}, checks.AlertPolicy{})
	cs := oneCheck(t, "{ notify: [hook], failures: 1, successes: 1 }")
	h.m.SetChecks(cs)
	h.runs(cs[0], "FP")
	h.start()
	if a := h.next(); a.outcome != OutcomeDropped || a.e.Kind != "firing" || reasonOf(a.err) != Reason4xx {
		t.Fatalf("first: %+v", a)
	}
	if a := h.next(); a.outcome != OutcomeDelivered || a.e.Kind != "resolved" {
		t.Fatalf("the queue did not go on: %+v", a)
	}
	dl, err := h.store.DeadLetters(context.Background(), 10)
	if err != nil || len(dl) != 1 || dl[0].Reason != Reason4xx || dl[0].Attempts != 1 || !strings.Contains(dl[0].LastError, "HTTP 400") {
		t.Fatalf("dead letters: %+v %v", dl, err)
	}
	if got := testutil.ToFloat64(h.m.metrics.notifications.WithLabelValues("hook", OutcomeDropped)); got != 1 {
		t.Errorf("dropped = %v", got)
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	r := newReceiver(t, 429, "slow down")
	r.header = map[string]string{"Retry-After": "120"}
	r.queue = []int{200}
	h := newHarness(t, map[string]*NotifierConfig{"hook": webhookAt(r.URL)}, checks.AlertPolicy{})
	cs := oneCheck(t, "{ notify: [hook], failures: 1 }")
	h.m.SetChecks(cs)
	h.runs(cs[0], "F")
	h.start()
	a := h.next()
	if a.outcome != outcomeRetry || reasonOf(a.err) != Reason429 {
		t.Fatalf("first: %+v", a)
	}
	pending, _ := h.store.Pending(context.Background())
	if want := h.clock.Now().Add(120 * time.Second); !pending[0].Next.Equal(want) {
		t.Fatalf("next attempt at %v, want %v (Retry-After: 120)", pending[0].Next, want)
	}
	h.clock.Advance(119 * time.Second)
	select {
	case a := <-h.attempts:
		t.Fatalf("retried before Retry-After: %+v", a)
	default:
	}
	h.clock.Advance(time.Second)
	if a := h.next(); a.outcome != OutcomeDelivered {
		t.Fatalf("after Retry-After: %+v", a)
	}
}

func TestExpiredEventsAreDeadLettered(t *testing.T) {
	r := newReceiver(t, 503, "")
	h := newHarness(t, map[string]*NotifierConfig{"hook": webhookAt(r.URL)}, checks.AlertPolicy{})
	h.m.opts.Delivery.MaxAge = 90 * time.Second
	cs := oneCheck(t, "{ notify: [hook], failures: 1 }")
	h.m.SetChecks(cs)
	h.runs(cs[0], "F") // the clock is now created+1m
	h.start()
	if a := h.next(); a.outcome != outcomeRetry {
		t.Fatalf("first: %+v", a)
	}
	h.clock.Advance(time.Minute)
	if a := h.next(); a.outcome != OutcomeDropped {
		t.Fatalf("after MaxAge: %+v", a)
	}
	dl, _ := h.store.DeadLetters(context.Background(), 1)
	if len(dl) != 1 || dl[0].Reason != ReasonExpired {
		t.Fatalf("dead letters: %+v", dl)
	}
}

// The outbox outlives the process: events queued while the receiver was
// down are delivered by the next process, once, under their original
// idempotency key.
func TestOutboxDeliveredAfterRestart(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // the receiver is down: connection refused

	h := newHarness(t, map[string]*NotifierConfig{"hook": webhookAt("http://" + addr + "/hook")}, checks.AlertPolicy{})
	cs := oneCheck(t, "{ notify: [hook], failures: 1, successes: 1 }")
	h.m.SetChecks(cs)
	h.runs(cs[0], "FPF")
	h.start()
	if a := h.next(); a.outcome != outcomeRetry || reasonOf(a.err) != ReasonNetwork {
		t.Fatalf("receiver down: %+v", a)
	}
	keys := map[string]bool{}
	for _, ev := range h.pendingEvents() {
		keys[ev.ID] = true
	}

	h.restart(checks.AlertPolicy{}, oneCheck(t, "{ notify: [hook], failures: 1, successes: 1 }"))
	r := newUnstartedReceiver(t, 200, "")
	ln2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("the receiver's port %s was taken meanwhile: %v", addr, err)
	}
	r.Listener.Close()
	r.Listener = ln2
	r.Start()
	h.clock.Advance(time.Second)
	h.start()
	for range 3 {
		if a := h.next(); a.outcome != OutcomeDelivered {
			t.Fatalf("after restart: %+v", a)
		}
	}
	var seqs []int64
	for _, q := range r.got() {
		var ev Event
		if err := json.Unmarshal(q.body, &ev); err != nil {
			t.Fatal(err)
		}
		if !keys[ev.ID] || q.header.Get(HeaderIdempotencyKey) != ev.ID {
			t.Errorf("unexpected or repeated key %s", ev.ID)
		}
		delete(keys, ev.ID)
		seqs = append(seqs, ev.Sequence)
	}
	if fmt.Sprint(seqs) != "[1 2 3]" || len(keys) != 0 {
		t.Fatalf("sequences %v, undelivered %v", seqs, keys)
	}
}

// Many checks failing at once: every event is delivered, each queue in
// order, with deliveries of different queues in parallel.
func TestConcurrentChecksKeepPerCheckOrder(t *testing.T) {
	r := newReceiver(t, 200, "")
	h := newHarness(t, map[string]*NotifierConfig{"hook": webhookAt(r.URL)}, checks.AlertPolicy{})
	var yaml strings.Builder
	yaml.WriteString("checks:\n")
	for i := range 20 {
		fmt.Fprintf(&yaml, "  - name: c%02d\n    alert: { notify: [hook], failures: 1, successes: 1 }\n    steps: [{ request: { url: \"http://127.0.0.1:1/\" } }]\n", i)
	}
	cs := mustChecks(t, yaml.String())
	h.m.SetChecks(cs)
	h.start()
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 6 {
				res := &checks.Result{Check: c.Name, Started: t0, Passed: i%2 == 1, Reason: checks.ReasonTimeout}
				h.m.Record(context.Background(), res)
			}
		}()
	}
	wg.Wait()
	for range 20 * 6 {
		if a := h.next(); a.outcome != OutcomeDelivered {
			t.Fatalf("%+v", a)
		}
	}
	last := map[string]int64{}
	for _, q := range r.got() {
		var ev Event
		_ = json.Unmarshal(q.body, &ev)
		if ev.Sequence != last[ev.Check.Name]+1 {
			t.Fatalf("%s: sequence %d after %d", ev.Check.Name, ev.Sequence, last[ev.Check.Name])
		}
		last[ev.Check.Name] = ev.Sequence
	}
}

func TestMetrics(t *testing.T) {
	h := newHarness(t, map[string]*NotifierConfig{
		"hook": webhookAt("http://127.0.0.1:1/"), "am": {Type: TypeAlertmanager, URLs: []string{"http://127.0.0.1:1"}},
	}, checks.AlertPolicy{})
	problems, err := testutil.GatherAndLint(h.reg)
	if err != nil || len(problems) > 0 {
		t.Fatalf("lint: %v %+v", err, problems)
	}
	want := `
# HELP assay_notifications_total Notification events that left the outbox, by notifier and outcome (delivered, or dropped after a permanent failure or expiry).
# TYPE assay_notifications_total counter
assay_notifications_total{notifier="am",outcome="delivered"} 0
assay_notifications_total{notifier="am",outcome="dropped"} 0
assay_notifications_total{notifier="hook",outcome="delivered"} 0
assay_notifications_total{notifier="hook",outcome="dropped"} 0
# HELP assay_alerts_firing Checks whose alert is firing (failing past their failure threshold).
# TYPE assay_alerts_firing gauge
assay_alerts_firing 0
# HELP assay_outbox_events Notification events waiting in the outbox, by notifier.
# TYPE assay_outbox_events gauge
assay_outbox_events{notifier="am"} 0
assay_outbox_events{notifier="hook"} 0
`
	if err := testutil.GatherAndCompare(h.reg, strings.NewReader(want), "assay_notifications_total", "assay_alerts_firing", "assay_outbox_events"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(h.m.metrics.failures); n != 2*len(FailureReasons) {
		t.Errorf("failure series at start: %d, want %d", n, 2*len(FailureReasons))
	}
	cs := oneCheck(t, "{ notify: [hook, am], failures: 1 }")
	h.m.SetChecks(cs)
	h.runs(cs[0], "F")
	h.start()
	for range 2 {
		h.next() // both fail: nothing listens on port 1
	}
	if err := testutil.GatherAndCompare(h.reg, strings.NewReader(`
# HELP assay_alerts_firing Checks whose alert is firing (failing past their failure threshold).
# TYPE assay_alerts_firing gauge
assay_alerts_firing 1
`), "assay_alerts_firing"); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(h.m.metrics.failures.WithLabelValues("hook", ReasonNetwork)); got != 1 {
		t.Errorf("network failures of hook = %v", got)
	}
	problems, err = testutil.GatherAndLint(h.reg)
	if err != nil || len(problems) > 0 {
		t.Fatalf("lint after use: %v %+v", err, problems)
	}
}
