package alerting

import (
	"context"
	"testing"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/cluster"
)

// runAs feeds a result to m as a replica holding the check's lease
// under epoch would.
func runAs(t *testing.T, m *Manager, h *harness, c *checks.Check, passed bool, epoch int64) {
	t.Helper()
	r := &checks.Result{Check: c.Name, Labels: c.Labels, Started: h.clock.Now(), Passed: passed}
	if !passed {
		r.Reason, r.Message = checks.ReasonAssertion, "status: expected 200, got 500"
	}
	m.Record(cluster.WithEpoch(context.Background(), epoch), r)
	h.clock.Advance(time.Minute)
}

// A replica that takes a check over continues the incident the previous
// owner opened: no second firing, and the recovery resolves that one
// incident, under the key it derives from it.
func TestTakeOverContinuesTheIncident(t *testing.T) {
	h := newHarness(t, map[string]*NotifierConfig{"hook": webhookAt("http://127.0.0.1:1/")}, checks.AlertPolicy{})
	cs := oneCheck(t, "{ notify: [hook], failures: 1, successes: 1 }")
	h.m.SetChecks(cs)
	runAs(t, h.m, h, cs[0], false, 1) // replica A, epoch 1: fires
	first := h.pendingEvents()
	if len(first) != 1 || first[0].Kind != KindFiring {
		t.Fatalf("after A's failure: %+v", first)
	}
	// Replica B shares the store; it loaded the (then empty) state at start.
	b, err := New(Options{Notifiers: h.notifiers, Store: h.store, Clock: h.clock})
	if err != nil {
		t.Fatal(err)
	}
	b.SetChecks(cs)
	runAs(t, b, h, cs[0], false, 2) // B now owns the check (epoch 2): still failing
	if evs := h.pendingEvents(); len(evs) != 1 {
		t.Fatalf("B paged again after taking over: %+v", evs)
	}
	runAs(t, b, h, cs[0], true, 2)
	evs := h.pendingEvents()
	if len(evs) != 2 || evs[1].Kind != KindResolved || evs[1].Incident.ID != first[0].Incident.ID || evs[1].Sequence != 2 {
		t.Fatalf("after B's recovery: %+v", evs)
	}
	if want := eventID(cs[0].Name, first[0].Incident.ID, KindResolved, 2); evs[1].ID != want {
		t.Fatalf("resolved key %s, want %s (derived from the incident)", evs[1].ID, want)
	}
}

// Keys come from the incident, kind and sequence: the same event made
// twice (a retry, a second replica) has the same key, and the outbox
// takes it once.
func TestEventKeysComeFromTheIncident(t *testing.T) {
	if eventID("c", "i", KindFiring, 1) != eventID("c", "i", KindFiring, 1) {
		t.Fatal("the same event has two keys")
	}
	seen := map[string]bool{}
	for _, id := range []string{
		eventID("c", "i", KindFiring, 1), eventID("c", "i", KindFiring, 2), eventID("c", "i", KindResolved, 1),
		eventID("c", "j", KindFiring, 1), eventID("d", "i", KindFiring, 1),
	} {
		if seen[id] || len(id) != 32 {
			t.Fatalf("key %q repeats or is not 32 hex digits", id)
		}
		seen[id] = true
	}
}

// A state written with an older version than the stored one (a late
// write of a replica that lost the check) is refused with its events.
func TestOlderStateVersionIsRefused(t *testing.T) {
	h := newHarness(t, map[string]*NotifierConfig{"hook": webhookAt("http://127.0.0.1:1/")}, checks.AlertPolicy{})
	cs := oneCheck(t, "{ notify: [hook], failures: 1 }")
	h.m.SetChecks(cs)
	stale, err := New(Options{Notifiers: h.notifiers, Store: h.store, Clock: h.clock})
	if err != nil {
		t.Fatal(err)
	}
	stale.SetChecks(cs)
	h.runs(cs[0], "FF") // versions 1, 2 (the second written at the next flush)
	if err := h.m.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	runAs(t, stale, h, cs[0], false, 0) // its version 1: older than the stored 2
	if evs := h.pendingEvents(); len(evs) != 1 {
		t.Fatalf("a stale replica's firing was stored: %+v", evs)
	}
}
