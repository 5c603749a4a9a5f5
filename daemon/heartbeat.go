package daemon

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/web"
	"github.com/robfig/cron/v3"
)

// PingStore keeps the latest ping of each heartbeat check, so that a
// ping survives a restart and reaches the replica that owns the check,
// and when assay began to watch each check, so that a restart does not
// postpone the first deadline of a check never pinged. Both store
// drivers implement it.
type PingStore interface {
	RecordPing(ctx context.Context, check string, p checks.Ping) error
	LastPing(ctx context.Context, check string) (checks.Ping, error)
	LastPings(ctx context.Context) (map[string]checks.Ping, error)
	// WatchHeartbeats records since for those of names that have no
	// earlier time, and returns the earliest stored of each.
	WatchHeartbeats(ctx context.Context, names []string, since time.Time) (map[string]time.Time, error)
}

// watchTimeout bounds storing when watching began, at a reload.
const watchTimeout = 5 * time.Second

// pingPollEvery is how often a replica of a cluster reads the pings that
// other replicas took, to judge the heartbeat checks it owns at once.
const pingPollEvery = 2 * time.Second

// heartbeats is the daemon's heartbeat book: it takes pings from the web
// handler (web.Heartbeats), writes them to the store, and gives the engine
// (checks.HeartbeatBook) and the scheduler (the checks' deadlines) the
// latest one. What the scheduler reads is a copy in memory, so that it
// never waits for the store under its lock.
type heartbeats struct {
	store   PingStore // nil: in memory only
	now     func() time.Time
	log     *slog.Logger
	trigger func(name string) bool

	mu sync.Mutex
	// checks are the heartbeat checks loaded, by name.
	checks map[string]*checks.Check
	last   map[string]checks.Ping
	// watching is when assay began to expect pings of a check: the
	// earliest stored (by any replica, before any restart), else when
	// this process did.
	watching map[string]time.Time
	// stored: watching[name] is in the store (else it is written again
	// at the check's next run).
	stored map[string]bool
}

func newHeartbeats(st PingStore, now func() time.Time, log *slog.Logger) *heartbeats {
	return &heartbeats{store: st, now: now, log: log, trigger: func(string) bool { return false },
		checks: map[string]*checks.Check{}, last: map[string]checks.Ping{}, watching: map[string]time.Time{},
		stored: map[string]bool{}}
}

// load reads the stored pings (at start: a ping taken before a restart
// still counts).
func (h *heartbeats) load(ctx context.Context) error {
	if h.store == nil {
		return nil
	}
	ps, err := h.store.LastPings(ctx)
	if err != nil {
		return err
	}
	h.mu.Lock()
	for name, p := range ps {
		h.keep(name, p)
	}
	h.mu.Unlock()
	return nil
}

// keep remembers p unless a later ping is known. h.mu is held.
func (h *heartbeats) keep(name string, p checks.Ping) bool {
	if old, ok := h.last[name]; ok && !p.At.After(old.At) {
		return false
	}
	h.last[name] = p
	return true
}

// setChecks follows a reload: new heartbeat checks are watched from now,
// or from the earliest time the store has (a restart, a replica that
// began earlier, a check removed and added again: none of them restarts
// the first deadline of a check never pinged).
func (h *heartbeats) setChecks(ctx context.Context, cs []*checks.Check) {
	h.setChecksMemory(cs)
	ctx, cancel := context.WithTimeout(ctx, watchTimeout)
	defer cancel()
	if err := h.storeWatching(ctx, nil); err != nil {
		// Not fatal: each run of a check tries again.
		h.log.Warn("heartbeats: storing when watching began", "err", err)
	}
}

func (h *heartbeats) setChecksMemory(cs []*checks.Check) {
	now := h.now()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.checks = map[string]*checks.Check{}
	for _, c := range cs {
		if c.IsHeartbeat() {
			h.checks[c.Name] = c
			if _, ok := h.watching[c.Name]; !ok {
				h.watching[c.Name] = now
			}
		}
	}
	for name := range h.watching {
		if h.checks[name] == nil {
			// The store keeps its time and its last ping: a check
			// removed and added again goes on from them.
			delete(h.watching, name)
			delete(h.stored, name)
		}
	}
}

// storeWatching writes when watching began of the checks of only (all
// when nil) not yet stored, and takes the earlier times the store has.
func (h *heartbeats) storeWatching(ctx context.Context, only []string) error {
	if h.store == nil {
		return nil
	}
	h.mu.Lock()
	bySince := map[time.Time][]string{}
	add := func(name string) {
		if h.checks[name] != nil && !h.stored[name] {
			bySince[h.watching[name]] = append(bySince[h.watching[name]], name)
		}
	}
	if only == nil {
		for name := range h.checks {
			add(name)
		}
	}
	for _, name := range only {
		add(name)
	}
	h.mu.Unlock()
	for since, names := range bySince {
		got, err := h.store.WatchHeartbeats(ctx, names, since)
		if err != nil {
			return err
		}
		h.mu.Lock()
		for name, at := range got {
			if h.checks[name] == nil {
				continue // removed meanwhile
			}
			if at.Before(h.watching[name]) {
				h.watching[name] = at
			}
			h.stored[name] = true
		}
		h.mu.Unlock()
	}
	return nil
}

