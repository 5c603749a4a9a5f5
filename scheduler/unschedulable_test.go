package scheduler_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/internal/clocktest"
	"github.com/assay-monitor/assay/scheduler"
	"github.com/robfig/cron/v3"
)

// scheduleFunc is a cron.Schedule of a test's own.
type scheduleFunc func(time.Time) time.Time

func (f scheduleFunc) Next(t time.Time) time.Time { return f(t) }

// syncBuffer is a log sink safe for the scheduler's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestScheduleWithoutAFutureTimeIsParkedNotSpun: a schedule whose Next is
// the zero time (robfig's answer for "0 0 30 2 *"), a time in the past,
// the time it was given, or a fixed moment that has gone by never makes
// the loop fire it again and again: the check is parked, logged once and
// counted, and a normal check beside it keeps its cadence; Stop returns.
func TestScheduleWithoutAFutureTimeIsParkedNotSpun(t *testing.T) {
	fixed := start.Add(2500 * time.Millisecond)
	custom := map[string]cron.Schedule{
		"zero":     scheduleFunc(func(time.Time) time.Time { return time.Time{} }),
		"past":     scheduleFunc(func(t time.Time) time.Time { return t.Add(-time.Hour) }),
		"same":     scheduleFunc(func(t time.Time) time.Time { return t }),
		"fixed":    scheduleFunc(func(time.Time) time.Time { return fixed }), // fires once, then has no future
		"no-delay": cron.ConstantDelaySchedule{Delay: 0},
	}
	parse := func(spec string) (cron.Schedule, error) {
		if s, ok := custom[spec]; ok {
			return s, nil
		}
		return checks.CronParser.Parse(spec)
	}
	clk := clocktest.New(start)
	rec := newRecorder(false)
	logs := &syncBuffer{}
	s := scheduler.New(scheduler.Options{Run: rec.run, Clock: clk, Observer: rec, Parse: parse,
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	cs := []*checks.Check{check("normal", "@every 1s"), check("feb-30", "0 0 30 2 *")}
	for spec := range custom {
		cs = append(cs, check(spec, spec))
	}
	s.Update(cs)
	s.Start()
	defer stop(t, s)

	// "fixed" fires once, at 2.5s; every other odd schedule never.
	var normal, fixedRuns int
	for i := 0; i < 10; i++ {
		// The last run has returned: a tick while it is still marked
		// in flight would be skipped as an overlap.
		await(t, "the runs to finish", func() bool { return s.State().Busy == 0 })
		advance(t, clk, time.Second)
		want := 1
		if i == 2 {
			want = 2 // the tick to 3s runs fixed (2.5s) and normal
		}
		for _, name := range waitN(t, rec.started, want) {
			switch name {
			case "normal":
				normal++
			case "fixed":
				fixedRuns++
			default:
				t.Fatalf("check %q ran", name)
			}
		}
	}
	if normal != 10 || fixedRuns != 1 {
		t.Errorf("normal ran %d times in 10s (want 10), fixed %d (want 1)", normal, fixedRuns)
	}
	if got := s.Unschedulable(); got != 6 {
		t.Errorf("Unschedulable() = %d, want 6 (feb-30, zero, past, same, no-delay, fixed)", got)
	}
	for _, name := range []string{"feb-30", "zero", "past", "same", "no-delay", "fixed"} {
		if next, ok := s.NextRun(name); ok {
			t.Errorf("%s: NextRun = %s, want none", name, next)
		}
		if n := strings.Count(logs.String(), "check="+name+" "); n != 1 {
			t.Errorf("%s logged %d times, want once:\n%s", name, n, logs.String())
		}
	}
	if next, ok := s.NextRun("normal"); !ok || !next.After(clk.Now()) {
		t.Errorf("normal: NextRun = %s %v, want after %s", next, ok, clk.Now())
	}
	// A reload that fixes the schedule plans the check again.
	fixedFeb := check("feb-30", "@every 1s")
	fixedFeb.Fingerprint = "fixed"
	s.Update(append(cs[:1:1], append([]*checks.Check{fixedFeb}, cs[2:]...)...))
	if _, ok := s.NextRun("feb-30"); !ok || s.Unschedulable() != 5 {
		t.Errorf("after a reload with a good schedule: scheduled=%v, unschedulable=%d (want 5)", ok, s.Unschedulable())
	}
}

// TestStopAbandonsRunsThatIgnoreCancellation: a run stuck in work that
// never looks at its context cannot hold Stop beyond the grace plus
// CancelWait.
func TestStopAbandonsRunsThatIgnoreCancellation(t *testing.T) {
	clk := clocktest.New(start)
	stuck := make(chan struct{})
	defer close(stuck)
	started := make(chan struct{}, 1)
	s := scheduler.New(scheduler.Options{Clock: clk, CancelWait: 50 * time.Millisecond,
		Run: func(context.Context, *checks.Check, time.Time) {
			started <- struct{}{}
			<-stuck // ignores its context
		}})
	s.Update([]*checks.Check{check("stuck", "@every 1s")})
	s.Start()
	advance(t, clk, time.Second)
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	begin := time.Now()
	err := s.Stop(ctx)
	if took := time.Since(begin); took > 2*time.Second {
		t.Errorf("Stop took %s with a run ignoring its context, want about 70ms", took)
	}
	if !errors.Is(err, scheduler.ErrAbandoned) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Stop = %v, want the deadline and ErrAbandoned", err)
	}
}
