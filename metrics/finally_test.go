package metrics_test

import (
	"context"
	"strings"
	"testing"

	"github.com/assay-monitor/assay/checks"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// Rule: a finally step has its step series like a step: its status code
// is exported under its name.
func TestFinallyStepsHaveStepSeries(t *testing.T) {
	m, reg := setup(t)
	c := ck("api", "1", "get")
	c.Finally = []*checks.Step{{Name: "delete"}}
	m.SetChecks([]*checks.Check{c})
	r := result("api", true, "", 200)
	r.Attempts[0].Steps = append(r.Attempts[0].Steps, checks.StepResult{Name: "delete", Finally: true, Passed: true,
		Response: &checks.ResponseSummary{Status: 204}})
	m.Record(context.Background(), r)
	want := `
# HELP assay_step_status_code HTTP status code of the step's last response; 0 when the step got no response.
# TYPE assay_step_status_code gauge
assay_step_status_code{check="api",step="delete"} 204
assay_step_status_code{check="api",step="get"} 200
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "assay_step_status_code"); err != nil {
		t.Error(err)
	}
}
