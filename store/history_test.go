package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/history"
	"github.com/assay-monitor/assay/store/outbox"
)

func run(id int64, check string, started time.Time, passed bool) history.StoredRun {
	r := &checks.Result{ID: id, Check: check, Started: started, Duration: 1500 * time.Millisecond, Passed: passed}
	sum := history.RunSummary{ID: id, Check: check, Started: started, DurationSeconds: 1.5, Passed: passed}
	if !passed {
		r.Reason, r.Message = checks.ReasonAssertion, fmt.Sprintf("run %d failed", id)
		sum.Reason, sum.Message, sum.FailingStep = r.Reason, r.Message, "read"
	}
	data, _ := json.Marshal(r)
	return history.StoredRun{RunSummary: sum, Data: data}
}

func ids(rs []history.RunSummary) []int64 {
	out := []int64{}
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

func eqIDs(a []int64, b ...int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Ids only grow: across reservations, reopening, and rows written with
// ids the counter never gave.
func TestReserveIDsGrowAcrossReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "assay.db")
	s := open(t, path)
	a, err := s.ReserveIDs(ctx, 1000)
	must(t, err)
	b, err := s.ReserveIDs(ctx, 10)
	must(t, err)
	if a != 1 || b != 1001 {
		t.Fatalf("reservations start at %d and %d, want 1 and 1001", a, b)
	}
	must(t, s.WriteBatch(ctx, history.Batch{Runs: []history.StoredRun{run(5000, "a", t0, true)}}))
	must(t, s.Close())
	s = open(t, path)
	defer s.Close()
	c, err := s.ReserveIDs(ctx, 1)
	must(t, err)
	if c != 5001 {
		t.Fatalf("after a stored run 5000 the next id is %d, want 5001", c)
	}
	if _, err := s.ReserveIDs(ctx, 0); err == nil {
		t.Fatal("reserving 0 ids succeeded")
	}
}

func TestResultsNewestFirstPaginatedAndFiltered(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "assay.db"))
	defer s.Close()
	var runs []history.StoredRun
	for i := int64(1); i <= 6; i++ {
		runs = append(runs, run(i, "a", t0.Add(time.Duration(i)*time.Minute), i%3 != 0))
	}
	runs = append(runs, run(7, "b", t0, false))
	must(t, s.WriteBatch(ctx, history.Batch{Runs: runs}))

	for _, tc := range []struct {
		q    history.ResultQuery
		want []int64
	}{
		{history.ResultQuery{}, []int64{6, 5, 4, 3, 2, 1}},
		{history.ResultQuery{Limit: 2}, []int64{6, 5}},
		{history.ResultQuery{Limit: 2, Before: 5}, []int64{4, 3}},
		{history.ResultQuery{Status: history.StatusFailed}, []int64{6, 3}},
		{history.ResultQuery{Status: history.StatusPassed, Before: 4}, []int64{2, 1}},
		{history.ResultQuery{Since: t0.Add(5 * time.Minute)}, []int64{6, 5}},
	} {
		got, err := s.Results(ctx, "a", tc.q)
		must(t, err)
		if !eqIDs(ids(got), tc.want...) {
			t.Errorf("Results(%+v) = %v, want %v", tc.q, ids(got), tc.want)
		}
	}
	if _, err := s.Results(ctx, "a", history.ResultQuery{Status: "bogus"}); err == nil {
		t.Error("an unknown status filter was accepted")
	}
	got, _ := s.Results(ctx, "a", history.ResultQuery{Status: history.StatusFailed, Limit: 1})
	want := history.RunSummary{ID: 6, Check: "a", Started: t0.Add(6 * time.Minute), DurationSeconds: 1.5,
		Reason: checks.ReasonAssertion, Message: "run 6 failed", FailingStep: "read"}
	if len(got) != 1 || got[0] != want {
		t.Fatalf("failed run summary = %+v, want %+v", got, want)
	}
	if none, _ := s.Results(ctx, "nobody", history.ResultQuery{}); none == nil || len(none) != 0 {
		t.Fatalf("results of an unknown check = %#v, want an empty list", none)
	}
}

