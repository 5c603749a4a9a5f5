// Package scheduler runs checks on their cron schedules. Schedules are
// parsed by robfig/cron; the run loop is a single min-heap of next fire
// times, so that 10,000 checks cost one timer and O(log N) per run instead
// of a sort of every entry on every tick. Checks that share an interval are
// spread over it by a hash of their name, and runs due close together
// fire in one wake-up (see coalesce.go); a check never overlaps its own
// previous run; a global limit bounds runs in flight, and runs waiting for
// a worker are served fairly (see fairness.go). A schedule that yields no
// future time is parked, never fired in a loop.
package scheduler

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/robfig/cron/v3"
)

// RunFunc executes one run of a check. ctx carries the run's deadline and
// is cancelled when the scheduler stops after its grace period.
type RunFunc func(ctx context.Context, c *checks.Check, planned time.Time)

// Observer is told about scheduling events (metrics implement it).
type Observer interface {
	// Lateness is the actual start of a run minus its planned start (the
	// boundary of its slot, coalesce.go), including time spent waiting
	// for a worker.
	Lateness(check string, d time.Duration)
	// Skipped counts a run not started because the previous one of the
	// same check was still in flight.
	Skipped(check string)
}

// Options configure a Scheduler.
type Options struct {
	Run         RunFunc
	Observer    Observer
	Clock       Clock // nil: the wall clock
	Concurrency int   // runs in flight at most; <= 0: 256
	Logger      *slog.Logger
	// Parse turns a check's schedule into a cron.Schedule; nil means
	// checks.CronParser.Parse. Tests give schedules of their own.
	Parse func(spec string) (cron.Schedule, error)
	// CancelWait bounds how long Stop waits for runs to return after it
	// cancelled them; a run that ignores its context longer is abandoned
	// (<= 0: 1s).
	CancelWait time.Duration
	// Coalesce is the longest slot that runs due close together are
	// gathered into (coalesce.go); 0 means DefaultCoalesce, and a
	// negative value fires every run at its own spread time.
	Coalesce time.Duration
	// Custom, if set, may give a check a schedule of its own instead of
	// its cron spec (a heartbeat check's deadlines): when it returns one,
	// the check runs at the times it yields, not spread, and Trigger can
	// run it at once. It is asked again whenever the check changes.
	Custom func(c *checks.Check) cron.Schedule
}

// Scheduler owns the set of scheduled checks.
type Scheduler struct {
	opts Options

	mu      sync.Mutex
	entries map[string]*entry
	queue   entryHeap
	started bool
	stopped bool
	wake    chan struct{}
	// slot is the current coalescing slot (0: none), set by Update.
	slot time.Duration

	// Due runs wait in jobs for one of at most Concurrency workers. The
	// workers live as long as the scheduler, so that a run does not pay
	// for a new goroutine and for growing its stack again (the HTTP path
	// is deep). All under mu.
	jobs     jobHeap
	vnow     time.Duration // virtual time of the fair queue (fairness.go)
	jobSeq   uint64
	workers  int        // alive
	idle     int        // waiting in jobReady
	wakeups  int        // signalled, not yet resumed
	spawning int        // started, not yet taking jobs
	jobReady *sync.Cond // on mu
	workerWG sync.WaitGroup

	runCtx    context.Context
	cancelRun context.CancelFunc
	loopDone  chan struct{}
	inflight  sync.WaitGroup // queued and running runs
}

// job is one due run.
type job struct {
	e       *entry
	c       *checks.Check
	planned time.Time
	tag     time.Duration // virtual start time: the fair queue's order
	seq     uint64        // FIFO among equal tags
}

type entry struct {
	check    *checks.Check
	schedule cron.Schedule
	offset   time.Duration
	next     time.Time
	index    int // in the heap, -1 when not queued
	running  bool
	// parked: the schedule yields no future time; the entry is out of
	// the heap until a reload gives it another schedule.
	parked bool
	// interval is the schedule's period, the cost of one run in the
	// fair queue; vfinish is the virtual time the check's last queued
	// run ends at.
	interval time.Duration
	vfinish  time.Duration
	// starved: a due run was skipped since the last one was queued.
	starved bool
	// custom: the schedule is Options.Custom's; again: Trigger came
	// while a run was under way, so another follows it at once.
	custom, again bool
}

