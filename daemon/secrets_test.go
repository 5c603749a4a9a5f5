package daemon_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/config"
	"github.com/assay-monitor/assay/daemon"
	"github.com/prometheus/client_golang/prometheus"
)

// Rule: assay.yaml's secrets: reach the checks the daemon loads: the
// value of a listed variable is referred to by name in the request and
// hidden in the response.
func TestConfigSecretsReachTheChecks(t *testing.T) {
	t.Setenv("ASSAY_TEST_SESS", "sess-d43m0n-v4lue")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "session %s", r.Header.Get("X-Session"))
	}))
	defer srv.Close()
	dir := t.TempDir()
	writeChecks(t, dir, "a.yaml", `checks:
  - name: listed
    schedule: "@every 1s"
    steps:
      - request: { url: "`+srv.URL+`", headers: { X-Session: "${ASSAY_TEST_SESS}" } }
`)
	cfg := config.Default()
	cfg.Checks.Dir = dir
	cfg.Secrets = []string{"ASSAY_TEST_SESS"}
	res := newResults()
	d, err := daemon.New(daemon.Options{Config: cfg, Registry: prometheus.NewRegistry(), Sinks: []checks.Sink{res}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, make(chan struct{})) }()
	defer func() {
		cancel()
		<-done
	}()
	var r *checks.Result
	select {
	case r = <-res.got:
	case <-time.After(10 * time.Second):
		t.Fatal("no result")
	}
	s := r.Steps()[0]
	if got := s.Request.Headers["X-Session"]; len(got) != 1 || got[0] != "${ASSAY_TEST_SESS}" {
		t.Errorf("request X-Session %q, want [${ASSAY_TEST_SESS}]", got)
	}
	if s.Response == nil || s.Response.Body != "session [REDACTED]" {
		t.Errorf("response %+v, want the body session [REDACTED]", s.Response)
	}
}
