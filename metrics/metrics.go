// Package metrics exposes check results as Prometheus metrics. It is a
// results sink: it reads checks.Result values and never reaches back into
// the engine or the scheduler.
//
// Label values come only from configuration: the check name, step names,
// the bounded failure reasons, rule IDs, and the user labels that the
// global config declares (metrics.labels). Counters of a configured check
// exist at 0 from the moment it is loaded; gauges that describe a result
// appear with its first result and vanish only when the check is removed.
package metrics

import (
	"context"
	"runtime"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Phases are the values of the phase label of assay_step_phase_duration_seconds.
var Phases = []string{"dns", "connect", "tls", "first_byte", "total"}

// Metrics holds every assay collector.
type Metrics struct {
	userLabels []string

	success      *prometheus.GaugeVec
	duration     *prometheus.HistogramVec
	runs         *prometheus.CounterVec
	failures     *prometheus.CounterVec
	lastRun      *prometheus.GaugeVec
	lastSuccess  *prometheus.GaugeVec
	stepStatus   *prometheus.GaugeVec
	phase        *prometheus.GaugeVec
	tlsExpiry    *prometheus.GaugeVec
	skipped      *prometheus.CounterVec
	findings     *prometheus.CounterVec
	lateness     prometheus.Histogram
	reloadOK     prometheus.Gauge
	reloadOKTime prometheus.Gauge
	checksLoaded prometheus.Gauge

	mu     sync.Mutex
	loaded map[string]*loadedCheck
}

type loadedCheck struct {
	fingerprint string
	labels      []string // values of "check" then the user labels
	steps       []string
}

// Options configure New.
type Options struct {
	// UserLabels are check label names exported on check metrics.
	UserLabels []string
	// Version is reported by assay_build_info.
	Version string
	// GoCollectors adds the Go runtime and process collectors.
	GoCollectors bool
}

// New registers every collector on reg.
func New(reg prometheus.Registerer, opts Options) *Metrics {
	checkLabels := append([]string{"check"}, opts.UserLabels...)
	m := &Metrics{
		userLabels: opts.UserLabels,
		loaded:     map[string]*loadedCheck{},
		success: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "assay_check_success",
			Help: "Whether the last run of the check passed (1) or failed (0).",
		}, checkLabels),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:                            "assay_check_duration_seconds",
			Help:                            "Duration of check runs, all attempts included.",
			Buckets:                         []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
			NativeHistogramBucketFactor:     1.1,
			NativeHistogramMaxBucketNumber:  100,
			NativeHistogramMinResetDuration: time.Hour,
		}, checkLabels),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "assay_check_runs_total",
			Help: "Runs of the check (a run includes its retries).",
		}, checkLabels),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "assay_check_failures_total",
			Help: "Failed runs of the check by reason.",
		}, append(slices.Clone(checkLabels), "reason")),
		lastRun: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "assay_check_last_run_timestamp_seconds",
			Help: "When the last run of the check finished, in Unix seconds.",
		}, checkLabels),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "assay_check_last_success_timestamp_seconds",
			Help: "When the last passing run of the check finished, in Unix seconds.",
		}, checkLabels),
		stepStatus: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "assay_step_status_code",
			Help: "HTTP status code of the step's last response; 0 when the step got no response.",
		}, []string{"check", "step"}),
		phase: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "assay_step_phase_duration_seconds",
			Help: "Duration of each phase of the step's last request (dns, connect, tls, first_byte, total).",
		}, []string{"check", "step", "phase"}),
		tlsExpiry: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "assay_check_tls_cert_expiry_timestamp_seconds",
			Help: "Earliest expiry (NotAfter) of the server certificates seen by the check's last run, in Unix seconds.",
		}, []string{"check"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "assay_check_skipped_runs_total",
			Help: "Runs not started because the previous run of the check was still in flight.",
		}, []string{"check"}),
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
	revision := "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				revision = s.Value
			}
		}
	}
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "assay_build_info",
		Help:        "A metric with a constant '1' value labeled by version, revision and goversion of assay.",
		ConstLabels: prometheus.Labels{"version": version, "revision": revision, "goversion": runtime.Version()},
	})
	buildInfo.Set(1)
	reg.MustRegister(m.success, m.duration, m.runs, m.failures, m.lastRun, m.lastSuccess,
		m.stepStatus, m.phase, m.tlsExpiry, m.skipped, m.findings, m.lateness, m.reloadOK,
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
// new checks get their counters at 0.
func (m *Metrics) SetChecks(cs []*checks.Check) {
	m.mu.Lock()
	defer m.mu.Unlock()
	keep := make(map[string]bool, len(cs))
	for _, c := range cs {
		keep[c.Name] = true
		lv := m.labelValues(c)
		steps := make([]string, len(c.Steps))
		for i, s := range c.Steps {
			steps[i] = s.Name
		}
		old, ok := m.loaded[c.Name]
		if ok && old.fingerprint == c.Fingerprint {
			continue
		}
		if ok {
			if !slices.Equal(old.labels, lv) {
				m.deleteCheck(c.Name)
			} else {
				for _, s := range old.steps {
					if !slices.Contains(steps, s) {
						m.deleteStep(c.Name, s)
					}
				}
			}
		}
		m.loaded[c.Name] = &loadedCheck{fingerprint: c.Fingerprint, labels: lv, steps: steps}
		m.runs.WithLabelValues(lv...)
		for _, r := range checks.Reasons {
			m.failures.WithLabelValues(append(slices.Clone(lv), string(r))...)
		}
		m.skipped.WithLabelValues(c.Name)
	}
	for name := range m.loaded {
		if !keep[name] {
			m.deleteCheck(name)
			delete(m.loaded, name)
		}
	}
	m.checksLoaded.Set(float64(len(m.loaded)))
}

func (m *Metrics) deleteCheck(name string) {
	match := prometheus.Labels{"check": name}
	for _, v := range []interface {
		DeletePartialMatch(prometheus.Labels) int
	}{m.success, m.duration, m.runs, m.failures, m.lastRun, m.lastSuccess, m.stepStatus, m.phase, m.tlsExpiry, m.skipped, m.findings} {
		v.DeletePartialMatch(match)
	}
}

func (m *Metrics) deleteStep(check, step string) {
	match := prometheus.Labels{"check": check, "step": step}
	m.stepStatus.DeletePartialMatch(match)
	m.phase.DeletePartialMatch(match)
}

// Record implements checks.Sink.
func (m *Metrics) Record(_ context.Context, r *checks.Result) {
	m.mu.Lock()
	lc, ok := m.loaded[r.Check]
	m.mu.Unlock()
	if !ok {
		return // removed while this run was in flight: no series come back
	}
	lv := lc.labels
	end := r.Started.Add(r.Duration)
	m.runs.WithLabelValues(lv...).Inc()
	m.duration.WithLabelValues(lv...).Observe(r.Duration.Seconds())
	m.lastRun.WithLabelValues(lv...).Set(unix(end))
	if r.Passed {
		m.success.WithLabelValues(lv...).Set(1)
		m.lastSuccess.WithLabelValues(lv...).Set(unix(end))
	} else {
		m.success.WithLabelValues(lv...).Set(0)
		reason := r.Reason
		if reason == checks.ReasonNone {
			reason = checks.ReasonInternal
		}
		m.failures.WithLabelValues(append(slices.Clone(lv), string(reason))...).Inc()
	}
	var earliest time.Time
	for _, s := range r.Steps() {
		if s.Skipped {
			continue
		}
		status := 0
		if s.Response != nil {
			status = s.Response.Status
		}
		m.stepStatus.WithLabelValues(r.Check, s.Name).Set(float64(status))
		t := s.Timings
		for i, d := range []time.Duration{t.DNS, t.Connect, t.TLS, t.FirstByte, t.Total} {
			m.phase.WithLabelValues(r.Check, s.Name, Phases[i]).Set(d.Seconds())
		}
		if s.TLS != nil && (earliest.IsZero() || s.TLS.NotAfter.Before(earliest)) {
			earliest = s.TLS.NotAfter
		}
		for _, f := range s.Findings {
			m.findings.WithLabelValues(r.Check, f.Rule).Inc()
		}
	}
	if !earliest.IsZero() {
		m.tlsExpiry.WithLabelValues(r.Check).Set(unix(earliest))
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
	_, ok := m.loaded[check]
	m.mu.Unlock()
	if ok {
		m.skipped.WithLabelValues(check).Inc()
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
