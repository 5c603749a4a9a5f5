package alerting

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/store"
	"github.com/prometheus/client_golang/prometheus"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type attempt struct {
	e       store.Event
	outcome string
	err     error
}

// harness is a manager over a real store in a temp dir, a fake clock and
// a registry; start runs its delivery worker.
type harness struct {
	t         *testing.T
	path      string
	clock     *fakeClock
	store     *store.Store
	m         *Manager
	reg       *prometheus.Registry
	notifiers map[string]*NotifierConfig
	attempts  chan attempt
	cancel    context.CancelFunc
	done      chan struct{}
	// storeOpts open the store; wrap, if set, stands between it and the
	// manager.
	storeOpts []store.Option
	wrap      func(*store.Store) Store
}

func newHarness(t *testing.T, notifiers map[string]*NotifierConfig, defaults checks.AlertPolicy) *harness {
	h := &harness{t: t, path: filepath.Join(t.TempDir(), "assay.db"), clock: newFakeClock(t0), notifiers: notifiers}
	h.open(defaults)
	t.Cleanup(func() {
		h.stop()
		h.store.Close()
	})
	return h
}

// open (re)opens the store and builds a new manager on it, as a restart does.
func (h *harness) open(defaults checks.AlertPolicy) {
	h.t.Helper()
	st, err := store.Open(h.path, h.storeOpts...)
	if err != nil {
		h.t.Fatal(err)
	}
	h.store = st
	h.reg = prometheus.NewRegistry()
	h.attempts = make(chan attempt, 100)
	var ms Store = st
	if h.wrap != nil {
		ms = h.wrap(st)
	}
	m, err := New(Options{Notifiers: h.notifiers, Defaults: defaults, Store: ms, ExternalURL: "https://assay.example.com/",
		Clock: h.clock, Registerer: h.reg,
		Delivery: DeliveryOptions{RetryBase: time.Second, RetryMax: time.Second}})
	if err != nil {
		h.t.Fatal(err)
	}
	m.onAttempt = func(e store.Event, outcome string, err error) { h.attempts <- attempt{e, outcome, err} }
	h.m = m
}

// restart stops the worker, closes the store and opens everything anew.
func (h *harness) restart(defaults checks.AlertPolicy, cs []*checks.Check) {
	h.stop()
	// A graceful stop writes the states that made no event (Run does it
	// when it ends; here it may not run).
	if err := h.m.Flush(context.Background()); err != nil {
		h.t.Fatal(err)
	}
	h.crash(defaults, cs)
}

// crash reopens the store without writing what is pending, as a SIGKILL.
func (h *harness) crash(defaults checks.AlertPolicy, cs []*checks.Check) {
	h.stop()
	if err := h.store.Close(); err != nil {
		h.t.Fatal(err)
	}
	h.open(defaults)
	h.m.SetChecks(cs)
}

func (h *harness) start() {
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan struct{})
	go func() {
		defer close(h.done)
		_ = h.m.Run(ctx)
	}()
}

func (h *harness) stop() {
	if h.cancel != nil {
		h.cancel()
		<-h.done
		h.cancel = nil
	}
}

// next waits for the worker's next attempt.
func (h *harness) next() attempt {
	h.t.Helper()
	select {
	case a := <-h.attempts:
		return a
	case <-time.After(10 * time.Second):
		h.t.Fatal("no delivery attempt within 10s")
		return attempt{}
	}
}

// run records a result of check c at the clock's time, then moves the
// clock a minute on.
func (h *harness) run(c *checks.Check, passed bool) {
	r := &checks.Result{Check: c.Name, Labels: c.Labels, Started: h.clock.Now(), Passed: passed}
	if !passed {
		r.Reason, r.Message = checks.ReasonAssertion, `step "get": status: expected 200, got 500`
		r.Attempts = []checks.Attempt{{Steps: []checks.StepResult{{Name: "get", Reason: checks.ReasonAssertion,
			Assertions: []checks.AssertionResult{{Name: "status", Expected: "200", Actual: "500", Message: "status: expected 200, got 500"}}}}}}
	}
	h.m.Record(context.Background(), r)
	h.clock.Advance(time.Minute)
}

