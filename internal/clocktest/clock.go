// Package clocktest is a manual clock for tests of time-driven code: time
// moves only when the test calls Advance, so tests wait on events, never
// on sleeps.
package clocktest

import (
	"sync"
	"time"

	"github.com/assay-monitor/assay/scheduler"
)

// Clock is a scheduler.Clock whose time moves only on Advance.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*timer
}

var _ scheduler.Clock = (*Clock)(nil)

// New returns a clock set at start.
func New(start time.Time) *Clock { return &Clock{now: start} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// NewTimer returns a timer that fires when the clock reaches now+d.
func (c *Clock) NewTimer(d time.Duration) scheduler.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &timer{c: c, ch: make(chan time.Time, 1)}
	c.arm(t, d)
	c.timers = append(c.timers, t)
	return t
}

// arm sets t to fire at now+d; d <= 0 fires at once. c.mu is held.
func (c *Clock) arm(t *timer, d time.Duration) {
	t.when = c.now.Add(d)
	t.active = true
	if d <= 0 {
		t.fire(c.now)
	}
}

// Advance moves time forward and fires every timer due by then.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	for _, t := range c.timers {
		if t.active && !t.when.After(c.now) {
			t.fire(c.now)
		}
	}
}

// Set moves time to t (forward only) and fires due timers.
func (c *Clock) Set(t time.Time) {
	c.Advance(t.Sub(c.Now()))
}

// Waiting reports how many timers are armed (for tests that must know the
// code under test is blocked on the clock before advancing it).
func (c *Clock) Waiting() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.timers {
		if t.active {
			n++
		}
	}
	return n
}

type timer struct {
	c      *Clock
	ch     chan time.Time
	when   time.Time
	active bool
}

func (t *timer) fire(now time.Time) {
	t.active = false
	select {
	case t.ch <- now:
	default:
	}
}

func (t *timer) C() <-chan time.Time { return t.ch }

func (t *timer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := t.active
	t.active = false
	return was
}

func (t *timer) Reset(d time.Duration) {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	// Drain a stale fire so that the channel reflects only this arming.
	select {
	case <-t.ch:
	default:
	}
	t.c.arm(t, d)
}
