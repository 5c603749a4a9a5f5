package scheduler_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/internal/clocktest"
	"github.com/assay-monitor/assay/scheduler"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var start = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

func check(name, schedule string) *checks.Check {
	return &checks.Check{Name: name, Schedule: schedule, Timeout: checks.Duration(10 * time.Second),
		Fingerprint: name + "|" + schedule}
}

func manyChecks(n int, schedule string) []*checks.Check {
	cs := make([]*checks.Check, n)
	for i := range cs {
		cs[i] = check(fmt.Sprintf("check-%05d", i), schedule)
	}
	return cs
}

// recorder collects runs and scheduling events.
type recorder struct {
	mu       sync.Mutex
	runs     map[string]int
	inflight int
	maxIn    int
	skipped  map[string]int
	late     []time.Duration
	started  chan string
	skips    chan string
	release  chan struct{} // nil: runs return at once
}

func newRecorder(block bool) *recorder {
	r := &recorder{runs: map[string]int{}, skipped: map[string]int{},
		started: make(chan string, 100000), skips: make(chan string, 1000)}
	if block {
		r.release = make(chan struct{})
	}
	return r
}

func (r *recorder) run(ctx context.Context, c *checks.Check, _ time.Time) {
	r.mu.Lock()
	r.runs[c.Name]++
	r.inflight++
	r.maxIn = max(r.maxIn, r.inflight)
	r.mu.Unlock()
	r.started <- c.Name
	if r.release != nil {
		select {
		case <-r.release:
		case <-ctx.Done():
		}
	}
	r.mu.Lock()
	r.inflight--
	r.mu.Unlock()
}

func (r *recorder) Lateness(_ string, d time.Duration) {
	r.mu.Lock()
	r.late = append(r.late, d)
	r.mu.Unlock()
}

func (r *recorder) Skipped(name string) {
	r.mu.Lock()
	r.skipped[name]++
	r.mu.Unlock()
	r.skips <- name
}

func waitN(t *testing.T, ch <-chan string, n int) []string {
	t.Helper()
	var got []string
	deadline := time.After(10 * time.Second)
	for len(got) < n {
		select {
		case name := <-ch:
			got = append(got, name)
		case <-deadline:
			t.Fatalf("waited for %d events, got %d", n, len(got))
		}
	}
	return got
}

// advance moves the manual clock once the scheduler sleeps on it: moved
// while the loop is between reading the time and arming its timer, the
// timer would be armed one step late and the step's runs missed.
func advance(t *testing.T, clk *clocktest.Clock, d time.Duration) {
	t.Helper()
	await(t, "the scheduler to sleep", func() bool { return clk.Waiting() == 1 })
	clk.Advance(d)
}

func stop(t *testing.T, s *scheduler.Scheduler) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		t.Fatalf("stop: %v", err)
	}
}

func TestFirstRunsAreSpreadOverTheInterval(t *testing.T) {
	clk := clocktest.New(start)
	s := scheduler.New(scheduler.Options{Run: newRecorder(false).run, Clock: clk})
	cs := manyChecks(6000, "@every 1m")
	s.Update(cs)
	buckets := make([]int, 60)
	for _, c := range cs {
		next, ok := s.NextRun(c.Name)
		if !ok {
			t.Fatalf("%s not scheduled", c.Name)
		}
		if !next.After(start) || next.After(start.Add(time.Minute)) {
			t.Fatalf("%s first runs at %s, not within one interval of %s", c.Name, next, start)
		}
		buckets[int(next.Sub(start)/time.Second)%60]++
	}
	// 6000 checks over 60 one-second buckets: 100 expected in each.
	for i, n := range buckets {
		if n < 50 || n > 150 {
			t.Errorf("second %d holds %d first runs, want about 100: not spread", i, n)
		}
	}
	// Deterministic: another scheduler (a restart, a replica) picks the
	// same phase for the same check.
	s2 := scheduler.New(scheduler.Options{Run: newRecorder(false).run, Clock: clocktest.New(start.Add(17 * time.Second))})
	s2.Update(cs[:10])
	for _, c := range cs[:10] {
		a, _ := s.NextRun(c.Name)
		b, _ := s2.NextRun(c.Name)
		if a.Sub(start)%time.Minute != b.Sub(start)%time.Minute {
			t.Errorf("%s: phase %s in one scheduler, %s in the other", c.Name, a.Sub(start)%time.Minute, b.Sub(start)%time.Minute)
		}
	}
}

