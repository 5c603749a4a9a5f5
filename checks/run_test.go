package checks

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// ---- helpers shared by the behaviour tests of this package ----

// envMap is a LookupEnv over name, value pairs.
func envMap(kv ...string) func(string) (string, bool) {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// loadChecks loads src as the check file checks.yaml, with the environment
// given as name, value pairs.
func loadChecks(t *testing.T, src string, env ...string) []*Check {
	t.Helper()
	cs, errs := LoadOptions{LookupEnv: envMap(env...)}.parse("checks.yaml", []byte(src))
	if len(errs) > 0 {
		t.Fatalf("load:\n%v\nsource:\n%s", errs, src)
	}
	return cs
}

// loadCheck loads a file that holds exactly one check.
func loadCheck(t *testing.T, src string, env ...string) *Check {
	t.Helper()
	cs := loadChecks(t, src, env...)
	if len(cs) != 1 {
		t.Fatalf("want 1 check, got %d", len(cs))
	}
	return cs[0]
}

// newTestRunner returns a Runner whose idle connections are closed when
// the test ends.
func newTestRunner(t *testing.T) *Runner {
	r := NewRunner(RunnerOptions{})
	t.Cleanup(r.Close)
	return r
}

// runCheck runs c once on a fresh Runner.
func runCheck(t *testing.T, c *Check) *Result {
	t.Helper()
	return newTestRunner(t).Run(context.Background(), c)
}

// serve starts an httptest server on 127.0.0.1, closed when the test ends.
func serve(t *testing.T, h http.HandlerFunc) *httptest.Server {
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}

// rawServer accepts TCP connections on 127.0.0.1 and hands each one to
// handle, which owns it until it returns. It returns the base URL. When the
// test ends the listener and every connection are closed and the handlers
// awaited.
func rawServer(t *testing.T, handle func(net.Conn)) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns = map[net.Conn]bool{}
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = true
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				handle(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return "http://" + ln.Addr().String()
}

// readRequest reads one HTTP request head from c.
func readRequest(c net.Conn) (*http.Request, error) {
	return http.ReadRequest(bufio.NewReader(c))
}

// oneStep is a check with one GET step named "probe" to ${BASE}/ and the
// given expect block in YAML flow style.
func oneStep(expect string) string {
	return `checks:
  - name: probe-check
    steps:
      - name: probe
        request: { url: "${BASE}/" }
        expect: ` + expect + "\n"
}

// failedAssertions lists the failed assertions of every step.
func failedAssertions(res *Result) []AssertionResult {
	var out []AssertionResult
	for _, s := range res.Steps() {
		for _, a := range s.Assertions {
			if !a.Passed {
				out = append(out, a)
			}
		}
	}
	return out
}

// ---- captures ----

// TestCapturesFlowIntoLaterSteps captures from a header, a JSONPath, a body
// regex group and the status, and uses them in later URLs, headers, JSON and
// raw bodies and expected values, keeping JSON types.
func TestCapturesFlowIntoLaterSteps(t *testing.T) {
	type seen struct {
		path, ifMatch, order, body string
	}
	var (
		mu   sync.Mutex
		reqs []seen
	)
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		reqs = append(reqs, seen{r.URL.RequestURI(), r.Header.Get("If-Match"), r.Header.Get("X-Order"), string(b)})
		mu.Unlock()
		switch {
		case r.URL.Path == "/documents":
			w.Header().Set("ETag", `"v1-abc"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(201)
			io.WriteString(w, `{"id": 42, "note": "order-7731 placed"}`)
		case r.URL.Path == "/documents/42" && r.Method == http.MethodPatch:
			// Echo the JSON request body back.
			w.Header().Set("Content-Type", "application/json")
			w.Write(b)
		case r.URL.Path == "/documents/42":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"id": 42, "sid": "42", "etag": %q, "order": "7731", "echo": %q}`, `"v1-abc"`, string(b))
		default:
			http.NotFound(w, r)
		}
	})
	c := loadCheck(t, `
checks:
  - name: captures
    vars: { base: "${BASE}" }
    steps:
      - name: create
        request: { method: POST, url: "{{ .vars.base }}/documents", json: { title: t } }
        expect: { status: 201 }
        capture:
          etag: { header: etag }
          id: { json: "$.id" }
          order: { regex: 'order-(\d+)' }
          created: { status: true }
      - name: update
        request:
          method: PATCH
          url: "{{ .vars.base }}/documents/{{ .id }}?order={{ .order }}"
          headers: { If-Match: "{{ .etag }}", X-Order: "{{ .order }}" }
          json: { id: "{{ .id }}", status: "{{ .created }}", label: "doc {{ .id }}", order: "{{ .order }}" }
        expect:
          json:
            "$.id": { equals: "{{ .id }}", type: number }
            "$.status": "{{ .created }}"
            "$.label": "doc 42"
            "$.order": { equals: "{{ .order }}", type: string }
      - name: read
        request:
          method: GET
          url: "{{ .vars.base }}/documents/{{ .id }}"
          body: "id={{ .id }}&etag={{ .etag }}"
        expect:
          json:
            "$.id": "{{ .id }}"
            "$.sid": { not_equals: "{{ .id }}" }
            "$.etag": "{{ .etag }}"
            "$.order": "{{ .order }}"
            "$.echo": 'id=42&etag="v1-abc"'
          body: { contains: "{{ .order }}" }
`, "BASE", srv.URL)
	res := runCheck(t, c)
	if !res.Passed {
		t.Fatalf("want passed, got %s: %s\n%s", res.Reason, res.Message, dump(res))
	}
	caps := res.Steps()[0].Captures
	want := map[string]string{"etag": `"v1-abc"`, "id": "42", "order": "7731", "created": "201"}
	for k, v := range want {
		if caps[k] != v {
			t.Errorf("capture %s = %q, want %q", k, caps[k], v)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reqs) != 3 {
		t.Fatalf("want 3 requests, got %d", len(reqs))
	}
	upd := reqs[1]
	if upd.path != "/documents/42?order=7731" || upd.ifMatch != `"v1-abc"` || upd.order != "7731" {
		t.Errorf("update request: %+v", upd)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(upd.body), &body); err != nil {
		t.Fatal(err)
	}
	// A single-action template keeps the captured JSON type.
	if body["id"] != 42.0 || body["status"] != 201.0 || body["label"] != "doc 42" || body["order"] != "7731" {
		t.Errorf("update JSON body = %s", upd.body)
	}
	if got := reqs[2].body; got != `id=42&etag="v1-abc"` {
		t.Errorf("raw body = %q", got)
	}
}

