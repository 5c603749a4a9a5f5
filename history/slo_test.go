package history_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/history"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
)

// The SLO metrics come from the stored aggregates: a collector made after
// the runs were written (as after a restart) reports them.
func TestSLOMetricsFromTheHistory(t *testing.T) {
	s, _ := newStore(t)
	rec, _ := newRecorder(t, s, history.Options{})
	now := time.Now()
	// api: 190 half-hourly runs from 5 days to 25 hours ago (2 failed),
	// then a failed run 3 hours ago and 10 runs in the last hour (1 failed).
	for i := range 190 {
		r := result("api", now.Add(-5*24*time.Hour+time.Duration(i)*30*time.Minute), 200, `{}`)
		if i == 40 || i == 41 {
			r = result("api", r.Started, 500, `{}`)
		}
		record(rec, r)
	}
	for i := range 10 {
		status := 200
		if i == 4 {
			status = 500
		}
		record(rec, result("api", now.Add(-time.Hour+time.Duration(i)*5*time.Minute+time.Minute), status, `{}`))
	}
	record(rec, result("api", now.Add(-3*time.Hour), 500, `{}`)) // in the 6h window only
	record(rec, result("no-slo", now, 500, `{}`))
	if err := rec.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	slos := history.NewSLOs(s, &checks.SLO{Objective: 0.9, Window: checks.Window(checks.DefaultSLOWindow)}, []string{"team"}, nil)
	slos.SetChecks([]*checks.Check{
		{Name: "api", Labels: map[string]string{"team": "docs"}, SLO: &checks.SLO{Objective: 0.99, Window: checks.Window(30 * 24 * time.Hour)}},
		{Name: "quiet"}, // the default objective, no runs: budget whole, no burn
	})
	// api over 30d: 4 of 201 failed: 1 - (4/201)/0.01; over 1h: 1 of 10:
	// 0.1/0.01 = 10; over 6h: 2 of 11.
	got := gathered(t, slos)
	for series, want := range map[string]float64{
		`assay_check_slo_objective_ratio{check="api",team="docs"}`:          0.99,
		`assay_check_slo_objective_ratio{check="quiet",team=""}`:            0.9,
		`assay_check_error_budget_remaining_ratio{check="api",team="docs"}`: 1 - (4.0/201)/0.01,
		`assay_check_error_budget_remaining_ratio{check="quiet",team=""}`:   1,
		`assay_check_slo_burn_rate{check="api",team="docs",window="1h"}`:    10,
		`assay_check_slo_burn_rate{check="quiet",team="",window="1h"}`:      0,
		`assay_check_slo_burn_rate{check="quiet",team="",window="6h"}`:      0,
	} {
		v, ok := got[series]
		if !ok || math.Abs(v-want) > 1e-9 {
			t.Errorf("%s = %v (exported: %v), want %v", series, v, ok, want)
		}
	}
	for series := range got {
		if strings.Contains(series, "no-slo") {
			t.Errorf("a check without an SLO exports %s", series)
		}
	}
	if problems, err := testutil.CollectAndLint(slos); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}

// gathered is every sample of a collector by its series in text form.
func gathered(t *testing.T, c prometheus.Collector) map[string]float64 {
	t.Helper()
	out, err := testutil.CollectAndFormat(c, expfmt.TypeTextPlain, "assay_check_slo_objective_ratio",
		"assay_check_error_budget_remaining_ratio", "assay_check_slo_burn_rate")
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]float64{}
	for _, line := range strings.Split(string(out), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		var v float64
		if _, err := fmt.Sscan(line[i+1:], &v); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		m[line[:i]] = v
	}
	return m
}
