package web_test

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/history"
)

// fakeHistory is an in-memory history.Reader that honours the query the way
// the store must: by check, status, before and since, newest first, with a
// default and a cap on the rows.
type fakeHistory struct {
	mu        sync.Mutex
	runs      []history.Run
	incidents []history.Incident
	// err, when set, is what every method returns.
	err error
	// calls counts Results calls, to show the page bounds its reads.
	calls int
}

var _ history.Reader = (*fakeHistory)(nil)

// Row limits of the fake, like a store's.
const (
	fakeDefaultLimit = 50
	fakeMaxLimit     = 500
)

func limit(n int) int {
	if n <= 0 {
		return fakeDefaultLimit
	}
	return min(n, fakeMaxLimit)
}

// add stores a result as the Recorder does: it gets the next id.
func (f *fakeHistory) add(r *checks.Result) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := int64(len(f.runs) + 1)
	r.ID = id
	sum := history.RunSummary{ID: id, Check: r.Check, Started: r.Started, DurationSeconds: r.Duration.Seconds(),
		Passed: r.Passed, Reason: r.Reason, Message: r.Message}
	if fs := r.FailedStep(); fs != nil {
		sum.FailingStep = fs.Name
	}
	f.runs = append(f.runs, history.Run{RunSummary: sum, Result: r})
	return id
}

func (f *fakeHistory) Results(_ context.Context, check string, q history.ResultQuery) ([]history.RunSummary, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.err != nil {
		return nil, f.err
	}
	var out []history.RunSummary
	for _, r := range f.runs {
		switch {
		case r.Check != check,
			q.Status == history.StatusFailed && r.Passed,
			q.Status == history.StatusPassed && !r.Passed,
			q.Before > 0 && r.ID >= q.Before,
			!q.Since.IsZero() && r.Started.Before(q.Since):
			continue
		}
		out = append(out, r.RunSummary)
	}
	slices.SortFunc(out, func(a, b history.RunSummary) int { return cmp.Compare(b.ID, a.ID) })
	return out[:min(len(out), limit(q.Limit))], nil
}

func (f *fakeHistory) Result(_ context.Context, id int64) (*history.Run, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	for _, r := range f.runs {
		if r.ID == id {
			c := r
			return &c, nil
		}
	}
	return nil, history.ErrNotFound
}

func (f *fakeHistory) Counts(ctx context.Context, check string, from, to time.Time) (history.Counts, error) {
	all, err := f.CountsAll(ctx, from, to)
	return all[check], err
}

func (f *fakeHistory) CountsAll(_ context.Context, from, to time.Time) (map[string]history.Counts, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	out := map[string]history.Counts{}
	for _, r := range f.runs {
		if r.Started.Before(from) || !r.Started.Before(to) {
			continue
		}
		c := out[r.Check]
		c.Runs++
		if !r.Passed {
			c.Failures++
		}
		out[r.Check] = c
	}
	return out, nil
}

func (f *fakeHistory) Durations(_ context.Context, check string, from, to time.Time) ([]time.Duration, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	var out []time.Duration
	for _, r := range f.runs {
		if r.Check == check && !r.Started.Before(from) && r.Started.Before(to) {
			out = append(out, time.Duration(r.DurationSeconds*float64(time.Second)))
		}
	}
	return out, nil
}

func (f *fakeHistory) Incidents(_ context.Context, q history.IncidentQuery) ([]history.Incident, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	var out []history.Incident
	for _, in := range f.incidents {
		if q.Check != "" && in.Check != q.Check || q.Open && in.Resolved != nil {
			continue
		}
		out = append(out, in)
	}
	slices.SortFunc(out, func(a, b history.Incident) int { return b.Started.Compare(a.Started) })
	return out[:min(len(out), limit(q.Limit))], nil
}

func (f *fakeHistory) Notifications(context.Context, string, int) ([]history.Notification, error) {
	return nil, nil
}
