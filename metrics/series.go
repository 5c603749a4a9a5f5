package metrics

import (
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/assay-monitor/assay/checks"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// The per-check counters and gauges are not client_golang vectors: a
// vector child costs about 500 bytes (its label pairs, a created
// timestamp, the map entry), so that 10,000 checks would cost tens of MB.
// A checkSeries holds the values of one check (a few hundred bytes) and
// builds its label pairs once; the collector below exposes exactly the
// series vectors would. The duration histogram is compact too
// (histogram.go); the findings counters, rare, stay a vector.
//
// Which series exist, and from when (the cardinality rules):
//   - assay_check_runs_total exists at 0 from load: a configured check
//     that never ran is 0, a check that is not configured is absent.
//   - the gauges describing a result appear with the first result (never
//     a made-up 0 that would page someone).
//   - counters of rare events (failures by reason, skipped runs) appear
//     with their first event, each with a created timestamp of that
//     moment (Prometheus can then start them at 0: created-timestamp
//     zero ingestion); 14 reasons at 0 for every check were more than
//     half of all series.

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
	skippedAt   *timestamppb.Timestamp // created at the first skip; nil before
	failures    []*failureSeries       // per checks.Reasons, nil until the first failure
	// Gauges describing a result exist once one came.
	hasResult, hasSuccess, hasTLS          bool
	success, lastRun, lastSuccess, tlsTime float64
	stepVals                               []*stepSeries // steps with a result, by name
	duration                               *durationHist // from the first result
}

// failureSeries is the counter of one failure reason of one check, which
// exists from its first failure.
type failureSeries struct {
	value   float64
	created *timestamppb.Timestamp
	labels  []*dto.LabelPair
}

// fail counts a failure with reason index i, creating its series. s.mu is
// held.
func (s *checkSeries) fail(i int, now time.Time) {
	if s.failures == nil {
		s.failures = make([]*failureSeries, len(checks.Reasons))
	}
	f := s.failures[i]
	if f == nil {
		ls := make([]*dto.LabelPair, 0, len(s.base)+1)
		ls = append(ls, s.base[:s.reasonAt]...)
		ls = append(ls, reasonPairs[i])
		ls = append(ls, s.base[s.reasonAt:]...)
		f = &failureSeries{created: timestamppb.New(now), labels: ls}
		s.failures[i] = f
	}
	f.value++
}

// skip counts a skipped run. s.mu is held.
func (s *checkSeries) skip(now time.Time) {
	if s.skippedAt == nil {
		s.skippedAt = timestamppb.New(now)
	}
	s.skipped++
}

// stepSeries are the gauges of a step with a result.
type stepSeries struct {
	name   string
	status float64
	phases [5]float64 // in the order of Phases
	// The label pairs of the status gauge (check, step), then those of
	// each phase (check, phase, step): one array, no slices to keep.
	pairs [2 + 3*5]*dto.LabelPair
}

func (ss *stepSeries) statusLabels() []*dto.LabelPair { return ss.pairs[0:2:2] }

// phaseLabels are the label pairs of phase i (in the order of Phases).
func (ss *stepSeries) phaseLabels(i int) []*dto.LabelPair {
	return ss.pairs[2+3*i : 5+3*i : 5+3*i]
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

// pair is a label pair. Values come from validated config, but the
// registry that would refuse invalid UTF-8 is not in the way of these
// series (families.go), and one bad value would fail every protobuf
// scrape: it is made valid here.
func pair(name, value string) *dto.LabelPair {
	value = strings.ToValidUTF8(value, "\uFFFD")
	return &dto.LabelPair{Name: &name, Value: &value}
}

func sorted(ps ...*dto.LabelPair) []*dto.LabelPair {
	sort.Slice(ps, func(i, j int) bool { return ps[i].GetName() < ps[j].GetName() })
	return ps
}

func newCheckSeries(labelNames, labels []string, fingerprint string, steps []string, now time.Time) *checkSeries {
	s := &checkSeries{labels: labels, fingerprint: fingerprint, steps: steps, created: timestamppb.New(now)}
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
	i, found := slices.BinarySearchFunc(s.stepVals, name, func(ss *stepSeries, name string) int { return strings.Compare(ss.name, name) })
	if found {
		return s.stepVals[i]
	}
	if !slices.Contains(s.steps, name) {
		return nil
	}
	// Names sort check < phase < step, as client_golang wants them.
	check, step := s.checkOnly[0], pair("step", name)
	ss := &stepSeries{name: name}
	ss.pairs[0], ss.pairs[1] = check, step
	for p := range Phases {
		copy(ss.pairs[2+3*p:], []*dto.LabelPair{check, phasePairs[p], step})
	}
	s.stepVals = slices.Insert(s.stepVals, i, ss)
	return ss
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
