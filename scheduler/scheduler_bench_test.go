package scheduler_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/internal/clocktest"
	"github.com/assay-monitor/assay/scheduler"
)

// Benchmarks of the scheduler alone (no HTTP): the cost of queueing and
// dispatching a run, and of scheduling 10,000 checks. `go run ./bench`
// measures the whole daemon.

// countDown is an Observer and RunFunc that counts every due run, started
// or skipped.
type countDown struct{ wg sync.WaitGroup }

func (c *countDown) run(context.Context, *checks.Check, time.Time) { c.wg.Done() }
func (c *countDown) Lateness(string, time.Duration)                {}
func (c *countDown) Skipped(string)                                { c.wg.Done() }

// BenchmarkDispatch fires 1,000 checks per iteration (one interval of the
// manual clock) and waits for every run.
func BenchmarkDispatch(b *testing.B) {
	clk := clocktest.New(start)
	cd := &countDown{}
	s := scheduler.New(scheduler.Options{Run: cd.run, Observer: cd, Clock: clk})
	cs := manyChecks(1000, "@every 1s")
	s.Update(cs)
	s.Start()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Stop(ctx); err != nil {
			b.Fatal(err)
		}
	}()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cd.wg.Add(len(cs))
		clk.Advance(time.Second)
		cd.wg.Wait()
	}
	b.ReportMetric(float64(b.N*len(cs))/b.Elapsed().Seconds(), "runs/s")
}

// BenchmarkUpdate10k schedules 10,000 checks into an empty scheduler.
func BenchmarkUpdate10k(b *testing.B) {
	cs := manyChecks(10000, "@every 1m")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		s := scheduler.New(scheduler.Options{Run: func(context.Context, *checks.Check, time.Time) {}})
		s.Update(cs)
	}
}
