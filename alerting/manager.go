package alerting

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/cluster"
	"github.com/assay-monitor/assay/store/outbox"
	"github.com/prometheus/client_golang/prometheus"
)

// Store is what the manager needs from the embedded store; *store.Store
// implements it.
type Store interface {
	AlertStates(ctx context.Context) (map[string][]byte, error)
	ApplyAll(ctx context.Context, cs []outbox.Change) error
	Heads(ctx context.Context) ([]outbox.Event, error)
	Delivered(ctx context.Context, seq int64) error
	Retry(ctx context.Context, seq int64, attempts int, next time.Time, lastErr string) error
	DeadLetter(ctx context.Context, seq int64, attempts int, reason, lastErr string, at time.Time) error
	OutboxDepth(ctx context.Context) (map[string]int, error)
}

// Clock is the manager's source of time; tests drive it by hand.
type Clock interface {
	Now() time.Time
	// At returns a channel that receives once the clock reaches t (at
	// once if it has).
	At(t time.Time) <-chan time.Time
}

type systemClock struct{}

func (systemClock) Now() time.Time                  { return time.Now() }
func (systemClock) At(t time.Time) <-chan time.Time { return time.After(time.Until(t)) }

// Options configure a Manager.
type Options struct {
	// Notifiers are the global config's notifiers, by name.
	Notifiers map[string]*NotifierConfig
	// Defaults is the global default alert policy.
	Defaults checks.AlertPolicy
	// Store keeps alert state and the outbox (required).
	Store Store
	// ExternalURL is server.external_url; events link to
	// ExternalURL/api/v1/checks/NAME. Empty: no link.
	ExternalURL string
	// Clock is nil for the wall clock.
	Clock Clock
	// Registerer receives the alerting metrics; nil registers nowhere.
	Registerer prometheus.Registerer
	// Logger is nil to discard.
	Logger *slog.Logger
	// HTTPClient sends notifications; nil: a client of its own.
	HTTPClient *http.Client
	// Delivery tunes retries; zero fields take the defaults.
	Delivery DeliveryOptions
	// Owns, with replicas sharing the store, says whether this replica
	// owns a check now and under which lease epoch; nil: it owns all.
	// Reconciling a reload (notifiers added or removed, a check removed)
	// is left to the owner.
	Owns func(check string) (epoch int64, ok bool)
	// FlushTimeout bounds the last write of alert states when Run stops
	// and the bookkeeping of sends in flight then (default 10s); the
	// daemon makes it fit in its shutdown grace.
	FlushTimeout time.Duration
}

// DeliveryOptions tune the delivery worker.
type DeliveryOptions struct {
	// RetryBase is the first backoff (default 1s); each retry doubles it
	// up to RetryMax (default 5m). Each delay is jittered: half of it
	// fixed, half random.
	RetryBase, RetryMax time.Duration
	// MaxRetryAfter caps a receiver's Retry-After (default 1h).
	MaxRetryAfter time.Duration
	// MaxAge is how long an event is retried before it is dead-lettered
	// as expired (default 24h).
	MaxAge time.Duration
	// Concurrency bounds deliveries in flight (default 8). Each queue
	// (one per check and notifier) has at most one in flight.
	Concurrency int
}

