package web_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/web"
	"github.com/prometheus/client_golang/prometheus"
)

// TestPageRendersARealRun runs a check with the engine against a local
// server that fails it, and reads the evidence the page shows: the engine's
// own result shapes, not hand-made ones.
func TestPageRendersARealRun(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Served-By", "node-<7>")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, `{"status":"down","detail":"<maintenance>"}`)
	}))
	defer target.Close()
	cs, err := checks.Parse("probe.yaml", []byte(fmt.Sprintf(`checks:
  - name: probe
    description: A probe of a local server
    schedule: "@every 1m"
    steps:
      - name: read status
        request:
          method: GET
          url: "%s/status"
          headers: { X-Probe: "yes" }
        expect:
          status: 200
          json: { "$.status": "up" }
`, target.URL)))
	if err != nil {
		t.Fatal(err)
	}
	runner := checks.NewRunner(checks.RunnerOptions{})
	defer runner.Close()
	res := runner.Run(context.Background(), cs[0])
	if res.Passed {
		t.Fatalf("the probe passed against a 503")
	}

	status := web.NewStatus(nil)
	status.SetChecks(cs)
	hist := &fakeHistory{}
	hist.add(res)
	status.Record(context.Background(), res)
	srv := httptest.NewServer(web.Handler(web.Options{Gatherer: prometheus.NewRegistry(), Status: status, History: hist,
		Now: func() time.Time { return res.Started.Add(time.Minute) }}))
	defer srv.Close()

	page := getPage(t, srv.URL+"/checks/probe", 200)
	ev := html.UnescapeString(section(t, page, "evidence"))
	for _, want := range []string{
		`<span class="method">GET</span> ` + target.URL + `/status`,
		`<tr><th>X-Probe</th><td>yes</td></tr>`,
		`HTTP/1.1 503 Service Unavailable`,
		`<tr><th>X-Served-By</th><td>node-<7></td></tr>`,
		"{\n  \"status\": \"down\",\n  \"detail\": \"<maintenance>\"\n}",
	} {
		if !strings.Contains(ev, want) {
			t.Errorf("evidence lacks %s\n%s", want, ev)
		}
	}
	// Expected and actual of each assertion, in the engine's words.
	asserts := rows(section(t, page, "evidence"), "a-")
	if len(asserts) != 2 || !strings.HasPrefix(asserts[0], "✗ status 200 503") || !strings.HasPrefix(asserts[1], `✗ json $.status "up" "down"`) {
		t.Errorf("assertions = %q", asserts)
	}
	if strings.Contains(page, "<maintenance>") || strings.Contains(page, "node-<7>") {
		t.Errorf("the response is not escaped")
	}
	over := getPage(t, srv.URL+"/", 200)
	if got := rows(over, "row-failing"); len(got) != 1 || !strings.HasPrefix(got[0], "failing probe A probe of a local server 0.0% 0.0% 0.0%") {
		t.Errorf("overview row = %q", got)
	}
}
