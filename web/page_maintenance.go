package web

import (
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/assay-monitor/assay/maintenance"
)

// periodRow is a window or silence occurrence on the pages. Text is
// escaped by html/template like everything else.
type periodRow struct {
	Kind             string
	Active           bool
	Starts, StartsAt string
	Ends, EndsAt     string
	Schedule         string
	Duration         string
	Timezone         string
	Selects          string
	Source           string
	Comment          string
}

// maintView is a check's maintenance on its page.
type maintView struct {
	Active []periodRow
	Next   *periodRow
}

func (p *pages) periodRow(per maintenance.Period, now time.Time) periodRow {
	r := periodRow{Kind: per.Kind, Active: !now.Before(per.Starts) && now.Before(per.Ends),
		Starts: fmtAgo(now, per.Starts), StartsAt: fmtTime(per.Starts), Ends: fmtAgo(now, per.Ends), EndsAt: fmtTime(per.Ends),
		Schedule: short(per.Schedule, 200), Duration: per.Duration, Timezone: per.Timezone}
	if !p.o.Public {
		// A silence's comment may name people or plans; a window's
		// source is a path on the server.
		r.Comment, r.Source = short(oneLine(per.Comment), 300), per.Source
		sel := slices.Clone(per.Checks)
		// Sorted: map order would change the text between renders.
		for _, k := range slices.Sorted(maps.Keys(per.Labels)) {
			sel = append(sel, k+"="+per.Labels[k])
		}
		r.Selects = short(strings.Join(sel, ", "), 300)
	}
	return r
}

// checkMaintenance is the maintenance section of a check page, nil when
// the check has no window or silence now or to come.
func (p *pages) checkMaintenance(name string, now time.Time) *maintView {
	if p.o.Maintenance == nil {
		return nil
	}
	st := p.o.Maintenance.Check(name, now)
	if len(st.Active) == 0 && st.Next == nil {
		return nil
	}
	v := &maintView{}
	for _, a := range st.Active {
		v.Active = append(v.Active, p.periodRow(a, now))
	}
	if st.Next != nil {
		n := p.periodRow(*st.Next, now)
		v.Next = &n
	}
	return v
}

// overviewMaintenance lists assay.yaml's windows (the one under way or
// the next) and, off a public page, the active and pending silences.
func (p *pages) overviewMaintenance(now time.Time) []periodRow {
	if p.o.Maintenance == nil {
		return nil
	}
	var out []periodRow
	for _, w := range p.o.Maintenance.Windows(now) {
		out = append(out, p.periodRow(w, now))
	}
	if !p.o.Public {
		for _, s := range p.o.Maintenance.CurrentSilences(now) {
			out = append(out, p.periodRow(s, now))
		}
	}
	return out
}

// maintenanceUntil is the chip text of a check in maintenance ("" if
// not).
func (p *pages) maintenanceUntil(name string, now time.Time) string {
	if p.o.Maintenance == nil {
		return ""
	}
	st := p.o.Maintenance.Check(name, now)
	if !st.InMaintenance {
		return ""
	}
	return "maintenance, ends " + fmtAgo(now, st.Until())
}
