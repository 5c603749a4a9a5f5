package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/history"
	"github.com/assay-monitor/assay/store"
)

// capture is a history.Writer that keeps the runs of every batch: the
// benchmark writes what the recorder really makes.
type capture struct {
	mu   sync.Mutex
	next int64
	runs []history.StoredRun
}

func (c *capture) ReserveIDs(_ context.Context, n int) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	first := c.next + 1
	c.next += int64(n)
	return first, nil
}
func (c *capture) WriteBatch(_ context.Context, b history.Batch) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.runs = append(c.runs, b.Runs...)
	return nil
}
func (*capture) RollUp(context.Context, int64) error { return nil }
func (*capture) Baseline(context.Context, string, string) (*history.Baseline, error) {
	return nil, history.ErrNotFound
}
func (*capture) Prune(context.Context, history.PrunePolicy) (int, bool, error) { return 0, false, nil }

// fleetRuns is one recorded passing run for each of n checks, as the
// bench's fleet makes them.
func fleetRuns(b *testing.B, n int, t0 time.Time) []history.StoredRun {
	c := &capture{}
	rec, err := history.NewRecorder(history.Options{Writer: c})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	body := `{"id":1,"title":"Document 1","version":3,"tags":["a","b"]}`
	for i := range n {
		started := t0.Add(time.Duration(i) * time.Millisecond)
		step := checks.StepResult{Name: "get", Passed: true,
			Request: checks.RequestSummary{Method: "GET", URL: "http://127.0.0.1:40123/documents/1"},
			Response: &checks.ResponseSummary{Status: 200, Proto: "HTTP/1.1", BodySize: int64(len(body)), Body: body,
				Headers: map[string][]string{"Content-Type": {"application/json"}, "Content-Length": {"58"}}},
			Timings: checks.Timings{FirstByte: 310 * time.Microsecond, Total: 342 * time.Microsecond}}
		r := &checks.Result{Check: fmt.Sprintf("simple-%05d", i), File: "checks.d/fleet-001.yaml", Labels: map[string]string{"team": "bench"},
			Started: started, Duration: 412 * time.Microsecond, Passed: true,
			Attempts: []checks.Attempt{{Number: 1, Started: started.Add(850 * time.Nanosecond), Duration: 401 * time.Microsecond, Passed: true,
				Steps: []checks.StepResult{step}}}}
		rec.Annotate(ctx, r)
		rec.Record(ctx, r)
	}
	if err := rec.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	return c.runs
}

// BenchmarkWriteBatchPrune is the history's steady state in the bench
// (10,000 checks at 1,000 results/s, a retention of one minute): per
// op, one batch of 1,000 runs is written (and rolled up once a minute),
// and every tenth op the 10,000 runs that left the retention are pruned,
// as the daemon does, on a real SQLite file that holds a minute of runs.
func BenchmarkWriteBatchPrune(b *testing.B) {
	ctx := context.Background()
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	tmpl := fleetRuns(b, 10000, t0)
	s, err := store.Open(filepath.Join(b.TempDir(), "assay.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	// The daemon spreads checks over the interval by a hash of their
	// name: one second's runs are scattered over the by-check index.
	perm := rand.New(rand.NewPCG(1, 2)).Perm(len(tmpl))
	var id int64
	batch := func(sec int) history.Batch {
		runs := make([]history.StoredRun, 1000)
		for i := range runs {
			r := tmpl[perm[(sec*1000+i)%len(tmpl)]]
			id++
			r.ID = id
			r.Started = t0.Add(time.Duration(sec)*time.Second + time.Duration(i)*time.Millisecond)
			runs[i] = r
		}
		return history.Batch{Runs: runs}
	}
	step := func(sec int, prune bool) {
		if err := s.WriteBatch(ctx, batch(sec)); err != nil {
			b.Fatal(err)
		}
		// The daemon rolls up once a minute.
		if sec%60 == 59 {
			if err := s.RollUp(ctx, id); err != nil {
				b.Fatal(err)
			}
		}
		// The daemon prunes every 10 s (history.pruneEvery).
		if !prune || sec%10 != 9 {
			return
		}
		now := t0.Add(time.Duration(sec+1) * time.Second)
		p := history.PrunePolicy{Before: now.Add(-time.Minute), MinuteBefore: now.Add(-history.MinuteWindow),
			HourBefore: now.Add(-history.DefaultAggregateRetention), Limit: 2000}
		for range 5 {
			_, more, err := s.Prune(ctx, p)
			if err != nil {
				b.Fatal(err)
			}
			if !more {
				break
			}
		}
	}
	for sec := range 60 {
		step(sec, false)
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := range b.N {
		step(60+i, true)
	}
	// ns/op includes waiting for fsync; the bench's figure is CPU.
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
}

// cpuTime is the CPU (user and system) the process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
