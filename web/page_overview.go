package web

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/assay-monitor/assay/history"
)

// uptimeWindows are the windows of the uptime columns.
var uptimeWindows = []struct {
	Name string
	D    time.Duration
}{{"24h", 24 * time.Hour}, {"7d", 7 * 24 * time.Hour}, {"30d", 30 * 24 * time.Hour}}

// sparkRuns is how many runs a sparkline draws.
const sparkRuns = 50

// overviewText bounds a description or message in an overview row, so
// that a row stays a row; the whole text is its tooltip.
const overviewText = 160

// overviewView is the body of GET /.
type overviewView struct {
	Checks     []checkRow
	Hidden     int // checks beyond maxOverviewRows
	Total      int
	Failing    int
	Unknown    int
	Windows    []string
	Incidents  incidentTable
	HasHistory bool
	Notes      []string
	// Maintenance lists assay.yaml's windows and the silences.
	Maintenance []periodRow
}

// checkRow is one check on the overview.
type checkRow struct {
	Name, Href  string
	Description string
	// DescriptionFull is the whole description when Description is cut.
	DescriptionFull string
	Labels          []kv
	State           string // passing, failing, unknown: the CSS class
	StateText       string
	Incident        bool // an incident of this check is open
	Uptime          []uptimeCell
	Spark           *sparkline
	LastRun         string
	LastRunAt       string
	LastDur         string
	LastFailure     *failureView
	// Maintenance says the check is in maintenance and until when.
	Maintenance string
	rank        int
}

// failureView is the last failure of a check in brief.
type failureView struct {
	Reason  string
	Ago     string
	At      string
	Message string
	// MessageFull is the whole message when Message is cut.
	MessageFull string
	Href        string
}

func (p *pages) overview(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), historyTimeout)
	defer cancel()
	now := p.now()
	l := newLinker(r, "./")
	h := p.o.History
	sums := p.status().Summaries()
	v := overviewView{Total: len(sums), HasHistory: h != nil, Incidents: incidentTable{Public: p.o.Public, ShowCheck: true},
		Maintenance: p.overviewMaintenance(now)}
	for _, w := range uptimeWindows {
		v.Windows = append(v.Windows, w.Name)
	}

	counts := make([]map[string]history.Counts, len(uptimeWindows))
	open := map[string]bool{}
	if h != nil {
		for i, win := range uptimeWindows {
			m, err := h.CountsAll(ctx, now.Add(-win.D), now)
			if err != nil {
				v.Notes = appendOnce(v.Notes, p.historyNote("uptime", err))
			}
			counts[i] = m
		}
		incs, err := h.Incidents(ctx, history.IncidentQuery{Open: true, Limit: maxOpenIncident})
		if err != nil {
			v.Notes = appendOnce(v.Notes, p.historyNote("incidents", err))
		}
		for _, in := range incs {
			if in.Resolved != nil { // a reader that ignored Open
				continue
			}
			open[in.Check] = true
			v.Incidents.Rows = append(v.Incidents.Rows, p.incidentView(in, now, l))
			if len(v.Incidents.Rows) == maxOpenIncident {
				break
			}
		}
	}

	if len(sums) > maxOverviewRows {
		v.Hidden = len(sums) - maxOverviewRows
		sums = sums[:maxOverviewRows]
	}
	for _, s := range sums {
		row := checkRow{Name: s.Name, Href: l.check(s.Name, nil), Description: short(oneLine(s.Description), overviewText),
			Incident: open[s.Name], Maintenance: p.maintenanceUntil(s.Name, now)}
		if row.Description != oneLine(s.Description) {
			row.DescriptionFull = short(oneLine(s.Description), 2000)
		}
		if !p.o.Public {
			row.Labels = labelChips(s.Labels)
		}
		var runs []history.RunSummary
		var lastFail *history.RunSummary
		if h != nil {
			var err error
			if !p.o.Public {
				runs, err = h.Results(ctx, s.Name, history.ResultQuery{Limit: sparkRuns})
				if err != nil {
					v.Notes = appendOnce(v.Notes, p.historyNote("runs", err))
				}
				if len(runs) > sparkRuns {
					runs = runs[:sparkRuns]
				}
			} else {
				runs, err = h.Results(ctx, s.Name, history.ResultQuery{Limit: 1})
				if err != nil {
					v.Notes = appendOnce(v.Notes, p.historyNote("runs", err))
				}
			}
			fails, err := h.Results(ctx, s.Name, history.ResultQuery{Status: history.StatusFailed, Limit: 1})
			if err != nil {
				v.Notes = appendOnce(v.Notes, p.historyNote("runs", err))
			}
			if len(fails) > 0 && !fails[0].Passed {
				lastFail = &fails[0]
			}
		}
		var newest *history.RunSummary
		if len(runs) > 0 {
			newest = &runs[0]
		}
		st := stateFrom(s.LastResult, newest)
		row.State, row.StateText, row.rank = st.text(), st.label(), st.rank()
		switch st {
		case stateFailing:
			v.Failing++
		case stateUnknown:
			v.Unknown++
		}
		for i, win := range uptimeWindows {
			cell := uptimeCell{Text: "—", Title: "no history", Class: "none"}
			if counts[i] != nil {
				cell = fmtUptime(counts[i][s.Name])
			}
			cell.Window = win.Name
			row.Uptime = append(row.Uptime, cell)
		}
		if !p.o.Public {
			row.Spark = newSparkline(runs)
		}
		switch {
		case s.LastResult != nil:
			row.LastRun, row.LastRunAt = fmtAgo(now, s.LastResult.Started), fmtTime(s.LastResult.Started)
			row.LastDur = fmtDur(secs(s.LastResult.DurationSeconds))
		case newest != nil:
			row.LastRun, row.LastRunAt = fmtAgo(now, newest.Started), fmtTime(newest.Started)
			row.LastDur = fmtDur(secs(newest.DurationSeconds))
		}
		row.LastFailure = p.lastFailure(s, lastFail, now, l)
		v.Checks = append(v.Checks, row)
	}
	slices.SortStableFunc(v.Checks, func(a, b checkRow) int {
		if a.rank != b.rank {
			return a.rank - b.rank
		}
		if a.Incident != b.Incident { // an open incident first within its group
			if a.Incident {
				return -1
			}
			return 1
		}
		return 0 // Summaries are sorted by name already
	})
	p.render(w, r, http.StatusOK, "overview", l, "assay status", v)
}