func (o *DeliveryOptions) defaults() {
	if o.RetryBase <= 0 {
		o.RetryBase = time.Second
	}
	if o.RetryMax <= 0 {
		o.RetryMax = 5 * time.Minute
	}
	if o.MaxRetryAfter <= 0 {
		o.MaxRetryAfter = time.Hour
	}
	if o.MaxAge <= 0 {
		o.MaxAge = 24 * time.Hour
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
}

type notifierEntry struct {
	cfg *NotifierConfig
	n   Notifier
}

// Manager is the alerting sink: it runs the per-check state machine on
// every result, writes the events of each transition to the outbox in the
// same transaction as the new state, and (in Run) delivers the outbox.
type Manager struct {
	opts      Options
	clock     Clock
	log       *slog.Logger
	store     Store
	client    *http.Client
	notifiers map[string]*notifierEntry
	metrics   *metrics

	mu        sync.Mutex
	checks    map[string]*checks.Check
	states    map[string]*checkState
	persisted map[string][]byte
	// dirty holds state changes that made no event (counters, the latest
	// failure): written together every second rather than one fsync'd
	// transaction per run, which at a thousand runs a second would hold
	// every check up.
	dirty       map[string]outbox.Change
	dirtyFailed bool
	// epochs is the lease epoch each check's state in memory was read or
	// written under: a run under another epoch (the check moved here
	// from another replica) reads the state the previous owner stored.
	epochs map[string]int64
	// unsaved holds, in order, alert steps with events that the store
	// could not write; marks the outcomes of store events it could not
	// record; storeQueues the queues with events in the store at the
	// last read. See unsaved.go.
	unsaved       []*unsavedChange
	unsavedEvents int
	// maxUnsaved bounds unsavedEvents (maxUnsavedEvents; tests lower it).
	maxUnsaved   int
	memSeq       int64
	marks        map[int64]mark
	storeQueues  map[string]bool
	storeFailing bool

	wake chan struct{}
	// onAttempt, set by tests, is told the outcome of every attempt.
	onAttempt func(e outbox.Event, outcome string, err error)
}

// New validates the notifiers, loads the persisted alert states and
// registers the metrics. Call SetChecks before Record.
func New(opts Options) (*Manager, error) {
	if opts.Store == nil {
		return nil, errors.New("alerting: a store is required")
	}
	if opts.Clock == nil {
		opts.Clock = systemClock{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = newHTTPClient()
	}
	opts.Delivery.defaults()
	m := &Manager{
		opts: opts, clock: opts.Clock, log: opts.Logger, store: opts.Store, client: opts.HTTPClient,
		notifiers: map[string]*notifierEntry{},
		checks:    map[string]*checks.Check{}, states: map[string]*checkState{}, persisted: map[string][]byte{},
		dirty: map[string]outbox.Change{}, epochs: map[string]int64{},
		marks: map[int64]mark{}, storeQueues: map[string]bool{},
		wake: make(chan struct{}, 1), maxUnsaved: maxUnsavedEvents,
	}
	if opts.FlushTimeout <= 0 {
		m.opts.FlushTimeout = 10 * time.Second
	}
	for _, name := range slices.Sorted(maps.Keys(opts.Notifiers)) {
		cfg := opts.Notifiers[name]
		if cfg == nil {
			return nil, fmt.Errorf("alerting: notifier %q is empty", name)
		}
		cfg.Name = name
		n, err := NewNotifier(cfg, m.client, m.clock.Now)
		if err != nil {
			return nil, fmt.Errorf("alerting: %w", err)
		}
		m.notifiers[name] = &notifierEntry{cfg: cfg, n: n}
	}
	if err := ValidatePolicies(opts.Defaults, opts.Notifiers, nil); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	raw, err := m.store.AlertStates(ctx)
	if err != nil {
		return nil, fmt.Errorf("alerting: loading alert state: %w", err)
	}
	for name, b := range raw {
		st := &checkState{}
		if err := json.Unmarshal(b, st); err != nil {
			m.log.Error("alerting: ignoring an unreadable alert state", "check", name, "err", err)
			continue
		}
		m.states[name], m.persisted[name] = st, b
	}
	m.metrics = newMetrics(opts.Registerer, slices.Sorted(maps.Keys(m.notifiers)), m.firing, func() float64 { return float64(m.UnsavedEvents()) })
	return m, nil
}

// Validate checks the checks' alert policies against the notifiers (the
// daemon rejects a load that fails it).
func (m *Manager) Validate(cs []*checks.Check) error {
	return ValidatePolicies(m.opts.Defaults, m.opts.Notifiers, cs)
}

// SetChecks gives the manager the loaded checks, on start and on every
// reload. A check that is gone while its alert is open gets its resolved
// event now (resolution check_removed) and its state is forgotten; an open
// incident of a check whose notify list changed sends firing to the
// notifiers added and resolved (notifier_removed) to those dropped.
func (m *Manager) SetChecks(cs []*checks.Check) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = m.flushLocked(ctx) // a failure is logged; the states stay dirty
	now := m.clock.Now()
	next := make(map[string]*checks.Check, len(cs))
	for _, c := range cs {
		next[c.Name] = c
	}
	var changes []outbox.Change
	var forget []string
	updated := map[string]*checkState{}
	for _, name := range slices.Sorted(maps.Keys(m.states)) {
		var epoch int64
		if m.opts.Owns != nil {
			e, ok := m.opts.Owns(name)
			if !ok {
				// The owner reconciles; here the state may be stale.
				if _, kept := next[name]; !kept {
					forget = append(forget, name)
				}
				continue
			}
			if e != m.epochs[name] {
				m.takeOver(ctx, name, e)
			}
			epoch = e
		}
		st := cloneState(m.states[name])
		if c, ok := next[name]; ok {
			evs := m.reconcile(st, c, effectivePolicy(c, m.opts.Defaults), now)
			if len(evs) > 0 {
				st.Version++
				b, _ := json.Marshal(st)
				changes = append(changes, outbox.Change{Check: name, State: b, Events: evs, Version: st.Version, Epoch: epoch})
				updated[name] = st
			}
			continue
		}
		// A removed check has no maintenance end to wait for: the
		// resolves it holds are sent now.
		evs := m.releaseHeld(st, now)
		var incident *outbox.IncidentRecord
		if st.Status == StateFailing && st.Incident != nil {
			evs = append(evs, m.fanOut(st, st.Incident.Notifiers, KindResolved, ResolutionCheckRemoved, now)...)
			incident = st.Incident.record(name, now.UTC(), ResolutionCheckRemoved)
			m.log.Info("alerting: check removed while failing; resolving its alert", "check", name, "notifiers", st.Incident.Notifiers)
		}
		changes = append(changes, outbox.Change{Check: name, Events: evs, Incident: incident, Epoch: epoch})
		forget = append(forget, name)
	}
	// A store that cannot write keeps the steps in memory (unsaved.go):
	// the resolved events of removed checks are sent all the same.
	m.commit(ctx, changes)
	for name, st := range updated {
		m.states[name] = st
		m.persisted[name], _ = json.Marshal(st)
	}
	for _, name := range forget {
		delete(m.states, name)
		delete(m.persisted, name)
		delete(m.dirty, name)
		delete(m.epochs, name)
	}
	m.checks = next
	m.wakeUp()
}

// Record feeds one result to the check's state machine (a checks.Sink).
// The new state and the events it makes are stored in one transaction
// before Record returns; if the store cannot write, both are kept in
// memory, the events are sent from there and everything is stored when
// the store works again (unsaved.go).
func (m *Manager) Record(ctx context.Context, r *checks.Result) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.checks[r.Check]
	if c == nil {
		return // not a loaded check (a stray or late result)
	}
	epoch := cluster.EpochFrom(ctx)
	if epoch != 0 && m.epochs[c.Name] != epoch {
		m.takeOver(ctx, c.Name, epoch)
	}
	p := effectivePolicy(c, m.opts.Defaults)
	now := m.clock.Now()
	st := cloneState(m.states[r.Check])
	evs := m.reconcile(st, c, p, now)
	if !r.InMaintenance {
		// The maintenance ended (the calendar's call may not have come
		// yet): an alert muted by it is owed its firing before this run.
		evs = append(evs, m.release(st, c, p, now)...)
	}
	var f *Failure
	if !r.Passed {
		f = failureOf(r)
		f.RunURL = runURL(m.opts.ExternalURL, r.ID)
	}
	var incident *outbox.IncidentRecord
	// durable: a change that made no event but must not wait for the
	// next flush (a muted alert: a crash would forget that it is owed).
	durable := false
	switch kind := st.observe(r.Passed, f, r.Started, now, p); kind {
	case KindFiring:
		st.Incident.Check = m.checkInfo(c, now)
		st.Incident.Notifiers = nil
		if r.InMaintenance {
			// The state moves (the page shows the truth); the page waits
			// for the end of the maintenance.
			st.Incident.Muted, durable = true, true
			m.log.Info("alert opened in maintenance; notifying if still open when it ends", "check", c.Name, "failed_runs", st.Incident.FailedRuns)
			break
		}
		targets := m.configured(p.Notify)
		for _, n := range targets {
			st.Incident.addNotifier(n)
		}
		evs = append(evs, m.fanOut(st, targets, KindFiring, "", now)...)
		m.log.Warn("alert firing", "check", c.Name, "failed_runs", st.Incident.FailedRuns, "notifiers", targets)
	case KindReminder:
		if r.InMaintenance {
			break // no reminders in maintenance; they resume after it
		}
		evs = append(evs, m.fanOut(st, st.Incident.Notifiers, KindReminder, "", now)...)
	case KindRefresh:
		evs = append(evs, m.fanOut(st, m.refreshTargets(st.Incident.Notifiers), KindRefresh, "", now)...)
	case KindResolved:
		// Resolved goes to whoever got the firing. In maintenance nothing
		// is sent: the resolve of a page opened before the window is held
		// until it ends; an alert that opened and resolved in it (muted)
		// has no one to tell.
		switch {
		case r.InMaintenance && len(st.Incident.Notifiers) > 0:
			st.Held = append(st.Held, &heldResolve{Incident: st.Incident, Resolved: now.UTC()})
			durable = true
			m.log.Info("alert resolved in maintenance; notifying when it ends", "check", c.Name, "notifiers", st.Incident.Notifiers)
		default:
			evs = append(evs, m.fanOut(st, st.Incident.Notifiers, KindResolved, ResolutionRecovered, now)...)
			m.log.Info("alert resolved", "check", c.Name, "notifiers", st.Incident.Notifiers, "muted", st.Incident.Muted)
			durable = st.Incident.Muted
		}
		incident = st.Incident.record(c.Name, now.UTC(), ResolutionRecovered)
		st.Incident = nil
	}
	if incident == nil && st.Status == StateFailing && st.Incident != nil {
		incident = st.Incident.record(c.Name, time.Time{}, "")
	}
	b, err := json.Marshal(st)
	if err != nil {
		m.log.Error("alerting: encoding state", "check", c.Name, "err", err)
		return
	}
	if len(evs) == 0 && !durable {
		old, stored := m.persisted[c.Name]
		switch {
		case bytes.Equal(b, old):
			delete(m.dirty, c.Name)
		case !stored && st.trivial():
			// Nothing to remember of a check that has only passed.
		default:
			// A write: it gets a version newer than the stored one.
			st.Version++
			b, _ = json.Marshal(st)
			ch := outbox.Change{Check: c.Name, State: b, Incident: incident, Version: st.Version, Epoch: epoch}
			if m.hasUnsaved(c.Name) {
				// After the step waiting in memory, never before it.
				m.keep(ch)
				m.persisted[c.Name] = b
			} else {
				m.dirty[c.Name] = ch
			}
		}
		m.states[c.Name] = st
		return
	}
	st.Version++
	b, _ = json.Marshal(st)
	// m.persisted is what the store has, or will have once the steps
	// waiting in memory are written.
	m.commit(ctx, []outbox.Change{{Check: c.Name, State: b, Events: evs, Incident: incident, Version: st.Version, Epoch: epoch}})
	m.states[c.Name], m.persisted[c.Name] = st, b
	delete(m.dirty, c.Name)
	m.wakeUp()
}

