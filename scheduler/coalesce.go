package scheduler

import (
	"container/heap"
	"time"

	"github.com/robfig/cron/v3"
)

// Runs are gathered into slots so that a mostly idle scheduler wakes once
// for several runs rather than once for each. Waking an idle Go process
// is most of what a paced run costs beyond the run itself (the timer, the
// runtime's idle Ms spinning and parking, a thread woken per request): 100
// checks every second, each at its own moment, cost about twice the CPU
// per run of the same checks fired back to back.
//
// A run fires at its spread time rounded up to the next multiple of the
// slot (on the Unix epoch's grid, so replicas and restarts agree): never
// before its spread time and less than one slot after it. Its planned
// start, against which lateness is measured and which RunFunc receives, is
// that slot boundary. A check's first run is the first such boundary after
// it is loaded (pullIn), so still within one interval of the load. The
// slot is as long as holds at most slotRuns runs at the scheduled rate
// (fewer when Options.Concurrency is lower), at most Options.Coalesce and
// a fifth of the shortest interval: with 100 runs a second it is 200 ms
// (about twenty runs in each), with 1,000 a second 20 ms, with 10,000 a
// second 2 ms. The longer the slot, the fewer the wake-ups, and the more
// runs start at once and queue for the CPU, which is lateness
// (BENCHMARKS.md, "Idle-paced checks", has the trade). A check whose
// interval is a multiple of the slot (any whole number of seconds: the
// sizes divide a second) keeps its period exactly; another's runs are
// apart by its interval give or take less than one slot.

// DefaultCoalesce is the longest slot unless Options.Coalesce says.
const DefaultCoalesce = 200 * time.Millisecond

// slotRuns is the most runs a slot holds at the scheduled rate.
const slotRuns = 24

// slotSizes are the slots the scheduler picks from, longest first: each
// divides a second, so that a slot boundary of an @every check stays on
// its grid run after run.
var slotSizes = []time.Duration{
	200 * time.Millisecond, 100 * time.Millisecond, 50 * time.Millisecond, 20 * time.Millisecond, 10 * time.Millisecond,
	5 * time.Millisecond, 2 * time.Millisecond, time.Millisecond,
}

// chooseSlot is the slot for the scheduled entries: the longest of
// slotSizes within limit and a fifth of the shortest interval that holds
// at most slotRuns (or Concurrency) runs at their rate; 0 (no slot) when
// limit is below the shortest size. s.mu is held.
func (s *Scheduler) chooseSlot() time.Duration {
	limit := s.opts.Coalesce
	perSlot := float64(min(slotRuns, s.opts.Concurrency))
	var rate float64 // runs per second
	shortest := time.Duration(0)
	for _, e := range s.entries {
		if e.parked || e.interval <= 0 {
			continue
		}
		rate += float64(time.Second) / float64(e.interval)
		if shortest == 0 || e.interval < shortest {
			shortest = e.interval
		}
	}
	if shortest > 0 {
		limit = min(limit, shortest/5)
	}
	for _, d := range slotSizes {
		if d <= limit && rate*d.Seconds() <= perSlot {
			return d
		}
	}
	if limit >= slotSizes[len(slotSizes)-1] {
		return slotSizes[len(slotSizes)-1]
	}
	return 0
}

// fireAt is when a run due at t fires: t rounded up to the slot.
func fireAt(t time.Time, slot time.Duration) time.Time {
	if slot <= 0 {
		return t
	}
	f := t.Truncate(slot)
	if f.Before(t) {
		f = f.Add(slot)
	}
	return f
}

// pullIn moves a newly planned @every entry's first run one interval
// earlier when that earlier spread time's slot boundary is still ahead of
// now: rounded up to the slot, a spread time just before now would
// otherwise first fire one interval and part of a slot after now, and a
// check's first run is within one interval of its load. s.mu is held.
func (s *Scheduler) pullIn(e *entry, now time.Time) {
	c, ok := e.schedule.(cron.ConstantDelaySchedule)
	if !ok || e.parked || e.index < 0 || s.slot <= 0 || c.Delay <= 0 {
		return
	}
	earlier := e.next.Add(-c.Delay)
	if !fireAt(earlier, s.slot).After(now) {
		return
	}
	e.next = earlier
	s.startFair(e, earlier, now)
	heap.Fix(&s.queue, e.index)
}