func TestEveryCheckRunsOnceWithinOneInterval(t *testing.T) {
	clk := clocktest.New(start)
	rec := newRecorder(false)
	s := scheduler.New(scheduler.Options{Run: rec.run, Clock: clk, Observer: rec})
	s.Update(manyChecks(1000, "@every 1m"))
	s.Start()
	defer stop(t, s)
	advance(t, clk, time.Minute)
	waitN(t, rec.started, 1000)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for name, n := range rec.runs {
		if n != 1 {
			t.Errorf("%s ran %d times in its first interval", name, n)
		}
	}
	if len(rec.runs) != 1000 {
		t.Errorf("%d distinct checks ran, want 1000", len(rec.runs))
	}
}

func TestCronSpecAndTimeZone(t *testing.T) {
	clk := clocktest.New(start) // 12:00 UTC = 21:00 in Tokyo
	s := scheduler.New(scheduler.Options{Run: newRecorder(false).run, Clock: clk})
	s.Update([]*checks.Check{check("tokyo-morning", "CRON_TZ=Asia/Tokyo 0 9 * * *"), check("hourly", "@hourly")})
	next, _ := s.NextRun("tokyo-morning")
	want := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC) // 09:00 JST
	if next.Before(want) || next.After(want.Add(time.Minute)) {
		t.Errorf("tokyo-morning next run %s, want within a minute after %s", next, want)
	}
	// 12:00 exactly: the 12:00 run, delayed by the check's spread, is
	// still ahead.
	next, _ = s.NextRun("hourly")
	if !next.After(start) || next.After(start.Add(time.Minute)) {
		t.Errorf("hourly next run %s, want within a minute after 12:00", next)
	}
}

func TestARunNeverOverlapsItsPrevious(t *testing.T) {
	clk := clocktest.New(start)
	rec := newRecorder(true)
	s := scheduler.New(scheduler.Options{Run: rec.run, Clock: clk, Observer: rec})
	s.Update([]*checks.Check{check("slow", "@every 1s")})
	s.Start()
	defer stop(t, s)
	advance(t, clk, time.Second)
	waitN(t, rec.started, 1)
	advance(t, clk, time.Second)
	waitN(t, rec.skips, 1)
	advance(t, clk, time.Second)
	waitN(t, rec.skips, 1)
	rec.mu.Lock()
	runs, skipped, maxIn := rec.runs["slow"], rec.skipped["slow"], rec.maxIn
	rec.mu.Unlock()
	if runs != 1 || skipped != 2 || maxIn != 1 {
		t.Errorf("runs=%d skipped=%d max in flight=%d, want 1, 2, 1", runs, skipped, maxIn)
	}
	close(rec.release)
}

func TestConcurrencyLimit(t *testing.T) {
	clk := clocktest.New(start)
	rec := newRecorder(true)
	s := scheduler.New(scheduler.Options{Run: rec.run, Clock: clk, Observer: rec, Concurrency: 3})
	s.Update(manyChecks(10, "@every 1m"))
	s.Start()
	defer stop(t, s)
	advance(t, clk, time.Minute)
	waitN(t, rec.started, 3)
	// Each release lets exactly one waiting run in.
	for i := 0; i < 7; i++ {
		rec.release <- struct{}{}
		waitN(t, rec.started, 1)
	}
	close(rec.release)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.maxIn != 3 {
		t.Errorf("max runs in flight %d, want 3", rec.maxIn)
	}
	if len(rec.runs) != 10 {
		t.Errorf("%d checks ran, want 10", len(rec.runs))
	}
	// Runs that waited for a worker report it as lateness.
	if len(rec.late) != 10 {
		t.Errorf("%d lateness observations, want 10", len(rec.late))
	}
}

func TestRunContextCarriesTheCheckDeadline(t *testing.T) {
	rec := newRecorder(true)
	var got error
	var deadline time.Duration
	done := make(chan struct{})
	s := scheduler.New(scheduler.Options{Concurrency: 1, Run: func(ctx context.Context, c *checks.Check, p time.Time) {
		d, _ := ctx.Deadline()
		deadline = time.Until(d)
		rec.run(ctx, c, p) // blocks until the deadline
		got = ctx.Err()
		close(done)
	}})
	c := check("hangs", "@every 1s")
	c.Timeout = checks.Duration(50 * time.Millisecond)
	s.Update([]*checks.Check{c})
	s.Start()
	<-done
	stop(t, s)
	if !errors.Is(got, context.DeadlineExceeded) {
		t.Errorf("run context ended with %v, want deadline exceeded", got)
	}
	if want := scheduler.RunDeadline(c); deadline > want || deadline < want-time.Second {
		t.Errorf("deadline %s away, want about %s", deadline, want)
	}
}

