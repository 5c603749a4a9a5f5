package checks

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// A misbehaving peer gives a failed result with the right reason and a
// clear message, within the timeout, and the next check on the same Runner
// still runs.
func TestFailureModes(t *testing.T) {
	healthy := serve(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	healthyCheck := loadCheck(t, `
checks:
  - name: healthy
    steps:
      - name: get
        request: { url: "${BASE}/" }
        expect: { status: 200, body: { equals: ok } }
`, "BASE", healthy.URL)

	tlsSrv := tlsServer(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	caFile := writeCA(t, tlsSrv)
	var redirects atomic.Int32
	cases := []struct {
		name string
		// peer starts the misbehaving server and returns its base URL.
		peer func(t *testing.T) string
		// request holds extra request fields; timeout the check timeout.
		request, timeout string
		reason           Reason
		msg              string // the exact attempt message, or a regexp when msgRe
		msgRe            bool
		// within bounds the run's duration.
		within time.Duration
		more   func(t *testing.T, s StepResult)
	}{
		{
			name: "body larger than max_body",
			peer: func(t *testing.T) string {
				return serve(t, func(w http.ResponseWriter, r *http.Request) {
					io.WriteString(w, strings.Repeat("x", 4096))
				}).URL
			},
			request: `max_body: 1KiB`,
			reason:  ReasonBodyLimit,
			msg:     `step "probe": body_limit: response body is larger than max_body (1 KiB); read 1024 bytes and stopped`,
			more: func(t *testing.T, s StepResult) {
				if s.Response == nil || !s.Response.Truncated || s.Response.BodySize != 1024 || s.Response.Status != 200 {
					t.Errorf("response summary %+v: want status 200, truncated at 1024 bytes", s.Response)
				}
				if len(s.Assertions) != 0 {
					t.Errorf("assertions ran on a truncated body: %+v", s.Assertions)
				}
			},
		},
		{
			name: "endless body larger than max_body",
			peer: func(t *testing.T) string {
				return serve(t, func(w http.ResponseWriter, r *http.Request) {
					chunk := []byte(strings.Repeat("y", 32<<10))
					for r.Context().Err() == nil {
						if _, err := w.Write(chunk); err != nil {
							return
						}
					}
				}).URL
			},
			request: `max_body: 64KiB`,
			timeout: "5s",
			reason:  ReasonBodyLimit,
			msg:     `step "probe": body_limit: response body is larger than max_body (64 KiB); read 65536 bytes and stopped`,
		},
		{
			name: "body exactly max_body passes",
			peer: func(t *testing.T) string {
				return serve(t, func(w http.ResponseWriter, r *http.Request) {
					io.WriteString(w, strings.Repeat("x", 1024))
				}).URL
			},
			request: `max_body: 1KiB`,
			reason:  ReasonNone,
		},
		{
			name:    "server never answers: check timeout",
			peer:    func(t *testing.T) string { return rawServer(t, silent) },
			timeout: "200ms",
			reason:  ReasonTimeout,
			msg:     `step "probe": timeout: check timeout 200ms exceeded`,
			within:  time.Second,
		},
		{
			name:    "server never answers: step timeout",
			peer:    func(t *testing.T) string { return rawServer(t, silent) },
			request: `timeout: 200ms`,
			reason:  ReasonTimeout,
			msg:     `step "probe": timeout: no complete response within the step timeout 200ms`,
			within:  time.Second,
		},
		{
			name: "body never completes",
			peer: func(t *testing.T) string {
				return serve(t, func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Length", "100")
					io.WriteString(w, "partial")
					w.(http.Flusher).Flush()
					<-r.Context().Done()
				}).URL
			},
			request: `timeout: 200ms`,
			reason:  ReasonTimeout,
			msg:     `step "probe": timeout: no complete response within the step timeout 200ms (while reading the body)`,
			within:  time.Second,
		},
		{
			name: "connection reset",
			peer: func(t *testing.T) string {
				return serve(t, func(w http.ResponseWriter, r *http.Request) { resetConnection(w) }).URL
			},
			reason: ReasonNetwork,
			msg:    `^step "probe": network: connection closed by the server: (EOF|read tcp \S+->\S+: read: connection reset by peer)$`,
			msgRe:  true,
		},
		{
			name: "connection closed before any response",
			peer: func(t *testing.T) string {
				return rawServer(t, func(c net.Conn) { readRequest(c) })
			},
			reason: ReasonNetwork,
			msg:    `step "probe": network: connection closed by the server: EOF`,
		},
		{
			name: "garbage instead of HTTP",
			peer: func(t *testing.T) string {
				return rawServer(t, func(c net.Conn) {
					if _, err := readRequest(c); err == nil {
						io.WriteString(c, "SSH-2.0-OpenSSH_9.6\r\n\r\n")
					}
				})
			},
			reason: ReasonProtocol,
			msg:    `step "probe": protocol: net/http: HTTP/1.x transport connection broken: malformed HTTP response "SSH-2.0-OpenSSH_9.6"`,
		},
		{
			name:   "connection refused",
			peer:   closedPortURL,
			reason: ReasonConnect,
			msg:    `step "probe": connect: connection refused`,
		},
		{
			name: "redirect loop",
			peer: func(t *testing.T) string {
				redirects.Store(0)
				return serve(t, func(w http.ResponseWriter, r *http.Request) {
					redirects.Add(1)
					http.Redirect(w, r, "/again", http.StatusFound)
				}).URL
			},
			reason: ReasonRedirect,
			msg:    `step "probe": redirect: too many redirects: stopped after 10`,
			more: func(t *testing.T, _ StepResult) {
				if n := redirects.Load(); n != 11 {
					t.Errorf("server saw %d requests, want 11 (the request and 10 redirects)", n)
				}
			},
		},
		{
			name: "redirect loop with max_redirects",
			peer: func(t *testing.T) string {
				redirects.Store(0)
				return serve(t, func(w http.ResponseWriter, r *http.Request) {
					redirects.Add(1)
					http.Redirect(w, r, "/again", http.StatusMovedPermanently)
				}).URL
			},
			request: `max_redirects: 2`,
			reason:  ReasonRedirect,
			msg:     `step "probe": redirect: too many redirects: stopped after 2`,
			more: func(t *testing.T, _ StepResult) {
				if n := redirects.Load(); n != 3 {
					t.Errorf("server saw %d requests, want 3", n)
				}
			},
		},
		{
			name:   "self-signed certificate",
			peer:   func(t *testing.T) string { return tlsSrv.URL },
			reason: ReasonTLS,
			msg:    `step "probe": tls: failed to verify certificate: x509: certificate signed by unknown authority`,
		},
		{
			name:    "certificate for another name",
			peer:    func(t *testing.T) string { return tlsSrv.URL },
			request: `tls: { ca_file: "${CA}", server_name: wrong.example }`,
			reason:  ReasonTLS,
			msg:     `step "probe": tls: failed to verify certificate: x509: certificate is valid for example.com, *.example.com, not wrong.example`,
		},
		{
			name:   "TLS to a plain HTTP server",
			peer:   func(t *testing.T) string { return strings.Replace(healthy.URL, "http://", "https://", 1) },
			reason: ReasonTLS,
			msg:    `step "probe": tls: http: server gave HTTP response to HTTPS client`,
		},
		{
			// RFC 6761: .invalid never resolves. With no resolver reachable
			// the lookup fails as well, so this works offline too.
			name:    "unresolvable host",
			peer:    func(t *testing.T) string { return "http://nonexistent.invalid" },
			timeout: "10s",
			reason:  ReasonDNS,
			msg:     `^step "probe": dns: lookup nonexistent\.invalid\b.*`,
			msgRe:   true,
		},
	}
	r := newTestRunner(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			base := tc.peer(t)
			timeout := tc.timeout
			if timeout == "" {
				timeout = "5s"
			}
			c := loadCheck(t, `
checks:
  - name: misbehaving
    timeout: `+timeout+`
    steps:
      - name: probe
        request: { url: "${BASE}/", `+tc.request+` }
        expect: { status: 200 }
      - name: after
        request: { url: "${BASE}/after" }
`, "BASE", base, "CA", caFile)
			start := time.Now()
			res := r.Run(context.Background(), c)
			elapsed := time.Since(start)
			t.Logf("%s in %v", res.Message, elapsed.Round(time.Millisecond))
			within := tc.within
			if within == 0 {
				within = 5 * time.Second
			}
			if elapsed > within {
				t.Errorf("the run took %v, want at most %v", elapsed, within)
			}
			if tc.reason == ReasonNone {
				if !res.Passed {
					t.Fatalf("want pass, got %s: %s", res.Reason, res.Message)
				}
				return
			}
			if res.Passed || res.Reason != tc.reason {
				t.Fatalf("got passed=%v reason=%q message=%q; want reason %q", res.Passed, res.Reason, res.Message, tc.reason)
			}
			if tc.msgRe {
				if !regexp.MustCompile(tc.msg).MatchString(res.Message) {
					t.Errorf("message %q does not match %s", res.Message, tc.msg)
				}
			} else if res.Message != tc.msg {
				t.Errorf("message:\n got  %s\n want %s", res.Message, tc.msg)
			}
			steps := res.Steps()
			if s := steps[0]; s.Passed || s.Reason != tc.reason || !strings.HasSuffix(res.Message, s.Message) || s.Timings.Total <= 0 {
				t.Errorf("failed step: %+v", s)
			}
			if !steps[1].Skipped {
				t.Errorf("the step after the failure should be skipped: %+v", steps[1])
			}
			if tc.more != nil {
				tc.more(t, steps[0])
			}
			// The run goes on: the next check on the same Runner passes.
			if next := r.Run(context.Background(), healthyCheck); !next.Passed {
				t.Errorf("the next check failed: %s", next.Message)
			}
		})
	}
}

