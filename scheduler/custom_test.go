package scheduler_test

import (
	"sync"
	"testing"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/internal/clocktest"
	"github.com/assay-monitor/assay/scheduler"
	"github.com/robfig/cron/v3"
)

// deadlineSchedule fires at a deadline the test moves, then every period.
type deadlineSchedule struct {
	mu     sync.Mutex
	at     time.Time
	period time.Duration
}

func (d *deadlineSchedule) set(at time.Time) {
	d.mu.Lock()
	d.at = at
	d.mu.Unlock()
}

func (d *deadlineSchedule) Next(t time.Time) time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.at.After(t) {
		return d.at
	}
	return d.at.Add((t.Sub(d.at)/d.period + 1) * d.period)
}

func customScheduler(rec *recorder, clk *clocktest.Clock, sched *deadlineSchedule) *scheduler.Scheduler {
	return scheduler.New(scheduler.Options{Run: rec.run, Clock: clk, Observer: rec,
		Custom: func(c *checks.Check) cron.Schedule {
			if c.Name == "job" {
				return sched
			}
			return nil
		}})
}

// A custom schedule runs at exactly the times it yields (not spread over
// its interval as cron schedules are), and Trigger runs it at once,
// after which it follows the schedule again.
func TestCustomScheduleAndTrigger(t *testing.T) {
	clk := clocktest.New(start)
	rec := newRecorder(false)
	sched := &deadlineSchedule{at: start.Add(4 * time.Second), period: 3 * time.Second}
	s := customScheduler(rec, clk, sched)
	s.Update([]*checks.Check{check("job", "@every 3s"), check("http", "@every 1m")})
	if next, _ := s.NextRun("job"); !next.Equal(start.Add(4 * time.Second)) {
		t.Fatalf("first run at %s, want the deadline %s", next, start.Add(4*time.Second))
	}
	if s.Trigger("http") || s.Trigger("nope") {
		t.Error("Trigger ran a cron-scheduled or unknown check")
	}
	s.Start()
	defer stop(t, s)
	advance(t, clk, 4*time.Second)
	waitN(t, rec.started, 1)
	if next, _ := s.NextRun("job"); !next.Equal(start.Add(7 * time.Second)) {
		t.Errorf("after the deadline, next run at %s, want one period later", next)
	}
	// A ping: the deadline moves and the check runs now, with no time
	// passing.
	await(t, "the run to end", func() bool { return s.State().Busy == 0 })
	sched.set(clk.Now().Add(4 * time.Second))
	if !s.Trigger("job") {
		t.Fatal("Trigger refused a custom-scheduled check")
	}
	if got := waitN(t, rec.started, 1); got[0] != "job" {
		t.Fatalf("triggered run of %v", got)
	}
	if next, _ := s.NextRun("job"); !next.Equal(start.Add(8 * time.Second)) {
		t.Errorf("after the trigger, next run at %s, want the new deadline %s", next, start.Add(8*time.Second))
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.runs["job"] != 2 {
		t.Errorf("job ran %d times, want 2", rec.runs["job"])
	}
}

// A Trigger while the check runs is not lost (a failure ping must be
// judged even when it lands during the run of the ping before it): one
// more run follows at once.
func TestTriggerDuringARunRunsAgain(t *testing.T) {
	clk := clocktest.New(start)
	rec := newRecorder(true)
	sched := &deadlineSchedule{at: start.Add(time.Hour), period: time.Hour}
	s := customScheduler(rec, clk, sched)
	s.Update([]*checks.Check{check("job", "@every 1h")})
	s.Start()
	defer stop(t, s)
	s.Trigger("job")
	waitN(t, rec.started, 1)
	s.Trigger("job")
	s.Trigger("job") // coalesced with the one before
	rec.release <- struct{}{}
	waitN(t, rec.started, 1)
	rec.release <- struct{}{}
	await(t, "the runs to end", func() bool { return s.State().Busy == 0 })
	select {
	case name := <-rec.started:
		t.Errorf("a third run of %s: triggers during one run should make one more", name)
	default:
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.skipped["job"] != 0 {
		t.Errorf("runs skipped: %v", rec.skipped)
	}
}

// A deadline of a custom schedule that comes while the check still runs
// is not skipped as a cron run would be: it runs when that run ends.
func TestCustomDeadlineDuringARunRunsAfterIt(t *testing.T) {
	clk := clocktest.New(start)
	rec := newRecorder(true)
	sched := &deadlineSchedule{at: start.Add(2 * time.Second), period: time.Hour}
	s := customScheduler(rec, clk, sched)
	s.Update([]*checks.Check{check("job", "@every 1h")})
	s.Start()
	defer stop(t, s)
	s.Trigger("job")
	waitN(t, rec.started, 1)
	advance(t, clk, 2*time.Second) // the deadline, while the triggered run holds
	await(t, "the deadline seen", func() bool { return s.State().Busy == 1 && clk.Waiting() == 1 })
	rec.release <- struct{}{}
	waitN(t, rec.started, 1)
	rec.release <- struct{}{}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.skipped["job"] != 0 || rec.runs["job"] != 2 {
		t.Errorf("runs %d, skipped %d; want the deadline run after the triggered one", rec.runs["job"], rec.skipped["job"])
	}
}
