package metrics

import (
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// The per-check counters and gauges are not client_golang vectors: a
// vector child costs about 500 bytes (its label pairs, a created
// timestamp, the map entry), and a check has 15 counters from the moment
// it is loaded and 3 + 6 per step gauges after its first result, so that
// 10,000 checks cost over 100 MB. A checkSeries holds the values of one
// check (a few hundred bytes) and builds its label pairs once; the
// collector below exposes exactly the series the vectors did. The
// duration histogram and the findings counters stay vectors.

// descs are the descriptions of the compact series.
type descs struct {
	success, runs, failures, lastRun, lastSuccess, stepStatus, phase, tlsExpiry, skipped *prometheus.Desc
}

func newDescs(checkLabels []string) descs {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	return descs{
		success:     d("assay_check_success", "Whether the last run of the check passed (1) or failed (0).", checkLabels...),
		runs:        d("assay_check_runs_total", "Runs of the check (a run includes its retries).", checkLabels...),
		failures:    d("assay_check_failures_total", "Failed runs of the check by reason.", append(slices.Clone(checkLabels), "reason")...),
		lastRun:     d("assay_check_last_run_timestamp_seconds", "When the last run of the check finished, in Unix seconds.", checkLabels...),
		lastSuccess: d("assay_check_last_success_timestamp_seconds", "When the last passing run of the check finished, in Unix seconds.", checkLabels...),
		stepStatus:  d("assay_step_status_code", "HTTP status code of the step's last response; 0 when the step got no response.", "check", "step"),
		phase:       d("assay_step_phase_duration_seconds", "Duration of each phase of the step's last request (dns, connect, tls, first_byte, total).", "check", "step", "phase"),
		tlsExpiry:   d("assay_check_tls_cert_expiry_timestamp_seconds", "Earliest expiry (NotAfter) of the server certificates seen by the check's last run, in Unix seconds.", "check"),
		skipped:     d("assay_check_skipped_runs_total", "Runs not started because the previous run of the check was still in flight.", "check"),
	}
}

func (d descs) all() []*prometheus.Desc {
	return []*prometheus.Desc{d.success, d.runs, d.failures, d.lastRun, d.lastSuccess, d.stepStatus, d.phase, d.tlsExpiry, d.skipped}
}

// checkSeries is the state of one configured check's series. mu guards
// everything but the fields set at creation.
type checkSeries struct {
	labels []string // values of "check" then the user labels
	// Label pairs, sorted by name as client_golang wants them, built once.
	base, checkOnly []*dto.LabelPair
	reasonAt        int // where the reason pair goes in base
	created         *timestamppb.Timestamp

	mu          sync.Mutex
	removed     bool // no longer configured: records are dropped
	fingerprint string
	steps       []string
	runs        float64
	skipped     float64
	failures    []float64 // per checks.Reasons
	// Gauges describing a result exist once one came.
	hasResult, hasSuccess, hasTLS          bool
	success, lastRun, lastSuccess, tlsTime float64
	stepVals                               map[string]*stepSeries
	duration                               prometheus.Observer
}

// stepSeries are the gauges of a step with a result.
type stepSeries struct {
	status      float64
	phases      [5]float64 // in the order of Phases
	statusPairs []*dto.LabelPair
	phasePairs  [5][]*dto.LabelPair
}

var (
	reasonIndex = func() map[checks.Reason]int {
		m := make(map[checks.Reason]int, len(checks.Reasons))
		for i, r := range checks.Reasons {
			m[r] = i
		}
		return m
	}()
	// Label pairs shared by every check: never changed once built.
	reasonPairs = func() []*dto.LabelPair {
		out := make([]*dto.LabelPair, len(checks.Reasons))
		for i, r := range checks.Reasons {
			out[i] = pair("reason", string(r))
		}
		return out
	}()
	phasePairs = func() []*dto.LabelPair {
		out := make([]*dto.LabelPair, len(Phases))
		for i, p := range Phases {
			out[i] = pair("phase", p)
		}
		return out
	}()
)

func pair(name, value string) *dto.LabelPair {
	return &dto.LabelPair{Name: &name, Value: &value}
}

func sorted(ps ...*dto.LabelPair) []*dto.LabelPair {
	sort.Slice(ps, func(i, j int) bool { return ps[i].GetName() < ps[j].GetName() })
	return ps
}

func newCheckSeries(labelNames, labels []string, fingerprint string, steps []string, now time.Time) *checkSeries {
	s := &checkSeries{labels: labels, fingerprint: fingerprint, steps: steps,
		failures: make([]float64, len(checks.Reasons)), created: timestamppb.New(now)}
	s.base = make([]*dto.LabelPair, len(labels))
	for i, v := range labels {
		s.base[i] = pair(labelNames[i], v)
	}
	s.checkOnly = []*dto.LabelPair{s.base[0]}
	s.base = sorted(s.base...)
	s.reasonAt = sort.Search(len(s.base), func(i int) bool { return s.base[i].GetName() > "reason" })
	return s
}

// step returns the gauges of a configured step, creating them; nil for a
// step the check no longer has. s.mu is held.
func (s *checkSeries) step(name string) *stepSeries {
	if ss := s.stepVals[name]; ss != nil {
		return ss
	}
	if !slices.Contains(s.steps, name) {
		return nil
	}
	stepPair := pair("step", name)
	ss := &stepSeries{statusPairs: []*dto.LabelPair{s.checkOnly[0], stepPair}}
	for i := range Phases {
		ss.phasePairs[i] = sorted(s.checkOnly[0], phasePairs[i], stepPair)
	}
	if s.stepVals == nil {
		s.stepVals = map[string]*stepSeries{}
	}
	s.stepVals[name] = ss
	return ss
}

// counterPoint and gaugePoint are samples of compact series, with room
// for what they write: a scrape of 10,000 checks makes 250,000 of them, one
// allocation each.
type counterPoint struct {
	desc   *prometheus.Desc
	labels []*dto.LabelPair
	value  float64
	out    dto.Counter
}

func (p *counterPoint) Desc() *prometheus.Desc { return p.desc }

func (p *counterPoint) Write(out *dto.Metric) error {
	out.Label = p.labels // shared and never changed, as client_golang's own metrics do
	p.out.Value = &p.value
	out.Counter = &p.out
	return nil
}

type gaugePoint struct {
	desc   *prometheus.Desc
	labels []*dto.LabelPair
	value  float64
	out    dto.Gauge
}

func (p *gaugePoint) Desc() *prometheus.Desc { return p.desc }

func (p *gaugePoint) Write(out *dto.Metric) error {
	out.Label = p.labels
	p.out.Value = &p.value
	out.Gauge = &p.out
	return nil
}

// collector exposes every checkSeries.
type collector struct{ m *Metrics }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.m.descs.all() {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	m := c.m
	m.mu.Lock()
	all := make([]*checkSeries, 0, len(m.loaded))
	for _, s := range m.loaded {
		all = append(all, s)
	}
	m.mu.Unlock()
	// In the order the registry sorts them into (by check, then reason,
	// phase, step), which makes its sort of 250,000 series for 10,000
	// checks nearly free; user labels named before "check" undo some of
	// that, never the correctness.
	slices.SortFunc(all, func(a, b *checkSeries) int { return strings.Compare(a.labels[0], b.labels[0]) })
	var buf []prometheus.Metric
	for _, s := range all {
		buf = s.points(&m.descs, buf[:0])
		for _, p := range buf {
			ch <- p
		}
	}
}

// points appends the samples of s.
func (s *checkSeries) points(d *descs, out []prometheus.Metric) []prometheus.Metric {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.removed {
		return out
	}
	counter := func(desc *prometheus.Desc, labels []*dto.LabelPair, v float64) {
		p := &counterPoint{desc: desc, labels: labels, value: v}
		p.out.CreatedTimestamp = s.created
		out = append(out, p)
	}
	gauge := func(desc *prometheus.Desc, labels []*dto.LabelPair, v float64) {
		out = append(out, &gaugePoint{desc: desc, labels: labels, value: v})
	}
	counter(d.runs, s.base, s.runs)
	// The failures' label pairs are made per scrape, in one allocation:
	// kept, they would be most of the memory of a check's series.
	n := len(s.base) + 1
	pairs := make([]*dto.LabelPair, n*len(s.failures))
	for _, i := range reasonOrder {
		ls := pairs[i*n : (i+1)*n : (i+1)*n]
		copy(ls, s.base[:s.reasonAt])
		ls[s.reasonAt] = reasonPairs[i]
		copy(ls[s.reasonAt+1:], s.base[s.reasonAt:])
		counter(d.failures, ls, s.failures[i])
	}
	counter(d.skipped, s.checkOnly, s.skipped)
	if s.hasResult {
		gauge(d.success, s.base, s.success)
		gauge(d.lastRun, s.base, s.lastRun)
	}
	if s.hasSuccess {
		gauge(d.lastSuccess, s.base, s.lastSuccess)
	}
	if s.hasTLS {
		gauge(d.tlsExpiry, s.checkOnly, s.tlsTime)
	}
	if len(s.stepVals) > 0 {
		steps := make([]*stepSeries, 0, len(s.stepVals))
		for _, ss := range s.stepVals {
			steps = append(steps, ss)
		}
		slices.SortFunc(steps, func(a, b *stepSeries) int {
			return strings.Compare(a.statusPairs[1].GetValue(), b.statusPairs[1].GetValue())
		})
		for _, ss := range steps {
			gauge(d.stepStatus, ss.statusPairs, ss.status)
		}
		for _, i := range phaseOrder {
			for _, ss := range steps {
				gauge(d.phase, ss.phasePairs[i], ss.phases[i])
			}
		}
	}
	return out
}

// sortedOrder returns the indexes of names in alphabetical order.
func sortedOrder(n int, name func(int) string) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	slices.SortFunc(out, func(a, b int) int { return strings.Compare(name(a), name(b)) })
	return out
}

var (
	reasonOrder = sortedOrder(len(checks.Reasons), func(i int) string { return string(checks.Reasons[i]) })
	phaseOrder  = sortedOrder(len(Phases), func(i int) string { return Phases[i] })
)
