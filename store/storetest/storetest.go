// Package storetest is the one set of tests every store driver passes
// (SQLite, PostgreSQL): the outbox, the alert state, the history, the
// aggregates, retention, incidents and notifications behave alike.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/history"
	"github.com/assay-monitor/assay/store/outbox"
)

// Store is what a driver provides.
type Store interface {
	history.Writer
	history.Reader
	history.NotificationAdmin
	history.SilenceStore
	AlertStates(ctx context.Context) (map[string][]byte, error)
	Apply(ctx context.Context, c outbox.Change) error
	ApplyAll(ctx context.Context, cs []outbox.Change) error
	Heads(ctx context.Context) ([]outbox.Event, error)
	Pending(ctx context.Context) ([]outbox.Event, error)
	Delivered(ctx context.Context, seq int64) error
	Retry(ctx context.Context, seq int64, attempts int, next time.Time, lastErr string) error
	DeadLetter(ctx context.Context, seq int64, attempts int, reason, lastErr string, at time.Time) error
	DeadLetters(ctx context.Context, limit int) ([]outbox.DeadLetter, error)
	OutboxDepth(ctx context.Context) (map[string]int, error)
	RecordPing(ctx context.Context, check string, p checks.Ping) error
	LastPing(ctx context.Context, check string) (checks.Ping, error)
	LastPings(ctx context.Context) (map[string]checks.Ping, error)
	WatchHeartbeats(ctx context.Context, names []string, since time.Time) (map[string]time.Time, error)
	Close() error
}

// Opener makes a new empty database for one test and returns how to open
// it (again: a test closes and reopens it, as a restart does).
type Opener func(t *testing.T) (open func() Store)

