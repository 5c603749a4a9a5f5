package daemon

import (
	"context"
	"sync"
	"time"
)

// reloader runs reloads one at a time, coalesced and spaced: callers
// that arrive while a reload runs (or waits for its turn) share the next
// one, and two reloads start at least minInterval apart, and at least
// twice the last one's duration apart, so that a burst of requests (SIGHUP,
// POST /-/reload, file changes) costs one or two reloads and reloading a
// big set takes at most about half a CPU.
type reloader struct {
	run         func() error
	minInterval time.Duration

	mu        sync.Mutex
	next      *reloadCall // the reload callers join; nil: none pending
	running   bool        // the loop goroutine is alive
	lastStart time.Time
	lastTook  time.Duration
}

// reloadCall is one reload and the callers waiting for it.
type reloadCall struct {
	done chan struct{}
	err  error
}

func newReloader(run func() error, minInterval time.Duration) *reloader {
	if minInterval <= 0 {
		minInterval = time.Second
	}
	return &reloader{run: run, minInterval: minInterval}
}

// now reloads at once, outside the spacing (the first load).
func (r *reloader) now() error {
	start := time.Now()
	err := r.run()
	r.mu.Lock()
	r.lastStart, r.lastTook = start, time.Since(start)
	r.mu.Unlock()
	return err
}

// do asks for a reload that starts after the call and waits for its
// outcome, or for ctx to end (the reload still happens).
func (r *reloader) do(ctx context.Context) error {
	r.mu.Lock()
	c := r.next
	if c == nil {
		c = &reloadCall{done: make(chan struct{})}
		r.next = c
	}
	if !r.running {
		r.running = true
		go r.loop()
	}
	r.mu.Unlock()
	select {
	case <-c.done:
		return c.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// loop runs the pending reloads in turn and ends when none is left.
func (r *reloader) loop() {
	for {
		r.mu.Lock()
		c := r.next
		if c == nil {
			r.running = false
			r.mu.Unlock()
			return
		}
		wait := time.Until(r.lastStart.Add(max(r.minInterval, 2*r.lastTook)))
		r.mu.Unlock()
		if wait > 0 {
			// Callers arriving meanwhile join c.
			time.Sleep(wait)
		}
		r.mu.Lock()
		r.next = nil // from here on, callers wait for the reload after this one
		start := time.Now()
		r.lastStart = start
		r.mu.Unlock()
		c.err = r.run()
		r.mu.Lock()
		r.lastTook = time.Since(start)
		r.mu.Unlock()
		close(c.done)
	}
}