func TestResultRoundTripAndNotFound(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "assay.db"))
	defer s.Close()
	must(t, s.WriteBatch(ctx, history.Batch{Runs: []history.StoredRun{run(42, "a", t0, false)}}))
	r, err := s.Result(ctx, 42)
	must(t, err)
	if r.ID != 42 || r.Result.ID != 42 || r.Result.Check != "a" || r.Result.Message != "run 42 failed" || r.FailingStep != "read" {
		t.Fatalf("run 42 = %+v / %+v", r.RunSummary, r.Result)
	}
	if _, err := s.Result(ctx, 43); !errors.Is(err, history.ErrNotFound) {
		t.Fatalf("run 43: err = %v, want ErrNotFound", err)
	}
	// A batch written twice (a retry after a commit whose answer was
	// lost) stores each run once.
	must(t, s.WriteBatch(ctx, history.Batch{Runs: []history.StoredRun{run(42, "a", t0, false)}}))
	if rs, _ := s.Results(ctx, "a", history.ResultQuery{}); len(rs) != 1 {
		t.Fatalf("run 42 stored %d times", len(rs))
	}
}

// The aggregates count exactly the runs written, per minute and per hour,
// and serve windows from either.
func TestAggregatesCountTheRunsWritten(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "assay.db"))
	defer s.Close()
	now := time.Now().UTC().Truncate(time.Hour)
	var runs []history.StoredRun
	id := int64(0)
	// 3 runs an hour ago (1 failed), 4 runs 3 days ago (2 failed), and a
	// run of another check.
	for i := range 3 {
		id++
		runs = append(runs, run(id, "a", now.Add(-time.Hour+time.Duration(i)*time.Minute), i != 0))
	}
	for i := range 4 {
		id++
		runs = append(runs, run(id, "a", now.Add(-72*time.Hour+time.Duration(i)*time.Second), i%2 == 0))
	}
	id++
	runs = append(runs, run(id, "b", now.Add(-time.Minute), false))
	// Written in two batches: the second adds to the first's buckets.
	must(t, s.WriteBatch(ctx, history.Batch{Runs: runs[:2]}))
	must(t, s.WriteBatch(ctx, history.Batch{Runs: runs[2:]}))

	day, err := s.Counts(ctx, "a", now.Add(-24*time.Hour), now.Add(time.Minute))
	must(t, err)
	if day != (history.Counts{Runs: 3, Failures: 1}) {
		t.Errorf("a over 24h = %+v, want 3 runs, 1 failure", day)
	}
	week, err := s.Counts(ctx, "a", now.Add(-7*24*time.Hour), now.Add(time.Minute))
	must(t, err)
	if week != (history.Counts{Runs: 7, Failures: 3}) {
		t.Errorf("a over 7d = %+v, want 7 runs, 3 failures", week)
	}
	all, err := s.CountsAll(ctx, now.Add(-24*time.Hour), now.Add(time.Minute))
	must(t, err)
	if len(all) != 2 || all["a"] != day || all["b"] != (history.Counts{Runs: 1, Failures: 1}) {
		t.Errorf("CountsAll over 24h = %+v", all)
	}
	if a, ok := day.Availability(); !ok || a < 0.666 || a > 0.667 {
		t.Errorf("availability = %v, %v", a, ok)
	}
	if _, ok := (history.Counts{}).Availability(); ok {
		t.Error("availability of no runs is defined")
	}
	ds, err := s.Durations(ctx, "a", now.Add(-2*time.Hour), now)
	must(t, err)
	if len(ds) != 3 || ds[0] != 1500*time.Millisecond {
		t.Errorf("durations = %v", ds)
	}
}

func TestBaselineNewestWins(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "assay.db"))
	defer s.Close()
	if _, err := s.Baseline(ctx, "a", "read"); !errors.Is(err, history.ErrNotFound) {
		t.Fatalf("no baseline yet: err = %v", err)
	}
	bl := func(id int64, body string) history.Baseline {
		return history.Baseline{Check: "a", Step: "read", RunID: id, Started: t0.Add(time.Duration(id) * time.Second),
			Response: checks.ResponseSummary{Status: 200, Headers: map[string][]string{"Etag": {`"v1"`}}, Body: body, BodySize: int64(len(body))}}
	}
	must(t, s.WriteBatch(ctx, history.Batch{Baselines: []history.Baseline{bl(10, `{"v":1}`)}}))
	must(t, s.WriteBatch(ctx, history.Batch{Baselines: []history.Baseline{bl(12, `{"v":2}`)}}))
	// An older run's response (a batch retried late) does not replace a newer one.
	must(t, s.WriteBatch(ctx, history.Batch{Baselines: []history.Baseline{bl(11, `{"v":"old"}`)}}))
	got, err := s.Baseline(ctx, "a", "read")
	must(t, err)
	if got.RunID != 12 || got.Response.Body != `{"v":2}` || got.Response.Headers["Etag"][0] != `"v1"` || !got.Started.Equal(t0.Add(12*time.Second)) {
		t.Fatalf("baseline = %+v", got)
	}
}

