package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/assay-monitor/assay/history"
)

// registerHistoryAPI adds the history endpoints: runs, one run, uptime,
// incidents and notifications.
func registerHistoryAPI(mux *http.ServeMux, o Options) {
	h := &historyAPI{o: o}
	mux.HandleFunc("GET /api/v1/checks/{name}/results", h.results)
	mux.HandleFunc("GET /api/v1/results/{id}", h.result)
	mux.HandleFunc("GET /api/v1/checks/{name}/uptime", h.uptime)
	mux.HandleFunc("GET /api/v1/incidents", h.incidents)
	mux.HandleFunc("GET /api/v1/notifications", h.notifications)
	mux.HandleFunc("POST /api/v1/notifications/{id}/retry", h.retryNotification)
	mux.HandleFunc("POST /api/v1/notifications/{id}/drop", h.dropNotification)
	mux.HandleFunc("DELETE /api/v1/notifications/{id}", h.dropNotification)
}

type historyAPI struct{ o Options }

func (h *historyAPI) now() time.Time { return h.o.now() }

// reader returns the history, answering 501 when there is none.
func (h *historyAPI) reader(w http.ResponseWriter) history.Reader {
	if h.o.History == nil {
		writeJSON(w, http.StatusNotImplemented, map[string]string{"error": "no history: storage.history is off"})
	}
	return h.o.History
}

func (h *historyAPI) forbiddenInPublic(w http.ResponseWriter) bool {
	if h.o.Public {
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "not available on a public status page (web.public)"})
		return true
	}
	return false
}

// known reports whether a check is configured or has stored runs.
func (h *historyAPI) known(ctx context.Context, name string) bool {
	if _, _, ok := h.o.Status.Check(name); ok {
		return true
	}
	rs, err := h.o.History.Results(ctx, name, history.ResultQuery{Limit: 1})
	return err == nil && len(rs) > 0
}

func badRequest(w http.ResponseWriter, format string, args ...any) {
	writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf(format, args...)})
}

func serverError(w http.ResponseWriter, err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "reading the history failed: " + err.Error()})
}

// intParam reads a non-negative integer query parameter.
func intParam(q url.Values, name string) (int64, error) {
	v := q.Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s must be a non-negative integer, got %q", name, v)
	}
	return n, nil
}

// ResultsPage is GET /api/v1/checks/{name}/results.
type ResultsPage struct {
	Check   string               `json:"check"`
	Results []history.RunSummary `json:"results"`
	// Next is the URL of the next (older) page, absent on the last one.
	Next string `json:"next,omitempty"`
}

func (h *historyAPI) results(w http.ResponseWriter, r *http.Request) {
	hr := h.reader(w)
	if hr == nil {
		return
	}
	name := r.PathValue("name")
	q := r.URL.Query()
	limit, err := intParam(q, "limit")
	if err != nil {
		badRequest(w, "%v", err)
		return
	}
	before, err := intParam(q, "before")
	if err != nil {
		badRequest(w, "%v", err)
		return
	}
	status := q.Get("status")
	if status != history.StatusAny && status != history.StatusFailed && status != history.StatusPassed {
		badRequest(w, "status must be failed or passed, got %q", status)
		return
	}
	if limit == 0 {
		limit = 50
	}
	limit = min(limit, 1000)
	if !h.known(r.Context(), name) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no check named " + name})
		return
	}
	rs, err := hr.Results(r.Context(), name, history.ResultQuery{Limit: int(limit), Before: before, Status: status})
	if err != nil {
		serverError(w, err)
		return
	}
	if h.o.Public {
		for i := range rs {
			rs[i].Message, rs[i].FailingStep = "", ""
		}
	}
	page := ResultsPage{Check: name, Results: rs}
	if len(rs) == int(limit) {
		nq := url.Values{"before": {strconv.FormatInt(rs[len(rs)-1].ID, 10)}, "limit": {strconv.FormatInt(limit, 10)}}
		if status != "" {
			nq.Set("status", status)
		}
		page.Next = "/api/v1/checks/" + url.PathEscape(name) + "/results?" + nq.Encode()
	}
	writeJSON(w, http.StatusOK, page)
}

func (h *historyAPI) result(w http.ResponseWriter, r *http.Request) {
	if h.forbiddenInPublic(w) {
		return
	}
	hr := h.reader(w)
	if hr == nil {
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		badRequest(w, "a run id is a positive integer, got %q", r.PathValue("id"))
		return
	}
	run, err := hr.Result(r.Context(), id)
	if errors.Is(err, history.ErrNotFound) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("no run %d (it may have been pruned)", id)})
		return
	}
	if err != nil {
		serverError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, run)
}

