package web_test

import (
	"context"
	"html"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/assay-monitor/assay/internal/probetest"
	"github.com/assay-monitor/assay/web"
	"github.com/prometheus/client_golang/prometheus"
)

// Rule: the page shows a probe's run as it shows an HTTP one: the
// overview lists the probe checks with their status, and a failed run's
// evidence names the kind's request (TCP tcp://...), what it sent, the
// answer's line and body, and the assertion with expected and actual.
func TestPageShowsProbeRuns(t *testing.T) {
	st := web.NewStatus(func(string) (time.Time, bool) { return time.Now().Add(time.Minute), true })
	st.SetChecks(probetest.Checks(t))
	hist := &fakeHistory{}
	for _, r := range probetest.Results(t) {
		hist.add(r)
		st.Record(context.Background(), r)
	}
	srv := httptest.NewServer(web.Handler(web.Options{Gatherer: prometheus.NewRegistry(), Status: st, History: hist, Now: time.Now}))
	t.Cleanup(srv.Close)

	over := html.UnescapeString(getPage(t, srv.URL+"/", 200))
	for _, want := range []string{probetest.Passing, probetest.Failing} {
		if !strings.Contains(over, want) {
			t.Errorf("overview does not list %s", want)
		}
	}
	ev := html.UnescapeString(section(t, getPage(t, srv.URL+"/checks/"+probetest.Failing, 200), "evidence"))
	for _, want := range []string{"tcp://127.0.0.1:", "PING", "TCP ", "bytes received", probetest.Received, "tcp expect", `to contain "+PANG"`} {
		if !strings.Contains(ev, want) {
			t.Errorf("evidence lacks %q:\n%s", want, textOf(ev))
		}
	}
	if strings.Contains(ev, "TCP → 0") {
		t.Errorf("evidence shows a status code for a probe:\n%s", textOf(ev))
	}
}
