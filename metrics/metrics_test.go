package metrics_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// setup returns new metrics and what /metrics serves of them.
func setup(t *testing.T) (*metrics.Metrics, prometheus.Gatherer) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m := metrics.New(reg, metrics.Options{UserLabels: []string{"team"}, Version: "test"})
	return m, m.Gatherer(reg)
}

// count is the number of series of the metric name.
func count(t *testing.T, g prometheus.Gatherer, name string) int {
	t.Helper()
	n, err := testutil.GatherAndCount(g, name)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func ck(name, fp string, steps ...string) *checks.Check {
	c := &checks.Check{Name: name, Fingerprint: fp, Labels: map[string]string{"team": "docs"}}
	for _, s := range steps {
		c.Steps = append(c.Steps, &checks.Step{Name: s})
	}
	return c
}

var t0 = time.Unix(1_800_000_000, 0)

func result(name string, passed bool, reason checks.Reason, status int) *checks.Result {
	return &checks.Result{Check: name, Started: t0, Duration: 250 * time.Millisecond, Passed: passed, Reason: reason,
		Attempts: []checks.Attempt{{Number: 1, Passed: passed, Steps: []checks.StepResult{{
			Name: "get", Passed: passed, Response: &checks.ResponseSummary{Status: status},
			Timings: checks.Timings{DNS: time.Millisecond, Connect: 2 * time.Millisecond, FirstByte: 10 * time.Millisecond, Total: 20 * time.Millisecond},
		}}}}}
}

func TestLint(t *testing.T) {
	m, reg := setup(t)
	m.SetChecks([]*checks.Check{ck("api", "1", "get")})
	m.Record(context.Background(), result("api", true, "", 200))
	m.Lateness("api", 3*time.Millisecond)
	m.Reloaded(true, t0)
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

func TestResultsBecomeSeries(t *testing.T) {
	m, reg := setup(t)
	m.SetChecks([]*checks.Check{ck("api", "1", "get")})
	m.Record(context.Background(), result("api", true, "", 200))
	m.Record(context.Background(), result("api", false, checks.ReasonTimeout, 0))
	want := `
# HELP assay_check_success Whether the last run of the check passed (1) or failed (0).
# TYPE assay_check_success gauge
assay_check_success{check="api",team="docs"} 0
# HELP assay_check_runs_total Runs of the check (a run includes its retries).
# TYPE assay_check_runs_total counter
assay_check_runs_total{check="api",team="docs"} 2
# HELP assay_check_last_success_timestamp_seconds When the last passing run of the check finished, in Unix seconds.
# TYPE assay_check_last_success_timestamp_seconds gauge
assay_check_last_success_timestamp_seconds{check="api",team="docs"} 1.80000000025e+09
# HELP assay_step_status_code HTTP status code of the step's last response; 0 when the step got no response.
# TYPE assay_step_status_code gauge
assay_step_status_code{check="api",step="get"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "assay_check_success", "assay_check_runs_total",
		"assay_check_last_success_timestamp_seconds", "assay_step_status_code"); err != nil {
		t.Error(err)
	}
	if v := testutil.ToFloat64(mustVec(t, reg, "assay_check_failures_total", "timeout")); v != 1 {
		t.Errorf("timeout failures = %v, want 1", v)
	}
	if n := count(t, reg, "assay_step_phase_duration_seconds"); n != len(metrics.Phases) {
		t.Errorf("%d phase series, want %d", n, len(metrics.Phases))
	}
}

// mustVec finds the failures series with the given reason.
func mustVec(t *testing.T, reg prometheus.Gatherer, name, reason string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" && l.GetValue() == reason {
					g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "x"})
					g.Set(m.GetCounter().GetValue())
					return g
				}
			}
		}
	}
	t.Fatalf("no %s{reason=%q}", name, reason)
	return nil
}

func TestRemovedCheckLosesItsSeries(t *testing.T) {
	m, reg := setup(t)
	m.SetChecks([]*checks.Check{ck("api", "1", "get"), ck("web", "1", "get")})
	m.Record(context.Background(), result("api", true, "", 200))
	m.Record(context.Background(), result("web", true, "", 200))
	m.SetChecks([]*checks.Check{ck("web", "1", "get")})
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		for _, mm := range mf.GetMetric() {
			for _, l := range mm.GetLabel() {
				if l.GetName() == "check" && l.GetValue() == "api" {
					t.Errorf("%s still has a series for the removed check", mf.GetName())
				}
			}
		}
	}
	// A run that was in flight when the check was removed brings nothing back.
	m.Record(context.Background(), result("api", true, "", 200))
	if n := count(t, reg, "assay_check_success"); n != 1 {
		t.Errorf("%d success series, want 1 (web only)", n)
	}
}

func TestUnchangedCheckKeepsItsSeriesAndChangedStepsGo(t *testing.T) {
	m, reg := setup(t)
	m.SetChecks([]*checks.Check{ck("api", "1", "get", "old-step")})
	r := result("api", true, "", 200)
	r.Attempts[0].Steps = append(r.Attempts[0].Steps, checks.StepResult{Name: "old-step", Passed: true, Response: &checks.ResponseSummary{Status: 204}})
	m.Record(context.Background(), r)
	m.SetChecks([]*checks.Check{ck("api", "1", "get", "old-step")}) // unchanged
	if v := count(t, reg, "assay_check_success"); v != 1 {
		t.Fatalf("unchanged check lost its success series")
	}
	m.SetChecks([]*checks.Check{ck("api", "2", "get")}) // step removed
	if n := count(t, reg, "assay_step_status_code"); n != 1 {
		t.Errorf("%d step status series after the step was removed, want 1", n)
	}
	if n := count(t, reg, "assay_check_runs_total"); n != 1 {
		t.Errorf("runs_total series %d, want 1 (kept)", n)
	}
}

func TestReloadGauges(t *testing.T) {
	m, reg := setup(t)
	m.Reloaded(true, t0)
	m.Reloaded(false, t0.Add(time.Minute))
	want := `
# HELP assay_config_last_reload_successful Whether the last configuration reload succeeded (1) or was rejected (0).
# TYPE assay_config_last_reload_successful gauge
assay_config_last_reload_successful 0
# HELP assay_config_last_reload_success_timestamp_seconds When the configuration was last loaded successfully, in Unix seconds.
# TYPE assay_config_last_reload_success_timestamp_seconds gauge
assay_config_last_reload_success_timestamp_seconds 1.8e+09
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "assay_config_last_reload_successful", "assay_config_last_reload_success_timestamp_seconds"); err != nil {
		t.Error(err)
	}
}

// Scrapes run while results, skips and reloads arrive (go test -race):
// every scrape is consistent, and the last one has what happened.
func TestScrapesWhileChecksRunAndReload(t *testing.T) {
	m, reg := setup(t)
	m.SetChecks([]*checks.Check{ck("api", "1", "get"), ck("web", "1", "get")})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 300 {
			m.Record(context.Background(), result("api", i%3 != 0, checks.Reasons[i%len(checks.Reasons)], 200))
			m.Skipped("web")
			if i%50 == 0 {
				m.SetChecks([]*checks.Check{ck("api", "1", "get"), ck("web", fmt.Sprint(i), "get", "other")})
			}
		}
	}()
	for scraping := true; scraping; {
		select {
		case <-done:
			scraping = false
		default:
		}
		if _, err := reg.Gather(); err != nil {
			t.Fatal(err)
		}
	}
	want := `
# HELP assay_check_runs_total Runs of the check (a run includes its retries).
# TYPE assay_check_runs_total counter
assay_check_runs_total{check="api",team="docs"} 300
assay_check_runs_total{check="web",team="docs"} 0
# HELP assay_check_skipped_runs_total Runs not started because the previous run of the check was still in flight.
# TYPE assay_check_skipped_runs_total counter
assay_check_skipped_runs_total{check="web"} 300
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "assay_check_runs_total", "assay_check_skipped_runs_total"); err != nil {
		t.Error(err)
	}
	if n := count(t, reg, "assay_check_failures_total"); n != len(checks.Reasons) {
		t.Errorf("%d failure series, want %d", n, len(checks.Reasons))
	}
}

// A label value that is not UTF-8 is written as valid UTF-8: Prometheus
// refuses a whole scrape for one such label.
func TestInvalidUTF8NeverFailsAScrape(t *testing.T) {
	m, reg := setup(t)
	c := ck("bad\xffname", "1", "st\xfep")
	c.Labels["team"] = "\xc3"
	m.SetChecks([]*checks.Check{c})
	r := result("bad\xffname", false, checks.ReasonTimeout, 0)
	r.Attempts[0].Steps[0].Name = "st\xfep"
	m.Record(context.Background(), r)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Errorf("%s: %v", mf.GetName(), err)
		}
	}
	if !utf8.Valid(buf.Bytes()) {
		t.Fatal("the text exposition is not UTF-8")
	}
	for _, want := range []string{
		`assay_check_failures_total{check="bad?name",reason="timeout",team="?"} 1`,
		`assay_step_status_code{check="bad?name",step="st?p"} 0`,
	} {
		want = strings.ReplaceAll(want, "?", "\uFFFD")
		if !strings.Contains(buf.String(), want+"\n") {
			t.Errorf("no %s in\n%s", want, buf.String())
		}
	}
}

// The exposition streams every family once, in name order, the
// registry's and the per-check ones merged.
func TestExpositionStreamsFamiliesInNameOrder(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := metrics.New(reg, metrics.Options{UserLabels: []string{"team"}, GoCollectors: true})
	m.SetChecks([]*checks.Check{ck("api", "1", "get")})
	m.Record(context.Background(), result("api", false, checks.ReasonTimeout, 0))
	m.Skipped("api")
	var names []string
	if err := m.Gatherer(reg).Stream(func(mf *dto.MetricFamily) error {
		names = append(names, mf.GetName())
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.IsSorted(names) || len(slices.Compact(slices.Clone(names))) != len(names) {
		t.Errorf("families not sorted and unique: %v", names)
	}
	for _, want := range []string{"assay_check_duration_seconds", "assay_check_failures_total", "assay_check_skipped_runs_total",
		"assay_step_phase_duration_seconds", "assay_scheduler_lateness_seconds", "go_goroutines", "process_cpu_seconds_total"} {
		if !slices.Contains(names, want) {
			t.Errorf("no %s in %v", want, names)
		}
	}
	// A yield error stops the stream.
	n := 0
	stop := errors.New("stop")
	if err := m.Gatherer(reg).Stream(func(*dto.MetricFamily) error { n++; return stop }); err != stop || n != 1 {
		t.Errorf("Stream after an error: %v, %d families", err, n)
	}
}

// Streamed families, each written over the last one's memory, encode to
// exactly what the gathered ones (each in memory of its own) do; 600
// checks fill several slab chunks.
func TestStreamedFamiliesEncodeAsGatheredOnes(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := metrics.New(reg, metrics.Options{UserLabels: []string{"team"}, ClassicHistograms: true})
	var cs []*checks.Check
	for i := range 600 {
		cs = append(cs, ck(fmt.Sprintf("c%03d", i), "1", "get"))
	}
	m.SetChecks(cs)
	for i, c := range cs {
		m.Record(context.Background(), result(c.Name, i%2 == 0, checks.Reasons[i%len(checks.Reasons)], 200+i))
		if i%3 == 0 {
			m.Skipped(c.Name)
		}
	}
	encode := func(each func(func(*dto.MetricFamily) error) error) string {
		var buf bytes.Buffer
		enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeProtoText))
		if err := each(func(mf *dto.MetricFamily) error { return enc.Encode(mf) }); err != nil {
			t.Fatal(err)
		}
		return buf.String()
	}
	e := m.Gatherer(reg)
	streamed := encode(e.Stream)
	gathered := encode(func(yield func(*dto.MetricFamily) error) error {
		mfs, err := e.Gather()
		for _, mf := range mfs {
			if err := yield(mf); err != nil {
				return err
			}
		}
		return err
	})
	if streamed != gathered || !strings.Contains(streamed, `"c599"`) {
		t.Errorf("streamed and gathered families differ (%d and %d bytes)", len(streamed), len(gathered))
	}
}