// TestCapturedNumberIsTyped: a captured JSON number compared with
// equals: "{{ .id }}" passes against a JSON number and fails against the
// string "42".
func TestCapturedNumberIsTyped(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"id": 42, "sid": "42"}`)
	})
	c := loadCheck(t, `
checks:
  - name: typed
    steps:
      - name: first
        request: { url: "${BASE}/" }
        capture: { id: { json: "$.id" } }
      - name: second
        request: { url: "${BASE}/" }
        expect:
          json:
            "$.id": { equals: "{{ .id }}" }
            "$.sid": { equals: "{{ .id }}" }
`, "BASE", srv.URL)
	res := runCheck(t, c)
	fails := failedAssertions(res)
	if res.Passed || len(fails) != 1 {
		t.Fatalf("want exactly the $.sid assertion to fail, got %+v", fails)
	}
	f := fails[0]
	if f.Message != `json $.sid: expected 42, got "42"` || f.Expected != "42" || f.Actual != `"42"` {
		t.Errorf("got %+v", f)
	}
	if want := `step "second": json $.sid: expected 42, got "42"`; res.Message != want {
		t.Errorf("message %q, want %q", res.Message, want)
	}
}

// TestMissingCaptureSource: a capture whose source is not in the response
// fails the step with reason capture.
func TestMissingCaptureSource(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"name": "x"}`)
	})
	cases := []struct{ capture, msg string }{
		{`{ etag: { header: ETag } }`, `step "first": capture etag: header ETag is absent`},
		{`{ id: { json: "$.id" } }`, `step "first": capture id: JSONPath $.id matched nothing`},
		{`{ order: { regex: 'order-(\d+)' } }`, `step "first": capture order: regex "order-(\\d+)" matched nothing in the body`},
	}
	for _, tc := range cases {
		t.Run(tc.capture, func(t *testing.T) {
			c := loadCheck(t, `
checks:
  - name: missing-capture
    steps:
      - name: first
        request: { url: "${BASE}/" }
        expect: { status: 200 }
        capture: `+tc.capture+`
      - name: second
        request: { url: "${BASE}/next" }
`, "BASE", srv.URL)
			res := runCheck(t, c)
			if res.Passed || res.Reason != ReasonCapture || res.Message != tc.msg {
				t.Fatalf("got passed=%v reason=%q message=%q, want reason capture, message %q", res.Passed, res.Reason, res.Message, tc.msg)
			}
			steps := res.Steps()
			if !steps[1].Skipped {
				t.Errorf("the step after a failed capture should be skipped: %+v", steps[1])
			}
		})
	}
}

