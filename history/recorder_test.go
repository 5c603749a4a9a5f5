package history_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/history"
	"github.com/assay-monitor/assay/store"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

// flaky is a real store that fails writes on demand, as a full disk or a
// locked database would, and remembers the batches that got through.
type flaky struct {
	*store.Store
	mu        sync.Mutex
	failWrite int // writes to fail
	failIDs   int // reservations to fail
	batches   []history.Batch
}

var errDiskFull = errors.New("database or disk is full (13)")

func (f *flaky) WriteBatch(ctx context.Context, b history.Batch) error {
	f.mu.Lock()
	if f.failWrite > 0 {
		f.failWrite--
		f.mu.Unlock()
		return errDiskFull
	}
	f.batches = append(f.batches, b)
	f.mu.Unlock()
	return f.Store.WriteBatch(ctx, b)
}

func (f *flaky) ReserveIDs(ctx context.Context, n int) (int64, error) {
	f.mu.Lock()
	if f.failIDs > 0 {
		f.failIDs--
		f.mu.Unlock()
		return 0, errDiskFull
	}
	f.mu.Unlock()
	return f.Store.ReserveIDs(ctx, n)
}

func (f *flaky) set(write, ids int) {
	f.mu.Lock()
	f.failWrite, f.failIDs = write, ids
	f.mu.Unlock()
}

func (f *flaky) baselineWrites() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, b := range f.batches {
		n += len(b.Baselines)
	}
	return n
}

func newStore(t *testing.T) (*flaky, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "assay.db")
	s, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &flaky{Store: s}, path
}

func newRecorder(t *testing.T, w history.Writer, opts history.Options) (*history.Recorder, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	opts.Writer, opts.Registerer = w, reg
	rec, err := history.NewRecorder(opts)
	if err != nil {
		t.Fatal(err)
	}
	return rec, reg
}

// result is a one-step run whose response has this status and body.
func result(check string, started time.Time, status int, body string) *checks.Result {
	passed := status == 200
	step := checks.StepResult{Name: "read", Passed: passed,
		Request: checks.RequestSummary{Method: "GET", URL: "http://127.0.0.1/doc", Headers: map[string][]string{"Accept": {"application/json"}}},
		Response: &checks.ResponseSummary{Status: status, Proto: "HTTP/1.1", BodySize: int64(len(body)), Body: body,
			Headers: map[string][]string{"Content-Type": {"application/json"}, "Date": {started.Format(time.RFC1123)}}},
		Timings: checks.Timings{Total: 12 * time.Millisecond}}
	r := &checks.Result{Check: check, Started: started, Duration: 15 * time.Millisecond, Passed: passed}
	if !passed {
		step.Reason, step.Message = checks.ReasonAssertion, "status: expected 200, got 500"
		step.Assertions = []checks.AssertionResult{{Name: "status", Expected: "200", Actual: "500", Message: step.Message}}
		r.Reason, r.Message = step.Reason, `step "read": `+step.Message
	}
	r.Attempts = []checks.Attempt{{Number: 1, Started: started, Passed: passed, Steps: []checks.StepResult{step}}}
	return r
}

func record(rec *history.Recorder, r *checks.Result) {
	ctx := context.Background()
	rec.Annotate(ctx, r)
	rec.Record(ctx, r)
}

func stored(t *testing.T, s *flaky, id int64) *checks.Result {
	t.Helper()
	run, err := s.Result(context.Background(), id)
	if err != nil {
		t.Fatalf("run %d: %v", id, err)
	}
	return run.Result
}

func TestRecorderGivesIDsAndWritesOneBatch(t *testing.T) {
	s, _ := newStore(t)
	rec, reg := newRecorder(t, s, history.Options{})
	var rs []*checks.Result
	for i := range 5 {
		r := result("a", t0.Add(time.Duration(i)*time.Second), 200, `{"v":1}`)
		record(rec, r)
		rs = append(rs, r)
	}
	for i, r := range rs {
		if r.ID != rs[0].ID+int64(i) || r.ID == 0 {
			t.Fatalf("ids %d..: run %d has id %d", rs[0].ID, i, r.ID)
		}
	}
	if n := metric(t, reg, "assay_history_pending_results"); n != 5 {
		t.Fatalf("pending = %v before the flush, want 5", n)
	}
	if err := rec.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(s.batches) != 1 || len(s.batches[0].Runs) != 5 {
		t.Fatalf("batches = %d, want one of 5 runs", len(s.batches))
	}
	got, _ := s.Results(context.Background(), "a", history.ResultQuery{})
	if len(got) != 5 || got[0].ID != rs[4].ID {
		t.Fatalf("stored %d runs, newest %d; want 5, newest %d", len(got), got[0].ID, rs[4].ID)
	}
}

