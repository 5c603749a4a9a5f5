// Package cluster shares the checks among replicas of assay that use the
// same PostgreSQL: each check is owned by one live replica at a time
// through a lease in the database, and every write a replica makes for a
// check carries the lease's epoch so that the database refuses it once a
// newer owner exists (fencing).
//
// Membership and leases live in the database and expire by its now(); a
// replica trusts no other clock. Each replica heartbeats and renews its
// leases every third of the lease TTL, all of them in one statement, and
// stops running a check when its own deadline for the lease passes
// (measured from before the renewal was sent, on its monotonic clock), so
// that a paused replica stops before its lease ends. Checks are spread
// by rendezvous hashing over the live members: N replicas own about 1/N
// each, and a membership change moves about 1/N.
package cluster

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/prometheus/client_golang/prometheus"
)

// Member is one live replica as the database knows it.
type Member struct {
	ID string `json:"id"`
	// Fingerprint identifies the replica's set of checks (names and
	// definitions): replicas that agree have the same one.
	Fingerprint string    `json:"fingerprint"`
	Started     time.Time `json:"started"`
	Heartbeat   time.Time `json:"heartbeat"`
	// Owned is how many checks it holds leases for.
	Owned int `json:"owned_checks"`
}

// Grant is a lease the database gave or renewed.
type Grant struct {
	Check string
	Epoch int64
}

// Store is what the coordinator needs from the database.
type Store interface {
	// Heartbeat records that member is alive (with its fingerprint and,
	// when changed, its check fingerprints) and returns the live members
	// (heartbeat within ttl by the database's clock), itself included.
	Heartbeat(ctx context.Context, self Member, checkPrints map[string]string, ttl time.Duration) ([]Member, error)
	// CheckPrints returns the check fingerprints a member published.
	CheckPrints(ctx context.Context, member string) (map[string]string, error)
	// Leases releases the leases of release, then renews those of want
	// the member holds and claims those of want whose lease expired,
	// until now()+ttl, and returns the leases the member holds after.
	Leases(ctx context.Context, member string, want, release []string, ttl time.Duration) ([]Grant, error)
	// Leave releases every lease of member and removes it.
	Leave(ctx context.Context, member string) error
}

// Options configure a Coordinator.
type Options struct {
	Store Store
	// TTL is the lease time-to-live (cluster.lease_ttl).
	TTL time.Duration
	// OnChange is called (from the coordinator's goroutine) with the
	// checks this replica owns whenever the set changes.
	OnChange func(owned []string)
	Logger   *slog.Logger
	// Registerer receives the cluster metrics; nil registers nowhere.
	Registerer prometheus.Registerer
	// Now is the local monotonic clock; nil means time.Now.
	Now func() time.Time
	// ID names this replica; empty means host-pid-random.
	ID string
	// BeforeRelease, when set, is called with the checks this replica is
	// about to hand over, after it stopped starting runs of them: it
	// writes what this replica still holds for them (buffered results,
	// alert steps), which the successor's epoch would otherwise fence.
	// On error the leases are kept (and the checks run on) until a later
	// cycle's call succeeds.
	BeforeRelease func(ctx context.Context, checks []string) error
}

// Coordinator holds this replica's membership and leases.
type Coordinator struct {
	opts Options
	log  *slog.Logger
	now  func() time.Time
	id   string

	mu        sync.Mutex
	prints    map[string]string // check -> fingerprint, of the loaded checks
	fp        string            // of prints
	published string            // fp last published with its check list
	leases    map[string]int64  // owned check -> epoch
	releasing map[string]bool   // owned checks being handed over: not run
	waiting   bool              // the last cycle wanted checks others still hold
	deadline  time.Time         // local: the leases are ours until then
	members   []Member
	mismatch  bool
	started   time.Time
	// foreign caches other members' check fingerprints by theirs.
	foreign map[string]map[string]string
	// loaded is closed by the first SetChecks: a replica joins with its
	// checks, never with an empty set the others would see as different.
	loaded     chan struct{}
	loadedOnce sync.Once

	membersG, ownedG, mismatchG prometheus.Gauge
	renewFailures               prometheus.Counter
}

