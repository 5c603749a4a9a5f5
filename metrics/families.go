package metrics

import (
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// The per-check series are not gathered through a prometheus.Registry.
// Registry.Gather has every sample written by a Collector into a
// dto.Metric of its own, hashes its labels to check that no two are
// alike, and copies it into its family: about 400 bytes and a
// microsecond a sample, 45 MB and half a second for the 110,000 samples
// of 10,000 checks, held until the scrape is written. Here the samples
// are written straight into their families from slabs of dto values
// (about 170 bytes each), and the checks (unique names from one
// validated config) need no such check. The registry still knows their
// descriptions, so nothing else can register the same names.

// family describes one per-check metric family.
type family struct {
	name, help string
	typ        dto.MetricType
	labels     []string // after "check" and the user labels when withUser; else all of them
	withUser   bool
}

// The per-check families, in name order (the order of the exposition).
var (
	famDuration    = family{"assay_check_duration_seconds", "Duration of check runs, all attempts included.", dto.MetricType_HISTOGRAM, nil, true}
	famFailures    = family{"assay_check_failures_total", "Failed runs of the check by reason.", dto.MetricType_COUNTER, []string{"reason"}, true}
	famLastRun     = family{"assay_check_last_run_timestamp_seconds", "When the last run of the check finished, in Unix seconds.", dto.MetricType_GAUGE, nil, true}
	famLastSuccess = family{"assay_check_last_success_timestamp_seconds", "When the last passing run of the check finished, in Unix seconds.", dto.MetricType_GAUGE, nil, true}
	famRuns        = family{"assay_check_runs_total", "Runs of the check (a run includes its retries).", dto.MetricType_COUNTER, nil, true}
	famSkipped     = family{"assay_check_skipped_runs_total", "Runs not started because the previous run of the check was still in flight.", dto.MetricType_COUNTER, []string{"check"}, false}
	famSuccess     = family{"assay_check_success", "Whether the last run of the check passed (1) or failed (0).", dto.MetricType_GAUGE, nil, true}
	famTLSExpiry   = family{"assay_check_tls_cert_expiry_timestamp_seconds", "Earliest expiry (NotAfter) of the server certificates seen by the check's last run, in Unix seconds.", dto.MetricType_GAUGE, []string{"check"}, false}
	famPhase       = family{"assay_step_phase_duration_seconds", "Duration of each phase of the step's last request (dns, connect, tls, first_byte, total).", dto.MetricType_GAUGE, []string{"check", "step", "phase"}, false}
	famStepStatus  = family{"assay_step_status_code", "HTTP status code of the step's last response; 0 when the step got no response.", dto.MetricType_GAUGE, []string{"check", "step"}, false}

	families = []*family{&famDuration, &famFailures, &famLastRun, &famLastSuccess, &famRuns,
		&famSkipped, &famSuccess, &famTLSExpiry, &famPhase, &famStepStatus}
)

// describer tells a registry the per-check families' descriptions, so
// that it refuses another collector of the same names; it collects
// nothing (Metrics.Gatherer writes them).
type describer struct{ descs []*prometheus.Desc }

func newDescriber(checkLabels []string) describer {
	var d describer
	for _, f := range families {
		labels := f.labels
		if f.withUser {
			labels = append(slices.Clone(checkLabels), f.labels...)
		}
		d.descs = append(d.descs, prometheus.NewDesc(f.name, f.help, labels, nil))
	}
	return d
}

func (d describer) Describe(ch chan<- *prometheus.Desc) {
	for _, desc := range d.descs {
		ch <- desc
	}
}

func (describer) Collect(chan<- prometheus.Metric) {}

// Gatherer returns a Gatherer of g's families and the per-check ones,
// sorted by name: what /metrics serves. g is the registry New was given
// (or one that gathers it).
func (m *Metrics) Gatherer(g prometheus.Gatherer) prometheus.Gatherer {
	return prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		mfs, err := g.Gather()
		own := m.gather()
		if len(own) == 0 {
			return mfs, err
		}
		mfs = append(mfs, own...)
		slices.SortStableFunc(mfs, func(a, b *dto.MetricFamily) int { return strings.Compare(a.GetName(), b.GetName()) })
		return mfs, err
	})
}