// takeOver reads the state another replica left for a check this one now
// owns under epoch, so that an incident it opened is continued, not
// opened again. m.mu is held.
func (m *Manager) takeOver(ctx context.Context, check string, epoch int64) {
	l, ok := m.store.(stateLoader)
	if !ok {
		m.epochs[check] = epoch
		return
	}
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	b, err := l.AlertState(lctx, check)
	if err != nil {
		// Keep the epoch unset: the next run tries again. The state in
		// memory is used meanwhile; its writes are fenced if stale.
		m.log.Error("alerting: reading the alert state of a check taken over failed", "check", check, "err", err)
		return
	}
	delete(m.dirty, check)
	if b == nil {
		delete(m.states, check)
		delete(m.persisted, check)
	} else {
		st := &checkState{}
		if err := json.Unmarshal(b, st); err != nil {
			m.log.Error("alerting: ignoring an unreadable alert state", "check", check, "err", err)
			delete(m.states, check)
			delete(m.persisted, check)
		} else {
			m.states[check], m.persisted[check] = st, b
		}
	}
	m.epochs[check] = epoch
	m.log.Info("alerting: took the check over; continuing from the stored alert state", "check", check, "epoch", epoch)
}

// stateLoader is a store that reads one check's alert state (replicas).
type stateLoader interface {
	AlertState(ctx context.Context, check string) ([]byte, error)
}