// New returns a coordinator; call SetChecks, then Run.
func New(opts Options) (*Coordinator, error) {
	if opts.Store == nil {
		return nil, errors.New("cluster: a store is required")
	}
	if opts.TTL <= 0 {
		return nil, errors.New("cluster: the lease TTL must be positive")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ID == "" {
		opts.ID = newID()
	}
	c := &Coordinator{opts: opts, log: opts.Logger, now: opts.Now, id: opts.ID, leases: map[string]int64{},
		prints: map[string]string{}, foreign: map[string]map[string]string{}, started: opts.Now(),
		loaded: make(chan struct{})}
	c.membersG = prometheus.NewGauge(prometheus.GaugeOpts{Name: "assay_cluster_members",
		Help: "Live replicas sharing the store, as this replica last saw them."})
	c.ownedG = prometheus.NewGauge(prometheus.GaugeOpts{Name: "assay_cluster_owned_checks",
		Help: "Checks this replica holds the lease of (and so runs and exports)."})
	c.mismatchG = prometheus.NewGauge(prometheus.GaugeOpts{Name: "assay_cluster_config_mismatch",
		Help: "1 when this replica's checks differ from the majority's: it then runs only the checks it and the majority agree on."})
	c.renewFailures = prometheus.NewCounter(prometheus.CounterOpts{Name: "assay_cluster_lease_renew_failures_total",
		Help: "Heartbeats and lease renewals that failed (the database could not be reached or refused)."})
	if r := opts.Registerer; r != nil {
		r.MustRegister(c.membersG, c.ownedG, c.mismatchG, c.renewFailures)
	}
	return c, nil
}

func newID() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// OnChange sets what is called (from the coordinator's goroutine) with
// the checks this replica owns whenever the set changes; it replaces
// Options.OnChange.
func (c *Coordinator) OnChange(f func(owned []string)) {
	c.mu.Lock()
	c.opts.OnChange = f
	c.mu.Unlock()
}

// BeforeRelease sets Options.BeforeRelease.
func (c *Coordinator) BeforeRelease(f func(ctx context.Context, checks []string) error) {
	c.mu.Lock()
	c.opts.BeforeRelease = f
	c.mu.Unlock()
}

// ID is this replica's member id.
func (c *Coordinator) ID() string { return c.id }

// SetChecks takes the loaded checks (on start and every reload).
func (c *Coordinator) SetChecks(cs []*checks.Check) {
	prints := make(map[string]string, len(cs))
	for _, ch := range cs {
		prints[ch.Name] = ch.Fingerprint
	}
	h := sha256.New()
	for _, name := range slices.Sorted(maps.Keys(prints)) {
		fmt.Fprintf(h, "%s\x00%s\x00", name, prints[name])
	}
	c.mu.Lock()
	c.prints, c.fp = prints, hex.EncodeToString(h.Sum(nil)[:12])
	c.mu.Unlock()
	c.loadedOnce.Do(func() { close(c.loaded) })
}

// Owns reports whether this replica may run check now, and the epoch its
// writes must carry. It is false once the local deadline of the leases
// passed without a renewal.
func (c *Coordinator) Owns(check string) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	epoch, ok := c.leases[check]
	if !ok || c.releasing[check] || !c.now().Before(c.deadline) {
		return 0, false
	}
	return epoch, true
}

// Owned lists the checks this replica holds leases for, sorted.
func (c *Coordinator) Owned() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.now().Before(c.deadline) {
		return nil
	}
	return slices.Sorted(maps.Keys(c.leases))
}

// Members is the live membership this replica last saw.
func (c *Coordinator) Members() []Member {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.members)
}

// Ready reports whether the last renewal is still good: false before the
// first one and once the leases' deadline passed without one.
func (c *Coordinator) Ready() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now().Before(c.deadline)
}

// Info is the cluster as GET /api/v1/cluster shows it.
type Info struct {
	Self     string    `json:"self"`
	LeaseTTL string    `json:"lease_ttl"`
	Members  []Member  `json:"members"`
	Owned    []string  `json:"owned_checks"`
	Mismatch bool      `json:"config_mismatch"`
	Deadline time.Time `json:"lease_deadline"`
}

// Info describes the cluster for the API.
func (c *Coordinator) Info() Info {
	owned := c.Owned()
	c.mu.Lock()
	defer c.mu.Unlock()
	if owned == nil {
		owned = []string{}
	}
	return Info{Self: c.id, LeaseTTL: c.opts.TTL.String(), Members: slices.Clone(c.members), Owned: owned,
		Mismatch: c.mismatch, Deadline: c.deadline.UTC()}
}

// Mismatch reports whether this replica's checks differ from the majority's.
func (c *Coordinator) Mismatch() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mismatch
}

// margin is kept between the local deadline and the database's expiry:
// the replica stops before its lease can be taken.
func (c *Coordinator) margin() time.Duration { return c.opts.TTL / 5 }

