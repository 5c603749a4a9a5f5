// Package metrics exposes check results as Prometheus metrics. It is a
// results sink: it reads checks.Result values and never reaches back into
// the engine or the scheduler.
//
// Label values come only from configuration: the check name, step names,
// the bounded failure reasons, rule IDs, and the user labels that the
// global config declares (metrics.labels). assay_check_runs_total of a
// configured check exists at 0 from the moment it is loaded; the counters
// of rare events (failures by reason, skipped runs) appear with their
// first event; gauges that describe a result appear with its first result;
// all vanish only when the check is removed (series.go). The duration
// histogram is a native histogram, with classic buckets only when
// Options.ClassicHistograms asks for them.
package metrics

import (
	"context"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/internal/buildinfo"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Phases are the values of the phase label of assay_step_phase_duration_seconds.
var Phases = []string{"dns", "connect", "tls", "first_byte", "total"}

// Metrics holds every assay collector.
type Metrics struct {
	userLabels []string
	labelNames []string // "check" then the user labels

	// The per-check counters, gauges and histograms are compact series
	// (series.go, histogram.go), gathered apart (families.go).
	classic  bool // classic buckets on the duration histograms
	findings *prometheus.CounterVec

	lateness     prometheus.Histogram
	reloadOK     prometheus.Gauge
	reloadOKTime prometheus.Gauge
	checksLoaded prometheus.Gauge

	mu     sync.Mutex
	loaded map[string]*checkSeries

	// streamB is the builder a streamed scrape writes its families in,
	// kept for the next one (scrapeMu): a scrape of 10,000 checks then
	// allocates almost nothing, and does not set off a collection.
	scrapeMu sync.Mutex
	streamB  *builder
}

// Options configure New.
type Options struct {
	// UserLabels are check label names exported on check metrics.
	UserLabels []string
	// Version is reported by assay_build_info.
	Version string
	// GoCollectors adds the Go runtime and process collectors.
	GoCollectors bool
	// ClassicHistograms adds classic buckets (_bucket{le=...}) to the
	// per-check duration histogram besides its native buckets: 16 more
	// series a check, for a Prometheus that cannot scrape native
	// histograms (config: metrics.classic_histograms).
	ClassicHistograms bool
}

// durationBuckets are the classic buckets of assay_check_duration_seconds
// when Options.ClassicHistograms is set.
var durationBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// New registers the daemon-wide collectors on reg, and the descriptions
// of the per-check families, whose samples m.Gatherer(reg) adds (see
// families.go).
func New(reg prometheus.Registerer, opts Options) *Metrics {
	checkLabels := append([]string{"check"}, opts.UserLabels...)
	m := &Metrics{
		classic:    opts.ClassicHistograms,
		userLabels: opts.UserLabels,
		labelNames: checkLabels,
		loaded:     map[string]*checkSeries{},
		findings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "assay_semantics_findings_total",
			Help: "HTTP semantics rule violations seen in responses, by rule ID.",
		}, []string{"check", "rule"}),
		lateness: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:                            "assay_scheduler_lateness_seconds",
			Help:                            "Actual start of a run minus its planned start.",
			Buckets:                         []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
			NativeHistogramBucketFactor:     1.1,
			NativeHistogramMaxBucketNumber:  100,
			NativeHistogramMinResetDuration: time.Hour,
		}),
		reloadOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "assay_config_last_reload_successful",
			Help: "Whether the last configuration reload succeeded (1) or was rejected (0).",
		}),
		reloadOKTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "assay_config_last_reload_success_timestamp_seconds",
			Help: "When the configuration was last loaded successfully, in Unix seconds.",
		}),
		checksLoaded: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "assay_checks",
			Help: "Number of checks configured.",
		}),
	}
	version := opts.Version
	// The same revision as `assay version` prints.
	revision := buildinfo.Read().Revision
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "assay_build_info",
		Help:        "A metric with a constant '1' value labeled by version, revision and goversion of assay.",
		ConstLabels: prometheus.Labels{"version": version, "revision": revision, "goversion": runtime.Version()},
	})
	buildInfo.Set(1)
	reg.MustRegister(newDescriber(checkLabels), m.findings, m.lateness, m.reloadOK,
		m.reloadOKTime, m.checksLoaded, buildInfo)
	if opts.GoCollectors {
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	return m
}

func (m *Metrics) labelValues(c *checks.Check) []string {
	v := make([]string, 0, 1+len(m.userLabels))
	v = append(v, c.Name)
	for _, l := range m.userLabels {
		v = append(v, c.Labels[l])
	}
	return v
}