// New returns a stopped scheduler; call Update to give it checks and Start
// to run them.
func New(opts Options) *Scheduler {
	if opts.Clock == nil {
		opts.Clock = RealClock{}
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 256
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Observer == nil {
		opts.Observer = nopObserver{}
	}
	if opts.Parse == nil {
		opts.Parse = checks.CronParser.Parse
	}
	if opts.CancelWait <= 0 {
		opts.CancelWait = time.Second
	}
	if opts.Coalesce == 0 {
		opts.Coalesce = DefaultCoalesce
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Scheduler{
		opts:      opts,
		entries:   map[string]*entry{},
		wake:      make(chan struct{}, 1),
		runCtx:    ctx,
		cancelRun: cancel,
		loopDone:  make(chan struct{}),
	}
	s.jobReady = sync.NewCond(&s.mu)
	return s
}

type nopObserver struct{}

func (nopObserver) Lateness(string, time.Duration) {}
func (nopObserver) Skipped(string)                 {}

// Diff says what an Update changed.
type Diff struct {
	Added, Changed, Removed, Unchanged []string
}

// Update replaces the set of checks. Unchanged checks (same Fingerprint)
// keep their entry, next run and in-flight state; changed checks keep
// their entry (so a run in flight is not overlapped) but take the new
// definition and, if the schedule changed, a new next run; removed checks
// are dequeued (a run in flight finishes); added checks are queued for
// their first run within one interval.
func (s *Scheduler) Update(cs []*checks.Check) Diff {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Clock.Now()
	var d Diff
	var planned []*entry
	keep := make(map[string]bool, len(cs))
	for _, c := range cs {
		keep[c.Name] = true
		e, ok := s.entries[c.Name]
		if !ok {
			sched, custom, err := s.parse(c)
			if err != nil { // the loader validated it; be defensive
				s.opts.Logger.Error("unschedulable check", "check", c.Name, "err", err)
				continue
			}
			e = &entry{check: c, index: -1, custom: custom}
			s.entries[c.Name] = e
			s.plan(e, sched, now)
			planned = append(planned, e)
			d.Added = append(d.Added, c.Name)
			continue
		}
		if e.check.Fingerprint == c.Fingerprint && e.check.Fingerprint != "" {
			d.Unchanged = append(d.Unchanged, c.Name)
			continue
		}
		if e.check.Schedule != c.Schedule || e.custom || s.opts.Custom != nil && s.opts.Custom(c) != nil {
			sched, custom, err := s.parse(c)
			if err != nil {
				continue
			}
			e.check, e.custom = c, custom
			s.plan(e, sched, now)
			planned = append(planned, e)
		}
		e.check = c
		d.Changed = append(d.Changed, c.Name)
	}
	for name, e := range s.entries {
		if keep[name] {
			continue
		}
		if e.index >= 0 {
			heap.Remove(&s.queue, e.index)
		}
		delete(s.entries, name)
		d.Removed = append(d.Removed, name)
	}
	s.slot = s.chooseSlot()
	for _, e := range planned {
		s.pullIn(e, now)
	}
	s.poke()
	return d
}

// parse parses a check's schedule, turning a panic of the parser (robfig
// panics on some inputs) into an error; custom is true for a schedule of
// Options.Custom.
func (s *Scheduler) parse(c *checks.Check) (sched cron.Schedule, custom bool, err error) {
	if s.opts.Custom != nil {
		if sched := s.opts.Custom(c); sched != nil {
			return sched, true, nil
		}
	}
	defer func() {
		if r := recover(); r != nil {
			sched, err = nil, fmt.Errorf("schedule %q: %v", c.Schedule, r)
		}
	}()
	sched, err = s.opts.Parse(c.Schedule)
	return sched, false, err
}

// Trigger runs a check with a custom schedule (Options.Custom) as soon as
// a worker is free, then follows its schedule from then on; a run under
// way is followed by another one. It reports false for a check that is
// not scheduled here or has a cron schedule (whose phase it would shift).
func (s *Scheduler) Trigger(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[name]
	if !ok || !e.custom || s.stopped {
		return false
	}
	if e.running {
		e.again = true
		return true
	}
	s.fireSoon(e, s.opts.Clock.Now())
	return true
}

// fireSoon makes e due now: at the start of the current slot, so that
// it fires without waiting for the slot's end. s.mu is held.
func (s *Scheduler) fireSoon(e *entry, now time.Time) {
	e.next, e.parked = now.Truncate(s.slot), false
	if e.index >= 0 {
		heap.Fix(&s.queue, e.index)
	} else {
		heap.Push(&s.queue, e)
	}
	s.poke()
}

// plan gives e a new schedule and its first run, queueing it, or parks
// it when the schedule has no future time. s.mu is held.
func (s *Scheduler) plan(e *entry, sched cron.Schedule, now time.Time) {
	e.schedule = sched
	e.interval = interval(sched, now)
	e.offset = 0
	if !e.custom {
		e.offset = spread(e.check.Name, sched, now)
	}
	next, ok := firstRun(sched, e.offset, now)
	if !ok {
		s.park(e)
		return
	}
	e.next, e.parked = next, false
	s.startFair(e, next, now)
	if e.index >= 0 {
		heap.Fix(&s.queue, e.index)
	} else {
		heap.Push(&s.queue, e)
	}
}

// park takes e out of the heap: its schedule yields no time after now
// (robfig returns the zero time for "0 0 30 2 *"), and firing it would
// only fire it again at once. It is logged once and counted in
// Unschedulable. s.mu is held.
func (s *Scheduler) park(e *entry) {
	if e.index >= 0 {
		heap.Remove(&s.queue, e.index)
	}
	e.next = time.Time{}
	if !e.parked {
		e.parked = true
		s.opts.Logger.Warn("check has no future run time and is not scheduled; fix its schedule",
			"check", e.check.Name, "schedule", e.check.Schedule)
	}
}

// Unschedulable is the number of checks parked because their schedule
// yields no future time (assay_scheduler_unschedulable_checks).
func (s *Scheduler) Unschedulable() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, e := range s.entries {
		if e.parked {
			n++
		}
	}
	return n
}

func (s *Scheduler) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Len is the number of scheduled checks.
func (s *Scheduler) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries)
}

