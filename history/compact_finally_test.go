package history

import (
	"testing"

	"github.com/assay-monitor/assay/checks"
)

// Rule: what the history keeps of a passing run still tells its finally
// steps from its steps.
func TestCompactKeepsFinally(t *testing.T) {
	r := &checks.Result{Check: "c", Passed: true, Attempts: []checks.Attempt{{Number: 1, Passed: true, Steps: []checks.StepResult{
		{Name: "create", Passed: true}, {Name: "delete", Passed: true, Finally: true}}}}}
	got := Compact(r).Steps()
	if len(got) != 2 || got[0].Finally || !got[1].Finally {
		t.Fatalf("compacted steps %+v", got)
	}
}