// known lists the heartbeat checks whose state is known: those with a
// ping, and those never pinged whose first deadline has passed (after a
// restart: watching began before it). Their first run after a start or a
// handover is at once.
func (h *heartbeats) known(names []string) []string {
	now := h.now()
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, n := range names {
		c := h.checks[n]
		if c == nil {
			continue
		}
		if _, ok := h.last[n]; ok || !now.Before(h.watching[n].Add(c.Heartbeat.Window())) {
			out = append(out, n)
		}
	}
	return out
}

func (h *heartbeats) state(name string) checks.HeartbeatState {
	h.mu.Lock()
	defer h.mu.Unlock()
	return checks.HeartbeatState{Last: h.last[name], Watching: h.watching[name]}
}

// Heartbeat implements checks.HeartbeatBook: the store's latest ping
// (another replica may have taken it), else the one in memory.
func (h *heartbeats) Heartbeat(ctx context.Context, name string) (checks.HeartbeatState, error) {
	if h.store != nil {
		// When watching began could not be stored at the reload.
		if err := h.storeWatching(ctx, []string{name}); err != nil {
			return checks.HeartbeatState{}, err
		}
		p, err := h.store.LastPing(ctx, name)
		if err != nil {
			return checks.HeartbeatState{}, err
		}
		if !p.At.IsZero() {
			h.mu.Lock()
			h.keep(name, p)
			h.mu.Unlock()
		}
	}
	return h.state(name), nil
}

// Authenticate implements web.Heartbeats: whether token is the one of
// the heartbeat check name, in constant time, changing nothing.
func (h *heartbeats) Authenticate(name, token string) error {
	_, err := h.authenticated(name, token)
	return err
}

// authenticated is the heartbeat check name if token is its token.
func (h *heartbeats) authenticated(name, token string) (*checks.Check, error) {
	h.mu.Lock()
	c := h.checks[name]
	h.mu.Unlock()
	if c == nil {
		return nil, web.ErrNoHeartbeat
	}
	if !c.TokenMatches(token) {
		return nil, web.ErrHeartbeatToken
	}
	return c, nil
}

// Beat implements web.Heartbeats: a ping of check name with the token
// the caller presented. The token is compared before anything changes.
func (h *heartbeats) Beat(ctx context.Context, name, token string, failed bool, message string) error {
	c, err := h.authenticated(name, token)
	if err != nil {
		return err
	}
	// A job that sends its log may send its own token with it.
	message = strings.ReplaceAll(message, c.Heartbeat.Token, checks.Redacted)
	p := checks.Ping{At: h.now(), Failed: failed, Message: message}
	if h.store != nil {
		if err := h.store.RecordPing(ctx, name, p); err != nil {
			return err
		}
	}
	h.mu.Lock()
	// Newest wins, and of two at the same time the later call, as in the
	// store: a success right after a failure is not lost.
	if old, ok := h.last[name]; !ok || !p.At.Before(old.At) {
		h.last[name] = p
	}
	h.mu.Unlock()
	h.trigger(name)
	return nil
}

// poll reads the pings other replicas took until ctx ends, and runs the
// heartbeat checks owned here whose ping is new.
func (h *heartbeats) poll(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		h.mu.Lock()
		none := len(h.checks) == 0
		h.mu.Unlock()
		if none || h.store == nil {
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, every)
		ps, err := h.store.LastPings(rctx)
		cancel()
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				h.log.Warn("heartbeats: reading the pings of other replicas", "err", err)
			}
			continue
		}
		var fresh []string
		h.mu.Lock()
		for name, p := range ps {
			if h.checks[name] != nil && h.keep(name, p) {
				fresh = append(fresh, name)
			}
		}
		h.mu.Unlock()
		for _, name := range fresh {
			h.trigger(name)
		}
	}
}

// schedule is the scheduler's custom schedule of a heartbeat check (nil
// for any other).
func (h *heartbeats) schedule(c *checks.Check) cron.Schedule {
	if !c.IsHeartbeat() {
		return nil
	}
	return deadlines{h: h, name: c.Name, hb: c.Heartbeat}
}

// deadlines are the times a heartbeat check is judged at: each is the
// first deadline (checks.Heartbeat.NextDeadline) after the time given,
// from the latest ping known here.
type deadlines struct {
	h    *heartbeats
	name string
	hb   *checks.Heartbeat
}

// Next implements cron.Schedule.
func (d deadlines) Next(t time.Time) time.Time { return d.hb.NextDeadline(d.h.state(d.name), t) }

// judgeKnownPings runs at once the heartbeat checks just scheduled here
// whose state is known (heartbeats.known; after a restart, a reload or a
// handover), so that it shows without waiting for the next deadline.
func (d *Daemon) judgeKnownPings(added []string) {
	for _, name := range d.hb.known(added) {
		d.sched.Trigger(name)
	}
}
