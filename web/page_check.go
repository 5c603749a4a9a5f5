package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/history"
)

// Rows of the check page.
const (
	chartRuns     = 200
	historyPage   = 50
	checkIncident = 20
)

// checkView is the body of GET /checks/{name}.
type checkView struct {
	Name, Description string
	Labels            []kv
	Tags              []string
	File              string
	Schedule          string
	NextRun, NextAt   string
	Steps             int
	State, StateText  string
	LastRun, LastAt   string
	Uptime            []uptimeCol
	P50, P95          string
	Chart             *latencyChart
	HasHistory        bool

	Runs       []runRow
	Filters    []filterLink
	OlderHref  string
	NewestHref string
	Paged      bool // not the first page

	Incidents incidentTable
	Evidence  *evidenceView
	Notes     []string
	// Maintenance is the check's windows and silences, now and next.
	Maintenance *maintView
}

// uptimeCol is an uptime figure with its window.
type uptimeCol struct {
	Window string
	Cell   uptimeCell
}

// runRow is one row of the run history.
type runRow struct {
	ID          int64
	Href        string
	Selected    bool
	Started     string
	Ago         string
	Duration    string
	Passed      bool
	Reason      string
	FailingStep string
	Message     string
	// InMaintenance: a window or silence was active at the run's start
	// or end.
	InMaintenance bool
}

// filterLink is one choice of the status filter.
type filterLink struct {
	Label, Href string
	Active      bool
}

// checkQuery is the validated query of a check page.
type checkQuery struct {
	run    int64
	before int64
	status string
}

func parseCheckQuery(q url.Values) (checkQuery, string) {
	var cq checkQuery
	if q.Has("run") {
		id, err := strconv.ParseInt(q.Get("run"), 10, 64)
		if err != nil || id <= 0 {
			return cq, "run must be a run id (a positive integer)"
		}
		cq.run = id
	}
	if q.Has("before") {
		id, err := strconv.ParseInt(q.Get("before"), 10, 64)
		if err != nil || id <= 0 {
			return cq, "before must be a run id (a positive integer)"
		}
		cq.before = id
	}
	switch s := q.Get("status"); s {
	case history.StatusAny, history.StatusFailed, history.StatusPassed:
		cq.status = s
	default:
		return cq, "status must be failed or passed"
	}
	return cq, ""
}

func (p *pages) checkPage(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	sum, latest, ok := p.status().Check(name)
	if !ok {
		p.renderError(w, r, http.StatusNotFound, "../", "No check named "+short(name, 200)+" is configured.")
		return
	}
	var cq checkQuery
	if !p.o.Public { // the public page takes no query: it shows the same for all
		var bad string
		if cq, bad = parseCheckQuery(r.URL.Query()); bad != "" {
			p.renderError(w, r, http.StatusBadRequest, "../", bad)
			return
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), historyTimeout)
	defer cancel()
	now := p.now()
	l := newLinker(r, "../")
	h := p.o.History
	v := checkView{Name: sum.Name, Description: short(sum.Description, 2000), HasHistory: h != nil,
		Incidents: incidentTable{Public: p.o.Public}, Maintenance: p.checkMaintenance(sum.Name, p.now())}
	if !p.o.Public {
		v.Labels, v.Tags, v.File, v.Schedule, v.Steps = labelChips(sum.Labels), boundTags(sum.Tags), sum.File, sum.Schedule, sum.Steps
		if sum.NextRun != nil {
			v.NextRun, v.NextAt = fmtAgo(now, *sum.NextRun), fmtTime(*sum.NextRun)
		}
	}

	var newest *history.RunSummary
	if h != nil {
		for _, win := range uptimeWindows {
			c, err := h.Counts(ctx, sum.Name, now.Add(-win.D), now)
			if err != nil {
				v.Notes = appendOnce(v.Notes, p.historyNote("uptime", err))
				v.Uptime = append(v.Uptime, uptimeCol{Window: win.Name, Cell: uptimeCell{Text: "—", Class: "none"}})
				continue
			}
			v.Uptime = append(v.Uptime, uptimeCol{Window: win.Name, Cell: fmtUptime(c)})
		}
		incs, err := h.Incidents(ctx, history.IncidentQuery{Check: sum.Name, Limit: checkIncident})
		if err != nil {
			v.Notes = appendOnce(v.Notes, p.historyNote("incidents", err))
		}
		for _, in := range incs[:min(len(incs), checkIncident)] {
			v.Incidents.Rows = append(v.Incidents.Rows, p.incidentView(in, now, l))
		}
		want := chartRuns
		if p.o.Public { // the public page draws no chart: the newest run is enough
			want = 1
		}
		chart, err := h.Results(ctx, sum.Name, history.ResultQuery{Limit: want})
		if err != nil {
			v.Notes = appendOnce(v.Notes, p.historyNote("runs", err))
		}
		chart = chart[:min(len(chart), chartRuns)]
		if len(chart) > 0 {
			newest = &chart[0]
		}
		if !p.o.Public {
			v.Chart = newLatencyChart(chart, func(id int64) string { return p.runHref(l, sum.Name, cq, id) })
			if ds, err := h.Durations(ctx, sum.Name, now.Add(-24*time.Hour), now); err == nil && len(ds) > 0 {
				v.P50, v.P95 = fmtDur(percentile(ds, 0.50)), fmtDur(percentile(ds, 0.95))
			}
			p.runTable(ctx, &v, l, cq)
		}
	}
	st := stateFrom(sum.LastResult, newest)
	v.State, v.StateText = st.text(), st.label()
	switch {
	case sum.LastResult != nil:
		v.LastRun, v.LastAt = fmtAgo(now, sum.LastResult.Started), fmtTime(sum.LastResult.Started)
	case newest != nil:
		v.LastRun, v.LastAt = fmtAgo(now, newest.Started), fmtTime(newest.Started)
	}

	if !p.o.Public {
		ev, code, msg := p.evidence(ctx, sum.Name, latest, newest, cq)
		if code != 0 {
			p.renderError(w, r, code, "../", msg)
			return
		}
		v.Evidence = ev
		if ev != nil && ev.ID > 0 {
			for i := range v.Runs {
				v.Runs[i].Selected = v.Runs[i].ID == ev.ID
			}
		}
		if ev != nil {
			ev.link(l, sum.Name, cq)
		}
	}
	p.render(w, r, http.StatusOK, "check", l, sum.Name+" · assay", v)
}