// silent reads the request and never answers; it returns when the client
// closes the connection.
func silent(c net.Conn) { io.Copy(io.Discard, c) }

// TestRedirectsNotFollowed: with follow_redirects: false the 3xx response
// itself is asserted on.
func TestRedirectsNotFollowed(t *testing.T) {
	var hits atomic.Int32
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
	})
	c := loadCheck(t, `
checks:
  - name: no-follow
    steps:
      - name: probe
        request: { url: "${BASE}/", follow_redirects: false }
        expect: { status: 302, headers: { Location: /elsewhere } }
`, "BASE", srv.URL)
	res := runCheck(t, c)
	if !res.Passed || hits.Load() != 1 {
		t.Fatalf("want a passed check from one request, got %q after %d requests", res.Message, hits.Load())
	}
	fail := loadCheck(t, `
checks:
  - name: no-follow-fail
    steps:
      - name: probe
        request: { url: "${BASE}/", follow_redirects: false }
        expect: { status: 200 }
`, "BASE", srv.URL)
	res = runCheck(t, fail)
	if want := `step "probe": status: expected 200, got 302`; res.Passed || res.Reason != ReasonAssertion || res.Message != want {
		t.Fatalf("got %q %q, want %q", res.Reason, res.Message, want)
	}
}

// TestRedirectsFollowed: a redirect within the limit is followed and the
// final response is asserted on.
func TestRedirectsFollowed(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			http.Redirect(w, r, "/final", http.StatusFound)
			return
		}
		io.WriteString(w, "final")
	})
	c := loadCheck(t, oneStep(`{ status: 200, body: { equals: final } }`), "BASE", srv.URL)
	if res := runCheck(t, c); !res.Passed {
		t.Fatalf("want pass, got %s", res.Message)
	}
}