// Run runs every test against the driver.
func Run(t *testing.T, newDB Opener) {
	for _, tc := range []struct {
		name string
		f    func(*testing.T, func() Store)
	}{
		{"OutboxSurvivesReopen", outboxSurvivesReopen},
		{"ApplyIsAtomic", applyIsAtomic},
		{"HeadsOnePerQueueInOrder", headsOnePerQueueInOrder},
		{"Supersedes", supersedes},
		{"DeadLetter", deadLetter},
		{"StateVersionsOnlyAdvance", versionsOnlyAdvance},
		{"ReserveIDsGrowAcrossReopen", reserveIDsGrow},
		{"ResultsNewestFirstPaginatedAndFiltered", resultsPaginated},
		{"ResultRoundTrip", resultRoundTrip},
		{"CompactRunReadsBackWhole", compactRunRoundTrip},
		{"AggregatesCountEveryRunOnce", aggregatesCountOnce},
		{"BaselineNewestWins", baselineNewestWins},
		{"PruneByAgeCountAndAggregates", pruneAll},
		{"PruneByAgeWhateverTheIDOrder", pruneByAgeAnyOrder},
		{"IncidentsRecordedWithAlertState", incidents},
		{"NotificationsListRetryDrop", notifications},
		{"SilencesPutListExpirePurge", silences},
		{"ExpiredSilencesNeverCrowdOutCurrentOnes", expiredSilencesApart},
		{"InMaintenanceKeptInSummaries", inMaintenanceKept},
		{"PingsSurviveReopenNewestWins", pings},
		{"HeartbeatWatchesKeepTheEarliest", heartbeatWatches},
	} {
		t.Run(tc.name, func(t *testing.T) {
			open := newDB(t)
			tc.f(t, open)
		})
	}
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func opened(t *testing.T, open func() Store) Store {
	t.Helper()
	s := open()
	t.Cleanup(func() { s.Close() })
	return s
}

func ev(check, notifier, key, kind string) outbox.Event {
	return outbox.Event{Key: key, Check: check, Notifier: notifier, Kind: kind, Payload: []byte(`{"k":"` + key + `"}`), Created: t0}
}

func keys(es []outbox.Event) string {
	out := ""
	for i, e := range es {
		if i > 0 {
			out += " "
		}
		out += e.Key + "/" + e.Notifier
	}
	return out
}

func outboxSurvivesReopen(t *testing.T, open func() Store) {
	ctx := context.Background()
	s := open()
	must(t, s.Apply(ctx, outbox.Change{Check: "api", State: []byte(`{"status":"failing"}`), Events: []outbox.Event{
		ev("api", "hook", "k1", "firing"), ev("api", "pager", "k1", "firing"),
	}}))
	heads, _ := s.Heads(ctx)
	must(t, s.Retry(ctx, heads[0].Seq, 3, t0.Add(time.Minute), "HTTP 503"))
	must(t, s.Close())

	s = opened(t, open)
	states, err := s.AlertStates(ctx)
	if err != nil || string(states["api"]) != `{"status":"failing"}` {
		t.Fatalf("states after reopen = %q, %v", states, err)
	}
	pending, err := s.Pending(ctx)
	if err != nil || len(pending) != 2 {
		t.Fatalf("pending after reopen = %+v, %v", pending, err)
	}
	p := pending[0]
	if p.Key != "k1" || p.Notifier != "hook" || p.Attempts != 3 || !p.Next.Equal(t0.Add(time.Minute)) || p.LastError != "HTTP 503" ||
		!p.Created.Equal(t0) || string(p.Payload) != `{"k":"k1"}` {
		t.Fatalf("event after reopen = %+v", p)
	}
	must(t, s.Apply(ctx, outbox.Change{Check: "api", State: []byte(`{}`), Events: []outbox.Event{ev("api", "hook", "k2", "resolved")}}))
	pending, _ = s.Pending(ctx)
	if pending[2].Key != "k2" || pending[2].Seq <= pending[1].Seq {
		t.Fatalf("order after reopen: %+v", pending)
	}
}

func applyIsAtomic(t *testing.T, open func() Store) {
	ctx := context.Background()
	s := opened(t, open)
	must(t, s.Apply(ctx, outbox.Change{Check: "api", State: []byte(`"v1"`), Events: []outbox.Event{ev("api", "hook", "k1", "firing")}}))
	// k1 for hook exists already: the unique key makes this change fail.
	err := s.Apply(ctx, outbox.Change{Check: "api", State: []byte(`"v2"`), Events: []outbox.Event{ev("api", "pager", "k9", "firing"), ev("api", "hook", "k1", "firing")}})
	if err == nil {
		t.Fatal("duplicate idempotency key accepted")
	}
	states, _ := s.AlertStates(ctx)
	pending, _ := s.Pending(ctx)
	if string(states["api"]) != `"v1"` || len(pending) != 1 {
		t.Fatalf("after a failed change: state %q, %d pending", states["api"], len(pending))
	}
	must(t, s.Apply(ctx, outbox.Change{Check: "api"}))
	if states, _ := s.AlertStates(ctx); len(states) != 0 {
		t.Fatalf("nil state did not delete: %q", states)
	}
}

func headsOnePerQueueInOrder(t *testing.T, open func() Store) {
	ctx := context.Background()
	s := opened(t, open)
	must(t, s.Apply(ctx, outbox.Change{Check: "a", State: []byte("1"), Events: []outbox.Event{ev("a", "hook", "a1", "firing"), ev("a", "slack", "a1", "firing")}}))
	must(t, s.Apply(ctx, outbox.Change{Check: "b", State: []byte("1"), Events: []outbox.Event{ev("b", "hook", "b1", "firing")}}))
	must(t, s.Apply(ctx, outbox.Change{Check: "a", State: []byte("2"), Events: []outbox.Event{ev("a", "hook", "a2", "resolved")}}))
	heads, err := s.Heads(ctx)
	must(t, err)
	if got := keys(heads); got != "a1/hook a1/slack b1/hook" {
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

func supersedes(t *testing.T, open func() Store) {
	ctx := context.Background()
	s := opened(t, open)
	refresh := func(key string) outbox.Event {
		e := ev("a", "am", key, "refresh")
		e.Supersedes = "refresh"
		return e
	}
	must(t, s.Apply(ctx, outbox.Change{Check: "a", State: []byte("1"), Events: []outbox.Event{ev("a", "am", "f", "firing"), refresh("r1")}}))
	must(t, s.Apply(ctx, outbox.Change{Check: "a", State: []byte("1"), Events: []outbox.Event{refresh("r2"), ev("a", "hook", "x", "firing")}}))
	must(t, s.Apply(ctx, outbox.Change{Check: "a", State: []byte("1"), Events: []outbox.Event{refresh("r3")}}))
	pending, _ := s.Pending(ctx)
	if got := keys(pending); got != "f/am x/hook r3/am" {
		t.Fatalf("pending = %s", got)
	}
}

// A state change is compare-and-set on its version: an older one (a late
// write) is refused with its events; version 0 writes unconditionally.
func versionsOnlyAdvance(t *testing.T, open func() Store) {
	ctx := context.Background()
	s := opened(t, open)
	must(t, s.Apply(ctx, outbox.Change{Check: "a", State: []byte(`"v2"`), Version: 2, Events: []outbox.Event{ev("a", "hook", "k2", "firing")}}))
	must(t, s.Apply(ctx, outbox.Change{Check: "a", State: []byte(`"v1"`), Version: 1, Events: []outbox.Event{ev("a", "hook", "k1", "firing")}}))
	must(t, s.Apply(ctx, outbox.Change{Check: "a", State: []byte(`"v2 again"`), Version: 2}))
	states, _ := s.AlertStates(ctx)
	pending, _ := s.Pending(ctx)
	if string(states["a"]) != `"v2"` || keys(pending) != "k2/hook" {
		t.Fatalf("after older and equal versions: state %s, pending %s", states["a"], keys(pending))
	}
	must(t, s.Apply(ctx, outbox.Change{Check: "a", State: []byte(`"v3"`), Version: 3}))
	must(t, s.Apply(ctx, outbox.Change{Check: "a", State: []byte(`"any"`)}))
	if states, _ := s.AlertStates(ctx); string(states["a"]) != `"any"` {
		t.Fatalf("version 0 did not write: %s", states["a"])
	}
}

func deadLetter(t *testing.T, open func() Store) {
	ctx := context.Background()
	s := opened(t, open)
	must(t, s.Apply(ctx, outbox.Change{Check: "a", State: []byte("1"), Events: []outbox.Event{ev("a", "hook", "k", "firing")}}))
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

func ids(rs []history.RunSummary) string {
	out := ""
	for i, r := range rs {
		if i > 0 {
			out += " "
		}
		out += fmt.Sprint(r.ID)
	}
	return out
}

func reserveIDsGrow(t *testing.T, open func() Store) {
	ctx := context.Background()
	s := open()
	a, err := s.ReserveIDs(ctx, 1000)
	must(t, err)
	b, err := s.ReserveIDs(ctx, 10)
	must(t, err)
	if a != 1 || b != 1001 {
		t.Fatalf("reservations start at %d and %d, want 1 and 1001", a, b)
	}
	must(t, s.WriteBatch(ctx, history.Batch{Runs: []history.StoredRun{run(5000, "a", t0, true)}}))
	must(t, s.Close())
	s = opened(t, open)
	c, err := s.ReserveIDs(ctx, 1)
	must(t, err)
	if c != 5001 {
		t.Fatalf("after a stored run 5000 the next id is %d, want 5001", c)
	}
	if _, err := s.ReserveIDs(ctx, 0); err == nil {
		t.Fatal("reserving 0 ids succeeded")
	}
}

func resultsPaginated(t *testing.T, open func() Store) {
	ctx := context.Background()
	s := opened(t, open)
	var runs []history.StoredRun
	for i := int64(1); i <= 6; i++ {
		runs = append(runs, run(i, "a", t0.Add(time.Duration(i)*time.Minute), i%3 != 0))
	}
	runs = append(runs, run(7, "b", t0, false))
	must(t, s.WriteBatch(ctx, history.Batch{Runs: runs}))
	for _, tc := range []struct {
		q    history.ResultQuery
		want string
	}{
		{history.ResultQuery{}, "6 5 4 3 2 1"},
		{history.ResultQuery{Limit: 2}, "6 5"},
		{history.ResultQuery{Limit: 2, Before: 5}, "4 3"},
		{history.ResultQuery{Status: history.StatusFailed}, "6 3"},
		{history.ResultQuery{Status: history.StatusPassed, Before: 4}, "2 1"},
		{history.ResultQuery{Since: t0.Add(5 * time.Minute)}, "6 5"},
	} {
		got, err := s.Results(ctx, "a", tc.q)
		must(t, err)
		if ids(got) != tc.want {
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

func resultRoundTrip(t *testing.T, open func() Store) {
	ctx := context.Background()
	s := opened(t, open)
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

// A passing run, stored in the compact form, reads back through the
// driver as the same result its JSON form gave (the API, replay and the
// page show it), and a run stored in the JSON form still reads.
func compactRunRoundTrip(t *testing.T, open func() Store) {
	ctx := context.Background()
	s := opened(t, open)
	started := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.FixedZone("", 3600))
	r := &checks.Result{ID: 7, Check: "a", File: "checks.d/a.yaml", Labels: map[string]string{"team": "api"}, Tags: []string{"smoke"},
		Started: started, Duration: 42 * time.Millisecond, Passed: true,
		Attempts: []checks.Attempt{{Number: 1, Started: started.Add(time.Microsecond), Duration: 41 * time.Millisecond, Passed: true,
			Steps: []checks.StepResult{{Name: "read", Passed: true, Request: checks.RequestSummary{Method: "GET", URL: "https://127.0.0.1/doc"},
				Response: &checks.ResponseSummary{Status: 200, Proto: "HTTP/2.0", BodySize: 12},
				Timings:  checks.Timings{Connect: time.Millisecond, TLS: 2 * time.Millisecond, Total: 40 * time.Millisecond},
				TLS:      &checks.TLSInfo{Version: "TLS 1.3", Subject: "CN=a", Issuer: "CN=ca", NotAfter: t0.Add(90 * 24 * time.Hour), DaysRemaining: 89.5, SANs: []string{"a"}}}}}}}
	data, err := history.EncodeRun(r)
	must(t, err)
	legacy, err := json.Marshal(history.Compact(r))
	must(t, err)
	sum := history.RunSummary{ID: 7, Check: "a", Started: started, DurationSeconds: 0.042, Passed: true}
	old := sum
	old.ID = 8
	must(t, s.WriteBatch(ctx, history.Batch{Runs: []history.StoredRun{{RunSummary: sum, Data: data}, {RunSummary: old, Data: legacy}}}))
	want, err := json.Marshal(history.Compact(r))
	must(t, err)
	for _, id := range []int64{7, 8} {
		got, err := s.Result(ctx, id)
		must(t, err)
		got.Result.ID = 7
		if gotJSON, _ := json.Marshal(got.Result); string(gotJSON) != string(want) {
			t.Fatalf("run %d reads back as\n%s\nwant\n%s", id, gotJSON, want)
		}
	}
}

// Counted before the roll-up (from the runs) and after (from the
// aggregates) alike, never twice; a batch of more than one statement's
// worth of runs counts whole.
func aggregatesCountOnce(t *testing.T, open func() Store) {
	ctx := context.Background()
	s := opened(t, open)
	now := time.Now().UTC().Truncate(time.Hour)
	var runs []history.StoredRun
	id := int64(0)
	for i := range 3 { // an hour ago, 1 failed
		id++
		runs = append(runs, run(id, "a", now.Add(-time.Hour+time.Duration(i)*time.Minute), i != 0))
	}
	for i := range 4 { // 3 days ago, 2 failed
		id++
		runs = append(runs, run(id, "a", now.Add(-72*time.Hour+time.Duration(i)*time.Second), i%2 == 0))
	}
	for range 150 { // another check: 150 runs in one batch, all failed
		id++
		runs = append(runs, run(id, "b", now.Add(-time.Minute), false))
	}
	must(t, s.WriteBatch(ctx, history.Batch{Runs: runs[:2]}))
	must(t, s.WriteBatch(ctx, history.Batch{Runs: runs[2:]}))
	for _, rolled := range []bool{false, true} {
		if rolled {
			must(t, s.RollUp(ctx, id))
			must(t, s.RollUp(ctx, id)) // again: nothing more
		}
		day, err := s.Counts(ctx, "a", now.Add(-24*time.Hour), now.Add(time.Minute))
		must(t, err)
		week, err := s.Counts(ctx, "a", now.Add(-7*24*time.Hour), now.Add(time.Minute))
		must(t, err)
		if day != (history.Counts{Runs: 3, Failures: 1}) || week != (history.Counts{Runs: 7, Failures: 3}) {
			t.Fatalf("rolled up %v: a over 24h = %+v (want 3, 1), over 7d = %+v (want 7, 3)", rolled, day, week)
		}
		all, err := s.CountsAll(ctx, now.Add(-24*time.Hour), now.Add(time.Minute))
		must(t, err)
		if len(all) != 2 || all["a"] != day || all["b"] != (history.Counts{Runs: 150, Failures: 150}) {
			t.Fatalf("rolled up %v: CountsAll over 24h = %+v", rolled, all)
		}
	}
	ds, err := s.Durations(ctx, "a", now.Add(-2*time.Hour), now)
	must(t, err)
	if len(ds) != 3 || ds[0] != 1500*time.Millisecond {
		t.Errorf("durations = %v", ds)
	}
}

func baselineNewestWins(t *testing.T, open func() Store) {
	ctx := context.Background()
	s := opened(t, open)
	if _, err := s.Baseline(ctx, "a", "read"); !errors.Is(err, history.ErrNotFound) {
		t.Fatalf("no baseline yet: err = %v", err)
	}
	bl := func(id int64, body string) history.Baseline {
		return history.Baseline{Check: "a", Step: "read", RunID: id, Started: t0.Add(time.Duration(id) * time.Second),
			Response: checks.ResponseSummary{Status: 200, Headers: map[string][]string{"Etag": {`"v1"`}}, Body: body, BodySize: int64(len(body))}}
	}
	must(t, s.WriteBatch(ctx, history.Batch{Baselines: []history.Baseline{bl(10, `{"v":1}`)}}))
	must(t, s.WriteBatch(ctx, history.Batch{Baselines: []history.Baseline{bl(12, `{"v":2}`)}}))
	must(t, s.WriteBatch(ctx, history.Batch{Baselines: []history.Baseline{bl(11, `{"v":"old"}`)}}))
	got, err := s.Baseline(ctx, "a", "read")
	must(t, err)
	if got.RunID != 12 || got.Response.Body != `{"v":2}` || got.Response.Headers["Etag"][0] != `"v1"` || !got.Started.Equal(t0.Add(12*time.Second)) {
		t.Fatalf("baseline = %+v", got)
	}
}

func pruneAll(t *testing.T, open func() Store) {
	ctx := context.Background()
	s := opened(t, open)
	now := time.Now().UTC()
	var runs []history.StoredRun
	for i := int64(1); i <= 10; i++ {
		started := now.Add(-40 * 24 * time.Hour).Add(time.Duration(i) * time.Minute) // 1..4: 40 days old
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
		MinuteBefore: now.Add(-48 * time.Hour), HourBefore: now.Add(-30 * 24 * time.Hour), Limit: 100}
	// Runs not yet in the aggregates are never pruned.
	_, _, err := s.Prune(ctx, p)
	must(t, err)
	if rs, _ := s.Results(ctx, "a", history.ResultQuery{}); len(rs) != 10 {
		t.Fatalf("pruning before the roll-up left %d of 10 runs", len(rs))
	}
	must(t, s.RollUp(ctx, 11))
	p.Limit = 3
	_, more, err := s.Prune(ctx, p)
	must(t, err)
	if !more {
		t.Fatal("a prune limited to 3 rows a statement says nothing more is due")
	}
	for more {
		_, more, err = s.Prune(ctx, p)
		must(t, err)
	}
	rs, _ := s.Results(ctx, "a", history.ResultQuery{})
	if ids(rs) != "10 9 8 7" {
		t.Fatalf("a keeps %v, want the newest 4 (10 9 8 7)", ids(rs))
	}
	if rs, _ := s.Results(ctx, "b", history.ResultQuery{}); len(rs) != 1 {
		t.Fatalf("b keeps %d runs, want 1", len(rs))
	}
	ins, _ := s.Incidents(ctx, history.IncidentQuery{})
	if len(ins) != 1 || ins[0].ID != "open" {
		t.Fatalf("incidents after prune = %+v, want only the open one", ins)
	}
	if old, _ := s.Counts(ctx, "a", now.Add(-60*24*time.Hour), now.Add(-20*24*time.Hour)); old.Runs != 0 {
		t.Fatalf("hour aggregates older than the cut-off kept %d runs", old.Runs)
	}
	if recent, _ := s.Counts(ctx, "a", now.Add(-time.Hour), now.Add(time.Minute)); recent.Runs != 6 {
		t.Fatalf("recent aggregates count %d runs, want 6 (pruning runs keeps the aggregates)", recent.Runs)
	}
}

// Ids only roughly follow the start times (a long run takes its id when
// it ends, a run recorded while the store was down at the flush): every
// run older than the retention goes, and no recent one, whatever the
// order of their ids.
func pruneByAgeAnyOrder(t *testing.T, open func() Store) {
	ctx := context.Background()
	s := opened(t, open)
	now := time.Now().UTC()
	old, recent := now.Add(-2*time.Hour), now.Add(-time.Minute)
	var runs []history.StoredRun
	for i, started := range []time.Time{recent, old, recent, old, old, recent} {
		runs = append(runs, run(int64(i+1), "a", started.Add(time.Duration(i)*time.Second), true))
	}
	must(t, s.WriteBatch(ctx, history.Batch{Runs: runs}))
	must(t, s.RollUp(ctx, 6))
	p := history.PrunePolicy{Before: now.Add(-time.Hour), Limit: 1}
	for more, n := true, 0; more; n++ {
		if n > 10 {
			t.Fatal("the prune never ends")
		}
		var err error
		_, more, err = s.Prune(ctx, p)
		must(t, err)
	}
	if rs, _ := s.Results(ctx, "a", history.ResultQuery{}); ids(rs) != "6 3 1" {
		t.Fatalf("kept %s, want the recent runs 6 3 1", ids(rs))
	}
}

func incidents(t *testing.T, open func() Store) {
	ctx := context.Background()
	s := opened(t, open)
	in := &outbox.IncidentRecord{ID: "i1", Check: "api", Started: t0, Opened: t0.Add(2 * time.Minute),
		FirstReason: "assertion", FirstFailure: "status: expected 200, got 500", LastFailure: "status: expected 200, got 500", Runs: 3, FailedRuns: 3}
	must(t, s.Apply(ctx, outbox.Change{Check: "api", State: []byte(`{"status":"failing"}`), Incident: in}))
	must(t, s.Apply(ctx, outbox.Change{Check: "other", State: []byte(`{"status":"failing"}`), Incident: &outbox.IncidentRecord{ID: "i2", Check: "other", Started: t0, Opened: t0.Add(time.Hour)}}))
	open2, _ := s.Incidents(ctx, history.IncidentQuery{Open: true})
	if len(open2) != 2 || open2[0].ID != "i2" || open2[1].ID != "i1" {
		t.Fatalf("open incidents = %+v, want i2 then i1 (newest first)", open2)
	}
	resolved := *in
	resolved.Resolved, resolved.Resolution, resolved.LastFailure, resolved.Runs = t0.Add(10*time.Minute), "recovered", "timeout", 5
	resolved.FirstFailure = "must not replace the first failure"
	must(t, s.Apply(ctx, outbox.Change{Check: "api", State: []byte(`{"status":"ok"}`), Incident: &resolved}))
	got, _ := s.Incidents(ctx, history.IncidentQuery{Check: "api"})
	if len(got) != 1 {
		t.Fatalf("incidents of api = %+v", got)
	}
	g := got[0]
	if g.Resolved == nil || !g.Resolved.Equal(t0.Add(10*time.Minute)) || g.Resolution != "recovered" || g.FirstFailure != "status: expected 200, got 500" ||
		g.FirstReason != "assertion" || g.LastFailure != "timeout" || g.Runs != 5 || g.FailedRuns != 3 || !g.Opened.Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("resolved incident = %+v", g)
	}
	if o, _ := s.Incidents(ctx, history.IncidentQuery{Open: true}); len(o) != 1 {
		t.Fatalf("open incidents after resolving i1 = %+v", o)
	}
}

func notifications(t *testing.T, open func() Store) {
	ctx := context.Background()
	s := opened(t, open)
	must(t, s.Apply(ctx, outbox.Change{Check: "a", State: []byte("1"), Events: []outbox.Event{ev("a", "hook", "k1", "firing"), ev("a", "pager", "k1", "firing")}}))
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
	must(t, s.RetryNotification(ctx, dead))
	p, _ := s.Pending(ctx)
	if len(p) != 2 || p[1].Key != "k1" || p[1].Notifier != "hook" || p[1].Attempts != 0 || p[1].Seq <= pending {
		t.Fatalf("pending after retry = %+v", p)
	}
	if d, _ := s.Notifications(ctx, history.NotificationDead, 10); len(d) != 0 {
		t.Fatalf("dead letters after retry = %+v", d)
	}
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

func silences(t *testing.T, open func() Store) {
	ctx := context.Background()
	s := opened(t, open)
	rec := func(id string, starts, ends time.Duration) history.SilenceRecord {
		return history.SilenceRecord{ID: id, Starts: t0.Add(starts), Ends: t0.Add(ends), Updated: t0, Doc: []byte(`{"id":"` + id + `"}`)}
	}
	must(t, s.PutSilence(ctx, rec("b", time.Hour, 3*time.Hour)))
	must(t, s.PutSilence(ctx, rec("a", 0, 2*time.Hour)))
	must(t, s.PutSilence(ctx, rec("old", -3*time.Hour, -2*time.Hour)))
	list := func(after time.Time) string {
		t.Helper()
		rs, err := s.Silences(ctx, after, 10)
		must(t, err)
		out := ""
		for _, r := range rs {
			out += r.ID + " "
		}
		return out
	}
	if got := list(t0.Add(-time.Minute)); got != "a b " {
		t.Fatalf("silences ending after t0-1m = %q, want a b (by start)", got)
	}
	if got := list(t0.Add(-24 * time.Hour)); got != "old a b " {
		t.Fatalf("silences ending after t0-24h = %q", got)
	}
	// Expiring replaces the times and the document in place, across a
	// restart.
	exp := rec("b", time.Hour, time.Hour)
	exp.Doc = []byte(`{"id":"b","expired":true}`)
	must(t, s.PutSilence(ctx, exp))
	must(t, s.Close())
	s = opened(t, open)
	got, err := s.Silence(ctx, "b")
	must(t, err)
	if !got.Ends.Equal(t0.Add(time.Hour)) || string(got.Doc) != `{"id":"b","expired":true}` || !got.Updated.Equal(t0) {
		t.Fatalf("silence b = %+v", got)
	}
	if _, err := s.Silence(ctx, "nope"); !errors.Is(err, history.ErrNotFound) {
		t.Fatalf("unknown silence: err = %v, want ErrNotFound", err)
	}
	n, err := s.PurgeSilences(ctx, t0)
	must(t, err)
	if n != 1 {
		t.Fatalf("purged %d, want 1 (old)", n)
	}
	if rs, _ := s.Silences(ctx, t0.Add(-24*time.Hour), 1); len(rs) != 1 || rs[0].ID != "a" {
		t.Fatalf("limit 1 = %+v, want a", rs)
	}
}

// expiredSilencesApart: Silences(now) returns the active and pending
// silences whatever number expired before now (they used to share one
// LIMIT ordered by start, where a new silence sorts last), and
// ExpiredSilences lists the ones that ended in (since, now], latest
// end first, bounded.
func expiredSilencesApart(t *testing.T, open func() Store) {
	ctx := context.Background()
	s := opened(t, open)
	now := t0
	put := func(id string, starts, ends time.Time) {
		t.Helper()
		must(t, s.PutSilence(ctx, history.SilenceRecord{ID: id, Starts: starts, Ends: ends, Updated: starts, Doc: []byte(`{"id":"` + id + `"}`)}))
	}
	// More expired silences than the limit, all started before the
	// current ones, plus one that ends exactly now (expired: [starts, ends)).
	for i := range 30 {
		st := now.Add(-time.Duration(60-i) * time.Minute)
		put(fmt.Sprintf("x%02d", i), st, st.Add(time.Minute))
	}
	put("atnow", now.Add(-time.Hour), now)
	put("active", now.Add(-time.Second), now.Add(time.Hour))
	put("pending", now.Add(time.Minute), now.Add(2*time.Hour))
	put("ancient", now.Add(-48*time.Hour), now.Add(-47*time.Hour))
	ids := func(rs []history.SilenceRecord, err error) string {
		t.Helper()
		must(t, err)
		out := ""
		for _, r := range rs {
			out += r.ID + " "
		}
		return out
	}
	if got := ids(s.Silences(ctx, now, 10)); got != "active pending " {
		t.Fatalf("current silences = %q, want active pending", got)
	}
	if got := ids(s.Silences(ctx, now, 1)); got != "active " {
		t.Fatalf("current silences, limit 1 = %q, want active (by start)", got)
	}
	// Latest end first: "atnow" (ends now), then x29, x28, ...
	if got := ids(s.ExpiredSilences(ctx, now.Add(-24*time.Hour), now, 4)); got != "atnow x29 x28 x27 " {
		t.Fatalf("expired silences, limit 4 = %q, want atnow x29 x28 x27", got)
	}
	// since is exclusive: x00 ended at now-59m.
	if got := ids(s.ExpiredSilences(ctx, now.Add(-59*time.Minute), now, 100)); strings.Contains(got, "x00") || !strings.Contains(got, "x01") || strings.Contains(got, "ancient") || strings.Contains(got, "active") {
		t.Fatalf("expired silences since now-59m = %q, want x01..x29 and atnow only", got)
	}
	if got := ids(s.ExpiredSilences(ctx, now.Add(-72*time.Hour), now, 100)); !strings.HasSuffix(got, "x00 ancient ") || strings.Contains(got, "pending") {
		t.Fatalf("expired silences since now-72h = %q, want ancient last and no current one", got)
	}
}

func inMaintenanceKept(t *testing.T, open func() Store) {
	ctx := context.Background()
	s := opened(t, open)
	a, b := run(1, "a", t0, false), run(2, "a", t0.Add(time.Minute), true)
	a.InMaintenance = true
	must(t, s.WriteBatch(ctx, history.Batch{Runs: []history.StoredRun{a, b}}))
	got, err := s.Results(ctx, "a", history.ResultQuery{})
	must(t, err)
	if len(got) != 2 || got[0].InMaintenance || !got[1].InMaintenance {
		t.Fatalf("summaries = %+v, want run 1 only in maintenance", got)
	}
	r, err := s.Result(ctx, 1)
	must(t, err)
	if !r.InMaintenance {
		t.Fatalf("run 1 = %+v, want in_maintenance", r.RunSummary)
	}
}

// pings: the latest ping of a heartbeat check survives a reopen (a
// restart loses none), a ping older than the stored one (two replicas
// writing out of order) changes nothing, and checks do not share pings.
func pings(t *testing.T, open func() Store) {
	ctx := context.Background()
	s := open()
	if p, err := s.LastPing(ctx, "nightly"); err != nil || !p.At.IsZero() {
		t.Fatalf("ping of a check never pinged = %+v, %v; want none", p, err)
	}
	must(t, s.RecordPing(ctx, "nightly", checks.Ping{At: t0}))
	must(t, s.RecordPing(ctx, "nightly", checks.Ping{At: t0.Add(time.Minute), Failed: true, Message: "disk full"}))
	must(t, s.RecordPing(ctx, "nightly", checks.Ping{At: t0.Add(30 * time.Second)})) // late: ignored
	must(t, s.RecordPing(ctx, "hourly", checks.Ping{At: t0.Add(2 * time.Minute)}))
	must(t, s.Close())

	s = opened(t, open)
	want := checks.Ping{At: t0.Add(time.Minute), Failed: true, Message: "disk full"}
	p, err := s.LastPing(ctx, "nightly")
	if err != nil || !p.At.Equal(want.At) || p.Failed != want.Failed || p.Message != want.Message {
		t.Fatalf("after reopen, nightly's ping = %+v, %v; want %+v", p, err, want)
	}
	all, err := s.LastPings(ctx)
	if err != nil || len(all) != 2 || !all["hourly"].At.Equal(t0.Add(2*time.Minute)) || all["hourly"].Failed || !all["nightly"].At.Equal(want.At) {
		t.Fatalf("all pings = %+v, %v", all, err)
	}
	// A ping at the same millisecond as the stored one replaces it (a
	// success right after a failure is not lost).
	must(t, s.RecordPing(ctx, "nightly", checks.Ping{At: t0.Add(time.Minute)}))
	if p, _ := s.LastPing(ctx, "nightly"); p.Failed || p.Message != "" {
		t.Errorf("a ping at the same time did not replace the stored one: %+v", p)
	}
}

// heartbeatWatches: when assay began to watch a heartbeat check survives
// a reopen, the earliest time recorded wins whatever the order of the
// writes (a restart, or a replica started later, changes nothing; one
// started earlier moves it back), checks do not share it, and it is not
// a ping.
func heartbeatWatches(t *testing.T, open func() Store) {
	ctx := context.Background()
	s := open()
	got, err := s.WatchHeartbeats(ctx, []string{"nightly", "hourly"}, t0)
	must(t, err)
	if len(got) != 2 || !got["nightly"].Equal(t0) || !got["hourly"].Equal(t0) {
		t.Fatalf("first watch = %v, want both at %s", got, t0)
	}
	if got, err := s.WatchHeartbeats(ctx, nil, t0); err != nil || len(got) != 0 {
		t.Fatalf("no names = %v, %v", got, err)
	}
	must(t, s.Close())

	s = opened(t, open)
	got, err = s.WatchHeartbeats(ctx, []string{"nightly", "weekly", "nightly"}, t0.Add(time.Hour)) // a restart an hour later
	must(t, err)
	if len(got) != 2 || !got["nightly"].Equal(t0) || !got["weekly"].Equal(t0.Add(time.Hour)) {
		t.Fatalf("after a reopen = %v, want nightly still at %s and weekly new", got, t0)
	}
	got, err = s.WatchHeartbeats(ctx, []string{"hourly"}, t0.Add(-time.Minute)) // a replica that began earlier
	must(t, err)
	if !got["hourly"].Equal(t0.Add(-time.Minute)) {
		t.Fatalf("an earlier watch = %v, want %s", got, t0.Add(-time.Minute))
	}
	got, err = s.WatchHeartbeats(ctx, []string{"hourly", "nightly", "weekly"}, t0.Add(2*time.Hour))
	must(t, err)
	if !got["hourly"].Equal(t0.Add(-time.Minute)) || !got["nightly"].Equal(t0) || !got["weekly"].Equal(t0.Add(time.Hour)) {
		t.Fatalf("watches = %v", got)
	}
	if ps, err := s.LastPings(ctx); err != nil || len(ps) != 0 {
		t.Fatalf("watching made pings: %v, %v", ps, err)
	}
}
