package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/assay-monitor/assay/alerting"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func open(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func ev(check, notifier, key, kind string) Event {
	return Event{Key: key, Check: check, Notifier: notifier, Kind: kind, Payload: []byte(`{"k":"` + key + `"}`), Created: t0}
}

func TestWALAndSchemaVersion(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "sub", "assay.db"))
	defer s.Close()
	var mode string
	var version int
	if err := s.db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v", mode, err)
	}
	if err := s.db.QueryRow("PRAGMA user_version").Scan(&version); err != nil || version != len(schema) {
		t.Fatalf("user_version = %d, %v", version, err)
	}
}

// The outbox and alert state survive closing and reopening the database,
// as they must survive a restart of assay.
func TestOutboxSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "assay.db")
	s := open(t, path)
	err := s.Apply(ctx, Change{Check: "api", State: []byte(`{"status":"failing"}`), Events: []Event{
		ev("api", "hook", "k1", "firing"), ev("api", "pager", "k1", "firing"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	heads, _ := s.Heads(ctx)
	if err := s.Retry(ctx, heads[0].Seq, 3, t0.Add(time.Minute), "HTTP 503"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, path)
	defer s.Close()
	states, err := s.AlertStates(ctx)
	if err != nil || string(states["api"]) != `{"status":"failing"}` {
		t.Fatalf("states after reopen = %q, %v", states, err)
	}
	pending, err := s.Pending(ctx)
	if err != nil || len(pending) != 2 {
		t.Fatalf("pending after reopen = %+v, %v", pending, err)
	}
	p := pending[0]
	if p.Key != "k1" || p.Notifier != "hook" || p.Attempts != 3 || !p.Next.Equal(t0.Add(time.Minute)) || p.LastError != "HTTP 503" || !p.Created.Equal(t0) || string(p.Payload) != `{"k":"k1"}` {
		t.Fatalf("event after reopen = %+v", p)
	}
	// New events after a reopen still sort after the old ones.
	if err := s.Apply(ctx, Change{Check: "api", State: []byte(`{}`), Events: []Event{ev("api", "hook", "k2", "resolved")}}); err != nil {
		t.Fatal(err)
	}
	pending, _ = s.Pending(ctx)
	if pending[2].Key != "k2" || pending[2].Seq <= pending[1].Seq {
		t.Fatalf("order after reopen: %+v", pending)
	}
}

// A change is all or nothing: an event that cannot be stored leaves the
// alert state as it was.
func TestApplyIsAtomic(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "assay.db"))
	defer s.Close()
	if err := s.Apply(ctx, Change{Check: "api", State: []byte(`"v1"`), Events: []Event{ev("api", "hook", "k1", "firing")}}); err != nil {
		t.Fatal(err)
	}
	// k1 for hook exists already: the unique key makes this change fail.
	err := s.Apply(ctx, Change{Check: "api", State: []byte(`"v2"`), Events: []Event{ev("api", "pager", "k9", "firing"), ev("api", "hook", "k1", "firing")}})
	if err == nil {
		t.Fatal("duplicate idempotency key accepted")
	}
	states, _ := s.AlertStates(ctx)
	pending, _ := s.Pending(ctx)
	if string(states["api"]) != `"v1"` || len(pending) != 1 {
		t.Fatalf("after a failed change: state %q, %d pending", states["api"], len(pending))
	}
	if err := s.Apply(ctx, Change{Check: "api"}); err != nil {
		t.Fatal(err)
	}
	if states, _ := s.AlertStates(ctx); len(states) != 0 {
		t.Fatalf("nil state did not delete: %q", states)
	}
}

func TestHeadsOnePerQueueInOrder(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "assay.db"))
	defer s.Close()
	must(t, s.Apply(ctx, Change{Check: "a", State: []byte("1"), Events: []Event{ev("a", "hook", "a1", "firing"), ev("a", "slack", "a1", "firing")}}))
	must(t, s.Apply(ctx, Change{Check: "b", State: []byte("1"), Events: []Event{ev("b", "hook", "b1", "firing")}}))
	must(t, s.Apply(ctx, Change{Check: "a", State: []byte("2"), Events: []Event{ev("a", "hook", "a2", "resolved")}}))
	heads, err := s.Heads(ctx)
	must(t, err)
	got := keys(heads)
	if got != "a1/hook a1/slack b1/hook" {
		t.Fatalf("heads = %s", got)
	}
	must(t, s.Delivered(ctx, heads[0].Seq))
	heads, _ = s.Heads(ctx)
	if got := keys(heads); got != "a1/slack b1/hook a2/hook" {
		t.Fatalf("heads after delivery = %s", got)
	}
	depth, err := s.OutboxDepth(ctx)
	must(t, err)
	if depth["hook"] != 2 || depth["slack"] != 1 {
		t.Fatalf("depth = %v", depth)
	}
}

func TestSupersedes(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "assay.db"))
	defer s.Close()
	refresh := func(key string) Event {
		e := ev("a", "am", key, "refresh")
		e.Supersedes = "refresh"
		return e
	}
	must(t, s.Apply(ctx, Change{Check: "a", State: []byte("1"), Events: []Event{ev("a", "am", "f", "firing"), refresh("r1")}}))
	must(t, s.Apply(ctx, Change{Check: "a", State: []byte("1"), Events: []Event{refresh("r2"), ev("a", "hook", "x", "firing")}}))
	must(t, s.Apply(ctx, Change{Check: "a", State: []byte("1"), Events: []Event{refresh("r3")}}))
	pending, _ := s.Pending(ctx)
	if got := keys(pending); got != "f/am x/hook r3/am" {
		t.Fatalf("pending = %s", got)
	}
}

func TestDeadLetter(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "assay.db"))
	defer s.Close()
	must(t, s.Apply(ctx, Change{Check: "a", State: []byte("1"), Events: []Event{ev("a", "hook", "k", "firing")}}))
	heads, _ := s.Heads(ctx)
	must(t, s.DeadLetter(ctx, heads[0].Seq, 1, "http_4xx", "HTTP 400: bad payload", t0.Add(time.Second)))
	must(t, s.DeadLetter(ctx, heads[0].Seq, 1, "http_4xx", "again", t0)) // gone: no-op
	if p, _ := s.Pending(ctx); len(p) != 0 {
		t.Fatalf("still pending: %+v", p)
	}
	dl, err := s.DeadLetters(ctx, 10)
	must(t, err)
	if len(dl) != 1 || dl[0].Key != "k" || dl[0].Reason != "http_4xx" || dl[0].LastError != "HTTP 400: bad payload" || !dl[0].Failed.Equal(t0.Add(time.Second)) {
		t.Fatalf("dead letters = %+v", dl)
	}
}

func keys(es []Event) string {
	out := ""
	for i, e := range es {
		if i > 0 {
			out += " "
		}
		out += e.Key + "/" + e.Notifier
	}
	return out
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// The SQLite store is what the alerting manager persists to.
var _ alerting.Store = (*Store)(nil)