func TestPruneByAgeCountAndAggregates(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "assay.db"))
	defer s.Close()
	now := time.Now().UTC()
	var runs []history.StoredRun
	for i := int64(1); i <= 10; i++ {
		// 1..4 are 40 days old, 5..10 recent.
		started := now.Add(-40 * 24 * time.Hour).Add(time.Duration(i) * time.Minute)
		if i > 4 {
			started = now.Add(-time.Duration(20-i) * time.Minute)
		}
		runs = append(runs, run(i, "a", started, true))
	}
	runs = append(runs, run(11, "b", now, true))
	must(t, s.WriteBatch(ctx, history.Batch{Runs: runs}))
	must(t, s.Apply(ctx, outbox.Change{Check: "a", State: []byte(`{}`), Incident: &outbox.IncidentRecord{ID: "old", Check: "a",
		Started: now.Add(-40 * 24 * time.Hour), Opened: now.Add(-40 * 24 * time.Hour), Resolved: now.Add(-39 * 24 * time.Hour), Resolution: "recovered"}}))
	must(t, s.Apply(ctx, outbox.Change{Check: "a", State: []byte(`{}`), Incident: &outbox.IncidentRecord{ID: "open", Check: "a",
		Started: now.Add(-40 * 24 * time.Hour), Opened: now.Add(-40 * 24 * time.Hour)}}))

	p := history.PrunePolicy{Before: now.Add(-30 * 24 * time.Hour), Keep: map[string]int{"a": 4},
		MinuteBefore: now.Add(-48 * time.Hour), HourBefore: now.Add(-30 * 24 * time.Hour), Limit: 3}
	// Limit 3 a statement: the first pass cannot finish, and says so.
	n, more, err := s.Prune(ctx, p)
	must(t, err)
	if !more || n == 0 {
		t.Fatalf("first prune: %d rows, more %v; want some and more", n, more)
	}
	for more {
		_, more, err = s.Prune(ctx, p)
		must(t, err)
	}
	rs, _ := s.Results(ctx, "a", history.ResultQuery{})
	if !eqIDs(ids(rs), 10, 9, 8, 7) {
		t.Fatalf("a keeps %v, want the newest 4 (10 9 8 7)", ids(rs))
	}
	if rs, _ := s.Results(ctx, "b", history.ResultQuery{}); len(rs) != 1 {
		t.Fatalf("b keeps %d runs, want 1", len(rs))
	}
	ins, _ := s.Incidents(ctx, history.IncidentQuery{})
	if len(ins) != 1 || ins[0].ID != "open" {
		t.Fatalf("incidents after prune = %+v, want only the open one", ins)
	}
	old, _ := s.Counts(ctx, "a", now.Add(-60*24*time.Hour), now.Add(-20*24*time.Hour))
	if old.Runs != 0 {
		t.Fatalf("hour aggregates older than the cut-off kept %d runs", old.Runs)
	}
	recent, _ := s.Counts(ctx, "a", now.Add(-time.Hour), now.Add(time.Minute))
	if recent.Runs != 6 {
		t.Fatalf("recent minute aggregates count %d runs, want 6 (pruning runs keeps the aggregates)", recent.Runs)
	}
}

func TestIncidentsRecordedWithAlertState(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "assay.db"))
	defer s.Close()
	in := &outbox.IncidentRecord{ID: "i1", Check: "api", Started: t0, Opened: t0.Add(2 * time.Minute),
		FirstReason: "assertion", FirstFailure: "status: expected 200, got 500", LastFailure: "status: expected 200, got 500", Runs: 3, FailedRuns: 3}
	must(t, s.Apply(ctx, Change{Check: "api", State: []byte(`{"status":"failing"}`), Incident: in}))
	must(t, s.Apply(ctx, Change{Check: "other", State: []byte(`{"status":"failing"}`), Incident: &outbox.IncidentRecord{ID: "i2", Check: "other", Started: t0, Opened: t0.Add(time.Hour)}}))
	open, _ := s.Incidents(ctx, history.IncidentQuery{Open: true})
	if len(open) != 2 || open[0].ID != "i2" || open[1].ID != "i1" {
		t.Fatalf("open incidents = %+v, want i2 then i1 (newest first)", open)
	}
	// Resolving updates the same row; the first failure stays.
	resolved := *in
	resolved.Resolved, resolved.Resolution, resolved.LastFailure, resolved.Runs = t0.Add(10*time.Minute), "recovered", "timeout", 5
	resolved.FirstFailure = "must not replace the first failure"
	must(t, s.Apply(ctx, Change{Check: "api", State: []byte(`{"status":"ok"}`), Incident: &resolved}))
	got, _ := s.Incidents(ctx, history.IncidentQuery{Check: "api"})
	if len(got) != 1 {
		t.Fatalf("incidents of api = %+v", got)
	}
	g := got[0]
	if g.Resolved == nil || !g.Resolved.Equal(t0.Add(10*time.Minute)) || g.Resolution != "recovered" || g.FirstFailure != "status: expected 200, got 500" ||
		g.FirstReason != "assertion" || g.LastFailure != "timeout" || g.Runs != 5 || g.FailedRuns != 3 || !g.Opened.Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("resolved incident = %+v", g)
	}
	if open, _ := s.Incidents(ctx, history.IncidentQuery{Open: true}); len(open) != 1 {
		t.Fatalf("open incidents after resolving i1 = %+v", open)
	}
}