func TestUpdateIsADiff(t *testing.T) {
	clk := clocktest.New(start)
	s := scheduler.New(scheduler.Options{Run: newRecorder(false).run, Clock: clk})
	a, b, c := check("a", "@every 1m"), check("b", "@every 1m"), check("c", "@every 1m")
	s.Update([]*checks.Check{a, b, c})
	nextA, _ := s.NextRun("a")
	clk.Advance(10 * time.Second)

	b2 := check("b", "@every 5m")
	d := check("d", "@every 1m")
	diff := s.Update([]*checks.Check{check("a", "@every 1m"), b2, d})
	if fmt.Sprint(diff.Unchanged, diff.Changed, diff.Added, diff.Removed) != "[a] [b] [d] [c]" {
		t.Errorf("diff = unchanged %v changed %v added %v removed %v", diff.Unchanged, diff.Changed, diff.Added, diff.Removed)
	}
	if n, _ := s.NextRun("a"); !n.Equal(nextA) {
		t.Errorf("unchanged check a moved from %s to %s", nextA, n)
	}
	if n, _ := s.NextRun("b"); n.Sub(clk.Now()) > 5*time.Minute || n.Sub(clk.Now()) <= 0 {
		t.Errorf("changed check b next run %s, want within 5m of %s", n, clk.Now())
	}
	if _, ok := s.NextRun("c"); ok {
		t.Error("removed check c is still scheduled")
	}
	if s.Len() != 3 {
		t.Errorf("%d checks scheduled, want 3", s.Len())
	}
}

func TestChangedCheckInFlightIsNotOverlapped(t *testing.T) {
	clk := clocktest.New(start)
	rec := newRecorder(true)
	s := scheduler.New(scheduler.Options{Run: rec.run, Clock: clk, Observer: rec})
	s.Update([]*checks.Check{check("x", "@every 1s")})
	s.Start()
	defer stop(t, s)
	advance(t, clk, time.Second)
	waitN(t, rec.started, 1)
	changed := check("x", "@every 1s")
	changed.Fingerprint = "new"
	s.Update([]*checks.Check{changed})
	advance(t, clk, time.Second)
	waitN(t, rec.skips, 1)
	close(rec.release)
}

func TestStopWaitsForRunsInFlight(t *testing.T) {
	clk := clocktest.New(start)
	rec := newRecorder(true)
	s := scheduler.New(scheduler.Options{Run: rec.run, Clock: clk})
	s.Update([]*checks.Check{check("x", "@every 1s")})
	s.Start()
	advance(t, clk, time.Second)
	waitN(t, rec.started, 1)

	stopped := make(chan error, 1)
	go func() { stopped <- s.Stop(context.Background()) }()
	select {
	case <-stopped:
		t.Fatal("Stop returned while a run was in flight")
	case <-time.After(50 * time.Millisecond):
	}
	if s.Running() {
		t.Error("scheduler still reports running after Stop began")
	}
	close(rec.release)
	if err := <-stopped; err != nil {
		t.Errorf("Stop: %v", err)
	}
	// No new run starts after Stop.
	clk.Advance(time.Minute)
	select {
	case name := <-rec.started:
		t.Errorf("run of %s started after Stop", name)
	default:
	}
}

func TestStopCancelsRunsAfterTheGrace(t *testing.T) {
	clk := clocktest.New(start)
	rec := newRecorder(true)
	s := scheduler.New(scheduler.Options{Run: rec.run, Clock: clk})
	s.Update([]*checks.Check{check("x", "@every 1s")})
	s.Start()
	advance(t, clk, time.Second)
	waitN(t, rec.started, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := s.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Stop after grace = %v, want deadline exceeded", err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.inflight != 0 {
		t.Errorf("%d runs still in flight after Stop returned", rec.inflight)
	}
}

// TestSpreadIsEvenForNamesThatDifferInTheirLastCharacters: checks named
// in a sequence are spread over the interval like any others, not in
// clusters.
func TestSpreadIsEvenForNamesThatDifferInTheirLastCharacters(t *testing.T) {
	s := scheduler.New(scheduler.Options{Run: newRecorder(false).run, Clock: clocktest.New(start), Coalesce: -1})
	cs := manyChecks(100, "@every 1s")
	s.Update(cs)
	millis := map[time.Duration]bool{}
	tenths := make([]int, 10)
	for _, c := range cs {
		next, _ := s.NextRun(c.Name)
		off := next.Sub(start) % time.Second
		millis[off.Truncate(time.Millisecond)] = true
		tenths[off/(100*time.Millisecond)]++
	}
	// 100 random offsets fall on about 95 distinct milliseconds and
	// about 10 in each tenth of the second.
	if len(millis) < 85 {
		t.Errorf("100 checks start on %d distinct milliseconds, want at least 85", len(millis))
	}
	for i, n := range tenths {
		if n < 3 || n > 20 {
			t.Errorf("tenth %d of the second holds %d of 100 checks, want about 10: %v", i, n, tenths)
			break
		}
	}
}
