package web

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/internal/oneline"
	"golang.org/x/time/rate"
)

// Heartbeats takes the pings of heartbeat checks (the daemon's book).
type Heartbeats interface {
	// Authenticate reports whether token is the heartbeat token of the
	// check name: nil, ErrNoHeartbeat or ErrHeartbeatToken. It changes
	// nothing and keeps no state per name (callers make names up).
	Authenticate(name, token string) error
	// Beat records a ping of the check name by a caller that presented
	// token; failed pings carry message. It returns ErrNoHeartbeat or
	// ErrHeartbeatToken without changing anything, or the store's error.
	Beat(ctx context.Context, name, token string, failed bool, message string) error
}

// Errors of Heartbeats.Beat.
var (
	ErrNoHeartbeat    = errors.New("no heartbeat check of that name")
	ErrHeartbeatToken = errors.New("wrong or missing heartbeat token")
)

// Bounds of the heartbeat endpoints. A job pings once a period; these
// only stop a flood (or a token guesser) from costing the monitor, and
// never let one caller's traffic refuse another's valid ping.
const (
	// maxHeartbeatBody is the most of a body read; a longer one is 413.
	maxHeartbeatBody = 64 << 10
	// heartbeatRate and heartbeatBurst bound the accepted pings of one
	// check (callers with its token): generous, a job pings once a period.
	heartbeatRate  = 10
	heartbeatBurst = 100
	// heartbeatFailRate and heartbeatFailBurst bound the refused attempts
	// (wrong token, unknown name) of one client address.
	heartbeatFailRate  = 1
	heartbeatFailBurst = 20
	// maxHeartbeatLimiters bounds the limiters kept of each kind; past
	// it the least recently used go (see limiterTable).
	maxHeartbeatLimiters = 10000
	// heartbeatTimeout bounds storing one ping.
	heartbeatTimeout = 5 * time.Second
)

// heartbeatPrefix is the path of the heartbeat endpoints.
const heartbeatPrefix = "/api/v1/heartbeat/"

// heartbeatHandler serves POST /api/v1/heartbeat/{name} and
// POST /api/v1/heartbeat/{name}/fail. They are for machines (a cron job's
// curl): they take no Origin, any Content-Type and no API token, and
// authenticate by the check's own token instead, so they are served
// outside the guard (guard.go). The token is never ambient (a browser
// does not add it, and cannot send an Authorization header cross-origin
// without a CORS preflight, which is never granted), which is why
// neither the origin check nor the Host check would protect anything.
func heartbeatHandler(o Options) http.Handler {
	h, _ := newHeartbeatHandler(o)
	return h
}

// heartbeatLimits are the limiter tables of one heartbeat handler.
type heartbeatLimits struct {
	// byCheck bounds the accepted pings of each check, failures the
	// refused attempts of each client address.
	byCheck, failures *limiterTable
}

func newHeartbeatHandler(o Options) (http.Handler, *heartbeatLimits) {
	l := &heartbeatLimits{
		byCheck:  newLimiterTable(maxHeartbeatLimiters, heartbeatRate, heartbeatBurst),
		failures: newLimiterTable(maxHeartbeatLimiters, heartbeatFailRate, heartbeatFailBurst),
	}
	byCheck, failures := l.byCheck, l.failures
	mux := http.NewServeMux()
	serve := func(failed bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			name := r.PathValue("name")
			token := bearer(r)
			// The token first: a caller with the right one is never
			// refused for what others sent, and a wrong one spends
			// only its own client's budget of refused attempts (no
			// state per name: names are made up at will).
			err := ErrNoHeartbeat
			if o.Heartbeats != nil {
				err = o.Heartbeats.Authenticate(name, token)
			}
			if err != nil {
				if !failures.allow(clientKey(r)) {
					tooMany(w, "too many refused heartbeats from this address; slow down")
					return
				}
				refuseHeartbeat(w, name, err)
				return
			}
			if !byCheck.allow(name) {
				tooMany(w, "too many heartbeats for this check; slow down")
				return
			}
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxHeartbeatBody))
			if err != nil {
				writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": "a heartbeat body is at most 64 KiB (the message kept is its first 1 KiB)"})
				return
			}
			msg := ""
			if failed {
				// The token goes before the body is cleaned and cut:
				// after, a token the cut splits leaves its start, and
				// one that cleaning escapes is no longer found.
				if token != "" { // Authenticate took it; never empty here
					body = bytes.ReplaceAll(body, []byte(token), []byte(checks.Redacted))
				}
				msg = heartbeatMessage(body)
			}
			ctx, cancel := context.WithTimeout(r.Context(), heartbeatTimeout)
			defer cancel()
			switch err := o.Heartbeats.Beat(ctx, name, token, failed, msg); {
			case errors.Is(err, ErrNoHeartbeat), errors.Is(err, ErrHeartbeatToken):
				// A reload between the two looks.
				refuseHeartbeat(w, name, err)
			case err != nil:
				if r.Context().Err() != nil {
					return
				}
				writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "the ping could not be stored; try again"})
			default:
				status := "received"
				if failed {
					status = "failure received"
				}
				writeJSON(w, http.StatusOK, map[string]string{"check": name, "status": status})
			}
		}
	}
	mux.Handle("POST "+heartbeatPrefix+"{name}", serve(false))
	mux.Handle("POST "+heartbeatPrefix+"{name}/fail", serve(true))
	return mux, l
}

