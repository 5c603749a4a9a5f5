package web_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/web"
	"github.com/prometheus/client_golang/prometheus"
)

// beats is a web.Heartbeats that knows one check, "nightly", whose token
// is "hb-secret", and records the pings it takes.
type beats struct {
	mu    sync.Mutex
	got   []beat
	store error
}

type beat struct {
	name    string
	failed  bool
	message string
}

func (b *beats) Authenticate(name, token string) error {
	switch {
	case name != "nightly":
		return web.ErrNoHeartbeat
	case token != "hb-secret":
		return web.ErrHeartbeatToken
	}
	return nil
}

func (b *beats) Beat(_ context.Context, name, token string, failed bool, message string) error {
	if err := b.Authenticate(name, token); err != nil {
		return err
	}
	if b.store != nil {
		return b.store
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.got = append(b.got, beat{name, failed, message})
	return nil
}

func (b *beats) pings() []beat {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]beat(nil), b.got...)
}

func heartbeatHandler(b *beats) http.Handler {
	// An API token, a Host of another name and a client beyond loopback:
	// every write the guard takes would be refused.
	return web.Handler(web.Options{Gatherer: prometheus.NewRegistry(), Status: web.NewStatus(nil), Heartbeats: b,
		Access: web.Access{Token: "api-token"}})
}

