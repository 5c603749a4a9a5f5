package scheduler_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/internal/clocktest"
	"github.com/assay-monitor/assay/scheduler"
)

// wakeClock is a manual clock that counts how often the scheduler arms
// its timer: once each time it goes back to sleep, so once per wake-up.
type wakeClock struct {
	*clocktest.Clock
	arms atomic.Int64
}

func (c *wakeClock) NewTimer(d time.Duration) scheduler.Timer {
	return &wakeTimer{Timer: c.Clock.NewTimer(d), c: c}
}

type wakeTimer struct {
	scheduler.Timer
	c *wakeClock
}

func (t *wakeTimer) Reset(d time.Duration) {
	t.c.arms.Add(1)
	t.Timer.Reset(d)
}

// startLog records when each run started (on the manual clock) and the
// planned start it was given.
type startLog struct {
	clk     scheduler.Clock
	mu      sync.Mutex
	starts  map[string][]time.Time
	planned map[string][]time.Time
	late    []time.Duration
	n       atomic.Int64
}

func newStartLog(clk scheduler.Clock) *startLog {
	return &startLog{clk: clk, starts: map[string][]time.Time{}, planned: map[string][]time.Time{}}
}

func (l *startLog) run(_ context.Context, c *checks.Check, planned time.Time) {
	now := l.clk.Now()
	l.mu.Lock()
	l.starts[c.Name] = append(l.starts[c.Name], now)
	l.planned[c.Name] = append(l.planned[c.Name], planned)
	l.mu.Unlock()
	l.n.Add(1)
}

func (l *startLog) Lateness(_ string, d time.Duration) {
	l.mu.Lock()
	l.late = append(l.late, d)
	l.mu.Unlock()
}

func (l *startLog) Skipped(string) {}

// step advances the clock in steps until it has moved by total; before
// each step, the scheduler has fired what is due and every run it fired
// has returned.
func step(t *testing.T, s *scheduler.Scheduler, clk *wakeClock, log *startLog, total, by time.Duration) {
	t.Helper()
	for moved := time.Duration(0); moved < total; moved += by {
		clk.Advance(by)
		await(t, "the step's runs to return", func() bool {
			// The timer first: re-armed, the loop has fired the step's
			// runs, so the state read after it counts them.
			if clk.Waiting() != 1 {
				return false
			}
			st := s.State()
			return st.Enqueued == uint64(log.n.Load()) && st.Busy == 0
		})
	}
}

// TestRunsDueWithinASlotFireInOneWakeUp: 100 checks every second, each at
// its own spread time, wake the scheduler once per 200 ms slot rather
// than once per run; without coalescing, once per run.
func TestRunsDueWithinASlotFireInOneWakeUp(t *testing.T) {
	for _, tc := range []struct {
		name             string
		coalesce         time.Duration
		minArms, maxArms int64
	}{
		// Two seconds of five slots each, about 20 runs in every one.
		{"coalesced", 0, 10, 12},
		// One wake-up per distinct spread time: nearly one per run.
		{"off", -1, 150, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := &wakeClock{Clock: clocktest.New(start)}
			log := newStartLog(clk)
			s := scheduler.New(scheduler.Options{Run: log.run, Observer: log, Clock: clk, Coalesce: tc.coalesce})
			s.Update(manyChecks(100, "@every 1s"))
			s.Start()
			defer stop(t, s)
			await(t, "the scheduler to sleep", func() bool { return clk.Waiting() == 1 })
			clk.arms.Store(0)
			step(t, s, clk, log, 2*time.Second, time.Millisecond)
			await(t, "200 runs", func() bool { return log.n.Load() == 200 })
			if arms := clk.arms.Load(); arms < tc.minArms || arms > tc.maxArms {
				t.Errorf("the scheduler woke %d times for 200 runs, want %d to %d", arms, tc.minArms, tc.maxArms)
			}
			if tc.coalesce == 0 {
				if got := s.Slot(); got != 200*time.Millisecond {
					t.Errorf("slot %s, want 200ms at 100 runs a second", got)
				}
				log.mu.Lock()
				defer log.mu.Unlock()
				for name, ts := range log.starts {
					for _, ts := range ts {
						if ts.Sub(start)%(200*time.Millisecond) != 0 {
							t.Errorf("%s started at %s, not on a slot boundary", name, ts.Sub(start))
						}
					}
				}
			}
		})
	}
}