// bearer is the token of "Authorization: Bearer TOKEN", else of
// "X-Assay-Token: TOKEN" (with a web config's basic auth, the job's
// Authorization header carries its basic credentials), or "".
func bearer(r *http.Request) string {
	if t := bearerToken(r); t != "" {
		return t
	}
	return r.Header.Get("X-Assay-Token")
}

// heartbeatMessage is what a failure ping says: its body made one line,
// at most checks.MaxHeartbeatMessage bytes, cut at a character.
func heartbeatMessage(body []byte) string {
	s := oneline.Clean(strings.TrimSpace(string(body)))
	if len(s) <= checks.MaxHeartbeatMessage {
		return s
	}
	// Clean escapes as \xNN and \uNNNN: a cut inside one leaves a
	// backslash and hex digits, which are still one line of text.
	c, _ := clip(s, checks.MaxHeartbeatMessage-len("…"))
	return c + "…"
}

// refuseHeartbeat answers a ping Authenticate refused: 404 for a name
// that is no heartbeat check, else 401.
func refuseHeartbeat(w http.ResponseWriter, name string, err error) {
	if errors.Is(err, ErrNoHeartbeat) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no heartbeat check named " + oneline.Clean(name)})
		return
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="assay heartbeat"`)
	writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "this heartbeat needs the check's token: Authorization: Bearer TOKEN"})
}

func tooMany(w http.ResponseWriter, msg string) {
	w.Header().Set("Retry-After", "1")
	writeJSON(w, http.StatusTooManyRequests, map[string]string{"error": msg})
}

// clientKey is the address a refused attempt is charged to: the peer's
// IP (the connection's, not a forwarded header, which any caller could
// vary), an IPv6 peer's /64 (one host usually has a whole /64).
func clientKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

// limiterTable is a bounded set of rate limiters by key: two generations
// of at most max/2 each, the older dropped when the newer fills, so that
// the least recently used go first. Dropping one only forgives its key.
type limiterTable struct {
	mu        sync.Mutex
	max       int
	r         rate.Limit
	burst     int
	cur, prev map[string]*rate.Limiter
}

func newLimiterTable(max int, r rate.Limit, burst int) *limiterTable {
	return &limiterTable{max: max, r: r, burst: burst, cur: map[string]*rate.Limiter{}}
}

// allow takes one event of key from its limiter.
func (t *limiterTable) allow(key string) bool {
	t.mu.Lock()
	lim, ok := t.cur[key]
	if !ok {
		if lim, ok = t.prev[key]; !ok {
			lim = rate.NewLimiter(t.r, t.burst)
		}
		if len(t.cur) >= t.max/2 {
			t.prev, t.cur = t.cur, map[string]*rate.Limiter{}
		}
		t.cur[key] = lim
	}
	t.mu.Unlock()
	return lim.Allow()
}

// len is how many limiters are kept.
func (t *limiterTable) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.cur) + len(t.prev)
}