// lastFailure is the newer of the stored last failure and the in-memory
// latest result when it failed (the history writes in batches, so it may
// lag by a few seconds).
func (p *pages) lastFailure(s CheckSummary, stored *history.RunSummary, now time.Time, l linker) *failureView {
	var f *failureView
	at := time.Time{}
	if stored != nil {
		at = stored.Started
		f = &failureView{Reason: reasonText(string(stored.Reason)), Message: stored.Message}
		if stored.ID > 0 {
			f.Href = l.check(s.Name, url.Values{"run": {strconv.FormatInt(stored.ID, 10)}}) + "#evidence"
		}
	}
	if lr := s.LastResult; lr != nil && !lr.Passed && (f == nil || lr.Started.After(at)) {
		at = lr.Started
		f = &failureView{Reason: reasonText(string(lr.Reason)), Message: lr.Message, Href: l.check(s.Name, nil) + "#evidence"}
	}
	if f == nil {
		return nil
	}
	f.Ago, f.At = fmtAgo(now, at), fmtTime(at)
	full := oneLine(f.Message)
	f.Message = short(full, overviewText)
	if f.Message != full {
		f.MessageFull = short(full, maxCellText)
	}
	if p.o.Public {
		f.Message, f.MessageFull, f.Href = "", "", ""
	}
	return f
}

// incidentTable is a table of incidents; the overview names the check of
// each, a check's page does not.
type incidentTable struct {
	Rows      []incidentView
	Public    bool
	ShowCheck bool
}

// incidentView is one incident in a table.
type incidentView struct {
	ID           string
	Check, Href  string
	Open         bool
	Started      string
	StartedAgo   string
	Opened       string
	Resolved     string
	Resolution   string
	Duration     string
	Reason       string
	Runs         int
	FailedRuns   int
	FirstFailure string
	LastFailure  string
}

func (p *pages) incidentView(in history.Incident, now time.Time, l linker) incidentView {
	v := incidentView{ID: short(in.ID, 64), Check: in.Check, Href: l.check(in.Check, nil), Open: in.Resolved == nil,
		Started: fmtTime(in.Started), StartedAgo: fmtAgo(now, in.Started), Reason: reasonText(in.FirstReason),
		Runs: in.Runs, FailedRuns: in.FailedRuns}
	if !in.Opened.IsZero() {
		v.Opened = fmtTime(in.Opened)
	}
	end := now
	if in.Resolved != nil {
		end = *in.Resolved
		v.Resolved = fmtTime(*in.Resolved)
		v.Resolution = reasonText(short(in.Resolution, 40))
	}
	if end.After(in.Started) {
		v.Duration = fmtSpan(end.Sub(in.Started))
	} else {
		v.Duration = "0s"
	}
	if in.FirstReason == "" {
		v.Reason = "—"
	}
	if !p.o.Public {
		v.FirstFailure = short(oneLine(in.FirstFailure), maxRowMessage)
		if in.LastFailure != in.FirstFailure {
			v.LastFailure = short(oneLine(in.LastFailure), maxRowMessage)
		}
	}
	return v
}

func appendOnce(notes []string, n string) []string {
	if slices.Contains(notes, n) {
		return notes
	}
	return append(notes, n)
}