// Run heartbeats and renews every third of the TTL until ctx ends, then
// leaves: its leases are released at once for the others to take.
func (c *Coordinator) Run(ctx context.Context) error {
	// Leaving also covers a replica stopped before Run began cycling:
	// leases Cycle took by other hands are released too.
	leave := func() error {
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		c.mu.Lock()
		c.leases, c.deadline = map[string]int64{}, time.Time{}
		c.mu.Unlock()
		c.notify()
		if err := c.opts.Store.Leave(lctx, c.id); err != nil {
			c.log.Warn("cluster: leaving failed; the others take the checks when the leases expire", "err", err)
		}
		return nil
	}
	select {
	case <-c.loaded:
	case <-ctx.Done():
		return leave()
	}
	every := c.opts.TTL / 3
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return leave()
		case <-t.C:
		}
		if err := c.Cycle(ctx); err != nil && ctx.Err() == nil {
			c.renewFailures.Inc()
			c.log.Error("cluster: renewing the leases failed; checks stop at the lease deadline unless the next renewal works",
				"err", err, "deadline_in", time.Until(c.deadlineCopy()).Round(time.Millisecond).String())
			c.notify()
		}
		next := every
		c.mu.Lock()
		if c.waiting {
			// A check this replica should own is still held by the
			// replica handing it over: claim it as soon as that one
			// released it rather than a whole interval later.
			next = min(every, time.Second)
		}
		c.mu.Unlock()
		t.Reset(next)
	}
}

func (c *Coordinator) deadlineCopy() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.deadline
}

// Cycle is one heartbeat and renewal (Run calls it; tests drive it).
func (c *Coordinator) Cycle(ctx context.Context) error {
	start := c.now()
	ctx, cancel := context.WithTimeout(ctx, c.opts.TTL/2)
	defer cancel()
	c.mu.Lock()
	self := Member{ID: c.id, Fingerprint: c.fp, Started: c.started, Owned: len(c.leases)}
	var publish map[string]string
	if c.published != c.fp {
		publish = maps.Clone(c.prints)
	}
	prints := c.prints
	held := slices.Sorted(maps.Keys(c.leases))
	c.mu.Unlock()

	members, err := c.opts.Store.Heartbeat(ctx, self, publish, c.opts.TTL)
	if err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	candidates, mismatch, err := c.candidates(ctx, members, prints)
	if err != nil {
		return err
	}
	var want []string
	for check := range prints {
		if owner(check, candidates[check]) == c.id {
			want = append(want, check)
		}
	}
	sort.Strings(want)
	var release []string
	for _, check := range held {
		if _, ok := slices.BinarySearch(want, check); !ok {
			release = append(release, check)
		}
	}
	if len(release) > 0 && c.beforeRelease() != nil {
		release, want = c.handOver(ctx, release, want)
	}
	grants, err := c.opts.Store.Leases(ctx, c.id, want, release, c.opts.TTL)
	if err != nil {
		c.mu.Lock()
		c.releasing = nil
		c.mu.Unlock()
		return fmt.Errorf("leases: %w", err)
	}
	leases := make(map[string]int64, len(grants))
	for _, g := range grants {
		leases[g.Check] = g.Epoch
	}
	c.mu.Lock()
	c.releasing = nil
	c.waiting = len(leases) < len(want)
	changed := !maps.Equal(leases, c.leases)
	if publish != nil {
		c.published = self.Fingerprint
	}
	if mismatch != c.mismatch {
		if mismatch {
			c.log.Warn("cluster: this replica's checks differ from the majority's; it runs only the checks they agree on",
				"fingerprint", self.Fingerprint)
		} else {
			c.log.Info("cluster: this replica's checks agree with the others' again")
		}
	}
	c.leases, c.members, c.mismatch = leases, members, mismatch
	c.deadline = start.Add(c.opts.TTL - c.margin())
	c.mu.Unlock()
	c.membersG.Set(float64(len(members)))
	c.ownedG.Set(float64(len(leases)))
	if mismatch {
		c.mismatchG.Set(1)
	} else {
		c.mismatchG.Set(0)
	}
	if changed {
		c.log.Info("cluster: owned checks changed", "owned", len(leases), "members", len(members))
		c.notify()
	}
	return nil
}

func (c *Coordinator) beforeRelease() func(context.Context, []string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.opts.BeforeRelease
}

