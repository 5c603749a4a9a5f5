// Package maintenance owns the calendar of planned outages: the
// maintenance windows of assay.yaml and of each check (recurring, cron
// schedule plus duration, in a time zone) and the silences made through
// POST /api/v1/silences (one-off, Alertmanager-style matchers, kept in
// the store). It answers whether a check is in maintenance at a time and
// when the next window starts or ends.
//
// The daemon wires it: Annotate marks every result (in_maintenance)
// before any sink sees it, and Run tells alerting at each window's end
// which checks are out of maintenance, so that what it held back then is
// notified (an incident still open, the resolve of an earlier page). It reads checks and the store; nothing downstream is
// reached from here.
package maintenance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/history"
	"github.com/assay-monitor/assay/scheduler"
	"github.com/prometheus/client_golang/prometheus"
)

// Options configure a Calendar.
type Options struct {
	// Windows are assay.yaml's maintenance windows.
	Windows []*checks.MaintenanceWindow
	// Location is the config's timezone: the zone of windows that name
	// none (nor their check's CRON_TZ); nil is UTC.
	Location *time.Location
	// Store keeps the silences; nil: no silences (the API answers 501).
	Store history.SilenceStore
	// Clock is nil for the wall clock.
	Clock scheduler.Clock
	// Logger is nil to discard.
	Logger *slog.Logger
	// Registerer receives assay_check_in_maintenance; nil: nowhere.
	Registerer prometheus.Registerer
	// Refresh is how often silences are read again from the store, to
	// see those other replicas made (default 10s).
	Refresh time.Duration
	// KeepExpired is how long an expired silence is still listed
	// (default 24h); it is deleted from the store after that.
	KeepExpired time.Duration
}

// ErrNoStore is returned by the silence methods without a store.
var ErrNoStore = errors.New("silences need the store")

// Calendar answers whether a check is in maintenance. It is safe for
// concurrent use.
type Calendar struct {
	opts  Options
	clock scheduler.Clock
	log   *slog.Logger

	mu       sync.RWMutex
	checks   map[string]*entry
	owned    []string
	silences []*Silence
	// active is which checks were in maintenance at the last wake of
	// Run (the metric reads it).
	active     map[string]bool
	lastPurge  time.Time
	wake       chan struct{}
	refreshErr bool
}

type entry struct {
	labels  map[string]string
	windows []*checks.MaintenanceWindow
}