// NextRun returns when the check runs next: its spread time rounded up
// to the slot (coalesce.go).
func (s *Scheduler) NextRun(name string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[name]
	if !ok || e.parked {
		return time.Time{}, false
	}
	return fireAt(e.next, s.slot), true
}

// Start runs the loop until Stop.
func (s *Scheduler) Start() {
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return
	}
	s.started = true
	s.mu.Unlock()
	// A poke from an Update before Start is stale: the loop plans from
	// the queue as it finds it.
	select {
	case <-s.wake:
	default:
	}
	go s.loop()
}

// Running reports whether the loop is running (for readiness).
func (s *Scheduler) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.started && !s.stopped
}

// ErrAbandoned is returned by Stop when runs ignored their cancelled
// context for longer than Options.CancelWait.
var ErrAbandoned = errors.New("runs still in flight after they were cancelled were abandoned")

// Stop starts no new runs, waits for runs in flight until ctx ends, then
// cancels the stragglers' contexts and waits for them to return for at
// most Options.CancelWait: a run stuck in work that ignores its context
// is abandoned (ErrAbandoned) rather than holding the shutdown up.
func (s *Scheduler) Stop(ctx context.Context) error {
	s.mu.Lock()
	wasStarted := s.started
	s.stopped = true
	// Runs still waiting for a worker never start.
	for _, j := range s.jobs {
		j.e.running = false
		s.inflight.Done()
	}
	s.jobs = nil
	s.jobReady.Broadcast()
	s.mu.Unlock()
	s.poke()
	if wasStarted {
		<-s.loopDone
	}
	done := make(chan struct{})
	go func() { s.inflight.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	s.cancelRun()
	t := time.NewTimer(s.opts.CancelWait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		return errors.Join(err, ErrAbandoned)
	}
	s.workerWG.Wait()
	return err
}

func (s *Scheduler) loop() {
	defer close(s.loopDone)
	// The timer is made with the first wait, not before: armed, it tells a
	// manual clock (tests) that the loop sleeps until a time it has read.
	var timer Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		s.mu.Lock()
		if s.stopped {
			s.mu.Unlock()
			return
		}
		// At most an hour: a wall clock stepped back or forward is
		// noticed within that.
		wait := time.Hour
		if len(s.queue) > 0 {
			wait = min(wait, fireAt(s.queue[0].next, s.slot).Sub(s.opts.Clock.Now()))
		}
		s.mu.Unlock()
		if wait > 0 {
			if timer == nil {
				timer = s.opts.Clock.NewTimer(wait)
			} else {
				timer.Reset(wait)
			}
			select {
			case <-timer.C():
			case <-s.wake:
				if !timer.Stop() {
					select {
					case <-timer.C():
					default:
					}
				}
				continue
			}
		}
		s.fireDue()
	}
}