// Flush writes the alert steps waiting in memory (unsaved.go) and the
// state changes that made no event, in one transaction. Run calls it
// every second and when it stops.
func (m *Manager) Flush(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.flushLocked(ctx)
}

func (m *Manager) flushLocked(ctx context.Context) error {
	if len(m.dirty) == 0 && len(m.unsaved) == 0 {
		return nil
	}
	changes, n := m.unsavedPrefix()
	// A state change of a check whose earlier step still waits in memory
	// is written after it (keep merged it there), never before.
	held := map[string]bool{}
	for _, u := range m.unsaved[n:] {
		held[u.change.Check] = true
	}
	var written []string
	for _, name := range slices.Sorted(maps.Keys(m.dirty)) {
		if !held[name] {
			changes = append(changes, m.dirty[name])
			written = append(written, name)
		}
	}
	if len(changes) == 0 {
		return nil
	}
	if err := m.store.ApplyAll(ctx, changes); err != nil {
		if !m.dirtyFailed && !m.storeFailing {
			m.log.Error("alerting: storing alert states failed; they stay in memory and are retried", "checks", len(changes), "err", err)
		}
		m.dirtyFailed = true
		return err
	}
	if m.dirtyFailed || m.storeFailing {
		m.log.Info("alerting: storing alert states works again", "checks", len(changes))
		m.dirtyFailed, m.storeFailing = false, false
	}
	m.dropUnsaved(n)
	for _, name := range written {
		m.persisted[name] = m.dirty[name].State
		delete(m.dirty, name)
	}
	m.wakeUp()
	return nil
}