// New makes a calendar and reads the silences once (a failure is logged:
// the next refresh tries again).
func New(opts Options) *Calendar {
	if opts.Clock == nil {
		opts.Clock = scheduler.RealClock{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Location == nil {
		opts.Location = time.UTC
	}
	if opts.Refresh <= 0 {
		opts.Refresh = 10 * time.Second
	}
	if opts.KeepExpired <= 0 {
		opts.KeepExpired = DefaultKeepExpired
	}
	c := &Calendar{opts: opts, clock: opts.Clock, log: opts.Logger, checks: map[string]*entry{},
		active: map[string]bool{}, wake: make(chan struct{}, 1)}
	if opts.Registerer != nil {
		opts.Registerer.MustRegister(collector{c})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c.refresh(ctx)
	return c
}

// SetChecks takes the loaded checks (on start and every reload): their
// labels, their own windows and which of assay.yaml's windows cover them.
func (c *Calendar) SetChecks(cs []*checks.Check) {
	next := make(map[string]*entry, len(cs))
	for _, ch := range cs {
		e := &entry{labels: ch.Labels}
		for _, w := range ch.Maintenance {
			if w.Ready() {
				e.windows = append(e.windows, w)
			}
		}
		for _, w := range c.opts.Windows {
			if w.Ready() && selects(w, ch.Name, ch.Labels) {
				e.windows = append(e.windows, w)
			}
		}
		next[ch.Name] = e
	}
	c.mu.Lock()
	c.checks = next
	c.mu.Unlock()
	c.wakeUp()
}

// Owned returns the setter of the checks this replica runs, whose
// assay_check_in_maintenance it exports (the daemon's OwnedSetters).
func (c *Calendar) Owned() interface{ SetChecks([]*checks.Check) } { return ownedSetter{c} }

type ownedSetter struct{ c *Calendar }

func (o ownedSetter) SetChecks(cs []*checks.Check) {
	names := make([]string, len(cs))
	for i, ch := range cs {
		names[i] = ch.Name
	}
	slices.Sort(names)
	o.c.mu.Lock()
	o.c.owned = names
	o.c.mu.Unlock()
}

// selects reports whether an assay.yaml window covers a check: a name
// glob of checks: matches (or there are none) and every label of
// labels: is equal.
func selects(w *checks.MaintenanceWindow, name string, labels map[string]string) bool {
	if len(w.Checks) == 0 && len(w.Labels) == 0 {
		return false
	}
	if len(w.Checks) > 0 && !slices.ContainsFunc(w.Checks, func(g string) bool { ok, _ := path.Match(g, name); return ok }) {
		return false
	}
	for k, v := range w.Labels {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// Annotate marks a result in_maintenance when a window or a silence of
// its check is active at the run's start or at its end (a daemon
// Annotator, run first). The end counts too: a run with retries that
// starts just before a window and fails inside it must not page there.
// The end is Started+Duration, or the calendar's now for a result that
// has no duration.
func (c *Calendar) Annotate(_ context.Context, r *checks.Result) {
	end := r.Started.Add(r.Duration)
	if r.Duration <= 0 {
		end = c.clock.Now()
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	r.InMaintenance = c.activeLocked(r.Check, r.Started) || c.activeLocked(r.Check, end)
}

// Active reports whether check is in maintenance at t.
func (c *Calendar) Active(check string, t time.Time) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.activeLocked(check, t)
}

func (c *Calendar) activeLocked(check string, t time.Time) bool {
	e := c.checks[check]
	if e == nil {
		return false
	}
	for _, w := range e.windows {
		if _, _, ok := w.Covering(t, c.opts.Location); ok {
			return true
		}
	}
	for _, s := range c.silences {
		if s.ActiveAt(t) && s.Matches(check, e.labels) {
			return true
		}
	}
	return false
}

// Period is one occurrence of a window or a silence, as the API and the
// page show it.
type Period struct {
	// Kind is "window" or "silence".
	Kind   string    `json:"kind"`
	Starts time.Time `json:"starts"`
	Ends   time.Time `json:"ends"`
	// Schedule, Duration and Timezone describe a window; Source is where
	// it is defined (file:line:col).
	Schedule string `json:"schedule,omitempty"`
	Duration string `json:"duration,omitempty"`
	Timezone string `json:"timezone,omitempty"`
	Source   string `json:"source,omitempty"`
	// Checks and Labels are an assay.yaml window's selectors.
	Checks []string          `json:"checks,omitempty"`
	Labels map[string]string `json:"labels,omitempty"`
	// SilenceID and Comment describe a silence.
	SilenceID string `json:"silence_id,omitempty"`
	Comment   string `json:"comment,omitempty"`
}

// CheckStatus is a check's maintenance at a time: the windows and
// silences covering it, and the next one to start.
type CheckStatus struct {
	InMaintenance bool     `json:"in_maintenance"`
	Active        []Period `json:"active,omitempty"`
	Next          *Period  `json:"next,omitempty"`
}

// Until is when the check's maintenance ends (the latest end of what
// covers it), zero when it is not in maintenance.
func (s CheckStatus) Until() time.Time {
	var u time.Time
	for _, p := range s.Active {
		if p.Ends.After(u) {
			u = p.Ends
		}
	}
	return u
}

func (c *Calendar) windowPeriod(w *checks.MaintenanceWindow, start, end time.Time) Period {
	return Period{Kind: "window", Starts: start, Ends: end, Schedule: w.Schedule, Duration: w.Duration.String(),
		Timezone: w.Location(c.opts.Location).String(), Source: w.Pos.String(), Checks: w.Checks, Labels: w.Labels}
}

func silencePeriod(s *Silence) Period {
	return Period{Kind: "silence", Starts: s.Starts, Ends: s.Ends, SilenceID: s.ID, Comment: s.Comment}
}

// Check reports a check's maintenance at t.
func (c *Calendar) Check(check string, t time.Time) CheckStatus {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var st CheckStatus
	e := c.checks[check]
	if e == nil {
		return st
	}
	consider := func(p Period) {
		if st.Next == nil || p.Starts.Before(st.Next.Starts) {
			st.Next = &p
		}
	}
	for _, w := range e.windows {
		if s, end, ok := w.Covering(t, c.opts.Location); ok {
			st.Active = append(st.Active, c.windowPeriod(w, s, end))
			if n := w.NextStart(end, c.opts.Location); !n.IsZero() {
				consider(c.windowPeriod(w, n, n.Add(w.Duration.D())))
			}
		} else if n := w.NextStart(t, c.opts.Location); !n.IsZero() {
			consider(c.windowPeriod(w, n, n.Add(w.Duration.D())))
		}
	}
	for _, s := range c.silences {
		if !s.Matches(check, e.labels) || !t.Before(s.Ends) {
			continue
		}
		if s.ActiveAt(t) {
			st.Active = append(st.Active, silencePeriod(s))
		} else {
			consider(silencePeriod(s))
		}
	}
	st.InMaintenance = len(st.Active) > 0
	return st
}

// Windows reports assay.yaml's windows at t: the occurrence under way,
// else the next one.
func (c *Calendar) Windows(t time.Time) []Period {
	var out []Period
	for _, w := range c.opts.Windows {
		if s, e, ok := w.Covering(t, c.opts.Location); ok {
			out = append(out, c.windowPeriod(w, s, e))
		} else if n := w.NextStart(t, c.opts.Location); !n.IsZero() {
			out = append(out, c.windowPeriod(w, n, n.Add(w.Duration.D())))
		}
	}
	return out
}

// CurrentSilences are the silences in memory that have not ended at t
// (active or pending), as periods, by start.
func (c *Calendar) CurrentSilences(t time.Time) []Period {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var out []Period
	for _, s := range c.silences {
		if t.Before(s.Ends) {
			out = append(out, silencePeriod(s))
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Starts.Before(out[j].Starts) })
	if len(out) > 50 {
		out = out[:50] // the page lists a few; the API lists all
	}
	return out
}

// NextTransition is the first time after t at which a window or a
// silence starts or ends (zero: none is due).
func (c *Calendar) NextTransition(t time.Time) time.Time {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var next time.Time
	consider := func(x time.Time) {
		if x.After(t) && (next.IsZero() || x.Before(next)) {
			next = x
		}
	}
	seen := map[*checks.MaintenanceWindow]bool{}
	for _, e := range c.checks {
		for _, w := range e.windows {
			if seen[w] {
				continue
			}
			seen[w] = true
			if _, end, ok := w.Covering(t, c.opts.Location); ok {
				consider(end)
			} else {
				consider(w.NextStart(t, c.opts.Location))
			}
		}
	}
	for _, s := range c.silences {
		consider(s.Starts)
		consider(s.Ends)
	}
	return next
}

// Run re-reads the silences every Refresh and, at every window or
// silence start and end, on a reload and after a silence was made or
// expired, calls changed with the checks' state now. Alerting's
// ReleaseMaintenance is changed: what a window held back (an incident
// still open, the resolve of an earlier page) is notified when it ends. The first call comes at once (a restart after
// a window ended while assay was down). Run returns when ctx ends.
func (c *Calendar) Run(ctx context.Context, changed func(active func(check string) bool)) {
	lastRefresh := c.clock.Now()
	for {
		now := c.clock.Now()
		if now.Sub(lastRefresh) >= c.opts.Refresh {
			c.refresh(ctx)
			lastRefresh = now
		}
		set := c.snapshot(now)
		if changed != nil {
			changed(func(check string) bool { return set[check] })
		}
		wait := c.opts.Refresh - now.Sub(lastRefresh)
		if n := c.NextTransition(now); !n.IsZero() && n.Sub(now) < wait {
			wait = n.Sub(now)
		}
		tm := c.clock.NewTimer(wait)
		select {
		case <-ctx.Done():
			tm.Stop()
			return
		case <-tm.C():
		case <-c.wake:
			tm.Stop()
		}
	}
}

// snapshot computes which checks are in maintenance at now and keeps it
// for the metric.
func (c *Calendar) snapshot(now time.Time) map[string]bool {
	c.mu.RLock()
	set := make(map[string]bool)
	for name := range c.checks {
		if c.activeLocked(name, now) {
			set[name] = true
		}
	}
	c.mu.RUnlock()
	c.mu.Lock()
	c.active = set
	c.mu.Unlock()
	return set
}

func (c *Calendar) wakeUp() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Bounds of what is read of the store. The current (active and pending)
// silences are few, CreateSilence keeps them to MaxSilences (twice that:
// replicas creating at once may each pass the count); expired ones are
// bounded by no count, so they are read in a query of their own, the
// latest first, and can never crowd a current one out.
const (
	maxCurrentRead = 2 * MaxSilences
	maxExpiredRead = MaxSilences
)

// read returns the current silences at now, by start, then at most
// maxExpiredRead of those that ended within KeepExpired, latest first.
// Recently expired ones are kept in memory too: a run that started in a
// silence that has ended since is still in maintenance (Annotate).
func (c *Calendar) read(ctx context.Context, now time.Time) ([]*Silence, error) {
	cur, err := c.opts.Store.Silences(ctx, now, maxCurrentRead)
	if err != nil {
		return nil, err
	}
	old, err := c.opts.Store.ExpiredSilences(ctx, now.Add(-c.opts.KeepExpired), now, maxExpiredRead)
	if err != nil {
		return nil, err
	}
	ss := make([]*Silence, 0, len(cur)+len(old))
	for _, r := range append(cur, old...) {
		s, err := decodeSilence(r.Doc)
		if err != nil {
			c.log.Error("maintenance: ignoring an unreadable silence", "id", r.ID, "err", err)
			continue
		}
		ss = append(ss, s)
	}
	return ss, nil
}

// refresh reads the current and the recently expired silences from the
// store, and now and then deletes those expired longer than KeepExpired.
func (c *Calendar) refresh(ctx context.Context) {
	if c.opts.Store == nil {
		return
	}
	now := c.clock.Now()
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if now.Sub(c.lastPurge) >= 10*time.Minute {
		if _, err := c.opts.Store.PurgeSilences(rctx, now.Add(-c.opts.KeepExpired)); err == nil {
			c.lastPurge = now
		}
	}
	ss, err := c.read(rctx, now)
	if err != nil {
		if !c.refreshErr {
			c.log.Error("maintenance: reading the silences failed; using those read before", "err", err)
		}
		c.refreshErr = true
		return
	}
	if c.refreshErr {
		c.log.Info("maintenance: reading the silences works again")
		c.refreshErr = false
	}
	c.mu.Lock()
	c.silences = ss
	c.mu.Unlock()
}

// CreateSilence validates and stores a silence (POST /api/v1/silences).
// An *InvalidError says what is wrong with it.
func (c *Calendar) CreateSilence(ctx context.Context, n NewSilence) (*Silence, error) {
	if c.opts.Store == nil {
		return nil, ErrNoStore
	}
	now := c.clock.Now()
	s, err := n.validate(now)
	if err != nil {
		return nil, err
	}
	// Count in the store, not in memory: another replica's count too.
	recs, err := c.opts.Store.Silences(ctx, now, MaxSilences)
	if err != nil {
		return nil, err
	}
	if len(recs) >= MaxSilences {
		return nil, ErrTooMany
	}
	if err := c.put(ctx, s); err != nil {
		return nil, err
	}
	c.log.Info("silence created", "id", s.ID, "starts", s.Starts, "ends", s.Ends, "created_by", s.CreatedBy)
	s.Status.State = s.state(now)
	return s, nil
}

func (c *Calendar) put(ctx context.Context, s *Silence) error {
	s.Status = SilenceStatus{}
	doc, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if err := c.opts.Store.PutSilence(ctx, history.SilenceRecord{ID: s.ID, Starts: s.Starts, Ends: s.Ends, Updated: s.UpdatedAt, Doc: doc}); err != nil {
		return err
	}
	c.mu.Lock()
	c.silences = slices.DeleteFunc(c.silences, func(o *Silence) bool { return o.ID == s.ID })
	c.silences = append(c.silences, s)
	c.mu.Unlock()
	c.wakeUp()
	return nil
}

// Silences lists the active and pending silences and those expired
// within KeepExpired (at most MaxSilences of them), read from the store:
// active first, then pending, each by end, then expired, the latest
// end first.
func (c *Calendar) Silences(ctx context.Context) ([]Silence, error) {
	if c.opts.Store == nil {
		return nil, ErrNoStore
	}
	now := c.clock.Now()
	ss, err := c.read(ctx, now)
	if err != nil {
		return nil, err
	}
	out := make([]Silence, 0, len(ss))
	for _, s := range ss {
		s.Status.State = s.state(now)
		out = append(out, *s)
	}
	rank := map[string]int{StateActive: 0, StatePending: 1, StateExpired: 2}
	sort.SliceStable(out, func(i, j int) bool {
		if a, b := rank[out[i].Status.State], rank[out[j].Status.State]; a != b {
			return a < b
		}
		if out[i].Status.State == StateExpired {
			return out[i].Ends.After(out[j].Ends) // the latest first
		}
		return out[i].Ends.Before(out[j].Ends)
	})
	return out, nil
}

// ExpireSilence ends a silence now (DELETE /api/v1/silences/{id}); a
// pending one starts and ends now. An expired one is returned as it is.
// history.ErrNotFound: no such silence.
func (c *Calendar) ExpireSilence(ctx context.Context, id string) (*Silence, error) {
	if c.opts.Store == nil {
		return nil, ErrNoStore
	}
	if !validID.MatchString(id) {
		return nil, history.ErrNotFound
	}
	rec, err := c.opts.Store.Silence(ctx, id)
	if err != nil {
		return nil, err
	}
	s, err := decodeSilence(rec.Doc)
	if err != nil {
		return nil, fmt.Errorf("silence %s: %w", id, err)
	}
	now := c.clock.Now().UTC()
	if s.state(now) != StateExpired {
		if now.Before(s.Starts) {
			s.Starts = now
		}
		s.Ends, s.UpdatedAt = now, now
		if err := c.put(ctx, s); err != nil {
			return nil, err
		}
		c.log.Info("silence expired", "id", s.ID)
	}
	s.Status.State = StateExpired
	return s, nil
}

// collector exports assay_check_in_maintenance: one series per check
// this replica runs, 1 while it is in maintenance.
type collector struct{ c *Calendar }

var inMaintenanceDesc = prometheus.NewDesc("assay_check_in_maintenance",
	"Whether the check is in a maintenance window or a silence (1) or not (0); its results are recorded but notify no one.",
	[]string{"check"}, nil)

func (collector) Describe(ch chan<- *prometheus.Desc) { ch <- inMaintenanceDesc }

func (k collector) Collect(ch chan<- prometheus.Metric) {
	k.c.mu.RLock()
	defer k.c.mu.RUnlock()
	for _, name := range k.c.owned {
		v := 0.0
		if k.c.active[name] {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(inMaintenanceDesc, prometheus.GaugeValue, v, name)
	}
}