// TestNoRunStartsBeforeItsSpreadTime: a coalesced run starts at or after
// the time the check's spread gives it (what a scheduler without
// coalescing picks), less than one slot later, and its planned start
// (what lateness is measured from) is that slot's boundary.
func TestNoRunStartsBeforeItsSpreadTime(t *testing.T) {
	const by = 7 * time.Millisecond // steps that straddle slot boundaries
	cs := manyChecks(500, "@every 10s")
	exact := scheduler.New(scheduler.Options{Run: newRecorder(false).run, Clock: clocktest.New(start), Coalesce: -1})
	exact.Update(cs)
	clk := &wakeClock{Clock: clocktest.New(start)}
	log := newStartLog(clk)
	s := scheduler.New(scheduler.Options{Run: log.run, Observer: log, Clock: clk})
	s.Update(cs)
	slot := s.Slot()
	if slot != 200*time.Millisecond {
		t.Fatalf("slot %s, want 200ms at 50 runs a second", slot)
	}
	s.Start()
	defer stop(t, s)
	await(t, "the scheduler to sleep", func() bool { return clk.Waiting() == 1 })
	step(t, s, clk, log, 10*time.Second, by)
	await(t, "500 runs", func() bool { return log.n.Load() == 500 })
	log.mu.Lock()
	defer log.mu.Unlock()
	for _, c := range cs {
		spread, _ := exact.NextRun(c.Name)
		if len(log.starts[c.Name]) != 1 {
			t.Fatalf("%s ran %d times in its first interval", c.Name, len(log.starts[c.Name]))
		}
		began, planned := log.starts[c.Name][0], log.planned[c.Name][0]
		if began.Before(spread) {
			t.Errorf("%s started at %s, before its spread time %s", c.Name, began.Sub(start), spread.Sub(start))
		}
		if planned.Before(spread) || planned.Sub(spread) >= slot || planned.Sub(start)%slot != 0 {
			t.Errorf("%s planned at %s for spread time %s: want the next slot boundary", c.Name, planned.Sub(start), spread.Sub(start))
		}
		if began.Sub(planned) >= by {
			t.Errorf("%s started %s after its slot, want within one clock step", c.Name, began.Sub(planned))
		}
	}
	for _, d := range log.late {
		if d < 0 || d >= by {
			t.Errorf("lateness %s, want [0, %s): measured from the slot", d, by)
		}
	}
}

// TestTheSlotHoldsAtMost24Runs: the slot shrinks as the scheduled
// rate grows, so that a slot's runs start together without waiting for
// a worker (it holds no more runs than there are workers), and never
// exceeds Options.Coalesce or a fifth of the shortest interval.
func TestTheSlotHoldsAtMost24Runs(t *testing.T) {
	for _, tc := range []struct {
		checks      []*checks.Check
		coalesce    time.Duration
		want        time.Duration
		concurrency int
	}{
		{manyChecks(1, "@every 1m"), 0, 200 * time.Millisecond, 0},
		{manyChecks(100, "@every 1s"), 0, 200 * time.Millisecond, 0},
		{manyChecks(300, "@every 1s"), 0, 50 * time.Millisecond, 0},
		{manyChecks(1000, "@every 1s"), 0, 20 * time.Millisecond, 0},
		{manyChecks(2000, "@every 1s"), 0, 10 * time.Millisecond, 0},
		{manyChecks(10000, "@every 10s"), 0, 20 * time.Millisecond, 0},
		{manyChecks(10000, "@every 1s"), 0, 2 * time.Millisecond, 0},
		// Above 24,000 runs a second, the shortest slot all the same.
		{manyChecks(50000, "@every 1s"), 0, time.Millisecond, 0},
		// Rates add up: 6,000 a minute and one every second are 101/s.
		{append(manyChecks(6000, "@every 1m"), check("fast", "@every 1s")), 0, 200 * time.Millisecond, 0},
		{manyChecks(6000, "@every 1m"), 0, 200 * time.Millisecond, 0},
		{manyChecks(100, "@every 1s"), 20 * time.Millisecond, 20 * time.Millisecond, 0},
		{manyChecks(100, "@every 1s"), -1, 0, 0},
		{nil, 0, 200 * time.Millisecond, 0},
		// Three workers: about three runs a slot at most.
		{manyChecks(100, "@every 1s"), 0, 20 * time.Millisecond, 3},
		{manyChecks(100, "@every 1s"), 0, 10 * time.Millisecond, 1},
		// robfig's shortest interval is a second, and the longest slot
		// a fifth of it, whatever Options.Coalesce allows.
		{manyChecks(10, "@every 300ms"), time.Second, 200 * time.Millisecond, 0},
	} {
		name := fmt.Sprintf("%d_checks_coalesce_%s_concurrency_%d", len(tc.checks), tc.coalesce, tc.concurrency)
		if len(tc.checks) > 0 {
			name += "_" + tc.checks[len(tc.checks)-1].Schedule
		}
		t.Run(name, func(t *testing.T) {
			s := scheduler.New(scheduler.Options{Run: newRecorder(false).run, Clock: clocktest.New(start),
				Coalesce: tc.coalesce, Concurrency: tc.concurrency})
			s.Update(tc.checks)
			if got := s.Slot(); got != tc.want {
				t.Errorf("slot %s, want %s", got, tc.want)
			}
		})
	}
}