// handOver stops runs of the checks to release and has BeforeRelease
// write what is held for them. When that fails the checks are kept: they
// are renewed (added to want) and released by a later cycle.
func (c *Coordinator) handOver(ctx context.Context, release, want []string) ([]string, []string) {
	c.mu.Lock()
	c.releasing = make(map[string]bool, len(release))
	for _, check := range release {
		c.releasing[check] = true
	}
	c.mu.Unlock()
	// Bounded well inside the cycle's own deadline: the renewal that
	// follows must still be sent.
	hctx, cancel := context.WithTimeout(ctx, c.opts.TTL/5)
	defer cancel()
	if err := c.beforeRelease()(hctx, release); err != nil {
		c.log.Warn("cluster: keeping checks this replica should hand over until what it holds for them is written",
			"checks", len(release), "err", err)
		c.mu.Lock()
		c.releasing = nil
		c.mu.Unlock()
		want = append(slices.Clone(want), release...)
		sort.Strings(want)
		return nil, want
	}
	return release, want
}

func (c *Coordinator) notify() {
	c.mu.Lock()
	f := c.opts.OnChange
	c.mu.Unlock()
	if f != nil {
		f(c.Owned())
	}
}

// candidates returns, per check, the members that may own it: those whose
// definition of it is the majority's. mismatch is true when this
// replica's set of checks is not the majority's.
func (c *Coordinator) candidates(ctx context.Context, members []Member, mine map[string]string) (map[string][]string, bool, error) {
	count := map[string]int{}
	for _, m := range members {
		count[m.Fingerprint]++
	}
	// The majority: the most common fingerprint; ties go to the one of the
	// longest-running member, the same choice on every replica.
	major, best := "", -1
	byStart := slices.Clone(members)
	sort.Slice(byStart, func(i, j int) bool {
		if !byStart[i].Started.Equal(byStart[j].Started) {
			return byStart[i].Started.Before(byStart[j].Started)
		}
		return byStart[i].ID < byStart[j].ID
	})
	for _, m := range byStart {
		if count[m.Fingerprint] > best {
			major, best = m.Fingerprint, count[m.Fingerprint]
		}
	}
	out := map[string][]string{}
	if len(count) <= 1 {
		// Everyone agrees (the usual case): every member may own every check.
		ids := make([]string, len(members))
		for i, m := range members {
			ids[i] = m.ID
		}
		for check := range mine {
			out[check] = ids
		}
		return out, false, nil
	}
	prints := map[string]map[string]string{} // member -> its check fingerprints
	for _, m := range members {
		if m.ID == c.id {
			prints[m.ID] = mine
			continue
		}
		p, err := c.printsOf(ctx, m)
		if err != nil {
			return nil, false, err
		}
		prints[m.ID] = p
	}
	var majority map[string]string
	for _, m := range byStart {
		if m.Fingerprint == major {
			majority = prints[m.ID]
			break
		}
	}
	for check, fp := range mine {
		if majority[check] != fp {
			continue // not what the majority runs: nobody runs my version
		}
		for _, m := range members {
			if prints[m.ID][check] == fp {
				out[check] = append(out[check], m.ID)
			}
		}
	}
	mineFP := ""
	for _, m := range members {
		if m.ID == c.id {
			mineFP = m.Fingerprint
		}
	}
	return out, mineFP != major, nil
}

func (c *Coordinator) printsOf(ctx context.Context, m Member) (map[string]string, error) {
	c.mu.Lock()
	p, ok := c.foreign[m.ID+"\x00"+m.Fingerprint]
	c.mu.Unlock()
	if ok {
		return p, nil
	}
	p, err := c.opts.Store.CheckPrints(ctx, m.ID)
	if err != nil {
		return nil, fmt.Errorf("check fingerprints of %s: %w", m.ID, err)
	}
	c.mu.Lock()
	if len(c.foreign) > 64 {
		clear(c.foreign)
	}
	c.foreign[m.ID+"\x00"+m.Fingerprint] = p
	c.mu.Unlock()
	return p, nil
}

// owner picks a check's owner among candidates by rendezvous hashing:
// the highest hash of (check, member) wins, so that adding or removing a
// member moves only the checks it wins or held.
func owner(check string, candidates []string) string {
	best, bestScore := "", uint64(0)
	for _, m := range candidates {
		h := sha256.Sum256([]byte(check + "\x00" + m))
		score := binary.BigEndian.Uint64(h[:8])
		if best == "" || score > bestScore || (score == bestScore && m < best) {
			best, bestScore = m, score
		}
	}
	return best
}

type epochKey struct{}

// WithEpoch marks ctx as carrying the writes of a run made under the
// lease epoch: the store refuses them once a newer owner exists.
func WithEpoch(ctx context.Context, epoch int64) context.Context {
	return context.WithValue(ctx, epochKey{}, epoch)
}

// EpochFrom is the lease epoch ctx carries, 0 without a cluster.
func EpochFrom(ctx context.Context) int64 {
	e, _ := ctx.Value(epochKey{}).(int64)
	return e
}
