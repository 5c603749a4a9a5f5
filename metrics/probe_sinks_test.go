package metrics_test

import (
	"context"
	"testing"

	"github.com/assay-monitor/assay/internal/probetest"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// Rule: a probe's results become the same series as an HTTP check's: the
// check's success and runs, its failure reason, each step's phases; the
// step's status code is 0 (no HTTP status).
func TestMetricsTakeProbeResults(t *testing.T) {
	m, reg := setup(t)
	cs := probetest.Checks(t)
	m.SetChecks(cs)
	for _, r := range probetest.Results(t) {
		m.Record(context.Background(), r)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, mt := range mf.GetMetric() {
			key := mf.GetName()
			for _, l := range mt.GetLabel() {
				if l.GetName() == "check" || l.GetName() == "reason" || l.GetName() == "step" {
					key += "," + l.GetValue()
				}
			}
			switch {
			case mt.GetGauge() != nil:
				got[key] = mt.GetGauge().GetValue()
			case mt.GetCounter() != nil:
				got[key] = mt.GetCounter().GetValue()
			}
		}
	}
	for key, want := range map[string]float64{
		"assay_check_success," + probetest.Passing:                       1,
		"assay_check_success," + probetest.Failing:                       0,
		"assay_check_runs_total," + probetest.Failing:                    1,
		"assay_check_failures_total," + probetest.Failing + ",assertion": 1,
		"assay_step_status_code," + probetest.Passing + ",ping":          0,
	} {
		if v, ok := got[key]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", key, v, ok, want)
		}
	}
	if n, err := testutil.GatherAndCount(reg, "assay_step_phase_duration_seconds"); err != nil || n == 0 {
		t.Errorf("phase series: %d, %v", n, err)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}