func TestNotificationsListRetryDrop(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "assay.db"))
	defer s.Close()
	must(t, s.Apply(ctx, Change{Check: "a", State: []byte("1"), Events: []Event{ev("a", "hook", "k1", "firing"), ev("a", "pager", "k1", "firing")}}))
	heads, _ := s.Heads(ctx)
	dead, pending := heads[0].Seq, heads[1].Seq
	must(t, s.DeadLetter(ctx, dead, 4, "http_4xx", "HTTP 400", t0.Add(time.Minute)))

	all, err := s.Notifications(ctx, "", 10)
	must(t, err)
	if len(all) != 2 || all[0].ID != pending || all[0].Status != "pending" || all[1].ID != dead || all[1].Status != "dead" ||
		all[1].Reason != "http_4xx" || all[1].Attempts != 4 || all[1].Failed == nil || all[0].Next == nil {
		t.Fatalf("notifications = %+v", all)
	}
	if d, _ := s.Notifications(ctx, history.NotificationDead, 10); len(d) != 1 || d[0].ID != dead {
		t.Fatalf("dead = %+v", d)
	}
	if _, err := s.Notifications(ctx, "bogus", 10); err == nil {
		t.Fatal("an unknown status was accepted")
	}

	// Retrying a dead letter puts it back in the outbox, behind what is
	// pending, with no attempts and under its own idempotency key.
	must(t, s.RetryNotification(ctx, dead))
	p, _ := s.Pending(ctx)
	if len(p) != 2 || p[1].Key != "k1" || p[1].Notifier != "hook" || p[1].Attempts != 0 || p[1].Seq <= pending {
		t.Fatalf("pending after retry = %+v", p)
	}
	if d, _ := s.Notifications(ctx, history.NotificationDead, 10); len(d) != 0 {
		t.Fatalf("dead letters after retry = %+v", d)
	}
	// Retrying a pending event makes it due now.
	must(t, s.Retry(ctx, pending, 2, time.Now().Add(time.Hour), "HTTP 503"))
	must(t, s.RetryNotification(ctx, pending))
	p, _ = s.Pending(ctx)
	if p[0].Next.After(time.Now()) {
		t.Fatalf("a retried pending event is due at %v", p[0].Next)
	}
	must(t, s.DropNotification(ctx, pending))
	if p, _ = s.Pending(ctx); len(p) != 1 {
		t.Fatalf("pending after drop = %+v", p)
	}
	if err := s.DropNotification(ctx, pending); !errors.Is(err, history.ErrNotFound) {
		t.Fatalf("dropping twice: %v", err)
	}
	if err := s.RetryNotification(ctx, 9999); !errors.Is(err, history.ErrNotFound) {
		t.Fatalf("retrying an unknown id: %v", err)
	}
}