func (h *harness) runs(c *checks.Check, pattern string) {
	for _, r := range pattern {
		h.run(c, r == 'P')
	}
}

// pending lists the outbox as "kind/notifier" in order.
func (h *harness) pending() string {
	h.t.Helper()
	es, err := h.store.Pending(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Kind+"/"+e.Notifier)
	}
	return strings.Join(out, " ")
}

func (h *harness) pendingEvents() []Event {
	h.t.Helper()
	es, err := h.store.Pending(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	out := make([]Event, len(es))
	for i, e := range es {
		if err := json.Unmarshal(e.Payload, &out[i]); err != nil {
			h.t.Fatal(err)
		}
		if out[i].ID != e.Key {
			h.t.Fatalf("outbox key %s differs from the event id %s", e.Key, out[i].ID)
		}
	}
	return out
}

func mustChecks(t *testing.T, yaml string) []*checks.Check {
	t.Helper()
	cs, err := checks.Parse("checks.d/test.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func oneCheck(t *testing.T, alert string) []*checks.Check {
	return mustChecks(t, fmt.Sprintf(`checks:
  - name: api
    schedule: "@every 1m"
    labels: { team: docs, severity: page }
    alert: %s
    steps: [{ name: get, request: { url: "http://127.0.0.1:1/" } }]
`, alert))
}

func webhookAt(url string) *NotifierConfig {
	return &NotifierConfig{Type: TypeWebhook, URL: url, Secret: "s3cret"}
}

func TestManagerEventsInTheOutbox(t *testing.T) {
	notifiers := map[string]*NotifierConfig{
		"hook": webhookAt("http://127.0.0.1:1/hook"),
		"am":   {Type: TypeAlertmanager, URLs: []string{"http://127.0.0.1:1"}},
	}
	h := newHarness(t, notifiers, checks.AlertPolicy{})
	cs := oneCheck(t, "{ notify: [hook, am], failures: 2, successes: 2 }")
	h.m.SetChecks(cs)
	c := cs[0]

	h.runs(c, "F")
	if got := h.pending(); got != "" {
		t.Fatalf("below the threshold: %s", got)
	}
	h.runs(c, "F")
	if got := h.pending(); got != "firing/hook firing/am" {
		t.Fatalf("at the threshold: %s", got)
	}
	// Alertmanager gets the alert again on every failing run; only the
	// newest undelivered refresh is kept. The webhook gets nothing new.
	h.runs(c, "FFP")
	if got := h.pending(); got != "firing/hook firing/am refresh/am" {
		t.Fatalf("while failing: %s", got)
	}
	h.runs(c, "P")
	if got := h.pending(); got != "firing/hook firing/am resolved/hook resolved/am" {
		t.Fatalf("after recovery: %s", got)
	}
	evs := h.pendingEvents()
	fired, resolved := evs[0], evs[2]
	if fired.ID != evs[1].ID || fired.ID == resolved.ID || fired.Sequence != 1 || resolved.Sequence != 2 {
		t.Errorf("ids/sequences: %s/%d %s/%d", fired.ID, fired.Sequence, resolved.ID, resolved.Sequence)
	}
	if fired.Incident.ID != resolved.Incident.ID || !fired.Incident.Started.Equal(t0) || fired.Incident.FailedRuns != 2 {
		t.Errorf("incident: %+v / %+v", fired.Incident, resolved.Incident)
	}
	if f := fired.Failure; f == nil || f.Step != "get" || f.Reason != "assertion" || len(f.Assertions) != 1 || f.Assertions[0].Actual != "500" {
		t.Errorf("failure: %+v", fired.Failure)
	}
	if fired.Check.URL != "https://assay.example.com/api/v1/checks/api" || fired.Check.Interval != "1m0s" || fired.Check.Labels["team"] != "docs" {
		t.Errorf("check: %+v", fired.Check)
	}
	if resolved.Status != "resolved" || resolved.Incident.Resolution != ResolutionRecovered || resolved.Incident.Runs != 6 ||
		resolved.Incident.Resolved == nil || !resolved.Incident.Resolved.Equal(t0.Add(5*time.Minute)) {
		t.Errorf("resolved: %+v", resolved.Incident)
	}
	if st, _ := h.m.State("api"); st != StateOK {
		t.Errorf("state %s", st)
	}
}

func TestDefaultsAndOptOut(t *testing.T) {
	h := newHarness(t, map[string]*NotifierConfig{"hook": webhookAt("http://127.0.0.1:1/")},
		checks.AlertPolicy{Notify: []string{"hook"}, Failures: 1})
	cs := mustChecks(t, `checks:
  - name: inherits
    steps: [{ request: { url: "http://127.0.0.1:1/" } }]
  - name: silent
    alert: { notify: [] }
    steps: [{ request: { url: "http://127.0.0.1:1/" } }]
`)
	h.m.SetChecks(cs)
	h.run(cs[0], false)
	h.run(cs[1], false)
	if got := h.pending(); got != "firing/hook" {
		t.Fatalf("pending %s", got)
	}
	if st, since := h.m.State("silent"); st != StateFailing || !since.Equal(t0.Add(time.Minute)) {
		t.Errorf("an opted-out check still has alert state: %s %v", st, since)
	}
}

// A restart neither re-pages an open incident nor forgets its recovery.
func TestRestartKeepsAlertState(t *testing.T) {
	h := newHarness(t, map[string]*NotifierConfig{"hook": webhookAt("http://127.0.0.1:1/")}, checks.AlertPolicy{})
	cs := oneCheck(t, "{ notify: [hook], failures: 1, successes: 2 }")
	h.m.SetChecks(cs)
	h.runs(cs[0], "FFP")
	before := h.pendingEvents()

	cs = oneCheck(t, "{ notify: [hook], failures: 1, successes: 2 }") // a reload after restart loads anew
	h.restart(checks.AlertPolicy{}, cs)
	if got := h.pending(); got != "firing/hook" {
		t.Fatalf("after restart: %s", got)
	}
	h.runs(cs[0], "F") // still failing: no second page
	if got := h.pending(); got != "firing/hook" {
		t.Fatalf("re-paged after restart: %s", got)
	}
	h.runs(cs[0], "PP")
	evs := h.pendingEvents()
	if len(evs) != 2 || evs[1].Kind != KindResolved || evs[1].Incident.ID != before[0].Incident.ID || evs[1].Sequence != 2 ||
		evs[1].Incident.Runs != 6 || evs[1].Incident.FailedRuns != 3 {
		t.Fatalf("after recovery: %+v", evs)
	}
}

// A crash loses the counters changed since the last flush, never an event
// nor the state an event was made with: no second page, and the recovery
// resolves the same incident.
func TestCrashLosesOnlyCountersNotEvents(t *testing.T) {
	h := newHarness(t, map[string]*NotifierConfig{"hook": webhookAt("http://127.0.0.1:1/")}, checks.AlertPolicy{})
	cs := oneCheck(t, "{ notify: [hook], failures: 1, successes: 1 }")
	h.m.SetChecks(cs)
	h.runs(cs[0], "FFF")
	before := h.pendingEvents()
	cs = oneCheck(t, "{ notify: [hook], failures: 1, successes: 1 }")
	h.crash(checks.AlertPolicy{}, cs)
	h.runs(cs[0], "FP")
	evs := h.pendingEvents()
	if len(evs) != 2 || evs[0].Kind != KindFiring || evs[1].Kind != KindResolved || evs[1].Incident.ID != before[0].Incident.ID {
		t.Fatalf("after a crash: %+v", evs)
	}
	// The two failed runs after the firing were not flushed: the incident
	// counts the firing run and the two runs after the restart.
	if evs[1].Incident.Runs != 3 || evs[1].Incident.FailedRuns != 2 {
		t.Fatalf("runs %d, failed %d; want 3 and 2", evs[1].Incident.Runs, evs[1].Incident.FailedRuns)
	}
}

// State changes that make no event are written together, not one
// transaction per run; a check that only ever passed is not written.
func TestStateChangesWithoutEventsAreBatched(t *testing.T) {
	h := newHarness(t, map[string]*NotifierConfig{"hook": webhookAt("http://127.0.0.1:1/")}, checks.AlertPolicy{})
	var yaml strings.Builder
	yaml.WriteString("checks:\n")
	for i := range 50 {
		fmt.Fprintf(&yaml, "  - name: c%d\n    alert: { notify: [hook], failures: 3 }\n    steps: [{ request: { url: \"http://127.0.0.1:1/\" } }]\n", i)
	}
	fmt.Fprintf(&yaml, "  - name: passing\n    alert: { notify: [hook] }\n    steps: [{ request: { url: \"http://127.0.0.1:1/\" } }]\n")
	cs := mustChecks(t, yaml.String())
	h.m.SetChecks(cs)
	for _, c := range cs[:50] {
		h.run(c, false) // below the threshold: no event
	}
	h.run(cs[50], true)
	ctx := context.Background()
	if states, _ := h.store.AlertStates(ctx); len(states) != 0 {
		t.Fatalf("%d states written before the flush", len(states))
	}
	if err := h.m.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	states, _ := h.store.AlertStates(ctx)
	if len(states) != 50 || states["passing"] != nil {
		t.Fatalf("%d states after the flush (passing: %s); want the 50 failing ones", len(states), states["passing"])
	}
	// A restart resumes the count: two more failures reach the threshold.
	h.restart(checks.AlertPolicy{}, cs)
	h.run(cs[0], false)
	h.run(cs[0], false)
	if got := h.pending(); got != "firing/hook" {
		t.Fatalf("after a restart and 3 failures in all: %q", got)
	}
}

func TestCheckRemovedWhileFailing(t *testing.T) {
	h := newHarness(t, map[string]*NotifierConfig{"hook": webhookAt("http://127.0.0.1:1/")}, checks.AlertPolicy{})
	cs := oneCheck(t, "{ notify: [hook], failures: 1 }")
	h.m.SetChecks(cs)
	h.runs(cs[0], "F")
	h.m.SetChecks(nil)
	evs := h.pendingEvents()
	if len(evs) != 2 || evs[1].Status != StatusResolved || evs[1].Incident.Resolution != ResolutionCheckRemoved || evs[1].Check.Labels["team"] != "docs" {
		t.Fatalf("pending: %+v", evs)
	}
	if states, _ := h.store.AlertStates(context.Background()); len(states) != 0 {
		t.Errorf("state of a removed check kept: %v", states)
	}
	// A late result of the removed check is ignored.
	h.runs(cs[0], "F")
	if len(h.pendingEvents()) != 2 {
		t.Error("a result of a removed check made events")
	}
}

func TestNotifiersOfAnOpenAlertFollowThePolicy(t *testing.T) {
	h := newHarness(t, map[string]*NotifierConfig{
		"hook": webhookAt("http://127.0.0.1:1/a"), "hook2": webhookAt("http://127.0.0.1:1/b"),
	}, checks.AlertPolicy{})
	h.m.SetChecks(oneCheck(t, "{ notify: [hook], failures: 1 }"))
	cs := oneCheck(t, "{ notify: [hook2], failures: 1 }")
	h.runs(h.m.checks["api"], "F")
	h.m.SetChecks(cs)
	got := h.pendingEvents()
	if h.pending() != "firing/hook resolved/hook firing/hook2" || got[1].Incident.Resolution != ResolutionNotifierRemoved {
		t.Fatalf("pending: %s %+v", h.pending(), got[1].Incident)
	}
	h.runs(cs[0], "PP")
	if h.pending() != "firing/hook resolved/hook firing/hook2 resolved/hook2" {
		t.Fatalf("recovery goes to hook2 only: %s", h.pending())
	}
}

func TestUnknownNotifierInDefaultsRejected(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	_, err = New(Options{Store: st, Defaults: checks.AlertPolicy{Notify: []string{"pager"}}})
	if err == nil || !strings.Contains(err.Error(), `unknown notifier "pager"`) {
		t.Fatalf("got %v", err)
	}
	m, err := New(Options{Store: st, Notifiers: map[string]*NotifierConfig{"hook": webhookAt("http://x/")}})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Validate(oneCheck(t, "{ notify: [pager] }")); err == nil {
		t.Fatal("Validate accepted an unknown notifier")
	}
}
