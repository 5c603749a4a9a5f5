package history_test

import (
	"context"
	"strings"
	"testing"

	"github.com/assay-monitor/assay/history"
	"github.com/assay-monitor/assay/internal/probetest"
)

// Rule: the history keeps a probe's run as it keeps an HTTP one: a
// passing run its summary (kind, what was asked, the answer's line and
// timings), a failed run its evidence (what was sent and received, the
// assertion).
func TestHistoryKeepsProbeRuns(t *testing.T) {
	s, _ := newStore(t)
	rec, _ := newRecorder(t, s, history.Options{})
	results := probetest.Results(t)
	for _, r := range results {
		record(rec, r)
	}
	if err := rec.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	p := stored(t, s, results[0].ID).Steps()[0]
	if p.Kind != "tcp" || p.Request.Method != "TCP" || !strings.HasPrefix(p.Request.URL, "tcp://127.0.0.1:") || p.Response == nil ||
		!strings.Contains(p.Response.Line, "bytes received") || p.Response.Body != "" || p.Timings.Total <= 0 {
		t.Errorf("passing probe run stored as %+v / %+v", p, p.Response)
	}
	f := stored(t, s, results[1].ID).Steps()[0]
	if f.Kind != "tcp" || f.Request.Body != "PING\r\n" || !strings.Contains(f.Response.Body, probetest.Received) ||
		len(f.Assertions) != 1 || f.Assertions[0].Passed || !strings.Contains(f.Assertions[0].Actual, probetest.Received) {
		t.Errorf("failed probe run stored without its evidence: %+v", f)
	}
	// The passing answer is the step's baseline, as an HTTP response is.
	if bl, err := s.Baseline(context.Background(), probetest.Passing, "ping"); err != nil || bl.RunID != results[0].ID || !strings.Contains(bl.Response.Body, probetest.Received) {
		t.Errorf("baseline = %+v, %v", bl, err)
	}
}
