package checks

import (
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/assay-monitor/assay/internal/yamlstrict"
	"github.com/robfig/cron/v3"
	"go.yaml.in/yaml/v3"
)

// MaintenanceWindow is a recurring planned outage: from each time
// Schedule fires, for Duration. In assay.yaml, Checks (globs on check
// names) and Labels (equality) say which checks it covers; in a check's
// own maintenance list it covers that check. The maintenance package
// answers whether a check is in a window; checks only reads the field.
type MaintenanceWindow struct {
	// Schedule is a cron spec (5 fields, optional seconds, descriptors)
	// read in Timezone.
	Schedule string `yaml:"schedule"`
	// Duration is elapsed time from each start (days allowed: 1d).
	Duration Window `yaml:"duration"`
	// Checks are path.Match globs on check names (assay.yaml only).
	Checks []string `yaml:"checks"`
	// Labels must all equal the check's labels (assay.yaml only).
	Labels map[string]string `yaml:"labels"`
	// Timezone is an IANA name (Europe/Berlin); empty: the check's
	// schedule's CRON_TZ, else the config's timezone, else UTC.
	Timezone string `yaml:"timezone"`

	Pos Position `yaml:"-"`

	sched cron.Schedule
	loc   *time.Location
}

// Bounds of a maintenance window.
const (
	MinMaintenanceDuration = time.Minute
	MaxMaintenanceDuration = 31 * 24 * time.Hour
	// maxMaintenanceSelectors bounds checks: and labels: of one window.
	maxMaintenanceSelectors = 100
	// maxExtend bounds how many overlapping starts Covering joins each
	// way (a window every minute for a day joins without end: its end is
	// then approximate, and the calendar looks again at that time).
	maxExtend = 200
)

type maintenanceFields MaintenanceWindow

// UnmarshalStrict reads one window. Selectors (checks, labels) are
// checked by the caller, which knows whether it is a check's own window.
func (w *MaintenanceWindow) UnmarshalStrict(d *decoder, n *yaml.Node, p string) {
	if n.Kind != yaml.MappingNode {
		d.Errorf(n, p, `expected a mapping like { schedule: "0 2 * * SUN", duration: 2h }, got %s`, yamlstrict.Describe(n))
		return
	}
	d.Into(n, (*maintenanceFields)(w), p)
	w.Pos = d.Pos(n)
	at := func(f string) Position { return d.ValuePos(yamlstrict.JoinPath(p, f), w.Pos) }
	sp := yamlstrict.JoinPath(p, "schedule")
	switch {
	case reported(d, sp):
	case w.Schedule == "":
		d.ErrAt(w.Pos, sp, `a maintenance window needs a schedule, e.g. "0 2 * * SUN"`)
	case strings.HasPrefix(w.Schedule, "CRON_TZ=") || strings.HasPrefix(w.Schedule, "TZ="):
		d.ErrAt(at("schedule"), sp, "set the time zone with timezone:, not in the schedule")
	default:
		if msg := scheduleProblem(w.Schedule, time.Now()); msg != "" {
			d.ErrAt(at("schedule"), sp, "%s", msg)
		} else {
			w.sched, _ = CronParser.Parse(w.Schedule)
		}
	}
	dp := yamlstrict.JoinPath(p, "duration")
	switch {
	case reported(d, dp):
	case !hasKey(n, "duration"):
		d.ErrAt(w.Pos, dp, "a maintenance window needs a duration, e.g. 2h")
	case w.Duration.D() < MinMaintenanceDuration || w.Duration.D() > MaxMaintenanceDuration:
		d.ErrAt(at("duration"), dp, "must be between 1m and 31d, got %s", w.Duration)
	}
	if w.Timezone != "" {
		loc, err := LoadTimezone(w.Timezone)
		if err != nil {
			d.ErrAt(at("timezone"), yamlstrict.JoinPath(p, "timezone"), "%v", err)
		} else {
			w.loc = loc
		}
	}
	if len(w.Checks)+len(w.Labels) > maxMaintenanceSelectors {
		d.ErrAt(w.Pos, p, "at most %d checks globs and labels in one window", maxMaintenanceSelectors)
	}
	for i, g := range w.Checks {
		if _, err := path.Match(g, ""); err != nil || g == "" {
			gp := fmt.Sprintf("%s.checks[%d]", p, i)
			d.ErrAt(d.ValuePos(gp, w.Pos), gp, "invalid glob %s (use *, ? and [a-z])", yamlstrict.Excerpt(g))
		}
	}
	for _, k := range sortedKeys(w.Labels) {
		if !labelNameRe.MatchString(k) {
			lp := yamlstrict.JoinPath(yamlstrict.JoinPath(p, "labels"), k)
			d.ErrAt(d.KeyPos(lp, w.Pos), lp, "invalid label name %q", k)
		}
	}
}