// TestClassifyResolverTimeout: a lookup that times out in the resolver,
// before any deadline of the check, is a DNS failure. (Offline, or with the
// resolver unreachable, this is how nonexistent.invalid fails.)
func TestClassifyResolverTimeout(t *testing.T) {
	dnsErr := &net.DNSError{Err: "i/o timeout", Name: "api.example", Server: "10.0.0.53:53", IsTimeout: true}
	err := &url.Error{Op: "Get", URL: "http://api.example/", Err: &net.OpError{Op: "dial", Net: "tcp", Err: dnsErr}}
	step := &Step{Name: "probe"}
	reason, msg := classify(context.Background(), err, step)
	if want := "dns: lookup api.example on 10.0.0.53:53: i/o timeout"; reason != ReasonDNS || msg != want {
		t.Errorf("got %q %q, want dns %q", reason, msg, want)
	}
	// When the check's own deadline passed, it is a timeout.
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	if reason, _ := classify(ctx, err, step); reason != ReasonTimeout {
		t.Errorf("with the deadline passed: got %q, want timeout", reason)
	}
	// When the caller cancelled the run, it is interrupted.
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	if reason, msg := classify(ctx, err, step); reason != ReasonInterrupted || msg != interruptedMessage {
		t.Errorf("with the run cancelled: got %q %q, want interrupted", reason, msg)
	}
}