// A cron job's curl: no Origin, no API token, any Content-Type, from
// another host by a name the server was not told of. The guard would
// refuse all of it; the heartbeat takes it by the check's token.
func TestHeartbeatFromACronJob(t *testing.T) {
	b := &beats{}
	h := heartbeatHandler(b)
	for _, r := range []req{
		{path: "/api/v1/heartbeat/nightly", host: "monitor.internal:9090", remote: "10.1.2.3:5555", header: map[string]string{"Authorization": "Bearer hb-secret"}},
		{path: "/api/v1/heartbeat/nightly", remote: "10.1.2.3:5555", body: "ok=1", header: map[string]string{"Authorization": "bearer hb-secret",
			"Content-Type": "application/x-www-form-urlencoded", "Origin": "https://elsewhere.example"}},
	} {
		w := r.do(h)
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"status": "received"`) {
			t.Errorf("%+v: %d %s", r, w.Code, w.Body)
		}
	}
	// Behind basic auth the token goes in X-Assay-Token.
	if w := (req{path: "/api/v1/heartbeat/nightly", header: map[string]string{"Authorization": "Basic dTpw", "X-Assay-Token": "hb-secret"}}).do(h); w.Code != http.StatusOK {
		t.Errorf("X-Assay-Token beside basic credentials: %d", w.Code)
	}
	if got := b.pings(); len(got) != 3 || got[0] != (beat{"nightly", false, ""}) || got[1].message != "" {
		t.Errorf("pings = %+v", got)
	}
	// The guard still stands in front of everything else.
	if w := (req{path: "/-/reload", remote: "10.1.2.3:5555"}).do(h); w.Code != http.StatusUnauthorized {
		t.Errorf("reload without the API token: %d", w.Code)
	}
}

func TestHeartbeatRefusals(t *testing.T) {
	b := &beats{}
	h := heartbeatHandler(b)
	for _, tc := range []struct {
		name string
		r    req
		code int
	}{
		{"no token", req{path: "/api/v1/heartbeat/nightly"}, http.StatusUnauthorized},
		{"wrong token", req{path: "/api/v1/heartbeat/nightly", header: map[string]string{"Authorization": "Bearer hb-secreT"}}, http.StatusUnauthorized},
		{"the API token is not the check's", req{path: "/api/v1/heartbeat/nightly", header: map[string]string{"Authorization": "Bearer api-token"}}, http.StatusUnauthorized},
		{"basic credentials", req{path: "/api/v1/heartbeat/nightly/fail", header: map[string]string{"Authorization": "Basic aGI6aGItc2VjcmV0"}}, http.StatusUnauthorized},
		{"unknown check", req{path: "/api/v1/heartbeat/weekly", header: map[string]string{"Authorization": "Bearer hb-secret"}}, http.StatusNotFound},
		{"GET", req{method: "GET", path: "/api/v1/heartbeat/nightly", header: map[string]string{"Authorization": "Bearer hb-secret"}}, http.StatusMethodNotAllowed},
		{"a body over 64 KiB", req{path: "/api/v1/heartbeat/nightly/fail", body: strings.Repeat("x", 64<<10+1), header: map[string]string{"Authorization": "Bearer hb-secret"}}, http.StatusRequestEntityTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := tc.r.do(h)
			if w.Code != tc.code {
				t.Errorf("got %d %s, want %d", w.Code, w.Body, tc.code)
			}
			if tc.code == http.StatusUnauthorized && !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("401 without WWW-Authenticate: Bearer")
			}
		})
	}
	if got := b.pings(); len(got) != 0 {
		t.Errorf("refused requests recorded pings: %+v", got)
	}
	b.store = errors.New("database is locked")
	if w := (req{path: "/api/v1/heartbeat/nightly", header: map[string]string{"Authorization": "Bearer hb-secret"}}).do(h); w.Code != http.StatusServiceUnavailable {
		t.Errorf("a ping the store could not keep: %d, want 503 (so that the job retries)", w.Code)
	}
}

// The body of a failure ping becomes the result's message: one line, at
// most checks.MaxHeartbeatMessage bytes, cut at a character.
func TestHeartbeatFailMessage(t *testing.T) {
	b := &beats{}
	h := heartbeatHandler(b)
	auth := map[string]string{"Authorization": "Bearer hb-secret", "Content-Type": "text/plain"}
	long := strings.Repeat("é", 3000) // 6000 bytes
	for _, body := range []string{"backup failed:\n\x1b[31mdisk full\x1b[0m\n", long, ""} {
		if w := (req{path: "/api/v1/heartbeat/nightly/fail", body: body, header: auth}).do(h); w.Code != http.StatusOK {
			t.Fatalf("fail ping: %d %s", w.Code, w.Body)
		}
	}
	got := b.pings()
	if len(got) != 3 || !got[0].failed || !got[1].failed || !got[2].failed {
		t.Fatalf("pings = %+v", got)
	}
	if got[0].message != `backup failed:\n\x1b[31mdisk full\x1b[0m` {
		t.Errorf("message = %q, want one line with the controls escaped", got[0].message)
	}
	if m := got[1].message; len(m) > checks.MaxHeartbeatMessage || !utf8.ValidString(m) || !strings.HasSuffix(m, "…") || !strings.HasPrefix(m, "éé") {
		t.Errorf("long message: %d bytes, valid %v, %q...", len(m), utf8.ValidString(m), m[:min(len(m), 20)])
	}
	if got[2].message != "" {
		t.Errorf("empty body gave message %q", got[2].message)
	}
}

// Refused attempts (a wrong token, a made-up name) are cut at a few a
// second per client address, with Retry-After; the valid ping of a job
// elsewhere still passes.
func TestHeartbeatRateLimit(t *testing.T) {
	b := &beats{}
	h := heartbeatHandler(b)
	limited := 0
	for i := range 40 {
		path := "/api/v1/heartbeat/nightly"
		if i%2 == 1 {
			path = "/api/v1/heartbeat/flood"
		}
		w := (req{path: path, remote: "203.0.113.9:1", header: map[string]string{"Authorization": "Bearer guess"}}).do(h)
		switch w.Code {
		case http.StatusTooManyRequests:
			limited++
			if w.Header().Get("Retry-After") == "" {
				t.Fatal("429 without Retry-After")
			}
		case http.StatusUnauthorized, http.StatusNotFound:
		default:
			t.Fatalf("refused attempt %d: %d", i, w.Code)
		}
	}
	if limited < 15 {
		t.Errorf("%d of 40 refused attempts at once were answered 429, want most past the burst", limited)
	}
	// Another address of the same /64 shares the budget; another /64 not.
	if w := (req{path: "/api/v1/heartbeat/nightly", remote: "[2001:db8:1:2::1]:1"}).do(h); w.Code != http.StatusUnauthorized {
		t.Fatalf("first attempt of an IPv6 client: %d", w.Code)
	}
	for range 40 {
		(req{path: "/api/v1/heartbeat/nightly", remote: "[2001:db8:1:2::1]:1"}).do(h)
	}
	if w := (req{path: "/api/v1/heartbeat/nightly", remote: "[2001:db8:1:2:ffff::7]:1"}).do(h); w.Code != http.StatusTooManyRequests {
		t.Errorf("another address of a throttled /64: %d, want 429", w.Code)
	}
	if w := (req{path: "/api/v1/heartbeat/nightly", remote: "[2001:db8:1:3::1]:1"}).do(h); w.Code != http.StatusUnauthorized {
		t.Errorf("an address of another /64: %d, want 401", w.Code)
	}
	if w := (req{path: "/api/v1/heartbeat/nightly", remote: "10.0.0.5:1", header: map[string]string{"Authorization": "Bearer hb-secret"}}).do(h); w.Code != http.StatusOK {
		t.Errorf("the job's ping after the flood: %d", w.Code)
	}
}

// Regression (review of issue 14): wrong-token pings spent the check's
// rate budget, so anyone who knows a check's name (the status page lists
// it) could make the job's ping fail with 429, a false missed_heartbeat.
// A request with the right token is judged by its token first and never
// refused for others' traffic: not another address's, not its own
// address's (a proxy in front of assay is one address for all), not for
// any number of refused attempts on the same name or others.
func TestHeartbeatWrongTokensDoNotStarveTheJob(t *testing.T) {
	b := &beats{}
	h := heartbeatHandler(b)
	valid := map[string]string{"Authorization": "Bearer hb-secret"}
	for _, remote := range []string{"203.0.113.9:1", "10.0.0.5:1"} {
		for i := range 200 {
			r := req{path: "/api/v1/heartbeat/nightly", remote: remote, header: map[string]string{"Authorization": "Bearer guess"}}
			if i%3 == 0 {
				r.path += "/fail"
			}
			r.do(h)
		}
	}
	for i, r := range []req{
		{path: "/api/v1/heartbeat/nightly", remote: "10.0.0.6:1", header: valid},
		{path: "/api/v1/heartbeat/nightly", remote: "10.0.0.5:1", header: valid},         // the flooded address
		{path: "/api/v1/heartbeat/nightly/fail", remote: "203.0.113.9:1", header: valid}, // so is this one
	} {
		if w := r.do(h); w.Code != http.StatusOK {
			t.Fatalf("valid ping %d from %s after 400 wrong-token requests: %d %s", i, r.remote, w.Code, w.Body)
		}
	}
	if got := b.pings(); len(got) != 3 {
		t.Fatalf("pings = %+v, want the 3 valid ones only", got)
	}
}

// A valid token's own flood is bounded per check (generously): it makes
// only its own check's pings wait.
func TestHeartbeatValidFloodBoundedPerCheck(t *testing.T) {
	b := &beats{}
	h := heartbeatHandler(b)
	valid := map[string]string{"Authorization": "Bearer hb-secret"}
	ok, limited := 0, 0
	for range 300 {
		switch w := (req{path: "/api/v1/heartbeat/nightly", header: valid}).do(h); w.Code {
		case http.StatusOK:
			ok++
		case http.StatusTooManyRequests:
			limited++
		default:
			t.Fatalf("valid ping: %d", w.Code)
		}
	}
	if ok < 50 || limited < 100 || len(b.pings()) != ok {
		t.Errorf("300 valid pings at once: %d taken, %d refused; want the burst taken and most of the rest refused", ok, limited)
	}
}

// Rule: no part of the token reaches the stored message of a failure
// ping: not where the 1 KiB cut splits it, not where cleaning to one
// line would escape a character of it.
func TestHeartbeatFailMessageHidesTheTokenBeforeTheCut(t *testing.T) {
	b := &beats{}
	h := heartbeatHandler(b)
	auth := map[string]string{"Authorization": "Bearer hb-secret", "Content-Type": "text/plain"}
	// The token starts 6 bytes before the cut of the message.
	body := strings.Repeat("x", checks.MaxHeartbeatMessage-len("…")-6) + "hb-secret and more"
	if w := (req{path: "/api/v1/heartbeat/nightly/fail", body: body, header: auth}).do(h); w.Code != http.StatusOK {
		t.Fatalf("fail ping: %d %s", w.Code, w.Body)
	}
	got := b.pings()
	if len(got) != 1 || strings.Contains(got[0].message, "hb-sec") {
		t.Errorf("message keeps the start of the token: %q", got[0].message[max(0, len(got[0].message)-40):])
	}
}
