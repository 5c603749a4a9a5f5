package history_test

import (
	"context"
	"testing"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/history"
)

// nopWriter takes every batch and stores nothing: the benchmarks measure
// the recorder alone.
type nopWriter struct{ next int64 }

func (w *nopWriter) ReserveIDs(_ context.Context, n int) (int64, error) {
	first := w.next + 1
	w.next += int64(n)
	return first, nil
}
func (*nopWriter) WriteBatch(context.Context, history.Batch) error { return nil }
func (*nopWriter) RollUp(context.Context, int64) error             { return nil }
func (*nopWriter) Baseline(context.Context, string, string) (*history.Baseline, error) {
	return nil, history.ErrNotFound
}
func (*nopWriter) Prune(context.Context, history.PrunePolicy) (int, bool, error) {
	return 0, false, nil
}

// benchResult is a passing one-step run as the bench's fleet makes them:
// a GET of a small JSON document with the headers Go's server sends.
func benchResult(check string, started time.Time) *checks.Result {
	body := `{"id":1,"title":"Document 1","version":3,"tags":["a","b"]}`
	step := checks.StepResult{Name: "get", Passed: true,
		Request: checks.RequestSummary{Method: "GET", URL: "http://127.0.0.1:40123/documents/1", Headers: map[string][]string{"User-Agent": {"assay"}}},
		Response: &checks.ResponseSummary{Status: 200, Proto: "HTTP/1.1", BodySize: int64(len(body)), Body: body,
			Headers: map[string][]string{"Content-Type": {"application/json"}, "Date": {started.Format(time.RFC1123)},
				"Content-Length": {"58"}, "Etag": {`"v3"`}}},
		Timings:    checks.Timings{FirstByte: 310 * time.Microsecond, Total: 342 * time.Microsecond},
		Assertions: []checks.AssertionResult{{Name: "status", Passed: true, Expected: "200", Actual: "200"}, {Name: "json $.id", Passed: true, Expected: "1", Actual: "1"}},
	}
	return &checks.Result{Check: check, File: "checks.d/fleet-001.yaml", Labels: map[string]string{"team": "bench"},
		Started: started, Duration: 412 * time.Microsecond, Passed: true,
		Attempts: []checks.Attempt{{Number: 1, Started: started.Add(850 * time.Nanosecond), Duration: 401 * time.Microsecond, Passed: true,
			Steps: []checks.StepResult{step}}}}
}

// BenchmarkRecord is the recorder's cost per passing run: Annotate (an
// id) and Record (encoding, the baseline hash), with a flush of every
// 1,000 runs to a writer that keeps nothing.
func BenchmarkRecord(b *testing.B) {
	rec, err := history.NewRecorder(history.Options{Writer: &nopWriter{}})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	names := make([]string, 1000)
	for i := range names {
		names[i] = "simple-" + time.Duration(i).String()
	}
	rs := make([]*checks.Result, len(names))
	for i := range rs {
		rs[i] = benchResult(names[i], t0.Add(time.Duration(i)*time.Millisecond))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		r := rs[i%len(rs)]
		r.ID = 0
		rec.Annotate(ctx, r)
		rec.Record(ctx, r)
		if i%1000 == 999 {
			if err := rec.Flush(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
}