// slab hands out zeroed values from chunks: one allocation per 512.
type slab[T any] struct{ free []T }

func (s *slab[T]) next() *T {
	if len(s.free) == 0 {
		s.free = make([]T, 512)
	}
	p := &s.free[0]
	s.free = s.free[1:]
	return p
}

// builder collects the samples of one scrape.
type builder struct {
	metrics  slab[dto.Metric]
	gauges   slab[dto.Gauge]
	counters slab[dto.Counter]
	floats   slab[float64]
	byFam    map[*family][]*dto.Metric
}

func (b *builder) add(f *family, labels []*dto.LabelPair) *dto.Metric {
	m := b.metrics.next()
	m.Label = labels // shared and never changed, as client_golang's own metrics do
	b.byFam[f] = append(b.byFam[f], m)
	return m
}

func (b *builder) gauge(f *family, labels []*dto.LabelPair, v float64) {
	m := b.add(f, labels)
	g, fv := b.gauges.next(), b.floats.next()
	*fv = v
	g.Value = fv
	m.Gauge = g
}

func (b *builder) counter(f *family, labels []*dto.LabelPair, v float64, created *timestamppb.Timestamp) {
	m := b.add(f, labels)
	c, fv := b.counters.next(), b.floats.next()
	*fv = v
	c.Value, c.CreatedTimestamp = fv, created
	m.Counter = c
}

// gather writes the families of every configured check, checks in name
// order.
func (m *Metrics) gather() []*dto.MetricFamily {
	m.mu.Lock()
	all := make([]*checkSeries, 0, len(m.loaded))
	for _, s := range m.loaded {
		all = append(all, s)
	}
	m.mu.Unlock()
	slices.SortFunc(all, func(a, b *checkSeries) int { return strings.Compare(a.labels[0], b.labels[0]) })
	b := &builder{byFam: make(map[*family][]*dto.Metric, len(families))}
	for _, s := range all {
		s.write(b)
	}
	var out []*dto.MetricFamily
	for _, f := range families {
		ms := b.byFam[f]
		if len(ms) == 0 {
			continue
		}
		out = append(out, &dto.MetricFamily{Name: &f.name, Help: &f.help, Type: &f.typ, Metric: ms})
	}
	return out
}

// write adds the samples of s: reasons, steps and phases in name order.
func (s *checkSeries) write(b *builder) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.removed {
		return
	}
	b.counter(&famRuns, s.base, s.runs, s.created)
	if s.failures != nil {
		for _, i := range reasonOrder {
			if f := s.failures[i]; f != nil {
				b.counter(&famFailures, f.labels, f.value, f.created)
			}
		}
	}
	if s.skippedAt != nil {
		b.counter(&famSkipped, s.checkOnly, s.skipped, s.skippedAt)
	}
	if s.duration != nil {
		// The copy is the scrape's: encoding runs after the lock is released.
		b.add(&famDuration, s.base).Histogram = s.duration.write()
	}
	if s.hasResult {
		b.gauge(&famSuccess, s.base, s.success)
		b.gauge(&famLastRun, s.base, s.lastRun)
	}
	if s.hasSuccess {
		b.gauge(&famLastSuccess, s.base, s.lastSuccess)
	}
	if s.hasTLS {
		b.gauge(&famTLSExpiry, s.checkOnly, s.tlsTime)
	}
	for _, ss := range s.stepVals {
		b.gauge(&famStepStatus, ss.statusLabels(), ss.status)
		for _, i := range phaseOrder {
			b.gauge(&famPhase, ss.phaseLabels(i), ss.phases[i])
		}
	}
}
