package web_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/web"
	"github.com/prometheus/client_golang/prometheus"
)

func serve(t *testing.T, o web.Options) *httptest.Server {
	t.Helper()
	if o.Gatherer == nil {
		o.Gatherer = prometheus.NewRegistry()
	}
	if o.Status == nil {
		o.Status = web.NewStatus(nil)
	}
	srv := httptest.NewServer(web.Handler(o))
	t.Cleanup(srv.Close)
	return srv
}

func call(t *testing.T, method, url string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestReadiness(t *testing.T) {
	ready := false
	srv := serve(t, web.Options{Ready: func() bool { return ready }})
	if code, _ := call(t, "GET", srv.URL+"/readyz"); code != 503 {
		t.Errorf("/readyz before ready = %d, want 503", code)
	}
	if code, _ := call(t, "GET", srv.URL+"/healthz"); code != 200 {
		t.Errorf("/healthz = %d, want 200 even when not ready", code)
	}
	ready = true
	if code, _ := call(t, "GET", srv.URL+"/readyz"); code != 200 {
		t.Errorf("/readyz when ready = %d, want 200", code)
	}
}

func TestReloadEndpoint(t *testing.T) {
	var fail error
	srv := serve(t, web.Options{Reload: func(context.Context) error { return fail }})
	if code, body := call(t, "POST", srv.URL+"/-/reload"); code != 200 || !strings.Contains(body, "reloaded") {
		t.Errorf("reload = %d %s", code, body)
	}
	fail = errors.New("a.yaml:1:1: x: bad\nb.yaml:2:2: y: worse")
	code, body := call(t, "POST", srv.URL+"/-/reload")
	if code != 400 || !strings.Contains(body, "b.yaml:2:2") {
		t.Errorf("rejected reload = %d %s", code, body)
	}
	if code, _ := call(t, "GET", srv.URL+"/-/reload"); code != 405 {
		t.Errorf("GET /-/reload = %d, want 405", code)
	}
}

func TestStatusForgetsRemovedChecksAndIgnoresUnknownResults(t *testing.T) {
	st := web.NewStatus(nil)
	st.SetChecks([]*checks.Check{{Name: "a"}, {Name: "b"}})
	st.Record(context.Background(), &checks.Result{Check: "a", Passed: true, Started: time.Unix(0, 0)})
	st.Record(context.Background(), &checks.Result{Check: "ghost", Passed: true})
	st.SetChecks([]*checks.Check{{Name: "b"}})
	sums := st.Summaries()
	if len(sums) != 1 || sums[0].Name != "b" || sums[0].LastResult != nil {
		t.Errorf("summaries = %+v, want only b with no result", sums)
	}
	st.SetChecks([]*checks.Check{{Name: "a"}})
	if _, r, _ := st.Check("a"); r != nil {
		t.Errorf("re-added check a kept a result from before its removal")
	}
}

// A check that moved to another replica is shown from the shared store,
// not from the result this process ran before it moved (which would show
// it passing while its new owner sees it fail).
func TestStatusShowsAMovedCheckFromTheStore(t *testing.T) {
	h := &fakeHistory{}
	st := web.NewStatus(nil)
	st.SetHistory(h)
	cs := []*checks.Check{{Name: "a"}, {Name: "b"}}
	st.SetChecks(cs)
	t0 := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range cs {
		r := &checks.Result{Check: c.Name, Passed: true, Started: t0}
		st.Record(context.Background(), r)
		h.add(r)
	}
	// b moves away; its new owner stores a failed run.
	st.KeepResultsOf(cs[:1])
	h.add(&checks.Result{Check: "b", Passed: false, Started: t0.Add(time.Minute), Reason: checks.ReasonAssertion, Message: "status: expected 200, got 500"})
	got := map[string]string{}
	for _, s := range st.Summaries() {
		if s.LastResult == nil {
			t.Fatalf("%s has no last result", s.Name)
		}
		got[s.Name] = fmt.Sprintf("%v %s", s.LastResult.Passed, s.LastResult.Started.Format("15:04"))
	}
	if want := map[string]string{"a": "true 12:00", "b": "false 12:01"}; !maps.Equal(got, want) {
		t.Fatalf("last results %v, want %v (b from the store)", got, want)
	}
}