// ---- retries ----

func closedPortURL(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

func attemptNumbers(res *Result) []int {
	var n []int
	for _, a := range res.Attempts {
		n = append(n, a.Number)
	}
	return n
}

// TestRetryNetworkFailure: on: network retries a refused connection; each
// attempt is in the result, numbered.
func TestRetryNetworkFailure(t *testing.T) {
	c := loadCheck(t, `
checks:
  - name: refused
    retries: { count: 2, backoff: 1ms, on: network }
    steps:
      - name: connect
        request: { url: "${BASE}/" }
`, "BASE", closedPortURL(t))
	res := runCheck(t, c)
	if res.Passed || res.Reason != ReasonConnect {
		t.Fatalf("got passed=%v reason=%q %s", res.Passed, res.Reason, res.Message)
	}
	if got := attemptNumbers(res); fmt.Sprint(got) != "[1 2 3]" {
		t.Fatalf("attempts %v, want [1 2 3]", got)
	}
	for _, a := range res.Attempts {
		if a.Passed || a.Reason != ReasonConnect || !strings.HasPrefix(a.Message, `step "connect": connect: `) {
			t.Errorf("attempt %d: %+v", a.Number, a)
		}
	}
}

// TestRetryNotSpentOnAssertion: on: network does not retry an assertion
// failure; on: any does.
func TestRetryNotSpentOnAssertion(t *testing.T) {
	var hits atomic.Int32
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(500)
	})
	for _, tc := range []struct {
		on       string
		attempts int
	}{{"network", 1}, {"any", 3}} {
		t.Run(tc.on, func(t *testing.T) {
			hits.Store(0)
			c := loadCheck(t, `
checks:
  - name: assertion-retry
    retries: { count: 2, backoff: 1ms, on: `+tc.on+` }
    steps:
      - name: get
        request: { url: "${BASE}/" }
        expect: { status: 200 }
`, "BASE", srv.URL)
			res := runCheck(t, c)
			if res.Passed || res.Reason != ReasonAssertion || res.Message != `step "get": status: expected 200, got 500` {
				t.Fatalf("got passed=%v reason=%q %q", res.Passed, res.Reason, res.Message)
			}
			if len(res.Attempts) != tc.attempts || int(hits.Load()) != tc.attempts {
				t.Fatalf("attempts %d, requests %d; want %d", len(res.Attempts), hits.Load(), tc.attempts)
			}
		})
	}
}

