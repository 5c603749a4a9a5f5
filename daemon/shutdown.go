package daemon

import (
	"context"
	"errors"
	"time"

	"github.com/assay-monitor/assay/scheduler"
	"github.com/assay-monitor/assay/web"
)

// The whole shutdown after SIGTERM fits in server.shutdown_grace. Runs in
// flight and HTTP requests get the grace less a reserve; runs still going
// then are cancelled, and those that ignore it are abandoned after half
// the reserve; the last writes of the history and of alerting (the
// store's flush, OpenStorage's stop) get the other half. A run that ends
// late has its sinks cut short at the end of the grace.

// reserve is the part of the grace kept for what follows the runs: a
// fifth of it, between 100ms and 2s.
func reserve(grace time.Duration) time.Duration {
	return min(max(grace/5, 100*time.Millisecond), 2*time.Second)
}

// flushBudget bounds each phase after the runs: waiting for cancelled
// runs, and the last writes to the store.
func flushBudget(grace time.Duration) time.Duration { return reserve(grace) / 2 }

// shutdown stops the watcher, the scheduler and the HTTP server within the
// grace. watchDone closes when the watcher has stopped.
func (d *Daemon) shutdown(watchDone <-chan struct{}) {
	grace := max(d.opts.Config.Server.ShutdownGrace.D(), 0)
	end := time.Now().Add(grace)
	d.log.Info("shutting down: no new runs; waiting for runs in flight", "grace", grace.String())
	stopHard := time.AfterFunc(grace, d.cancelHard)
	defer stopHard.Stop()
	runs, cancel := context.WithDeadline(context.Background(), end.Add(-reserve(grace)))
	defer cancel()

	httpDone := make(chan struct{})
	go func() {
		defer close(httpDone)
		web.Shutdown(runs, d.server)
	}()
	// A reload under way cannot be cut short; it is not waited for
	// beyond the runs' deadline.
	select {
	case <-watchDone:
	case <-runs.Done():
	}
	if err := d.sched.Stop(runs); err != nil {
		if errors.Is(err, scheduler.ErrAbandoned) {
			d.log.Warn("runs still in flight at the end of the grace were cancelled; some ignored it and were abandoned")
		} else {
			d.log.Warn("runs still in flight at the end of the grace were cancelled")
		}
	}
	<-httpDone
	d.runner.Close()
}