// reconcile makes an open incident's notifiers follow the check's current
// policy: notifiers added get the firing event, notifiers dropped get a
// resolved one.
func (m *Manager) reconcile(st *checkState, c *checks.Check, p policy, now time.Time) []outbox.Event {
	inc := st.Incident
	if st.Status != StateFailing || inc == nil || inc.Muted {
		return nil // a muted alert told no one; release tells the policy's notifiers
	}
	want := m.configured(p.Notify)
	var added, removed []string
	for _, n := range want {
		if !slices.Contains(inc.Notifiers, n) {
			added = append(added, n)
		}
	}
	for _, n := range inc.Notifiers {
		if !slices.Contains(want, n) {
			removed = append(removed, n)
		}
	}
	if len(added) == 0 && len(removed) == 0 {
		return nil
	}
	var evs []outbox.Event
	if len(removed) > 0 {
		evs = append(evs, m.fanOut(st, m.configured(removed), KindResolved, ResolutionNotifierRemoved, now)...)
		inc.Notifiers = slices.DeleteFunc(inc.Notifiers, func(n string) bool { return slices.Contains(removed, n) })
	}
	if len(added) > 0 {
		for _, n := range added {
			inc.addNotifier(n)
		}
		evs = append(evs, m.fanOut(st, added, KindFiring, "", now)...)
	}
	m.log.Info("alerting: notifiers of an open alert changed", "check", c.Name, "added", added, "removed", removed)
	return evs
}