// SetChecks is called with the whole set after every successful load.
// Removed checks lose all their series; a changed check loses the series
// that no longer describe it (another label value, a step that is gone);
// new checks get assay_check_runs_total at 0.
func (m *Metrics) SetChecks(cs []*checks.Check) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	keep := make(map[string]bool, len(cs))
	for _, c := range cs {
		keep[c.Name] = true
		lv := m.labelValues(c)
		// Finally steps (teardown) have their step series too.
		steps := make([]string, 0, len(c.Steps)+len(c.Finally))
		for _, s := range c.Steps {
			steps = append(steps, s.Name)
		}
		for _, s := range c.Finally {
			steps = append(steps, s.Name)
		}
		old, ok := m.loaded[c.Name]
		if ok && old.fingerprint == c.Fingerprint {
			continue
		}
		if ok && slices.Equal(old.labels, lv) {
			// The same series: keep them, less the steps that went.
			old.mu.Lock()
			old.fingerprint, old.steps = c.Fingerprint, steps
			old.stepVals = slices.DeleteFunc(old.stepVals, func(ss *stepSeries) bool { return !slices.Contains(steps, ss.name) })
			old.mu.Unlock()
			continue
		}
		if ok {
			m.deleteCheck(old)
		}
		m.loaded[c.Name] = newCheckSeries(m.labelNames, lv, c.Fingerprint, steps, now)
	}
	for name, s := range m.loaded {
		if !keep[name] {
			m.deleteCheck(s)
			delete(m.loaded, name)
		}
	}
	m.checksLoaded.Set(float64(len(m.loaded)))
}

// deleteCheck drops the series of s, which is no longer configured as it is.
func (m *Metrics) deleteCheck(s *checkSeries) {
	s.mu.Lock()
	s.removed = true
	s.mu.Unlock()
	// After removed is set, no record creates these again.
	match := prometheus.Labels{"check": s.labels[0]}
	m.findings.DeletePartialMatch(match)
}

// Record implements checks.Sink.
func (m *Metrics) Record(_ context.Context, r *checks.Result) {
	m.mu.Lock()
	s, ok := m.loaded[r.Check]
	m.mu.Unlock()
	if !ok {
		return // removed while this run was in flight: no series come back
	}
	end := unix(r.Started.Add(r.Duration))
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.removed {
		return
	}
	if s.duration == nil {
		s.duration = newDurationHist(m.classic, s.created) // counting since the check was loaded
	}
	s.runs++
	s.duration.observe(r.Duration.Seconds())
	s.hasResult, s.lastRun = true, end
	if r.Passed {
		s.success, s.hasSuccess, s.lastSuccess = 1, true, end
	} else {
		s.success = 0
		reason := r.Reason
		if reason == checks.ReasonNone {
			reason = checks.ReasonInternal
		}
		if i, ok := reasonIndex[reason]; ok {
			s.fail(i, time.Now())
		}
	}
	var earliest time.Time
	for _, st := range r.Steps() {
		if st.Skipped {
			continue
		}
		if ss := s.step(st.Name); ss != nil {
			ss.status = 0
			if st.Response != nil {
				ss.status = float64(st.Response.Status)
			}
			t := st.Timings
			for i, d := range [...]time.Duration{t.DNS, t.Connect, t.TLS, t.FirstByte, t.Total} {
				ss.phases[i] = d.Seconds()
			}
		}
		if st.TLS != nil && (earliest.IsZero() || st.TLS.NotAfter.Before(earliest)) {
			earliest = st.TLS.NotAfter
		}
		for _, f := range st.Findings {
			m.findings.WithLabelValues(r.Check, f.Rule).Inc()
		}
	}
	if !earliest.IsZero() {
		s.hasTLS, s.tlsTime = true, unix(earliest)
	}
}

func unix(t time.Time) float64 { return float64(t.Unix()) + float64(t.Nanosecond())/1e9 }

// Lateness implements scheduler.Observer.
func (m *Metrics) Lateness(_ string, d time.Duration) {
	if d < 0 {
		d = 0
	}
	m.lateness.Observe(d.Seconds())
}

// Skipped implements scheduler.Observer.
func (m *Metrics) Skipped(check string) {
	m.mu.Lock()
	s, ok := m.loaded[check]
	m.mu.Unlock()
	if ok {
		s.mu.Lock()
		if !s.removed {
			s.skip(time.Now())
		}
		s.mu.Unlock()
	}
}

// Reloaded records the outcome of a configuration (re)load.
func (m *Metrics) Reloaded(ok bool, at time.Time) {
	if ok {
		m.reloadOK.Set(1)
		m.reloadOKTime.Set(unix(at))
	} else {
		m.reloadOK.Set(0)
	}
}
