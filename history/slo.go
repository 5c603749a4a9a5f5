package history

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/prometheus/client_golang/prometheus"
)

// Burn-rate windows of assay_check_slo_burn_rate.
var burnWindows = []struct {
	label string
	d     time.Duration
}{{"1h", time.Hour}, {"6h", 6 * time.Hour}}

// sloRefresh is how old the figures of a scrape may be: they come from
// the aggregates, so a scrape every few seconds need not query each time.
const sloRefresh = 15 * time.Second

// SLOs exports the SLO metrics of the checks that have an objective,
// computed from the history's aggregates so that they survive a restart:
//
//	assay_check_slo_objective_ratio            the objective (0.999)
//	assay_check_error_budget_remaining_ratio   1 - (failed/runs)/(1-objective) over the SLO window
//	assay_check_slo_burn_rate{window="1h"|"6h"} (failed/runs)/(1-objective) over the last 1h and 6h
//
// Availability is passing runs over runs. With no runs in a window the
// budget is whole (1) and the burn rate 0. The budget goes negative when
// it is overspent.
type SLOs struct {
	r          Reader
	defaults   *checks.SLO
	userLabels []string
	log        *slog.Logger
	now        func() time.Time

	objective, budget, burn *prometheus.Desc

	mu       sync.Mutex
	slos     map[string]sloOf
	computed time.Time
	cache    []prometheus.Metric
}

type sloOf struct {
	slo    checks.SLO
	labels []string // check, then the user labels
}

// NewSLOs returns the collector; register it and give it the checks with
// SetChecks. defaults is defaults.slo of the global config (may be nil);
// userLabels are metrics.labels, added to every series.
func NewSLOs(r Reader, defaults *checks.SLO, userLabels []string, log *slog.Logger) *SLOs {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	labels := append([]string{"check"}, userLabels...)
	return &SLOs{r: r, defaults: defaults, userLabels: userLabels, log: log, now: time.Now, slos: map[string]sloOf{},
		objective: prometheus.NewDesc("assay_check_slo_objective_ratio",
			"The check's SLO objective: the share of runs that must pass over the SLO window.", labels, nil),
		budget: prometheus.NewDesc("assay_check_error_budget_remaining_ratio",
			"Share of the SLO window's error budget left: 1 - (failed/runs)/(1-objective); negative when overspent.", labels, nil),
		burn: prometheus.NewDesc("assay_check_slo_burn_rate",
			"How fast the error budget burns over the window: (failed/runs)/(1-objective); 1 spends it exactly over the SLO window.",
			append(slices.Clone(labels), "window"), nil),
	}
}

// SetChecks takes the loaded checks (on start and every reload).
func (s *SLOs) SetChecks(cs []*checks.Check) {
	m := map[string]sloOf{}
	for _, c := range cs {
		slo := c.EffectiveSLO(s.defaults)
		if slo == nil {
			continue
		}
		lv := []string{c.Name}
		for _, l := range s.userLabels {
			lv = append(lv, c.Labels[l])
		}
		m[c.Name] = sloOf{slo: *slo, labels: lv}
	}
	s.mu.Lock()
	s.slos, s.computed = m, time.Time{}
	s.mu.Unlock()
}

// Describe implements prometheus.Collector.
func (s *SLOs) Describe(ch chan<- *prometheus.Desc) {
	ch <- s.objective
	ch <- s.budget
	ch <- s.burn
}

// Collect implements prometheus.Collector.
func (s *SLOs) Collect(ch chan<- prometheus.Metric) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if s.computed.IsZero() || now.Sub(s.computed) >= sloRefresh {
		if ms, err := s.compute(now); err != nil {
			s.log.Warn("history: computing SLO metrics failed; the last figures are exported", "err", err)
		} else {
			s.cache, s.computed = ms, now
		}
	}
	for _, m := range s.cache {
		ch <- m
	}
}

// compute reads the aggregates once per distinct window. s.mu is held.
func (s *SLOs) compute(now time.Time) ([]prometheus.Metric, error) {
	if len(s.slos) == 0 {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	byWindow := map[time.Duration]map[string]Counts{}
	windows := []time.Duration{}
	for _, o := range s.slos {
		windows = append(windows, o.slo.Window.D())
	}
	for _, b := range burnWindows {
		windows = append(windows, b.d)
	}
	for _, w := range windows {
		if _, ok := byWindow[w]; ok {
			continue
		}
		cs, err := s.r.CountsAll(ctx, now.Add(-w), now.Add(time.Minute))
		if err != nil {
			return nil, err
		}
		byWindow[w] = cs
	}
	var out []prometheus.Metric
	for _, name := range slices.Sorted(maps.Keys(s.slos)) {
		o := s.slos[name]
		obj := float64(o.slo.Objective)
		allowed := 1 - obj
		out = append(out, prometheus.MustNewConstMetric(s.objective, prometheus.GaugeValue, obj, o.labels...))
		out = append(out, prometheus.MustNewConstMetric(s.budget, prometheus.GaugeValue,
			1-failedRatio(byWindow[o.slo.Window.D()][name])/allowed, o.labels...))
		for _, b := range burnWindows {
			out = append(out, prometheus.MustNewConstMetric(s.burn, prometheus.GaugeValue,
				failedRatio(byWindow[b.d][name])/allowed, append(slices.Clone(o.labels), b.label)...))
		}
	}
	return out, nil
}

// failedRatio is failed runs over runs, 0 without runs.
func failedRatio(c Counts) float64 {
	if c.Runs <= 0 {
		return 0
	}
	return float64(c.Failures) / float64(c.Runs)
}