// TestRetryRecovers: a server that fails once then answers gives a passed
// result with two attempts, the first one failed.
func TestRetryRecovers(t *testing.T) {
	t.Run("network", func(t *testing.T) {
		var hits atomic.Int32
		srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
			if hits.Add(1) == 1 {
				resetConnection(w)
				return
			}
			io.WriteString(w, "ok")
		})
		c := loadCheck(t, `
checks:
  - name: flaky-network
    retries: { count: 2, backoff: 1ms, on: network }
    steps:
      - name: get
        request: { url: "${BASE}/" }
        expect: { status: 200, body: { equals: ok } }
`, "BASE", srv.URL)
		res := runCheck(t, c)
		if !res.Passed || len(res.Attempts) != 2 {
			t.Fatalf("want passed after 2 attempts, got passed=%v attempts=%d\n%s", res.Passed, len(res.Attempts), dump(res))
		}
		if a := res.Attempts[0]; a.Passed || a.Reason != ReasonNetwork || a.Number != 1 {
			t.Errorf("first attempt: %+v", a)
		}
		if a := res.Attempts[1]; !a.Passed || a.Number != 2 || res.Reason != ReasonNone || res.Message != "" {
			t.Errorf("second attempt: %+v; result %q %q", a, res.Reason, res.Message)
		}
	})
	t.Run("any", func(t *testing.T) {
		var hits atomic.Int32
		srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
			if hits.Add(1) == 1 {
				w.WriteHeader(503)
				return
			}
			io.WriteString(w, "ok")
		})
		c := loadCheck(t, `
checks:
  - name: flaky-status
    retries: { count: 2, backoff: 1ms, on: any }
    steps:
      - name: get
        request: { url: "${BASE}/" }
        expect: { status: 200 }
`, "BASE", srv.URL)
		res := runCheck(t, c)
		if !res.Passed || len(res.Attempts) != 2 || hits.Load() != 2 {
			t.Fatalf("want passed after 2 attempts, got passed=%v attempts=%d hits=%d", res.Passed, len(res.Attempts), hits.Load())
		}
		if a := res.Attempts[0]; a.Passed || a.Reason != ReasonAssertion || a.Message != `step "get": status: expected 200, got 503` {
			t.Errorf("first attempt: %+v", a)
		}
	})
}

// resetConnection hijacks the connection and closes it with SO_LINGER 0,
// so the client sees a TCP reset.
func resetConnection(w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(err)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}

// ---- connections and timings ----

// TestConnectionsReusedAcrossRuns: five runs of a check open one connection.
func TestConnectionsReusedAcrossRuns(t *testing.T) {
	var newConns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"ok": true}`)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			newConns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	c := loadCheck(t, `
checks:
  - name: reuse
    steps:
      - name: a
        request: { url: "${BASE}/a" }
        expect: { json: { "$.ok": true } }
      - name: b
        request: { url: "${BASE}/b", method: POST, json: { x: 1 } }
`, "BASE", srv.URL)
	r := newTestRunner(t)
	for i := range 5 {
		if res := r.Run(context.Background(), c); !res.Passed {
			t.Fatalf("run %d: %s", i, res.Message)
		}
	}
	if n := newConns.Load(); n != 1 {
		t.Fatalf("5 runs opened %d connections, want 1", n)
	}
}

// TestTimingsRecorded: total and first byte on every step; connect on the
// first run; TLS on a TLS server's first run, none on a reused connection.
func TestTimingsRecorded(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	c := loadCheck(t, `
checks:
  - name: timings
    steps:
      - name: get
        request: { url: "${BASE}/", tls: { insecure_skip_verify: true } }
        expect: { status: 200 }
`, "BASE", srv.URL)
	r := newTestRunner(t)
	for run := 1; run <= 2; run++ {
		res := r.Run(context.Background(), c)
		if !res.Passed {
			t.Fatalf("run %d: %s", run, res.Message)
		}
		tm := res.Steps()[0].Timings
		if tm.Total <= 0 || tm.FirstByte <= 0 || tm.FirstByte > tm.Total {
			t.Errorf("run %d: want 0 < first byte <= total, got %+v", run, tm)
		}
		if run == 1 && (tm.TLS <= 0 || tm.Connect <= 0) {
			t.Errorf("first run: want connect and TLS timings, got %+v", tm)
		}
		if run == 2 && (tm.TLS != 0 || tm.Connect != 0) {
			t.Errorf("second run reuses the connection: want no connect or TLS time, got %+v", tm)
		}
		if res.Duration < tm.Total || res.Attempts[0].Duration < tm.Total {
			t.Errorf("run %d: result duration %v shorter than the step %v", run, res.Duration, tm.Total)
		}
	}
}

// dump renders a result for failure messages.
func dump(res *Result) string {
	b, _ := json.MarshalIndent(res, "", "  ")
	return string(b)
}
