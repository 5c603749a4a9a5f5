package metrics_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
)

// seriesOf lists the series of one check as a Prometheus that scrapes
// native histograms stores them: the name and the labels other than
// check and the user labels. A native histogram is one series; classic
// buckets, _sum and _count are one each.
func seriesOf(t *testing.T, reg prometheus.Gatherer, check string) []string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var own, rest []string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "check":
					own = append(own, l.GetValue())
				case "team":
				default:
					rest = append(rest, l.GetName()+"="+l.GetValue())
				}
			}
			if !slices.Equal(own, []string{check}) {
				continue
			}
			name := mf.GetName()
			if len(rest) > 0 {
				name += "{" + strings.Join(rest, ",") + "}"
			}
			h := m.GetHistogram()
			if h == nil {
				out = append(out, name)
				continue
			}
			if h.Schema != nil {
				out = append(out, name+" (native)")
			}
			for _, b := range h.GetBucket() {
				out = append(out, fmt.Sprintf("%s_bucket{le=%g}", mf.GetName(), b.GetUpperBound()))
			}
			if len(h.GetBucket()) > 0 {
				out = append(out, mf.GetName()+"_bucket{le=+Inf}", mf.GetName()+"_sum", mf.GetName()+"_count")
			}
		}
	}
	slices.Sort(out)
	return out
}

// runReal loads one check from YAML and runs it with the engine, so that
// the result has what a real run has (timings, TLS, findings).
func runReal(t *testing.T, yaml string) (*checks.Check, *checks.Result) {
	t.Helper()
	cs, err := checks.Parse("api.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return cs[0], checks.NewRunner(checks.RunnerOptions{}).Run(ctx, cs[0])
}

const oneStepCheck = `checks:
  - name: api
    schedule: "@every 1m"
    labels: { team: docs }
    steps:
      - name: get
        request: { url: "%s/doc"%s }
        expect: { status: %d }
`

// A one-step check exports at most 12 series by default: a real run
// against plain HTTP and against HTTPS, passing and then failing.
func TestOneStepCheckHasAtMostTwelveSeries(t *testing.T) {
	handler := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write([]byte("ok\n"))
	})
	plain := httptest.NewServer(handler)
	defer plain.Close()
	secure := httptest.NewTLSServer(handler)
	defer secure.Close()

	common := []string{
		"assay_check_duration_seconds (native)",
		"assay_check_last_run_timestamp_seconds",
		"assay_check_runs_total",
		"assay_check_success",
		"assay_step_phase_duration_seconds{phase=connect,step=get}",
		"assay_step_phase_duration_seconds{phase=dns,step=get}",
		"assay_step_phase_duration_seconds{phase=first_byte,step=get}",
		"assay_step_phase_duration_seconds{phase=tls,step=get}",
		"assay_step_phase_duration_seconds{phase=total,step=get}",
		"assay_step_status_code{step=get}",
	}
	with := func(extra ...string) []string {
		out := append(slices.Clone(common), extra...)
		slices.Sort(out)
		return out
	}
	tests := []struct {
		name   string
		url    string
		tls    string
		status []int // the expected status of each run, in order
		want   []string
	}{
		{"http, passing", plain.URL, "", []int{200},
			with("assay_check_last_success_timestamp_seconds")},
		{"http, passed then failed", plain.URL, "", []int{200, 204},
			with("assay_check_last_success_timestamp_seconds", "assay_check_failures_total{reason=assertion}")},
		{"http, only failed", plain.URL, "", []int{204},
			with("assay_check_failures_total{reason=assertion}")},
		{"https, passing", secure.URL, ", tls: { insecure_skip_verify: true }", []int{200},
			with("assay_check_last_success_timestamp_seconds", "assay_check_tls_cert_expiry_timestamp_seconds")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := prometheus.NewRegistry()
			m := metrics.New(r, metrics.Options{UserLabels: []string{"team"}, Version: "test"})
			reg := m.Gatherer(r)
			var loaded bool
			for _, status := range tt.status {
				c, r := runReal(t, fmt.Sprintf(oneStepCheck, tt.url, tt.tls, status))
				if !loaded {
					m.SetChecks([]*checks.Check{c})
					loaded = true
				}
				if r.Passed != (status == 200) {
					t.Fatalf("run expecting %d: passed=%v (%s: %s)", status, r.Passed, r.Reason, r.Message)
				}
				m.Record(context.Background(), r)
			}
			got := seriesOf(t, reg, "api")
			if !slices.Equal(got, tt.want) {
				t.Errorf("series:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
			if len(got) > 12 {
				t.Errorf("%d series for a one-step check, want at most 12", len(got))
			}
		})
	}
}

