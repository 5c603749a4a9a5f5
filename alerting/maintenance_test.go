package alerting

import (
	"context"
	"testing"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/history"
)

// runIn records a result marked in maintenance (inMaint) or not, then
// moves the clock a minute on.
func (h *harness) runIn(c *checks.Check, passed, inMaint bool) {
	r := &checks.Result{Check: c.Name, Labels: c.Labels, Started: h.clock.Now(), Passed: passed, InMaintenance: inMaint}
	if !passed {
		r.Reason, r.Message = checks.ReasonAssertion, "status: expected 200, got 500"
	}
	h.m.Record(context.Background(), r)
	h.clock.Advance(time.Minute)
}

func maintNotifiers() map[string]*NotifierConfig {
	return map[string]*NotifierConfig{"hook": webhookAt("http://127.0.0.1:1/hook")}
}

// An incident that opens in maintenance moves the state (the page shows
// it failing) but sends nothing; when the maintenance ends with it open,
// one firing event is sent, and its recovery later too.
func TestMaintenanceMutesFiringUntilItEnds(t *testing.T) {
	h := newHarness(t, maintNotifiers(), checks.AlertPolicy{})
	cs := oneCheck(t, "{ notify: [hook], failures: 2, successes: 1, repeat: 2m }")
	h.m.SetChecks(cs)
	c := cs[0]
	for range 4 {
		h.runIn(c, false, true)
	}
	if st, _ := h.m.State("api"); st != StateFailing {
		t.Fatalf("state in maintenance = %s, want failing (the truth)", st)
	}
	if got := h.pending(); got != "" {
		t.Fatalf("in maintenance: %s, want nothing", got)
	}
	inMaint := true
	active := func(string) bool { return inMaint }
	h.m.ReleaseMaintenance(context.Background(), active)
	if got := h.pending(); got != "" {
		t.Fatalf("released while still in maintenance: %s", got)
	}
	inMaint = false
	h.m.ReleaseMaintenance(context.Background(), active)
	h.m.ReleaseMaintenance(context.Background(), active) // twice: still one event
	if got := h.pending(); got != "firing/hook" {
		t.Fatalf("at the end of the maintenance: %s, want one firing", got)
	}
	// A run after the end that the calendar's call raced with releases
	// nothing again.
	h.runIn(c, false, false)
	if got := h.pending(); got != "firing/hook" {
		t.Fatalf("after the end: %s", got)
	}
	h.runIn(c, true, false)
	if got := h.pending(); got != "firing/hook resolved/hook" {
		t.Fatalf("after recovery: %s", got)
	}
	evs := h.pendingEvents()
	if evs[0].Incident.ID != evs[1].Incident.ID || evs[0].Incident.FailedRuns != 4 {
		t.Errorf("events: %+v", evs)
	}
}

// An incident that opens and resolves inside the maintenance sends
// nothing at all, also when the maintenance ends afterwards.
func TestMaintenanceOpenedAndResolvedInsideSendsNothing(t *testing.T) {
	h := newHarness(t, maintNotifiers(), checks.AlertPolicy{})
	cs := oneCheck(t, "{ notify: [hook], failures: 1, successes: 1 }")
	h.m.SetChecks(cs)
	c := cs[0]
	h.runIn(c, false, true)
	h.runIn(c, false, true)
	h.runIn(c, true, true)
	h.m.ReleaseMaintenance(context.Background(), func(string) bool { return false })
	h.runIn(c, true, false)
	if got := h.pending(); got != "" {
		t.Fatalf("outbox = %s, want nothing", got)
	}
	if err := h.m.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	inc, err := h.store.Incidents(context.Background(), history.IncidentQuery{Check: "api"})
	if err != nil || len(inc) != 1 || inc[0].Resolved == nil {
		t.Fatalf("incidents = %+v, %v; want the one incident recorded, resolved", inc, err)
	}
}

// A check that was paged before the maintenance: reminders stop inside
// it, its recovery inside it is sent (the page closes), and a new
// failure inside it pages no one until the end.
func TestMaintenanceAfterAPage(t *testing.T) {
	h := newHarness(t, maintNotifiers(), checks.AlertPolicy{})
	cs := oneCheck(t, "{ notify: [hook], failures: 1, successes: 1, repeat: 1m }")
	h.m.SetChecks(cs)
	c := cs[0]
	h.runIn(c, false, false)
	if got := h.pending(); got != "firing/hook" {
		t.Fatalf("before: %s", got)
	}
	h.runIn(c, false, true)
	h.runIn(c, false, true)
	if got := h.pending(); got != "firing/hook" {
		t.Fatalf("reminders in maintenance: %s, want none", got)
	}
	h.runIn(c, true, true)
	if got := h.pending(); got != "firing/hook resolved/hook" {
		t.Fatalf("recovery in maintenance: %s, want the resolve sent", got)
	}
	h.runIn(c, false, true)
	if got := h.pending(); got != "firing/hook resolved/hook" {
		t.Fatalf("a new failure in maintenance: %s", got)
	}
	h.runIn(c, false, false)
	if got := h.pending(); got != "firing/hook resolved/hook firing/hook" {
		t.Fatalf("first run after the end: %s, want the muted incident's firing", got)
	}
}

// A restart inside the window keeps the alert muted (nothing sent on
// start), and the firing is sent once when the window ends, also after
// a second restart.
func TestMaintenanceSurvivesRestart(t *testing.T) {
	h := newHarness(t, maintNotifiers(), checks.AlertPolicy{})
	cs := oneCheck(t, "{ notify: [hook], failures: 1 }")
	h.m.SetChecks(cs)
	h.runIn(cs[0], false, true)
	h.crash(checks.AlertPolicy{}, cs)
	h.m.ReleaseMaintenance(context.Background(), func(string) bool { return true })
	if got := h.pending(); got != "" {
		t.Fatalf("after a restart inside the window: %s", got)
	}
	h.m.ReleaseMaintenance(context.Background(), func(string) bool { return false })
	h.crash(checks.AlertPolicy{}, cs)
	h.m.ReleaseMaintenance(context.Background(), func(string) bool { return false })
	if got := h.pending(); got != "firing/hook" {
		t.Fatalf("after the end and a restart: %s, want one firing", got)
	}
}
