package web

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// onlyNightly knows one heartbeat check, "nightly", token "hb-secret".
type onlyNightly struct{}

func (onlyNightly) Authenticate(name, token string) error {
	switch {
	case name != "nightly":
		return ErrNoHeartbeat
	case token != "hb-secret":
		return ErrHeartbeatToken
	}
	return nil
}

func (n onlyNightly) Beat(_ context.Context, name, token string, _ bool, _ string) error {
	return n.Authenticate(name, token)
}

func post(h http.Handler, path, remote, token string) int {
	r := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:9464"+path, strings.NewReader(""))
	r.RemoteAddr = remote
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code
}

// Regression (review of issue 14): made-up names each got a limiter, so
// a flood of them cleared the table (forgiving every throttled caller)
// and, past 200 a second for all names, refused every heartbeat. Now a
// made-up name keeps no state at all, the limiters of client addresses
// stay bounded however many there are, and the job's ping still passes.
func TestHeartbeatMadeUpNamesFlood(t *testing.T) {
	h, l := newHeartbeatHandler(Options{Heartbeats: onlyNightly{}})
	for i := range 3 * maxHeartbeatLimiters {
		// From a handful of addresses: no name allocates anything.
		if code := post(h, fmt.Sprintf("/api/v1/heartbeat/made-up-%d", i), fmt.Sprintf("198.51.100.%d:1", i%4), "x"); code != http.StatusNotFound && code != http.StatusTooManyRequests {
			t.Fatalf("made-up name %d: %d", i, code)
		}
	}
	if n := l.failures.len(); n != 4 {
		t.Errorf("%d failure limiters after 30,000 made-up names from 4 addresses, want 4", n)
	}
	if n := l.byCheck.len(); n != 0 {
		t.Errorf("%d per-check limiters before any valid ping, want 0", n)
	}
	// From as many addresses as names: the table stays bounded.
	for i := range 3 * maxHeartbeatLimiters {
		post(h, fmt.Sprintf("/api/v1/heartbeat/made-up-%d", i), fmt.Sprintf("10.%d.%d.%d:1", i>>16&255, i>>8&255, i&255), "x")
	}
	if n := l.failures.len(); n > maxHeartbeatLimiters {
		t.Errorf("%d failure limiters, want at most %d", n, maxHeartbeatLimiters)
	}
	if code := post(h, "/api/v1/heartbeat/nightly", "198.51.100.1:1", "hb-secret"); code != http.StatusOK {
		t.Errorf("the job's ping after the flood, from a flooding address: %d", code)
	}
	if n := l.byCheck.len(); n != 1 {
		t.Errorf("%d per-check limiters after one valid ping, want 1", n)
	}
}

// The limiter table keeps the recently used: a key used in the current
// generation survives the turn, and its limiter's state with it.
func TestLimiterTableKeepsRecentlyUsed(t *testing.T) {
	tb := newLimiterTable(4, 0, 1) // no refill: one event per key
	if !tb.allow("a") || tb.allow("a") {
		t.Fatal("a burst of 1 did not allow exactly one")
	}
	tb.allow("b") // cur: a b (full: max/2)
	tb.allow("c") // turn: prev a b, cur c
	if tb.allow("a") {
		t.Fatal("a's limiter was forgotten after one turn (still in prev)")
	}
	tb.allow("d") // turn: prev c a, cur d; b dropped
	if tb.len() > 4 {
		t.Fatalf("len %d > max 4", tb.len())
	}
	if !tb.allow("b") {
		t.Fatal("b, unused for two turns, was kept")
	}
}