// compileMaintenance checks a check's own windows: they cover the check,
// so selectors are refused, and the schedule's CRON_TZ is their default
// time zone.
func compileMaintenance(d *decoder, c *Check, p string) {
	var loc *time.Location
	for _, prefix := range []string{"CRON_TZ=", "TZ="} {
		if tz, ok := strings.CutPrefix(c.Schedule, prefix); ok {
			// A bad zone was reported with the schedule.
			if f := strings.Fields(tz); len(f) > 0 {
				loc, _ = time.LoadLocation(f[0])
			}
			break
		}
	}
	for i, w := range c.Maintenance {
		wp := fmt.Sprintf("%s.maintenance[%d]", p, i)
		if w == nil {
			if !reported(d, wp) {
				d.ErrAt(c.Pos, wp, "empty maintenance window")
			}
			continue
		}
		if len(w.Checks) > 0 || len(w.Labels) > 0 {
			d.ErrAt(w.Pos, wp, "a check's own window covers that check: checks: and labels: belong to the windows of assay.yaml")
		}
		if w.loc == nil {
			w.loc = loc
		}
	}
}

// Ready reports whether the window compiled (its schedule parsed).
func (w *MaintenanceWindow) Ready() bool { return w != nil && w.sched != nil }

// Location is the window's time zone: its own or the check's, else def,
// else UTC.
func (w *MaintenanceWindow) Location(def *time.Location) *time.Location {
	switch {
	case w.loc != nil:
		return w.loc
	case def != nil:
		return def
	}
	return time.UTC
}

// Covering returns the occurrence of the window that covers t: its start
// and its end (later starts that overlap it join it), or ok false.
func (w *MaintenanceWindow) Covering(t time.Time, def *time.Location) (start, end time.Time, ok bool) {
	if !w.Ready() {
		return
	}
	d := w.Duration.D()
	loc := w.Location(def)
	// Next gives the first start after its argument: the first start in
	// (t-d, t] covers t.
	s := w.sched.Next(t.Add(-d).In(loc))
	if s.IsZero() || s.After(t) {
		return
	}
	start, end = s, s.Add(d)
	// Earlier occurrences that reach start join too (a fall-back night
	// repeats a start an hour apart).
	for range maxExtend {
		p := w.sched.Next(start.Add(-d - time.Nanosecond))
		if p.IsZero() || !p.Before(start) {
			break
		}
		start = p
	}
	for range maxExtend {
		n := w.sched.Next(s)
		if n.IsZero() || n.After(end) {
			break
		}
		s, end = n, n.Add(d)
	}
	return start.UTC(), end.UTC(), true
}

// NextStart is the first start of the window after t (zero if none).
func (w *MaintenanceWindow) NextStart(t time.Time, def *time.Location) time.Time {
	if !w.Ready() {
		return time.Time{}
	}
	n := w.sched.Next(t.In(w.Location(def)))
	if n.IsZero() {
		return n
	}
	return n.UTC()
}

// LoadTimezone loads an IANA time zone by name for a maintenance window
// or the config's timezone. "Local" is refused: it would mean whatever
// zone the machine running assay has.
func LoadTimezone(name string) (*time.Location, error) {
	loc, err := time.LoadLocation(name)
	if err != nil || name == "Local" {
		return nil, fmt.Errorf("unknown time zone %s: use an IANA name such as Europe/Berlin or UTC", yamlstrict.Excerpt(name))
	}
	return loc, nil
}
