package scheduler_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/internal/clocktest"
	"github.com/assay-monitor/assay/scheduler"
)

// gate is a RunFunc whose runs block until the test releases them, so
// that one tick of the manual clock is one run length.
type gate struct {
	mu      sync.Mutex
	blocked []chan struct{}
	started int
	runs    map[string]int
	open    bool // runs return at once
}

func (g *gate) run(ctx context.Context, c *checks.Check, _ time.Time) {
	ch := make(chan struct{})
	g.mu.Lock()
	if g.open {
		g.mu.Unlock()
		return
	}
	g.blocked = append(g.blocked, ch)
	g.started++
	g.runs[c.Name]++
	g.mu.Unlock()
	select {
	case <-ch:
	case <-ctx.Done():
	}
	g.mu.Lock()
	for i, b := range g.blocked {
		if b == ch {
			g.blocked = append(g.blocked[:i], g.blocked[i+1:]...)
			break
		}
	}
	g.mu.Unlock()
}

// openUp releases every run, now and to come.
func (g *gate) openUp() {
	g.mu.Lock()
	g.open = true
	g.mu.Unlock()
	g.releaseAll()
}

func (g *gate) releaseAll() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, ch := range g.blocked {
		close(ch)
	}
	g.blocked = nil
}

// quiet reports whether every run the scheduler took has started, every
// finished run is accounted for, and the slots are full or nothing waits.
func (g *gate) quiet(s *scheduler.Scheduler, slots int) bool {
	st := s.State()
	g.mu.Lock()
	defer g.mu.Unlock()
	return uint64(g.started) == st.Enqueued-uint64(st.Queued) &&
		st.Busy == st.Queued+len(g.blocked) &&
		(st.Queued == 0 || len(g.blocked) == slots)
}

func await(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestOverloadSharesRunsInProportionToSchedules: when more runs are due
// than the concurrency limit lets run, every check keeps about the same
// fraction of its scheduled runs. A FIFO queue gives every check one run
// per round of the queue instead, so a check due every second beside
// hundreds of slow ones ran once a minute.
func TestOverloadSharesRunsInProportionToSchedules(t *testing.T) {
	// A run lasts one tick of the clock (1s); the fast check is due every
	// other tick, so that it never overlaps itself and every run it
	// misses is lost to the queue.
	for _, tc := range []struct {
		slow, slots int
		slowEvery   string
	}{
		{slow: 200, slots: 2, slowEvery: "@every 20s"},  // 5x overloaded
		{slow: 200, slots: 8, slowEvery: "@every 20s"},  // 1.3x overloaded
		{slow: 2000, slots: 10, slowEvery: "@every 2m"}, // 1.7x, many checks
	} {
		t.Run(fmt.Sprintf("%d_%s_concurrency_%d", tc.slow, tc.slowEvery, tc.slots), func(t *testing.T) {
			clk := clocktest.New(start)
			g := &gate{runs: map[string]int{}}
			var mu sync.Mutex
			due := map[string]int{}
			obs := observerFunc(func(name string) { mu.Lock(); due[name]++; mu.Unlock() })
			s := scheduler.New(scheduler.Options{Run: g.run, Clock: clk, Concurrency: tc.slots, Observer: obs})
			cs := append(manyChecks(tc.slow, tc.slowEvery), check("fast", "@every 2s"))
			s.Update(cs)
			s.Start()
			defer stop(t, s)
			const ticks = 240
			for i := 0; i < ticks; i++ {
				clk.Advance(time.Second)
				await(t, "the tick's runs to be queued", func() bool { return clk.Waiting() == 1 })
				await(t, "the slots to fill", func() bool { return g.quiet(s, tc.slots) })
				g.releaseAll()
				await(t, "the next runs to start", func() bool { return g.quiet(s, tc.slots) })
			}
			g.openUp()
			g.mu.Lock()
			mu.Lock()
			defer g.mu.Unlock()
			defer mu.Unlock()
			fastRuns := g.runs["fast"]
			fastShare := float64(fastRuns) / float64(ticks/2)
			slowRuns := g.started - fastRuns
			// Every due moment of a slow check in the window: a run or a
			// skip, or one still waiting at the end.
			slowDue := 0
			for _, c := range cs[:tc.slow] {
				slowDue += g.runs[c.Name] + due[c.Name]
			}
			// Runs still queued at the end were due too.
			slowDue += s.State().Queued
			slowShare := float64(slowRuns) / float64(slowDue)
			t.Logf("fast check: %d runs of %d due (%.2f); slow checks: %d runs of %d due (%.2f)",
				fastRuns, ticks/2, fastShare, slowRuns, slowDue, slowShare)
			if fastShare < 0.8*slowShare {
				t.Errorf("the fast check got %.2f of its runs, the slow ones %.2f: not a fair share", fastShare, slowShare)
			}
		})
	}
}

// observerFunc counts skipped runs.
type observerFunc func(check string)

func (observerFunc) Lateness(string, time.Duration) {}
func (f observerFunc) Skipped(check string)         { f(check) }