// runTable reads one page of the run history.
func (p *pages) runTable(ctx context.Context, v *checkView, l linker, cq checkQuery) {
	rows, err := p.o.History.Results(ctx, v.Name, history.ResultQuery{Limit: historyPage + 1, Before: cq.before, Status: cq.status})
	if err != nil {
		v.Notes = appendOnce(v.Notes, p.historyNote("runs", err))
	}
	more := len(rows) > historyPage
	rows = rows[:min(len(rows), historyPage)]
	now := p.now()
	for _, r := range rows {
		v.Runs = append(v.Runs, runRow{ID: r.ID, Href: p.runHref(l, v.Name, cq, r.ID), Started: fmtTime(r.Started),
			Ago: fmtAgo(now, r.Started), Duration: fmtDur(secs(r.DurationSeconds)), Passed: r.Passed,
			Reason: string(r.Reason), FailingStep: short(r.FailingStep, 200), Message: short(oneLine(r.Message), maxRowMessage),
			InMaintenance: r.InMaintenance})
	}
	filter := func(status string) url.Values {
		q := url.Values{}
		if status != "" {
			q.Set("status", status)
		}
		return q
	}
	for _, f := range []struct{ label, status string }{{"all", ""}, {"failed", history.StatusFailed}, {"passed", history.StatusPassed}} {
		v.Filters = append(v.Filters, filterLink{Label: f.label, Href: "./" + url.PathEscape(v.Name) + l.query(filter(f.status)) + "#runs",
			Active: cq.status == f.status})
	}
	if more && len(rows) > 0 {
		q := filter(cq.status)
		q.Set("before", strconv.FormatInt(rows[len(rows)-1].ID, 10))
		v.OlderHref = "./" + url.PathEscape(v.Name) + l.query(q) + "#runs"
	}
	if cq.before > 0 {
		v.Paged = true
		v.NewestHref = "./" + url.PathEscape(v.Name) + l.query(filter(cq.status)) + "#runs"
	}
}

// runHref selects a run's evidence while keeping the table where it is.
func (p *pages) runHref(l linker, name string, cq checkQuery, id int64) string {
	q := url.Values{"run": {strconv.FormatInt(id, 10)}}
	if cq.before > 0 {
		q.Set("before", strconv.FormatInt(cq.before, 10))
	}
	if cq.status != "" {
		q.Set("status", cq.status)
	}
	return "./" + url.PathEscape(name) + l.query(q) + "#evidence"
}

// evidence picks the run whose evidence the page shows: the one asked for
// with ?run=, else the latest run when it failed. A non-zero code is an
// error page to answer instead.
func (p *pages) evidence(ctx context.Context, name string, latest *checks.Result, newest *history.RunSummary, cq checkQuery) (*evidenceView, int, string) {
	h := p.o.History
	if cq.run > 0 {
		if h == nil && latest != nil && latest.ID == cq.run {
			return newEvidence(latest, false), 0, ""
		}
		if h == nil {
			return nil, http.StatusNotFound, "No run " + strconv.FormatInt(cq.run, 10) + " of this check is kept: the daemon keeps no history."
		}
		run, err := h.Result(ctx, cq.run)
		switch {
		case errors.Is(err, history.ErrNotFound), err == nil && (run == nil || run.Check != name):
			return nil, http.StatusNotFound, "Check " + name + " has no run " + strconv.FormatInt(cq.run, 10) + "."
		case err != nil:
			return nil, http.StatusServiceUnavailable, p.historyNote("the run", err)
		}
		return storedEvidence(run, false), 0, ""
	}
	if latest != nil {
		if latest.Passed {
			return nil, 0, ""
		}
		if latest.ID > 0 && h != nil {
			if run, err := h.Result(ctx, latest.ID); err == nil && run != nil && run.Check == name && run.Result != nil {
				return storedEvidence(run, true), 0, ""
			}
		}
		return newEvidence(latest, true), 0, ""
	}
	if newest != nil && !newest.Passed && h != nil {
		if run, err := h.Result(ctx, newest.ID); err == nil && run != nil && run.Check == name {
			return storedEvidence(run, true), 0, ""
		}
	}
	return nil, 0, ""
}

// percentile is the nearest-rank percentile of ds; it sorts a copy.
func percentile(ds []time.Duration, q float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.999999) - 1
	return s[max(0, min(i, len(s)-1))]
}

func boundTags(tags []string) []string {
	out := make([]string, 0, min(len(tags), maxLabels))
	for _, t := range tags[:min(len(tags), maxLabels)] {
		out = append(out, short(t, 80))
	}
	return out
}