// release is the end of a maintenance for a check: the resolved events
// held back in it are made, then the firing event of an alert muted by it
// that is still open, to the notifiers of the check's policy. An alert
// that paged before and is still open gets nothing new. m.mu is held.
func (m *Manager) release(st *checkState, c *checks.Check, p policy, now time.Time) []outbox.Event {
	evs := m.releaseHeld(st, now)
	inc := st.Incident
	if st.Status != StateFailing || inc == nil || !inc.Muted {
		return evs
	}
	inc.Muted = false
	inc.LastNotice = now
	targets := m.configured(p.Notify)
	for _, n := range targets {
		inc.addNotifier(n)
	}
	m.log.Warn("alert firing: the maintenance ended with the incident open", "check", c.Name, "failed_runs", inc.FailedRuns, "notifiers", targets)
	return append(evs, m.fanOut(st, targets, KindFiring, "", now)...)
}

// releaseHeld makes the resolved events held back in a maintenance, to
// the notifiers that got each incident's firing (those still
// configured), with the time each recovered, and forgets them.
func (m *Manager) releaseHeld(st *checkState, now time.Time) []outbox.Event {
	var evs []outbox.Event
	for _, h := range st.Held {
		if h == nil || h.Incident == nil {
			continue
		}
		m.log.Info("alert resolved: the maintenance it recovered in ended", "check", h.Incident.Check.Name, "notifiers", h.Incident.Notifiers)
		evs = append(evs, m.fanOutFor(st, h.Incident, m.configured(h.Incident.Notifiers), KindResolved, ResolutionRecovered, now, h.Resolved)...)
	}
	st.Held = nil
	return evs
}

// ReleaseMaintenance ends the maintenance of the checks active no longer
// says are in it: an alert that opened in it and is still open gets its
// firing event, one that paged before it and resolved in it its resolved
// event (release). Each is stored with the state in one transaction like
// every event, so that a restart neither loses nor repeats it (the state
// says it was sent) and replicas make the same event key. The calendar
// calls it at every window's end and at start.
func (m *Manager) ReleaseMaintenance(ctx context.Context, active func(check string) bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.clock.Now()
	var changes []outbox.Change
	updated := map[string]*checkState{}
	for _, name := range slices.Sorted(maps.Keys(m.states)) {
		st, c := m.states[name], m.checks[name]
		if c == nil || !st.owed() || active(name) {
			continue
		}
		var epoch int64
		if m.opts.Owns != nil {
			e, ok := m.opts.Owns(name)
			if !ok {
				continue // the owner releases it
			}
			if e != m.epochs[name] {
				m.takeOver(ctx, name, e)
				if st = m.states[name]; st == nil || !st.owed() {
					continue
				}
			}
			epoch = e
		}
		st = cloneState(st)
		evs := m.release(st, c, effectivePolicy(c, m.opts.Defaults), now)
		st.Version++
		b, _ := json.Marshal(st)
		var incident *outbox.IncidentRecord
		if st.Status == StateFailing && st.Incident != nil {
			incident = st.Incident.record(name, time.Time{}, "")
		}
		changes = append(changes, outbox.Change{Check: name, State: b, Events: evs, Version: st.Version, Epoch: epoch, Incident: incident})
		updated[name] = st
	}
	m.commit(ctx, changes)
	for name, st := range updated {
		m.states[name] = st
		m.persisted[name], _ = json.Marshal(st)
		delete(m.dirty, name)
	}
	if len(changes) > 0 {
		m.wakeUp()
	}
}

// fanOut makes one event of the current incident and queues it for each
// target notifier.
func (m *Manager) fanOut(st *checkState, targets []string, kind Kind, resolution string, now time.Time) []outbox.Event {
	return m.fanOutFor(st, st.Incident, targets, kind, resolution, now, now)
}

