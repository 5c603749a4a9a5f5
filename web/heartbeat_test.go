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

func (b *beats) Beat(_ context.Context, name, token string, failed bool, message string) error {
	switch {
	case name != "nightly":
		return web.ErrNoHeartbeat
	case token != "hb-secret":
		return web.ErrHeartbeatToken
	case b.store != nil:
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

// One name's flood is cut at a few pings a second, and does not spend
// another check's share.
func TestHeartbeatRateLimit(t *testing.T) {
	b := &beats{}
	h := heartbeatHandler(b)
	limited := 0
	for range 40 {
		w := (req{path: "/api/v1/heartbeat/flood", header: map[string]string{"Authorization": "Bearer guess"}}).do(h)
		if w.Code == http.StatusTooManyRequests {
			limited++
			if w.Header().Get("Retry-After") == "" {
				t.Fatal("429 without Retry-After")
			}
		}
	}
	if limited < 20 {
		t.Errorf("%d of 40 pings at once were refused, want most past the burst", limited)
	}
	if w := (req{path: "/api/v1/heartbeat/nightly", header: map[string]string{"Authorization": "Bearer hb-secret"}}).do(h); w.Code != http.StatusOK {
		t.Errorf("another check's ping after the flood: %d", w.Code)
	}
}