func (h *historyAPI) uptime(w http.ResponseWriter, r *http.Request) {
	hr := h.reader(w)
	if hr == nil {
		return
	}
	name := r.PathValue("name")
	win := r.URL.Query().Get("window")
	if win == "" {
		win = "24h"
	}
	d, err := parseWindow(win)
	if err != nil {
		badRequest(w, "%v", err)
		return
	}
	if !h.known(r.Context(), name) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no check named " + name})
		return
	}
	u, err := Uptime(r.Context(), hr, name, win, d, h.now())
	if err != nil {
		serverError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, u)
}

// Uptime computes a check's availability and duration percentiles over
// the window that ends at now.
func Uptime(ctx context.Context, hr history.Reader, check, window string, d time.Duration, now time.Time) (history.Uptime, error) {
	from := now.Add(-d)
	u := history.Uptime{Check: check, Window: window, From: from.UTC(), To: now.UTC()}
	c, err := hr.Counts(ctx, check, from, now)
	if err != nil {
		return u, err
	}
	u.Runs, u.Failures = c.Runs, c.Failures
	if a, ok := c.Availability(); ok {
		u.Availability = &a
	}
	ds, err := hr.Durations(ctx, check, from, now)
	if err != nil {
		return u, err
	}
	if len(ds) > 0 {
		p50, p95 := percentile(ds, 0.50).Seconds(), percentile(ds, 0.95).Seconds()
		u.P50Seconds, u.P95Seconds = &p50, &p95
	}
	return u, nil
}

// IncidentsPage is GET /api/v1/incidents.
type IncidentsPage struct {
	Incidents []history.Incident `json:"incidents"`
}

func (h *historyAPI) incidents(w http.ResponseWriter, r *http.Request) {
	hr := h.reader(w)
	if hr == nil {
		return
	}
	q := r.URL.Query()
	limit, err := intParam(q, "limit")
	if err != nil {
		badRequest(w, "%v", err)
		return
	}
	open := false
	switch v := q.Get("open"); v {
	case "", "false", "0":
	case "true", "1":
		open = true
	default:
		badRequest(w, "open must be true or false, got %q", v)
		return
	}
	ins, err := hr.Incidents(r.Context(), history.IncidentQuery{Check: q.Get("check"), Open: open, Limit: int(min(limit, 1000))})
	if err != nil {
		serverError(w, err)
		return
	}
	if h.o.Public {
		for i := range ins {
			ins[i].FirstFailure, ins[i].LastFailure = "", ""
		}
	}
	writeJSON(w, http.StatusOK, IncidentsPage{Incidents: ins})
}

// NotificationsPage is GET /api/v1/notifications.
type NotificationsPage struct {
	Notifications []history.Notification `json:"notifications"`
}

func (h *historyAPI) notifications(w http.ResponseWriter, r *http.Request) {
	if h.forbiddenInPublic(w) {
		return
	}
	hr := h.reader(w)
	if hr == nil {
		return
	}
	q := r.URL.Query()
	limit, err := intParam(q, "limit")
	if err != nil {
		badRequest(w, "%v", err)
		return
	}
	status := q.Get("status")
	if status != "" && status != history.NotificationPending && status != history.NotificationDead {
		badRequest(w, "status must be pending or dead, got %q", status)
		return
	}
	ns, err := hr.Notifications(r.Context(), status, int(min(limit, 1000)))
	if err != nil {
		serverError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, NotificationsPage{Notifications: ns})
}

func (h *historyAPI) retryNotification(w http.ResponseWriter, r *http.Request) {
	h.adminNotification(w, r, "retried", func(ctx context.Context, id int64) error {
		return h.o.Notifications.RetryNotification(ctx, id)
	})
}

func (h *historyAPI) dropNotification(w http.ResponseWriter, r *http.Request) {
	h.adminNotification(w, r, "dropped", func(ctx context.Context, id int64) error {
		return h.o.Notifications.DropNotification(ctx, id)
	})
}

func (h *historyAPI) adminNotification(w http.ResponseWriter, r *http.Request, done string, act func(context.Context, int64) error) {
	if h.forbiddenInPublic(w) {
		return
	}
	if h.o.Notifications == nil {
		writeJSON(w, http.StatusNotImplemented, map[string]string{"error": "notifications are not available"})
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		badRequest(w, "a notification id is a positive integer, got %q", r.PathValue("id"))
		return
	}
	err = act(r.Context(), id)
	if errors.Is(err, history.ErrNotFound) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("no notification %d", id)})
		return
	}
	if err != nil {
		writeJSON(w, http.StatusConflict, map[string]string{"error": err.Error()})
		return
	}
	if h.o.NotificationsChanged != nil {
		h.o.NotificationsChanged()
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "status": done})
}
