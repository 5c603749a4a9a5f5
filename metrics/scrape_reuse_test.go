package metrics_test

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/metrics"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// Rule: a streamed scrape writes its families over the memory of the
// last scrape: once the first has sized it, the next allocates at most
// half of what the first did (what is left is mostly the histograms'
// copies), and encodes exactly the same. A scrape of 10,000 checks that
// allocated its 10 MB anew set off a collection, and runs started late.
func TestAStreamedScrapeReusesTheMemoryOfTheLastOne(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := metrics.New(reg, metrics.Options{UserLabels: []string{"team"}})
	var cs []*checks.Check
	for i := range 2000 {
		cs = append(cs, ck(fmt.Sprintf("check-%04d", i), "1", "get"))
	}
	m.SetChecks(cs)
	for _, c := range cs {
		m.Record(context.Background(), result(c.Name, true, "", 200))
	}
	g := m.Gatherer(reg)
	allocated := func() uint64 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		if err := g.Stream(func(*dto.MetricFamily) error { return nil }); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		return after.TotalAlloc - before.TotalAlloc
	}
	encoded := func() string {
		var buf bytes.Buffer
		enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
		if err := g.Stream(func(mf *dto.MetricFamily) error { return enc.Encode(mf) }); err != nil {
			t.Fatal(err)
		}
		return buf.String()
	}
	first := allocated()
	second := allocated()
	if second*2 > first {
		t.Errorf("the second scrape allocated %d bytes, the first %d: want at most half", second, first)
	}
	a, b := encoded(), encoded()
	if a != b || !bytes.Contains([]byte(a), []byte(`assay_step_phase_duration_seconds{check="check-1999"`)) {
		t.Errorf("two scrapes over the same memory differ, or lack the last check (%d and %d bytes)", len(a), len(b))
	}
	t.Logf("allocated by the first scrape %d bytes, by the second %d", first, second)
}
