package web

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/history"
)

// Status keeps the configured checks and the latest result of each, for
// the JSON API. It is a results sink.
type Status struct {
	mu      sync.RWMutex
	checks  []*checks.Check
	byName  map[string]*checks.Check // checks by name: Record is O(1)
	latest  map[string]*checks.Result
	nextRun func(name string) (time.Time, bool)

	// history, when set, gives the latest result of a check this process
	// did not run (another replica owns it), cached briefly.
	history  history.Reader
	cacheMu  sync.Mutex
	fromHist map[string]cachedRun
}

type cachedRun struct {
	at  time.Time
	sum *history.RunSummary
}

// historyCacheTTL is how long a result read from the shared store serves.
const historyCacheTTL = 5 * time.Second

// SetHistory makes the summaries of checks without a local result come
// from the store (replicas that share one run different checks).
func (s *Status) SetHistory(h history.Reader) {
	s.mu.Lock()
	s.history = h
	s.mu.Unlock()
}

// fillFromHistory gives summaries without a local result the latest
// stored run, outside the lock (each is a query).
func (s *Status) fillFromHistory(sums []CheckSummary) {
	s.mu.RLock()
	h := s.history
	s.mu.RUnlock()
	if h == nil {
		return
	}
	now := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	if s.fromHist == nil || len(s.fromHist) > 4*len(sums)+64 {
		s.fromHist = map[string]cachedRun{}
	}
	for i := range sums {
		if sums[i].LastResult != nil {
			continue
		}
		c, ok := s.fromHist[sums[i].Name]
		if !ok || now.Sub(c.at) > historyCacheTTL {
			rs, err := h.Results(ctx, sums[i].Name, history.ResultQuery{Limit: 1})
			if err != nil {
				continue
			}
			c = cachedRun{at: now}
			if len(rs) == 1 {
				c.sum = &rs[0]
			}
			s.fromHist[sums[i].Name] = c
		}
		if r := c.sum; r != nil {
			sums[i].LastResult = &ResultSummary{Passed: r.Passed, Started: r.Started, DurationSeconds: r.DurationSeconds,
				Reason: r.Reason, Message: r.Message, FailingStep: r.FailingStep, InMaintenance: r.InMaintenance}
		}
	}
}

// NewStatus returns an empty Status. nextRun, if not nil, tells when a
// check runs next.
func NewStatus(nextRun func(string) (time.Time, bool)) *Status {
	return &Status{latest: map[string]*checks.Result{}, nextRun: nextRun}
}

// SetChecks replaces the configured set; results of removed checks go.
func (s *Status) SetChecks(cs []*checks.Check) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checks = cs
	s.byName = make(map[string]*checks.Check, len(cs))
	for _, c := range cs {
		s.byName[c.Name] = c
	}
	for name := range s.latest {
		if _, keep := s.byName[name]; !keep {
			delete(s.latest, name)
		}
	}
}

// KeepResultsOf forgets the latest results of checks not in owned: with
// replicas sharing a store, a check another replica runs now is shown
// from the store, never from a result this process ran before it moved.
func (s *Status) KeepResultsOf(owned []*checks.Check) {
	keep := make(map[string]bool, len(owned))
	for _, c := range owned {
		keep[c.Name] = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for name := range s.latest {
		if !keep[name] {
			delete(s.latest, name)
		}
	}
}

// Record implements checks.Sink.
func (s *Status) Record(_ context.Context, r *checks.Result) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.byName[r.Check]; ok {
		// A passing result is kept in brief: its bodies could add up to
		// the evidence cap per step and check.
		s.latest[r.Check] = history.Compact(r)
	}
}

// CheckSummary is one entry of GET /api/v1/checks.
type CheckSummary struct {
	Name        string            `json:"name"`
	Description string            `json:"description,omitempty"`
	File        string            `json:"file,omitempty"`
	Schedule    string            `json:"schedule"`
	Labels      map[string]string `json:"labels,omitempty"`
	Tags        []string          `json:"tags,omitempty"`
	Steps       int               `json:"steps"`
	NextRun     *time.Time        `json:"next_run,omitempty"`
	LastResult  *ResultSummary    `json:"last_result"`
}

// ResultSummary is the last result of a check in brief.
type ResultSummary struct {
	Passed          bool                    `json:"passed"`
	Started         time.Time               `json:"started"`
	DurationSeconds float64                 `json:"duration_seconds"`
	Attempts        int                     `json:"attempts"`
	Reason          checks.Reason           `json:"reason,omitempty"`
	Message         string                  `json:"message,omitempty"`
	FailingStep     string                  `json:"failing_step,omitempty"`
	FailingAssert   *checks.AssertionResult `json:"failing_assertion,omitempty"`
	// InMaintenance: a maintenance window or silence was active at the
	// run's start or end.
	InMaintenance bool `json:"in_maintenance,omitempty"`
}

// Summaries lists every configured check with its last result, by name.
func (s *Status) Summaries() []CheckSummary {
	s.mu.RLock()
	out := make([]CheckSummary, 0, len(s.checks))
	for _, c := range s.checks {
		out = append(out, s.summary(c))
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	s.fillFromHistory(out)
	return out
}

// Check returns one check's summary and its full last result.
func (s *Status) Check(name string) (CheckSummary, *checks.Result, bool) {
	s.mu.RLock()
	c, ok := s.byName[name]
	if !ok {
		s.mu.RUnlock()
		return CheckSummary{}, nil, false
	}
	sum, res := s.summary(c), s.latest[name]
	s.mu.RUnlock()
	if res == nil {
		one := []CheckSummary{sum}
		s.fillFromHistory(one)
		sum = one[0]
	}
	return sum, res, true
}

func (s *Status) summary(c *checks.Check) CheckSummary {
	cs := CheckSummary{Name: c.Name, Description: c.Description, File: c.Pos.File, Schedule: c.Schedule,
		Labels: c.Labels, Tags: c.Tags, Steps: len(c.Steps)}
	if s.nextRun != nil {
		if t, ok := s.nextRun(c.Name); ok {
			cs.NextRun = &t
		}
	}
	r := s.latest[c.Name]
	if r == nil {
		return cs
	}
	rs := &ResultSummary{Passed: r.Passed, Started: r.Started, DurationSeconds: r.Duration.Seconds(),
		Attempts: len(r.Attempts), Reason: r.Reason, Message: r.Message, InMaintenance: r.InMaintenance}
	if fs := r.FailedStep(); fs != nil {
		rs.FailingStep = fs.Name
		for i := range fs.Assertions {
			if !fs.Assertions[i].Passed {
				a := fs.Assertions[i]
				rs.FailingAssert = &a
				break
			}
		}
	}
	cs.LastResult = rs
	return cs
}
