package alerting

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/history"
	"github.com/assay-monitor/assay/store"
	"github.com/assay-monitor/assay/store/outbox"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

var errDiskFull = errors.New("database or disk is full (13)")

// failingStore fails the writes named in fail, as a full disk does.
type failingStore struct {
	*store.Store
	mu    sync.Mutex
	fail  map[string]bool
	heads int
}

func failWrites(ops ...string) func(*store.Store) Store {
	return func(st *store.Store) Store {
		f := &failingStore{Store: st, fail: map[string]bool{}}
		for _, op := range ops {
			f.fail[op] = true
		}
		return f
	}
}

func (f *failingStore) failing(op string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fail[op]
}

func (f *failingStore) recover() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.fail)
}

func (f *failingStore) headsRead() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.heads
}

func (f *failingStore) ApplyAll(ctx context.Context, cs []outbox.Change) error {
	if f.failing("ApplyAll") {
		return errDiskFull
	}
	return f.Store.ApplyAll(ctx, cs)
}

func (f *failingStore) Delivered(ctx context.Context, seq int64) error {
	if f.failing("Delivered") {
		return errDiskFull
	}
	return f.Store.Delivered(ctx, seq)
}

func (f *failingStore) Retry(ctx context.Context, seq int64, attempts int, next time.Time, lastErr string) error {
	if f.failing("Retry") {
		return errDiskFull
	}
	return f.Store.Retry(ctx, seq, attempts, next, lastErr)
}

func (f *failingStore) DeadLetter(ctx context.Context, seq int64, attempts int, reason, lastErr string, at time.Time) error {
	if f.failing("DeadLetter") {
		return errDiskFull
	}
	return f.Store.DeadLetter(ctx, seq, attempts, reason, lastErr, at)
}

func (f *failingStore) Heads(ctx context.Context) ([]outbox.Event, error) {
	f.mu.Lock()
	f.heads++
	f.mu.Unlock()
	return f.Store.Heads(ctx)
}

var allWrites = []string{"ApplyAll", "Delivered", "Retry", "DeadLetter"}

func (h *harness) failing() *failingStore { return h.m.store.(*failingStore) }

