package alerting

import (
	"context"
	"testing"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/cluster"
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
// it, its recovery inside it is held (nothing is sent in a maintenance),
// a new failure inside it pages no one, and at the end the held resolve
// goes first, then the new incident's firing.
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
	if got := h.pending(); got != "firing/hook" {
		t.Fatalf("recovery in maintenance: %s, want the resolve held", got)
	}
	h.runIn(c, false, true)
	if got := h.pending(); got != "firing/hook" {
		t.Fatalf("a new failure in maintenance: %s", got)
	}
	h.runIn(c, false, false)
	if got := h.pending(); got != "firing/hook resolved/hook firing/hook" {
		t.Fatalf("first run after the end: %s, want the held resolve, then the muted incident's firing", got)
	}
	evs := h.pendingEvents()
	if evs[0].Incident.ID != evs[1].Incident.ID || evs[1].Incident.ID == evs[2].Incident.ID {
		t.Fatalf("incidents: firing %s, resolved %s, firing %s; want the first resolved, the second new",
			evs[0].Incident.ID, evs[1].Incident.ID, evs[2].Incident.ID)
	}
}

// Case by case, what the end of a maintenance sends (ReleaseMaintenance,
// the calendar's call at the window's end), for an incident that:
//   - opened inside and is still open: its firing;
//   - paged before and resolved inside: its resolve, then;
//   - opened and resolved inside: nothing;
//   - paged before and is still open: nothing new.
//
// Each with restarts inside the window, and a second call at the end
// (and a restart after it) that sends nothing again.
func TestMaintenanceEndReconcilesOnce(t *testing.T) {
	for _, tc := range []struct {
		name   string
		before string // runs before the window: F failed, P passed
		inside string
		want   string // the outbox after the window's end, after what was there before it
	}{
		{"opened inside, still open", "P", "FF", "firing/hook"},
		{"paged before, resolved inside", "F", "FP", "firing/hook resolved/hook"},
		{"opened and resolved inside", "P", "FP", ""},
		{"paged before, still open", "F", "FF", "firing/hook"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, maintNotifiers(), checks.AlertPolicy{})
			cs := oneCheck(t, "{ notify: [hook], failures: 1, successes: 1 }")
			h.m.SetChecks(cs)
			runs := func(pattern string, inMaint bool) {
				for _, r := range pattern {
					h.runIn(cs[0], r == 'P', inMaint)
				}
			}
			runs(tc.before, false)
			atStart := h.pending()
			runs(tc.inside[:1], true)
			h.crash(checks.AlertPolicy{}, cs) // a restart inside the window
			runs(tc.inside[1:], true)
			h.crash(checks.AlertPolicy{}, cs) // and after what it holds
			inWindow := func(string) bool { return true }
			h.m.ReleaseMaintenance(context.Background(), inWindow)
			if got := h.pending(); got != atStart {
				t.Fatalf("inside the window: %q, want nothing new after %q", got, atStart)
			}
			recovered := h.clock.Now().Add(-time.Minute)
			h.m.ReleaseMaintenance(context.Background(), func(string) bool { return false })
			if got := h.pending(); got != tc.want {
				t.Fatalf("at the end: %q, want %q", got, tc.want)
			}
			// Again (a reload, a silence write), after a restart too:
			// nothing twice.
			h.m.ReleaseMaintenance(context.Background(), func(string) bool { return false })
			h.crash(checks.AlertPolicy{}, cs)
			h.m.ReleaseMaintenance(context.Background(), func(string) bool { return false })
			h.runIn(cs[0], tc.inside[len(tc.inside)-1] == 'P', false)
			if got := h.pending(); got != tc.want {
				t.Fatalf("after a second end and a run out of it: %q, want %q", got, tc.want)
			}
			evs := h.pendingEvents()
			if len(evs) == 2 && evs[1].Kind == KindResolved {
				e := evs[1]
				if e.Incident.ID != evs[0].Incident.ID || e.Incident.Resolved == nil || !e.Incident.Resolved.Equal(recovered) ||
					e.Incident.Resolution != ResolutionRecovered || e.ID != eventID("api", e.Incident.ID, KindResolved, e.Sequence) {
					t.Fatalf("held resolve = %+v, want incident %s resolved at %s (recovered), key from the incident",
						e, evs[0].Incident.ID, recovered)
				}
			}
		})
	}
}

// Two replicas: the owner holds a resolve in the window, the check moves
// to another replica inside it, and both are told the window ended; one
// resolved event is stored (the new owner continues from the stored
// state; the old one's write is stale, and its key is the same anyway).
func TestMaintenanceHeldResolveAcrossReplicas(t *testing.T) {
	h := newHarness(t, maintNotifiers(), checks.AlertPolicy{})
	cs := oneCheck(t, "{ notify: [hook], failures: 1, successes: 1 }")
	owner := map[string]int64{"a": 1}
	newReplica := func(name string) *Manager {
		m, err := New(Options{Notifiers: h.notifiers, Store: h.store, Clock: h.clock,
			Owns: func(string) (int64, bool) { e, ok := owner[name]; return e, ok }})
		if err != nil {
			t.Fatal(err)
		}
		m.SetChecks(cs)
		return m
	}
	a, b := newReplica("a"), newReplica("b")
	record := func(m *Manager, passed, inMaint bool, epoch int64) {
		r := &checks.Result{Check: "api", Started: h.clock.Now(), Passed: passed, InMaintenance: inMaint}
		if !passed {
			r.Reason, r.Message = checks.ReasonAssertion, "status: expected 200, got 500"
		}
		m.Record(cluster.WithEpoch(context.Background(), epoch), r)
		h.clock.Advance(time.Minute)
	}
	record(a, false, false, 1)
	record(a, true, true, 1)
	if got := h.pending(); got != "firing/hook" {
		t.Fatalf("inside the window: %s", got)
	}
	owner = map[string]int64{"a": 1, "b": 2} // b took the check over; a does not know yet
	out := func(string) bool { return false }
	b.ReleaseMaintenance(context.Background(), out)
	a.ReleaseMaintenance(context.Background(), out)
	b.ReleaseMaintenance(context.Background(), out)
	if got := h.pending(); got != "firing/hook resolved/hook" {
		t.Fatalf("after the end on both replicas: %s, want one resolve", got)
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

// A check removed while it holds a resolve (it paged before the window
// and recovered inside it) has no window end to wait for: the reload
// sends the held resolve.
func TestMaintenanceHeldResolveOfARemovedCheck(t *testing.T) {
	h := newHarness(t, maintNotifiers(), checks.AlertPolicy{})
	cs := oneCheck(t, "{ notify: [hook], failures: 1, successes: 1 }")
	h.m.SetChecks(cs)
	h.runIn(cs[0], false, false)
	h.runIn(cs[0], true, true)
	if got := h.pending(); got != "firing/hook" {
		t.Fatalf("inside the window: %s", got)
	}
	h.m.SetChecks(nil)
	if got := h.pending(); got != "firing/hook resolved/hook" {
		t.Fatalf("after the check's removal: %s, want its held resolve", got)
	}
	if evs := h.pendingEvents(); evs[1].Incident.Resolution != ResolutionRecovered {
		t.Fatalf("resolution = %q, want %q (it recovered before it was removed)", evs[1].Incident.Resolution, ResolutionRecovered)
	}
}
