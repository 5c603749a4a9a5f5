package web

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/internal/oneline"
	"golang.org/x/time/rate"
)

// Heartbeats takes the pings of heartbeat checks (the daemon's book).
type Heartbeats interface {
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
// only stop a flood (or a token guesser) from costing the monitor.
const (
	// maxHeartbeatBody is the most of a body read; a longer one is 413.
	maxHeartbeatBody = 64 << 10
	// heartbeatRate and heartbeatBurst bound the pings of one check name,
	// heartbeatRateAll and heartbeatBurstAll those of all names.
	heartbeatRate     = 5
	heartbeatBurst    = 10
	heartbeatRateAll  = 200
	heartbeatBurstAll = 400
	// maxHeartbeatLimiters bounds the per-name limiters kept (names
	// callers make up included): past it they start over.
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
	l := &heartbeatLimits{all: rate.NewLimiter(heartbeatRateAll, heartbeatBurstAll), byName: map[string]*rate.Limiter{}}
	mux := http.NewServeMux()
	serve := func(failed bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			name := r.PathValue("name")
			if !l.allow(name) {
				w.Header().Set("Retry-After", "1")
				writeJSON(w, http.StatusTooManyRequests, map[string]string{"error": "too many heartbeats; slow down"})
				return
			}
			if o.Heartbeats == nil {
				writeJSON(w, http.StatusNotFound, map[string]string{"error": "no heartbeat check named " + oneline.Clean(name)})
				return
			}
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxHeartbeatBody))
			if err != nil {
				writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{"error": "a heartbeat body is at most 64 KiB (the message kept is its first 1 KiB)"})
				return
			}
			msg := ""
			if failed {
				msg = heartbeatMessage(body)
			}
			ctx, cancel := context.WithTimeout(r.Context(), heartbeatTimeout)
			defer cancel()
			switch err := o.Heartbeats.Beat(ctx, name, bearer(r), failed, msg); {
			case errors.Is(err, ErrNoHeartbeat):
				writeJSON(w, http.StatusNotFound, map[string]string{"error": "no heartbeat check named " + oneline.Clean(name)})
			case errors.Is(err, ErrHeartbeatToken):
				w.Header().Set("WWW-Authenticate", `Bearer realm="assay heartbeat"`)
				writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "this heartbeat needs the check's token: Authorization: Bearer TOKEN"})
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
	return mux
}

// bearer is the token of "Authorization: Bearer TOKEN", else of
// "X-Assay-Token: TOKEN" (with a web config's basic auth, the job's
// Authorization header carries its basic credentials), or "".
func bearer(r *http.Request) string {
	auth := r.Header.Get("Authorization")
	if len(auth) > 7 && strings.EqualFold(auth[:7], "bearer ") {
		return strings.TrimSpace(auth[7:])
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
	const more = "…"
	cut := checks.MaxHeartbeatMessage - len(more)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	// Clean escapes as \xNN and \uNNNN: a cut inside one leaves a
	// backslash and hex digits, which are still one line of text.
	return s[:cut] + more
}

// heartbeatLimits bound the rate of pings, per check name and in all.
type heartbeatLimits struct {
	all    *rate.Limiter
	mu     sync.Mutex
	byName map[string]*rate.Limiter
}

func (l *heartbeatLimits) allow(name string) bool {
	l.mu.Lock()
	lim, ok := l.byName[name]
	if !ok {
		if len(l.byName) >= maxHeartbeatLimiters {
			l.byName = map[string]*rate.Limiter{}
		}
		lim = rate.NewLimiter(heartbeatRate, heartbeatBurst)
		l.byName[name] = lim
	}
	l.mu.Unlock()
	// One name's flood is refused before it spends the shared budget.
	return lim.Allow() && l.all.Allow()
}