// fanOutFor makes one event of inc (the current incident or a held one)
// at now; a resolved event says the incident resolved at resolved.
func (m *Manager) fanOutFor(st *checkState, inc *incidentState, targets []string, kind Kind, resolution string, now, resolved time.Time) []outbox.Event {
	if len(targets) == 0 {
		return nil
	}
	if kind != KindRefresh {
		st.Sequence++ // refreshes repeat the state, they are not new events
	}
	id := newID()
	if kind != KindRefresh {
		// Derived from the incident: a retry, a restart or a second replica
		// making the same event makes the same key, which the outbox and
		// the receivers take once.
		id = eventID(inc.Check.Name, inc.ID, kind, st.Sequence)
	}
	ev := &Event{
		Version: PayloadVersion, ID: id, Kind: kind, Status: StatusFiring, Time: now.UTC(), Sequence: st.Sequence,
		Check:    inc.Check,
		Incident: Incident{ID: inc.ID, Started: inc.Started, Runs: inc.Runs, FailedRuns: inc.FailedRuns},
		Failure:  inc.LastFailure,
	}
	if kind == KindResolved {
		t := resolved.UTC()
		ev.Status, ev.Incident.Resolved, ev.Incident.Resolution = StatusResolved, &t, resolution
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		m.log.Error("alerting: encoding event", "check", inc.Check.Name, "err", err)
		return nil
	}
	out := make([]outbox.Event, 0, len(targets))
	for _, n := range targets {
		e := outbox.Event{Key: ev.ID, Check: inc.Check.Name, Notifier: n, Kind: string(kind), Payload: payload, Created: now, Next: now}
		if ne := m.notifiers[n]; ne != nil && ne.cfg.Type == TypeAlertmanager {
			// Alertmanager takes state, not messages: a newer event
			// makes a pending refresh pointless.
			e.Supersedes = string(KindRefresh)
		}
		out = append(out, e)
	}
	return out
}

// configured keeps the names that are configured notifiers.
func (m *Manager) configured(names []string) []string {
	var out []string
	for _, n := range names {
		if _, ok := m.notifiers[n]; ok && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// refreshTargets are the notifiers that want a firing alert re-sent on
// every failing run (Alertmanager).
func (m *Manager) refreshTargets(names []string) []string {
	var out []string
	for _, n := range names {
		if ne := m.notifiers[n]; ne != nil && ne.cfg.Type == TypeAlertmanager {
			out = append(out, n)
		}
	}
	return out
}

func (m *Manager) checkInfo(c *checks.Check, now time.Time) CheckInfo {
	ci := CheckInfo{Name: c.Name, Description: c.Description, Labels: c.Labels, URL: checkURL(m.opts.ExternalURL, c.Name)}
	if s, err := checks.CronParser.Parse(c.Schedule); err == nil {
		a := s.Next(now)
		if d := s.Next(a).Sub(a); d > 0 {
			ci.Interval = d.String()
		}
	}
	return ci
}

// firing counts checks whose alert is open.
func (m *Manager) firing() float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, st := range m.states {
		if st.Status == StateFailing {
			n++
		}
	}
	return float64(n)
}

// State reports a check's alert state (ok or failing) and, when failing,
// since when.
func (m *Manager) State(check string) (string, time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.states[check]
	if st == nil || st.Status != StateFailing || st.Incident == nil {
		return StateOK, time.Time{}
	}
	return StateFailing, st.Incident.Started
}

// Wake makes the delivery worker look at the outbox now (after an
// operator retried a notification).
func (m *Manager) Wake() { m.wakeUp() }

func (m *Manager) wakeUp() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

func cloneState(st *checkState) *checkState {
	if st == nil {
		return &checkState{Status: StateOK}
	}
	b, _ := json.Marshal(st)
	out := &checkState{}
	_ = json.Unmarshal(b, out)
	return out
}