// A failure-reason counter appears with the first failure of its reason,
// at 1, created then; the reasons not seen yet have no series.
func TestFailureReasonCountersAppearOnFirstUse(t *testing.T) {
	m, reg := setup(t)
	m.SetChecks([]*checks.Check{ck("api", "1", "get")})
	if got := failureSeries(t, reg); len(got) != 0 {
		t.Fatalf("failure series before any failure: %v", got)
	}
	var seen []string
	for _, reason := range checks.Reasons {
		before := time.Now()
		m.Record(context.Background(), result("api", false, reason, 0))
		seen = append(seen, string(reason)+"=1")
		slices.Sort(seen)
		got := failureSeries(t, reg)
		if !slices.Equal(got, seen) {
			t.Errorf("after a %s failure: %v, want %v", reason, got, seen)
		}
		if c := created(t, reg, "assay_check_failures_total", "reason", string(reason)); c.Before(before.Truncate(time.Microsecond)) || c.After(time.Now()) {
			t.Errorf("%s: created %v, want the time of its first failure (after %v)", reason, c, before)
		}
	}
	// A second failure counts on the same series; a failure without a
	// reason is an internal one.
	m.Record(context.Background(), result("api", false, checks.ReasonTimeout, 0))
	m.Record(context.Background(), result("api", false, checks.ReasonNone, 0))
	got := failureSeries(t, reg)
	for _, want := range []string{"timeout=2", "internal=2"} {
		if !slices.Contains(got, want) {
			t.Errorf("failure series %v, want %s", got, want)
		}
	}
	if len(got) != len(checks.Reasons) {
		t.Errorf("%d failure series, want %d (one per reason seen)", len(got), len(checks.Reasons))
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

// failureSeries lists reason=value of every failures series of check api.
func failureSeries(t *testing.T, reg prometheus.Gatherer) []string {
	t.Helper()
	var out []string
	for _, m := range family(t, reg, "assay_check_failures_total") {
		out = append(out, label(m, "reason")+"="+fmt.Sprint(m.GetCounter().GetValue()))
	}
	slices.Sort(out)
	return out
}

func family(t *testing.T, reg prometheus.Gatherer, name string) []*dto.Metric {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()
		}
	}
	return nil
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// created is the created timestamp of the counter of name whose label k
// is v.
func created(t *testing.T, reg prometheus.Gatherer, name, k, v string) time.Time {
	t.Helper()
	for _, m := range family(t, reg, name) {
		if label(m, k) == v {
			if m.GetCounter().GetCreatedTimestamp() == nil {
				t.Fatalf("%s{%s=%q} has no created timestamp", name, k, v)
			}
			return m.GetCounter().GetCreatedTimestamp().AsTime()
		}
	}
	t.Fatalf("no %s{%s=%q}", name, k, v)
	return time.Time{}
}

// The skipped-runs counter appears with the first skipped run; a removed
// check's skips bring nothing back.
func TestSkippedRunsCounterAppearsOnFirstSkip(t *testing.T) {
	m, reg := setup(t)
	m.SetChecks([]*checks.Check{ck("api", "1", "get")})
	if n := count(t, reg, "assay_check_skipped_runs_total"); n != 0 {
		t.Fatalf("%d skipped series before a skip, want none", n)
	}
	before := time.Now()
	m.Skipped("api")
	m.Skipped("api")
	want := `
# HELP assay_check_skipped_runs_total Runs not started because the previous run of the check was still in flight.
# TYPE assay_check_skipped_runs_total counter
assay_check_skipped_runs_total{check="api"} 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "assay_check_skipped_runs_total"); err != nil {
		t.Error(err)
	}
	if c := created(t, reg, "assay_check_skipped_runs_total", "check", "api"); c.Before(before.Truncate(time.Microsecond)) {
		t.Errorf("created %v, want the first skip (after %v)", c, before)
	}
	m.SetChecks(nil)
	m.Skipped("api")
	if n := count(t, reg, "assay_check_skipped_runs_total"); n != 0 {
		t.Errorf("%d skipped series after the check was removed", n)
	}
}

// The duration histogram is native; its classic buckets exist only when
// Options.ClassicHistograms asks for them.
func TestClassicBucketsOnlyWhenOptedIn(t *testing.T) {
	for _, classic := range []bool{false, true} {
		t.Run(fmt.Sprint("classic=", classic), func(t *testing.T) {
			r := prometheus.NewRegistry()
			m := metrics.New(r, metrics.Options{UserLabels: []string{"team"}, ClassicHistograms: classic})
			reg := m.Gatherer(r)
			m.SetChecks([]*checks.Check{ck("api", "1", "get")})
			m.Record(context.Background(), result("api", true, "", 200))
			hs := family(t, reg, "assay_check_duration_seconds")
			if len(hs) != 1 {
				t.Fatalf("%d duration series, want 1", len(hs))
			}
			h := hs[0].GetHistogram()
			if h.Schema == nil || h.GetSampleCount() != 1 {
				t.Errorf("not a native histogram with one observation: schema %v, count %d", h.Schema, h.GetSampleCount())
			}
			var bounds []string
			for _, b := range h.GetBucket() {
				bounds = append(bounds, fmt.Sprint(b.GetUpperBound()))
			}
			want := ""
			if classic {
				want = "0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 5 10 30 60"
			}
			if got := strings.Join(bounds, " "); got != want {
				t.Errorf("classic buckets %q, want %q", got, want)
			}
			// The scheduler's lateness histogram is one series for the
			// whole daemon: it keeps its classic buckets either way.
			if n := len(family(t, reg, "assay_scheduler_lateness_seconds")[0].GetHistogram().GetBucket()); n != 14 {
				t.Errorf("lateness histogram has %d classic buckets, want 14", n)
			}
		})
	}
}

// Before the first run a configured check has assay_check_runs_total at 0
// (configured and not run yet, against absent: not configured); the
// gauges of a result, assay_check_success among them, wait for one.
func TestRunsTotalAtZeroBeforeTheFirstRunAndGaugesWaitForAResult(t *testing.T) {
	m, reg := setup(t)
	m.SetChecks([]*checks.Check{ck("api", "1", "get")})
	want := `
# HELP assay_check_runs_total Runs of the check (a run includes its retries).
# TYPE assay_check_runs_total counter
assay_check_runs_total{check="api",team="docs"} 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "assay_check_runs_total", "assay_check_success",
		"assay_check_last_run_timestamp_seconds", "assay_step_status_code", "assay_check_failures_total",
		"assay_check_skipped_runs_total", "assay_check_duration_seconds"); err != nil {
		t.Error(err)
	}
	if got := seriesOf(t, reg, "api"); !slices.Equal(got, []string{"assay_check_runs_total"}) {
		t.Errorf("series before the first run: %v, want assay_check_runs_total only", got)
	}
}