// TestEveryWritePathCountsItsFailures: every kind of write that fails
// (here: the database is locked by another process) is counted for
// assay_store_write_errors_total, and WriteError says so until a write
// succeeds again.
func TestEveryWritePathCountsItsFailures(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "assay.db")
	s, err := Open(path, WithBusyTimeout(20*time.Millisecond))
	must(t, err)
	defer s.Close()
	must(t, s.Apply(ctx, Change{Check: "a", State: []byte(`{}`), Events: []Event{{Key: "k", Notifier: "n", Kind: "firing", Payload: []byte(`{}`), Created: t0}}}))
	if s.WriteError() != nil {
		t.Fatalf("WriteError after a good write = %v", s.WriteError())
	}
	other, err := Open(path)
	must(t, err)
	defer other.Close()
	lock, err := other.db.BeginTx(ctx, nil) // immediate: takes the write lock
	must(t, err)
	if _, err := lock.ExecContext(ctx, `UPDATE counters SET value = value`); err != nil {
		t.Fatal(err)
	}
	writes := []struct {
		name  string
		write func() error
	}{
		{"WriteBatch", func() error {
			return s.WriteBatch(ctx, history.Batch{Runs: []history.StoredRun{run(1, "a", t0, true)}})
		}},
		{"ReserveIDs", func() error { _, err := s.ReserveIDs(ctx, 10); return err }},
		{"Prune", func() error {
			_, _, err := s.Prune(ctx, history.PrunePolicy{Before: t0.Add(time.Hour), MinuteBefore: t0, HourBefore: t0, Limit: 10})
			return err
		}},
		{"ApplyAll", func() error { return s.ApplyAll(ctx, []Change{{Check: "b", State: []byte(`{}`)}}) }},
		{"Delivered", func() error { return s.Delivered(ctx, 1) }},
		{"Retry", func() error { return s.Retry(ctx, 1, 1, t0, "x") }},
		{"DeadLetter", func() error { return s.DeadLetter(ctx, 1, 1, "r", "x", t0) }},
		{"RetryNotification", func() error { return s.RetryNotification(ctx, 1) }},
		{"DropNotification", func() error { return s.DropNotification(ctx, 1) }},
		{"Probe", func() error { return s.Probe(ctx) }},
	}
	for i, w := range writes {
		if err := w.write(); err == nil {
			t.Errorf("%s under another process's lock succeeded", w.name)
		}
		if got := s.WriteErrors(); got != float64(i+1) {
			t.Errorf("after %s: write errors = %v, want %d", w.name, got, i+1)
		}
		if err := s.WriteError(); err == nil || !strings.Contains(err.Error(), "locked") {
			t.Errorf("after %s: WriteError = %v, want the lock error", w.name, err)
		}
	}
	// A read is not a write: it neither counts nor clears.
	if _, err := s.Heads(ctx); err != nil {
		t.Fatal(err)
	}
	if s.WriteError() == nil {
		t.Error("a read cleared WriteError")
	}
	must(t, lock.Rollback())
	must(t, s.Probe(ctx))
	if s.WriteError() != nil || s.WriteErrors() != float64(len(writes)) {
		t.Fatalf("after a good write: WriteError = %v, errors = %v, want nil and %d", s.WriteError(), s.WriteErrors(), len(writes))
	}
}

// TestADeadEventIsStoredAsADeadLetter: an event alerting gave up on
// while the store failed is written straight among the dead letters.
func TestADeadEventIsStoredAsADeadLetter(t *testing.T) {
	ctx := context.Background()
	s, err := Open(filepath.Join(t.TempDir(), "assay.db"))
	must(t, err)
	defer s.Close()
	must(t, s.Apply(ctx, Change{Check: "a", State: []byte(`{}`), Events: []Event{
		{Key: "k1", Notifier: "n", Kind: "firing", Payload: []byte(`{}`), Created: t0, Attempts: 1, LastError: "HTTP 400", DeadReason: "http_4xx", Failed: t0.Add(time.Second)},
		{Key: "k2", Notifier: "n", Kind: "resolved", Payload: []byte(`{}`), Created: t0},
	}}))
	pending, err := s.Pending(ctx)
	must(t, err)
	if len(pending) != 1 || pending[0].Key != "k2" {
		t.Fatalf("pending = %+v, want only k2", pending)
	}
	dead, err := s.DeadLetters(ctx, 10)
	must(t, err)
	if len(dead) != 1 || dead[0].Key != "k1" || dead[0].Reason != "http_4xx" || dead[0].LastError != "HTTP 400" ||
		dead[0].Attempts != 1 || !dead[0].Failed.Equal(t0.Add(time.Second)) {
		t.Fatalf("dead letters = %+v", dead)
	}
}

func TestExplainNamesTheDirectory(t *testing.T) {
	err := Explain(errors.New("unable to open database file (14)"))
	if want := "is the directory writable"; !strings.Contains(err.Error(), want) {
		t.Fatalf("Explain = %q, want it to contain %q", err, want)
	}
	if other := errors.New("x"); Explain(other) != other {
		t.Fatal("Explain changed an unrelated error")
	}
}