// TestCoalescedRunsKeepTheConcurrencyLimit: a slot holding more runs than
// the limit starts only as many; the others wait for a worker.
func TestCoalescedRunsKeepTheConcurrencyLimit(t *testing.T) {
	clk := clocktest.New(start)
	rec := newRecorder(true)
	s := scheduler.New(scheduler.Options{Run: rec.run, Clock: clk, Observer: rec, Concurrency: 3})
	cs := manyChecks(200, "@every 1s")
	s.Update(cs)
	slot := s.Slot()
	// The first slot boundary with more runs than the limit.
	bySlot := map[time.Time]int{}
	for _, c := range cs {
		next, _ := s.NextRun(c.Name)
		bySlot[next]++
	}
	var first time.Time
	for at, n := range bySlot {
		if n > 3 && (first.IsZero() || at.Before(first)) {
			first = at
		}
	}
	if first.IsZero() {
		t.Fatalf("no %s slot holds more than 3 of 200 runs", slot)
	}
	due := 0
	for at, n := range bySlot {
		if !at.After(first) {
			due += n
		}
	}
	s.Start()
	defer stop(t, s)
	advance(t, clk, first.Sub(clk.Now()))
	waitN(t, rec.started, 3)
	for i := 3; i < due; i++ {
		rec.release <- struct{}{}
		waitN(t, rec.started, 1)
	}
	close(rec.release)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.maxIn != 3 {
		t.Errorf("max runs in flight %d, want 3", rec.maxIn)
	}
	if len(rec.runs) != due {
		t.Errorf("%d checks ran, want the %d due by %s", len(rec.runs), due, first.Sub(start))
	}
}

// TestAFirstRunIsWithinOneIntervalOfLoadingOnASlotBoundary: checks loaded
// at any moment first fire within one interval, on a slot boundary after
// the load: a spread time just before the load whose slot boundary is
// still ahead fires at that boundary, not one interval and a slot later.
func TestAFirstRunIsWithinOneIntervalOfLoadingOnASlotBoundary(t *testing.T) {
	cs := manyChecks(100, "@every 1s")
	pulled := 0
	for k := range 40 {
		now := start.Add(time.Duration(k) * 37 * time.Millisecond)
		s := scheduler.New(scheduler.Options{Run: newRecorder(false).run, Clock: clocktest.New(now)})
		exact := scheduler.New(scheduler.Options{Run: newRecorder(false).run, Clock: clocktest.New(now), Coalesce: -1})
		s.Update(cs)
		exact.Update(cs)
		slot := s.Slot()
		for _, c := range cs {
			next, _ := s.NextRun(c.Name)
			spread, _ := exact.NextRun(c.Name)
			if !next.After(now) || next.Sub(now) > time.Second || next.Sub(start)%slot != 0 {
				t.Fatalf("loaded at +%s, %s first fires at +%s: want a %s boundary in (load, load+1s]",
					now.Sub(start), c.Name, next.Sub(start), slot)
			}
			// Never before the spread time it stands for, this interval's
			// or the one before.
			if d := next.Sub(spread); !(d >= 0 && d < slot) && !(d >= -time.Second && d < slot-time.Second) {
				t.Fatalf("loaded at +%s, %s first fires at +%s for spread time +%s", now.Sub(start), c.Name, next.Sub(start), spread.Sub(start))
			}
			if next.Before(spread) {
				pulled++
			}
		}
	}
	if pulled == 0 {
		t.Errorf("no first run was pulled in to the slot boundary ahead of its load")
	}
}
