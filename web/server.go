// Package web serves assay's HTTP endpoints: /metrics, /healthz, /readyz,
// the JSON API under /api/v1, the heartbeat pings (heartbeat.go), POST
// /-/reload, the status page (/ and /checks/{name}) and badges
// (/badge/{name}/...). It only reads: results
// reach it through Status, a sink. Who may call what is Access
// (guard.go); the server's limits, TLS and basic auth are in listen.go.
package web

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/assay-monitor/assay/history"
	"github.com/assay-monitor/assay/maintenance"

	"github.com/prometheus/client_golang/prometheus"
)

// Options configure Handler.
type Options struct {
	Gatherer prometheus.Gatherer
	Status   *Status
	// Ready reports whether the config is loaded and the scheduler runs.
	Ready func() bool
	// Health, if set, reports why the daemon is degraded (the store
	// cannot write): /readyz then answers 503 with the reason.
	Health func() error
	// Reload re-reads the checks; its error is the reason for a rejection.
	Reload func(ctx context.Context) error
	// Access says who may call the endpoints; the zero value takes
	// writes from loopback clients only.
	Access Access
	// History serves the stored runs, uptime, incidents and
	// notifications to the API, the pages and the badges; nil: the API's
	// history endpoints answer 501 and the pages show only the latest
	// results from Status.
	History history.Reader
	// Notifications lets an operator retry or drop a notification.
	Notifications history.NotificationAdmin
	// NotificationsChanged is called after a retry or drop (it wakes the
	// delivery worker).
	NotificationsChanged func()
	// Public turns the status page into a public one: check names,
	// descriptions, status, uptime and incidents only; no requests,
	// responses, messages, labels, files or run evidence, in the pages
	// and in the API.
	Public bool
	// Cluster describes the replicas sharing the store, for
	// GET /api/v1/cluster; nil: the endpoint says there is no cluster.
	Cluster func() any
	// Now is the clock of the pages, badges and uptime; nil means time.Now.
	Now func() time.Time
	// Maintenance is the calendar of maintenance windows and silences:
	// the silence API, and the windows on the pages and in
	// /api/v1/checks/{name}; nil: the silence API answers 501.
	Maintenance *maintenance.Calendar
	// Heartbeats takes the pings of heartbeat checks
	// (POST /api/v1/heartbeat/{name}); nil: every name is unknown.
	Heartbeats Heartbeats
}

// Handler returns every endpoint behind o.Access, but the heartbeat
// endpoints, which authenticate by the check's token (heartbeat.go).
func Handler(o Options) http.Handler {
	guarded := o.Access.guard(mux(o))
	hb := heartbeatHandler(o)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, heartbeatPrefix) {
			hb.ServeHTTP(w, r)
			return
		}
		guarded.ServeHTTP(w, r)
	})
}

func mux(o Options) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metricsHandler(o.Gatherer))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if o.Ready != nil && !o.Ready() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("not ready\n"))
			return
		}
		if o.Health != nil {
			if err := o.Health(); err != nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = w.Write([]byte("degraded: " + err.Error() + "\n"))
				return
			}
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	mux.HandleFunc("GET /api/v1/checks", func(w http.ResponseWriter, _ *http.Request) {
		sums := o.Status.Summaries()
		if o.Public {
			for i := range sums {
				sums[i] = publicSummary(sums[i])
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"checks": sums})
	})
	mux.HandleFunc("GET /api/v1/checks/{name}", func(w http.ResponseWriter, r *http.Request) {
		sum, res, ok := o.Status.Check(r.PathValue("name"))
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no check named " + r.PathValue("name")})
			return
		}
		out := map[string]any{"check": sum, "result": res}
		if o.Public {
			out = map[string]any{"check": publicSummary(sum)}
		}
		if o.Maintenance != nil {
			out["maintenance"] = maintenanceView(o.Maintenance.Check(sum.Name, o.now()), o.Public)
		}
		writeJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("POST /-/reload", func(w http.ResponseWriter, r *http.Request) {
		if o.Reload == nil {
			writeJSON(w, http.StatusNotImplemented, map[string]string{"error": "reload not available"})
			return
		}
		if err := o.Reload(r.Context()); err != nil {
			if r.Context().Err() != nil {
				return // the client went away while the reload waited
			}
			writeJSON(w, http.StatusBadRequest, map[string]any{"status": "rejected", "errors": strings.Split(err.Error(), "\n")})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "reloaded"})
	})
	mux.HandleFunc("GET /api/v1/cluster", func(w http.ResponseWriter, _ *http.Request) {
		if o.Cluster == nil {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no cluster: storage.driver is not postgres"})
			return
		}
		if o.Public {
			writeJSON(w, http.StatusForbidden, map[string]string{"error": "not available on a public status page (web.public)"})
			return
		}
		writeJSON(w, http.StatusOK, o.Cluster())
	})
	registerHistoryAPI(mux, o)
	registerSilences(mux, o)
	registerPages(mux, o)
	return mux
}

// publicSummary keeps what a public status page shows of a check.
func publicSummary(s CheckSummary) CheckSummary {
	out := CheckSummary{Name: s.Name, Description: s.Description, Schedule: s.Schedule, NextRun: s.NextRun}
	if lr := s.LastResult; lr != nil {
		out.LastResult = &ResultSummary{Passed: lr.Passed, Started: lr.Started, DurationSeconds: lr.DurationSeconds,
			Attempts: lr.Attempts, Reason: lr.Reason, InMaintenance: lr.InMaintenance}
	}
	return out
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // the API is JSON, not HTML: "&" stays "&"
	_ = enc.Encode(v)
}

func (o Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// maintenanceView is a check's maintenance as the API shows it: on a
// public page without silence comments, which may name people or plans.
func maintenanceView(st maintenance.CheckStatus, public bool) maintenance.CheckStatus {
	if !public {
		return st
	}
	strip := func(p maintenance.Period) maintenance.Period {
		p.Comment, p.SilenceID, p.Source, p.Checks, p.Labels = "", "", "", nil, nil
		return p
	}
	out := maintenance.CheckStatus{InMaintenance: st.InMaintenance}
	for _, p := range st.Active {
		out.Active = append(out.Active, strip(p))
	}
	if st.Next != nil {
		n := strip(*st.Next)
		out.Next = &n
	}
	return out
}