// metric reads the value of a gauge or counter without labels.
func metric(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			m := mf.GetMetric()[0]
			if g := m.GetGauge(); g != nil {
				return g.GetValue()
			}
			return m.GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

func TestFailedRunKeepsEvidencePassingRunItsSummary(t *testing.T) {
	s, _ := newStore(t)
	rec, _ := newRecorder(t, s, history.Options{})
	pass := result("a", t0, 200, `{"v":"passing body"}`)
	fail := result("a", t0.Add(time.Minute), 500, `{"error":"failing body"}`)
	record(rec, pass)
	record(rec, fail)
	if err := rec.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	p := stored(t, s, pass.ID).Steps()[0]
	if p.Response == nil || p.Response.Status != 200 || p.Response.Body != "" || p.Response.Headers != nil || p.Request.Headers != nil ||
		p.Timings.Total != 12*time.Millisecond || p.Request.URL != "http://127.0.0.1/doc" {
		t.Fatalf("passing run stored as %+v / %+v", p, p.Response)
	}
	f := stored(t, s, fail.ID).Steps()[0]
	if f.Response.Body != `{"error":"failing body"}` || f.Response.Headers["Content-Type"][0] != "application/json" ||
		f.Request.Headers["Accept"][0] != "application/json" || len(f.Assertions) != 1 || f.Assertions[0].Actual != "500" {
		t.Fatalf("failed run stored without its evidence: %+v", f)
	}
	// The passing response is kept as the step's baseline.
	bl, err := s.Baseline(context.Background(), "a", "read")
	if err != nil || bl.RunID != pass.ID || bl.Response.Body != `{"v":"passing body"}` {
		t.Fatalf("baseline = %+v, %v", bl, err)
	}
	// Compact never changes the result the other sinks see.
	if pass.Steps()[0].Response.Body == "" {
		t.Fatal("Compact emptied the caller's result")
	}
}

// A failed step is diffed against the step's last passing response: from
// memory before the flush, from the store after a restart.
func TestFailureIsDiffedAgainstTheLastPassingResponse(t *testing.T) {
	s, _ := newStore(t)
	rec, _ := newRecorder(t, s, history.Options{})
	pass := result("a", t0, 200, `{"items":[{"price":10}]}`)
	record(rec, pass)
	fail := result("a", t0.Add(time.Minute), 500, `{"items":[{"price":"10"}]}`)
	record(rec, fail)
	d := fail.Steps()[0].Diff
	if d == nil || d.BaselineRunID != pass.ID || !d.BaselineTime.Equal(t0) || d.Status == nil || d.Status.From != "200" || d.Status.To != "500" {
		t.Fatalf("diff before the flush = %+v", d)
	}
	if got := strings.Join(d.Lines(0), "\n"); !strings.Contains(got, `$.items[0].price: 10 -> "10"`) {
		t.Fatalf("diff lines = %q", got)
	}
	if err := rec.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	// A new recorder on the same store (a restart) finds the baseline.
	rec2, _ := newRecorder(t, s, history.Options{})
	again := result("a", t0.Add(2*time.Minute), 500, `{"items":[]}`)
	record(rec2, again)
	if d := again.Steps()[0].Diff; d == nil || d.BaselineRunID != pass.ID || again.ID <= fail.ID {
		t.Fatalf("after a restart: id %d, diff %+v", again.ID, d)
	}
	// The stored failed run carries its diff.
	if err := rec2.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := stored(t, s, again.ID).Steps()[0].Diff; d == nil || d.BaselineRunID != pass.ID {
		t.Fatalf("stored diff = %+v", d)
	}
	// A check that never passed has nothing to diff against.
	never := result("b", t0, 500, `{}`)
	record(rec2, never)
	if never.Steps()[0].Diff != nil {
		t.Fatal("a step that never passed has a diff")
	}
}

// A baseline is written when the response changes, not on every run: a
// new Date header alone is not a change.
func TestBaselineWrittenOnlyWhenTheResponseChanges(t *testing.T) {
	s, _ := newStore(t)
	rec, _ := newRecorder(t, s, history.Options{})
	for i := range 5 {
		record(rec, result("a", t0.Add(time.Duration(i)*time.Minute), 200, `{"v":1}`))
	}
	record(rec, result("a", t0.Add(time.Hour), 200, `{"v":2}`))
	if err := rec.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := s.baselineWrites(); n != 1 {
		t.Fatalf("baseline writes = %d, want 1 (the newest, after two changes in one batch)", n)
	}
	bl, _ := s.Baseline(context.Background(), "a", "read")
	if bl.Response.Body != `{"v":2}` {
		t.Fatalf("baseline body = %s", bl.Response.Body)
	}
	for i := range 3 {
		record(rec, result("a", t0.Add(2*time.Hour+time.Duration(i)*time.Minute), 200, `{"v":2}`))
	}
	if err := rec.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := s.baselineWrites(); n != 1 {
		t.Fatalf("baseline writes after unchanged runs = %d, want still 1", n)
	}
}

// A store that fails keeps the runs pending and writes them, each once,
// when it works again: a failed batch is retried, not dropped.
func TestFailingStoreRetriesTheBatch(t *testing.T) {
	s, _ := newStore(t)
	rec, reg := newRecorder(t, s, history.Options{})
	s.set(2, 0)
	for i := range 3 {
		record(rec, result("a", t0.Add(time.Duration(i)*time.Second), 200, `{}`))
	}
	for range 2 {
		if err := rec.Flush(context.Background()); !errors.Is(err, errDiskFull) {
			t.Fatalf("flush on a full disk: %v", err)
		}
	}
	record(rec, result("a", t0.Add(time.Minute), 500, `{}`))
	if n := metric(t, reg, "assay_history_pending_results"); n != 4 {
		t.Fatalf("pending = %v while the store fails, want 4", n)
	}
	if err := rec.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Results(context.Background(), "a", history.ResultQuery{})
	if len(got) != 4 || got[0].Passed {
		t.Fatalf("stored %d runs after recovery, want 4 with the failed one newest", len(got))
	}
	if n := metric(t, reg, "assay_history_dropped_results_total"); n != 0 {
		t.Fatalf("dropped = %v", n)
	}
}

// While the store fails, the pending runs are bounded: the oldest go and
// are counted.
func TestPendingRunsAreBounded(t *testing.T) {
	s, _ := newStore(t)
	one, _ := history.EncodeRun(result("a", t0, 200, `{}`))
	rec, reg := newRecorder(t, s, history.Options{MaxPending: 10 * len(one)})
	s.set(1000, 0)
	for i := range 50 {
		record(rec, result("a", t0.Add(time.Duration(i)*time.Second), 200, `{}`))
		_ = rec.Flush(context.Background())
	}
	pending := metric(t, reg, "assay_history_pending_results")
	dropped := metric(t, reg, "assay_history_dropped_results_total")
	if pending > 11 || pending < 9 || pending+dropped != 50 {
		t.Fatalf("pending %v, dropped %v: want about 10 kept and the rest counted", pending, dropped)
	}
	s.set(0, 0)
	if err := rec.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Results(context.Background(), "a", history.ResultQuery{Limit: 100})
	if float64(len(got)) != pending || !got[0].Started.Equal(t0.Add(49*time.Second)) {
		t.Fatalf("stored %d runs, newest started %v; want the %v newest", len(got), got[0].Started, pending)
	}
}

// Without ids from the store, runs still record; the flush gives them ids.
func TestRunsWithoutReservedIDsGetThemAtTheFlush(t *testing.T) {
	s, _ := newStore(t)
	rec, _ := newRecorder(t, s, history.Options{})
	s.set(0, 1)
	r := result("a", t0, 500, `{}`)
	record(rec, r)
	if r.ID != 0 {
		t.Fatalf("id %d without a reservation", r.ID)
	}
	if err := rec.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, _ := s.Results(context.Background(), "a", history.ResultQuery{})
	if len(got) != 1 || got[0].ID == 0 {
		t.Fatalf("stored = %+v", got)
	}
}

// Run writes what is pending when it stops, and prunes by age and count.
func TestRunFlushesOnShutdownAndPrunes(t *testing.T) {
	s, _ := newStore(t)
	now := time.Now()
	rec, _ := newRecorder(t, s, history.Options{Retention: time.Hour, MaxPerCheck: 3, FlushInterval: 10 * time.Millisecond, RollUpInterval: 10 * time.Millisecond})
	rec.SetChecks([]*checks.Check{{Name: "a"}, {Name: "b"}})
	record(rec, result("old", now.Add(-2*time.Hour), 200, `{}`))
	for i := range 6 {
		record(rec, result("a", now.Add(time.Duration(i)*time.Second), 200, `{}`))
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rec.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		a, _ := s.Results(context.Background(), "a", history.ResultQuery{})
		old, _ := s.Results(context.Background(), "old", history.ResultQuery{})
		if len(a) == 3 && len(old) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not pruned within 10s: a keeps %d (want 3), old keeps %d (want 0)", len(a), len(old))
		}
		time.Sleep(10 * time.Millisecond) // polling a condition, bounded by the deadline
	}
	// Recorded just before the stop: written by the final flush.
	last := result("b", now, 200, `{}`)
	record(rec, last)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := s.Result(context.Background(), last.ID); err != nil {
		t.Fatalf("the last run was not written at shutdown: %v", err)
	}
}