// fireDue dispatches every entry whose slot has come. The heap is in
// order of spread times, and rounding up to the slot keeps that order.
func (s *Scheduler) fireDue() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	now := s.opts.Clock.Now()
	for len(s.queue) > 0 && !fireAt(s.queue[0].next, s.slot).After(now) {
		e := s.queue[0]
		planned := e.next
		if next, ok := following(e.schedule, e.offset, planned, now); ok {
			e.next = next
			heap.Fix(&s.queue, 0)
		} else {
			// Every entry left in the heap has a time after now, so
			// this loop ends whatever a schedule returns.
			s.park(e)
		}
		if e.running && e.custom {
			// A deadline is not lost to the run before it (the verdict
			// depends on the time): it runs as soon as that one ends.
			e.again = true
			continue
		}
		if e.running {
			e.starved = true
			s.opts.Observer.Skipped(e.check.Name)
			continue
		}
		e.running = true
		s.inflight.Add(1)
		s.enqueue(e, fireAt(planned, s.slot))
	}
	s.dispatch()
}

// dispatch wakes idle workers for the queued jobs and starts workers, up
// to Concurrency, for the jobs no worker is coming for. s.mu is held.
func (s *Scheduler) dispatch() {
	need := len(s.jobs) - s.wakeups - s.spawning
	for ; need > 0 && s.idle-s.wakeups > 0; need-- {
		s.wakeups++
		s.jobReady.Signal()
	}
	for ; need > 0 && s.workers < s.opts.Concurrency; need-- {
		s.workers++
		s.spawning++
		s.workerWG.Add(1)
		go s.worker()
	}
}

// worker runs queued jobs until the scheduler stops.
func (s *Scheduler) worker() {
	defer s.workerWG.Done()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.spawning--
	for {
		for len(s.jobs) == 0 && !s.stopped {
			s.idle++
			s.jobReady.Wait()
			s.idle--
			if s.wakeups > 0 {
				s.wakeups--
			}
		}
		if s.stopped {
			s.workers--
			return
		}
		j := s.dequeue()
		s.mu.Unlock()
		s.run(j)
		s.mu.Lock()
		j.e.running = false
		if j.e.again {
			j.e.again = false
			if !s.stopped && s.entries[j.c.Name] == j.e {
				s.fireSoon(j.e, s.opts.Clock.Now())
			}
		}
		s.inflight.Done()
	}
}

func (s *Scheduler) run(j job) {
	if s.runCtx.Err() != nil {
		return
	}
	s.opts.Observer.Lateness(j.c.Name, s.opts.Clock.Now().Sub(j.planned))
	ctx, cancel := context.WithTimeout(s.runCtx, RunDeadline(j.c))
	defer cancel()
	s.opts.Run(ctx, j.c, j.planned)
}