// storedState is the alert state the store holds for a check.
func (h *harness) storedState(check string) *checkState {
	h.t.Helper()
	raw, err := h.store.AlertStates(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	if raw[check] == nil {
		return nil
	}
	st := &checkState{}
	if err := json.Unmarshal(raw[check], st); err != nil {
		h.t.Fatal(err)
	}
	return st
}

// eventOf decodes the event a receiver got.
func eventOf(t *testing.T, q request) Event {
	t.Helper()
	var ev Event
	if err := json.Unmarshal(q.body, &ev); err != nil {
		t.Fatal(err)
	}
	if got := q.header.Get(HeaderIdempotencyKey); got != ev.ID || got == "" {
		t.Fatalf("Idempotency-Key %q, event id %q", got, ev.ID)
	}
	return ev
}

// TestAStoreThatCannotWriteStillPagesExactlyOnce: with every write of
// the store failing, a failing check pages once (from memory, with its
// idempotency key), later failed runs do not page again, and when the
// store works again the state is stored with nothing left to send: after
// a restart the incident is still open and nothing is sent twice.
func TestAStoreThatCannotWriteStillPagesExactlyOnce(t *testing.T) {
	r := newReceiver(t, 200, "")
	h := &harness{t: t, path: filepath.Join(t.TempDir(), "assay.db"), clock: newFakeClock(t0),
		notifiers: map[string]*NotifierConfig{"hook": webhookAt(r.URL)}, wrap: failWrites(allWrites...)}
	h.open(checks.AlertPolicy{})
	t.Cleanup(func() { h.stop(); h.store.Close() })
	cs := oneCheck(t, "{ notify: [hook], failures: 2, successes: 1 }")
	h.m.SetChecks(cs)
	h.start()
	h.runs(cs[0], "FF")
	a := h.next()
	if a.outcome != OutcomeDelivered || a.e.Kind != "firing" || a.e.Seq >= 0 {
		t.Fatalf("first attempt: %s %s seq %d, want the firing event delivered from memory", a.outcome, a.e.Kind, a.e.Seq)
	}
	h.runs(cs[0], "FFF") // still failing: nothing more to send
	if err := h.m.Flush(context.Background()); !errors.Is(err, errDiskFull) {
		t.Fatalf("Flush while the store fails = %v", err)
	}
	if h.storedState("api") != nil || h.pending() != "" {
		t.Fatalf("the failing store holds something: %v %q", h.storedState("api"), h.pending())
	}
	if st, _ := h.m.State("api"); st != StateFailing {
		t.Fatalf("state in memory = %s, want failing", st)
	}

	h.failing().recover()
	if err := h.m.Flush(context.Background()); err != nil {
		t.Fatalf("Flush after the store recovered: %v", err)
	}
	st := h.storedState("api")
	if st == nil || st.Status != StateFailing || st.Incident == nil || st.Sequence != 1 {
		t.Fatalf("stored state = %+v, want failing with one event made", st)
	}
	if h.pending() != "" || h.m.UnsavedEvents() != 0 {
		t.Fatalf("after recovery: outbox %q, %d in memory; want nothing (the firing was delivered)", h.pending(), h.m.UnsavedEvents())
	}
	ins, err := h.store.Incidents(context.Background(), history.IncidentQuery{})
	if err != nil || len(ins) != 1 || ins[0].Resolved != nil {
		t.Fatalf("incidents = %+v %v, want one open", ins, err)
	}

	h.restart(checks.AlertPolicy{}, cs)
	h.start()
	h.runs(cs[0], "FP")
	if a := h.next(); a.outcome != OutcomeDelivered || a.e.Kind != "resolved" {
		t.Fatalf("after the restart: %s %s, want resolved", a.outcome, a.e.Kind)
	}
	reqs := r.got()
	if len(reqs) != 2 {
		t.Fatalf("the receiver got %d requests, want 2 (one firing, one resolved)", len(reqs))
	}
	firing, resolved := eventOf(t, reqs[0]), eventOf(t, reqs[1])
	if firing.Kind != KindFiring || resolved.Kind != KindResolved || firing.Incident.ID != resolved.Incident.ID || firing.ID == resolved.ID {
		t.Fatalf("got %s %s (incident %s, %s), want firing then resolved of one incident", firing.Kind, resolved.Kind, firing.Incident.ID, resolved.Incident.ID)
	}
}

// TestEventsInMemoryKeepTheirOrderRetriesAndDeadLetters: events made
// while the store fails are sent in order per queue, retried with their
// backoff and key, and stored as they ended: an event given up on lands
// among the dead letters, a resolved incident in the incidents.
func TestEventsInMemoryKeepTheirOrderRetriesAndDeadLetters(t *testing.T) {
	for _, tc := range []struct {
		name     string
		statuses []int // the receiver's answers in turn
		want     string
		dead     string // the dead letter expected, kind/reason
	}{
		{"retried then delivered", []int{503, 200, 200}, "firing firing resolved", ""},
		{"refused, the queue goes on", []int{400, 200}, "firing resolved", "firing/" + Reason4xx},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newReceiver(t, tc.statuses[0], "")
			r.queue = tc.statuses[1:]
			h := &harness{t: t, path: filepath.Join(t.TempDir(), "assay.db"), clock: newFakeClock(t0),
				notifiers: map[string]*NotifierConfig{"hook": webhookAt(r.URL)}, wrap: failWrites(allWrites...)}
			h.open(checks.AlertPolicy{})
			t.Cleanup(func() { h.stop(); h.store.Close() })
			cs := oneCheck(t, "{ notify: [hook], failures: 1, successes: 1 }")
			h.m.SetChecks(cs)
			h.runs(cs[0], "FP") // firing and resolved, both in memory
			h.start()
			var kinds []string
			for len(kinds) < len(tc.statuses) {
				a := h.next()
				kinds = append(kinds, a.e.Kind)
				if a.outcome == outcomeRetry {
					h.clock.Advance(time.Second)
				}
			}
			if got := strings.Join(kinds, " "); got != tc.want {
				t.Fatalf("attempts %q, want %q", got, tc.want)
			}
			reqs := r.got()
			if len(reqs) != len(tc.statuses) {
				t.Fatalf("receiver got %d requests, want %d", len(reqs), len(tc.statuses))
			}
			if tc.dead == "" && reqs[0].header.Get(HeaderIdempotencyKey) != reqs[1].header.Get(HeaderIdempotencyKey) {
				t.Error("a retry from memory changed the idempotency key")
			}
			h.failing().recover()
			if err := h.m.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			if h.pending() != "" {
				t.Errorf("outbox after recovery %q, want empty", h.pending())
			}
			dead, err := h.store.DeadLetters(context.Background(), 10)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range dead {
				got = append(got, d.Kind+"/"+d.Reason)
			}
			if strings.Join(got, " ") != tc.dead {
				t.Errorf("dead letters %v, want %q", got, tc.dead)
			}
			ins, err := h.store.Incidents(context.Background(), history.IncidentQuery{})
			if err != nil || len(ins) != 1 || ins[0].Resolution != ResolutionRecovered {
				t.Errorf("incidents = %+v %v, want one, recovered", ins, err)
			}
		})
	}
}

