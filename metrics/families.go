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
// alike, and copies it into its family: 44 MB and 0.25 to 0.45 s of CPU
// for the 110,000 samples of 10,000 checks, held until the scrape is
// written. Here the samples are written straight into their families
// from slabs of dto values: 33 MB allocated (25 MB of it held) and 0.1
// to 0.15 s. The checks (unique names from one validated config) need
// no uniqueness check. The registry still knows their descriptions, so
// nothing else can register the same names.

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

// Exposition is what /metrics serves: the families of a registry and
// the per-check ones, sorted by name.
type Exposition struct {
	m     *Metrics
	g     prometheus.Gatherer
	reuse bool // each family's samples in the memory of the one before
}

// Gatherer returns the exposition of g's families and the per-check
// ones. g is the registry New was given (or one that gathers it).
func (m *Metrics) Gatherer(g prometheus.Gatherer) *Exposition { return &Exposition{m: m, g: g} }

// Gather implements prometheus.Gatherer: every family at once.
func (e *Exposition) Gather() ([]*dto.MetricFamily, error) {
	var all []*dto.MetricFamily
	keep := Exposition{e.m, e.g, false}
	err := keep.stream(func(mf *dto.MetricFamily) error {
		all = append(all, mf)
		return nil
	})
	return all, err
}

// Stream calls yield with each family in name order, building each
// per-check family only when its turn comes, in the memory of the one
// before: a family must not be used after yield returns. A scrape so
// allocates for its largest family only (the phases: half the samples).
// A failed gather of the registry yields nothing.
func (e *Exposition) Stream(yield func(*dto.MetricFamily) error) error {
	reuse := Exposition{e.m, e.g, true}
	return reuse.stream(yield)
}

func (e *Exposition) stream(yield func(*dto.MetricFamily) error) error {
	mfs, err := e.g.Gather()
	if err != nil {
		return err
	}
	all := e.m.snapshot()
	// One family's samples at a time: after yield returns, the next
	// family is written over them (the largest, the phases, is half of
	// all), unless they are all kept (Gather).
	b := &builder{}
	if e.reuse {
		// The memory of the last streamed scrape, if any.
		e.m.scrapeMu.Lock()
		defer e.m.scrapeMu.Unlock()
		if e.m.streamB != nil {
			b = e.m.streamB
		}
		defer func() { b.reuse(); e.m.streamB = b }()
	}
	i := 0
	for _, f := range families {
		for ; i < len(mfs) && mfs[i].GetName() < f.name; i++ {
			if err := yield(mfs[i]); err != nil {
				return err
			}
		}
		if mf := b.family(all, f); mf != nil {
			if err := yield(mf); err != nil {
				return err
			}
		}
		if e.reuse {
			b.reuse()
		} else {
			b = &builder{}
		}
	}
	for ; i < len(mfs); i++ {
		if err := yield(mfs[i]); err != nil {
			return err
		}
	}
	return nil
}

// slab hands out zeroed values from chunks of 512, one allocation each.
// After reuse, the chunks it holds are handed out again.
type slab[T any] struct {
	chunks [][]T
	at, i  int // next: chunks[at][i]
}

func (s *slab[T]) next() *T {
	if s.at < len(s.chunks) && s.i == len(s.chunks[s.at]) {
		s.at, s.i = s.at+1, 0
	}
	if s.at == len(s.chunks) {
		s.chunks = append(s.chunks, make([]T, 512))
	}
	p := &s.chunks[s.at][s.i]
	s.i++
	return p
}

// reuse hands the values out again, zeroed: the caller is done with them.
func (s *slab[T]) reuse() {
	for _, c := range s.chunks[:min(s.at+1, len(s.chunks))] {
		clear(c)
	}
	s.at, s.i = 0, 0
}

// builder collects the samples of one family.
type builder struct {
	fam      *family
	metrics  slab[dto.Metric]
	gauges   slab[dto.Gauge]
	counters slab[dto.Counter]
	floats   slab[float64]
	out      []*dto.Metric
}

func (b *builder) add(labels []*dto.LabelPair) *dto.Metric {
	m := b.metrics.next()
	m.Label = labels // shared and never changed, as client_golang's own metrics do
	b.out = append(b.out, m)
	return m
}

func (b *builder) gauge(f *family, labels []*dto.LabelPair, v float64) {
	if f != b.fam {
		return
	}
	m := b.add(labels)
	g, fv := b.gauges.next(), b.floats.next()
	*fv = v
	g.Value = fv
	m.Gauge = g
}

func (b *builder) counter(f *family, labels []*dto.LabelPair, v float64, created *timestamppb.Timestamp) {
	if f != b.fam {
		return
	}
	m := b.add(labels)
	c, fv := b.counters.next(), b.floats.next()
	*fv = v
	c.Value, c.CreatedTimestamp = fv, created
	m.Counter = c
}

// snapshot is the configured checks in name order.
func (m *Metrics) snapshot() []*checkSeries {
	m.mu.Lock()
	all := make([]*checkSeries, 0, len(m.loaded))
	for _, s := range m.loaded {
		all = append(all, s)
	}
	m.mu.Unlock()
	slices.SortFunc(all, func(a, b *checkSeries) int { return strings.Compare(a.labels[0], b.labels[0]) })
	return all
}

// family writes family f of the checks all; nil when none has a sample.
func (b *builder) family(all []*checkSeries, f *family) *dto.MetricFamily {
	b.fam = f
	for _, s := range all {
		s.write(b)
	}
	if len(b.out) == 0 {
		return nil
	}
	return &dto.MetricFamily{Name: &f.name, Help: &f.help, Type: &f.typ, Metric: b.out}
}

// reuse makes b write its next family over the last one.
func (b *builder) reuse() {
	b.metrics.reuse()
	b.gauges.reuse()
	b.counters.reuse()
	b.floats.reuse()
	clear(b.out)
	b.out = b.out[:0]
}

// write adds the samples of s in b's family: reasons, steps and phases
// in name order.
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
	if s.duration != nil && b.fam == &famDuration {
		// The copy is the scrape's: encoding runs after the lock is released.
		b.add(s.base).Histogram = s.duration.write()
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