// RunDeadline bounds one run of a check: every attempt's timeout (with
// its teardown's, see checks.Check.AttemptTimeout) plus the longest
// backoffs between them.
func RunDeadline(c *checks.Check) time.Duration {
	n := time.Duration(c.Retries.Count)
	return c.AttemptTimeout()*(n+1) + c.Retries.MaxBackoff.D()*n + time.Second
}

// spread is the check's deterministic offset within its interval, from a
// hash of its name: checks sharing a schedule fire at different moments,
// and a restart keeps each one's phase.
func spread(name string, sched cron.Schedule, now time.Time) time.Duration {
	h := fnv.New64a()
	h.Write([]byte(name))
	iv := interval(sched, now)
	if _, constant := sched.(cron.ConstantDelaySchedule); !constant && iv > time.Minute {
		// A cron time ("at 09:00") is kept within a minute.
		iv = time.Minute
	}
	if iv <= 0 {
		return 0
	}
	return time.Duration(mix64(h.Sum64()) % uint64(iv))
}

// mix64 is MurmurHash3's finaliser. FNV-1a alone barely moves the high
// bits when only the last characters of a name differ ("check-001",
// "check-002"), and such names bunched their offsets (100 of them every
// second fell on 46 distinct milliseconds, with gaps of 140 ms).
func mix64(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

// interval is the schedule's period: the delay of @every, else the gap
// between its next two times; 0 when it has none.
func interval(sched cron.Schedule, now time.Time) time.Duration {
	if c, ok := sched.(cron.ConstantDelaySchedule); ok {
		return max(c.Delay, 0)
	}
	a := sched.Next(now)
	if !a.After(now) {
		return 0
	}
	b := sched.Next(a)
	if !b.After(a) {
		return 0
	}
	return b.Sub(a)
}

// firstRun is the first fire time after now: within one interval. ok is
// false when the schedule yields no time after now.
func firstRun(sched cron.Schedule, offset time.Duration, now time.Time) (time.Time, bool) {
	if c, ok := sched.(cron.ConstantDelaySchedule); ok {
		if c.Delay <= 0 {
			return time.Time{}, false
		}
		// Phase-aligned to the epoch so that every replica and every
		// restart fires a check at the same phase of its interval.
		base := now.Truncate(c.Delay).Add(offset)
		for !base.After(now) {
			base = base.Add(c.Delay)
		}
		return base, true
	}
	next := sched.Next(now.Add(-offset))
	if next.IsZero() {
		return time.Time{}, false
	}
	next = next.Add(offset)
	return next, next.After(now)
}

// following is the fire time after planned; runs that fell entirely in
// the past (the process was paused) are not replayed. ok is false when
// the schedule yields no time after now (the zero time, or a time in the
// past from a schedule of its own).
func following(sched cron.Schedule, offset time.Duration, planned, now time.Time) (time.Time, bool) {
	if c, ok := sched.(cron.ConstantDelaySchedule); ok {
		if c.Delay <= 0 {
			return time.Time{}, false
		}
		next := planned.Add(c.Delay)
		if !next.After(now) {
			missed := now.Sub(next)/c.Delay + 1
			next = next.Add(missed * c.Delay)
		}
		return next, true
	}
	next := sched.Next(planned.Add(-offset))
	if !next.IsZero() {
		next = next.Add(offset)
	}
	if !next.After(now) {
		return firstRun(sched, offset, now)
	}
	return next, true
}

type entryHeap []*entry

func (h entryHeap) Len() int           { return len(h) }
func (h entryHeap) Less(i, j int) bool { return h[i].next.Before(h[j].next) }
func (h entryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *entryHeap) Push(x any) {
	e := x.(*entry)
	e.index = len(*h)
	*h = append(*h, e)
}
func (h *entryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	e.index = -1
	return e
}