// TestADeliveryTheStoreCannotRecordIsNotSentAgain: an event from the
// outbox delivered while the store cannot delete it is remembered as
// delivered: it is not sent again on the following scans, and is removed
// once the store can write.
func TestADeliveryTheStoreCannotRecordIsNotSentAgain(t *testing.T) {
	r := newReceiver(t, 200, "")
	h := &harness{t: t, path: filepath.Join(t.TempDir(), "assay.db"), clock: newFakeClock(t0),
		notifiers: map[string]*NotifierConfig{"hook": webhookAt(r.URL)}, wrap: failWrites("Delivered")}
	h.open(checks.AlertPolicy{})
	t.Cleanup(func() { h.stop(); h.store.Close() })
	cs := oneCheck(t, "{ notify: [hook], failures: 1, successes: 1 }")
	h.m.SetChecks(cs)
	h.runs(cs[0], "F")
	if h.pending() != "firing/hook" {
		t.Fatalf("outbox %q", h.pending())
	}
	h.start()
	if a := h.next(); a.outcome != OutcomeDelivered || a.e.Seq <= 0 {
		t.Fatalf("attempt %+v", a)
	}
	scans := h.failing().headsRead()
	for i := 0; i < 3; i++ {
		h.m.Wake()
		deadline := time.Now().Add(5 * time.Second)
		for h.failing().headsRead() <= scans+i && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
	}
	if n := len(r.got()); n != 1 {
		t.Fatalf("the receiver got %d requests while the store could not record the delivery, want 1", n)
	}
	h.failing().recover()
	h.m.Wake()
	deadline := time.Now().Add(5 * time.Second)
	for h.pending() != "" {
		if time.Now().After(deadline) {
			t.Fatalf("the delivered event is still in the outbox: %q", h.pending())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n := len(r.got()); n != 1 {
		t.Fatalf("the receiver got %d requests, want 1", n)
	}
}

// TestALockedDatabaseStillPages: a real SQLite store whose file another
// process holds locked (busy timeout 20ms) fails every write; the check
// still pages once, and everything is stored once the lock is released.
func TestALockedDatabaseStillPages(t *testing.T) {
	r := newReceiver(t, 200, "")
	h := &harness{t: t, path: filepath.Join(t.TempDir(), "assay.db"), clock: newFakeClock(t0),
		notifiers: map[string]*NotifierConfig{"hook": webhookAt(r.URL)}, storeOpts: []store.Option{store.WithBusyTimeout(20 * time.Millisecond)}}
	h.open(checks.AlertPolicy{})
	t.Cleanup(func() { h.stop(); h.store.Close() })
	cs := oneCheck(t, "{ notify: [hook], failures: 2, successes: 1 }")
	h.m.SetChecks(cs)

	ctx := context.Background()
	db, err := sql.Open("sqlite", h.path)
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
	before := h.store.WriteErrors()
	h.start()
	h.runs(cs[0], "FF")
	a := h.next()
	if a.outcome != OutcomeDelivered || a.e.Kind != "firing" {
		t.Fatalf("attempt: %s %s", a.outcome, a.e.Kind)
	}
	if h.store.WriteErrors() <= before || h.store.WriteError() == nil {
		t.Fatalf("write errors %v -> %v, last %v: the locked writes were not counted", before, h.store.WriteErrors(), h.store.WriteError())
	}
	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if err := h.m.Flush(ctx); err != nil {
		t.Fatalf("Flush after the lock was released: %v", err)
	}
	if st := h.storedState("api"); st == nil || st.Status != StateFailing {
		t.Fatalf("stored state %+v, want failing", st)
	}
	if h.pending() != "" || h.store.WriteError() != nil {
		t.Fatalf("outbox %q, last write error %v; want empty and nil", h.pending(), h.store.WriteError())
	}
	reqs := r.got()
	if len(reqs) != 1 || eventOf(t, reqs[0]).Kind != KindFiring || reqs[0].header.Get(HeaderIdempotencyKey) != a.e.Key {
		t.Fatalf("receiver got %d requests, want the one firing event under its key", len(reqs))
	}
}

// TestEventsHeldInMemoryAreBoundedAndTheDroppedCounted: beyond the bound
// of events waiting in memory for a store that cannot write, the oldest
// are dropped, and every one dropped is counted in
// assay_alert_events_dropped_total (the newest are kept).
func TestEventsHeldInMemoryAreBoundedAndTheDroppedCounted(t *testing.T) {
	h := &harness{t: t, path: filepath.Join(t.TempDir(), "assay.db"), clock: newFakeClock(t0),
		notifiers: map[string]*NotifierConfig{"hook": webhookAt("http://127.0.0.1:1/")}, wrap: failWrites(allWrites...)}
	h.open(checks.AlertPolicy{})
	t.Cleanup(func() { h.stop(); h.store.Close() })
	var yaml strings.Builder
	yaml.WriteString("checks:\n")
	for i := range 5 {
		fmt.Fprintf(&yaml, "  - name: c%d\n    schedule: \"@every 1m\"\n    alert: { notify: [hook], failures: 1 }\n    steps: [{ name: get, request: { url: \"http://127.0.0.1:1/\" } }]\n", i)
	}
	cs := mustChecks(t, yaml.String())
	h.m.SetChecks(cs)
	h.m.maxUnsaved = 3
	// No delivery worker: every firing stays pending in memory.
	for _, c := range cs {
		h.run(c, false)
	}
	if n := h.m.UnsavedEvents(); n != 3 {
		t.Fatalf("%d events in memory, want the bound, 3", n)
	}
	if v := testutil.ToFloat64(h.m.metrics.dropped); v != 2 {
		t.Fatalf("assay_alert_events_dropped_total = %v, want 2", v)
	}
	var kept []string
	for _, u := range h.m.unsaved {
		for range u.events {
			kept = append(kept, u.change.Check)
		}
	}
	if got := strings.Join(kept, " "); got != "c2 c3 c4" {
		t.Fatalf("kept the events of %q, want the newest: c2 c3 c4", got)
	}
}
