package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/cluster"
	"github.com/assay-monitor/assay/history"
	"github.com/assay-monitor/assay/internal/pgtest"
	"github.com/assay-monitor/assay/store/postgres"
)

var pg *pgtest.Server

func TestMain(m *testing.M) {
	s, stop, err := pgtest.Main()
	if err != nil {
		fmt.Fprintln(os.Stderr, "cluster tests:", err)
		os.Exit(1)
	}
	pg = s
	code := m.Run()
	stop()
	os.Exit(code)
}

func newStore(t *testing.T) *postgres.Store {
	t.Helper()
	dsn := pgtest.Need(t, pg).NewDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func someChecks(n int, version string) []*checks.Check {
	cs := make([]*checks.Check, n)
	for i := range cs {
		cs[i] = &checks.Check{Name: fmt.Sprintf("check-%03d", i), Fingerprint: "fp-" + version}
	}
	return cs
}

// replica is a coordinator driven by hand, with its own local clock.
type replica struct {
	c   *cluster.Coordinator
	mu  sync.Mutex
	now time.Time
}

func (r *replica) clock() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.now
}

func (r *replica) advance(d time.Duration) {
	r.mu.Lock()
	r.now = r.now.Add(d)
	r.mu.Unlock()
}

func newReplica(t *testing.T, s cluster.Store, id string, ttl time.Duration, cs []*checks.Check) *replica {
	t.Helper()
	r := &replica{now: time.Now()}
	c, err := cluster.New(cluster.Options{Store: s, TTL: ttl, ID: id, Now: r.clock})
	if err != nil {
		t.Fatal(err)
	}
	c.SetChecks(cs)
	r.c = c
	return r
}

// cycle runs one renewal of each replica, then each again, so that every
// release is followed by a claim.
func cycle(t *testing.T, rs ...*replica) {
	t.Helper()
	for range 2 {
		for _, r := range rs {
			if err := r.c.Cycle(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// owners maps every owned check to the replicas that own it.
func owners(rs ...*replica) map[string][]string {
	out := map[string][]string{}
	for _, r := range rs {
		for _, ch := range r.c.Owned() {
			out[ch] = append(out[ch], r.c.ID())
		}
	}
	return out
}

func assertOwnedOnce(t *testing.T, n int, rs ...*replica) map[string][]string {
	t.Helper()
	o := owners(rs...)
	if len(o) != n {
		t.Fatalf("%d of %d checks owned", len(o), n)
	}
	for ch, who := range o {
		if len(who) != 1 {
			t.Fatalf("%s owned by %v", ch, who)
		}
	}
	return o
}

// Every check is owned by exactly one replica, about a third each.
func TestEveryCheckOwnedOnceAndBalanced(t *testing.T) {
	s := newStore(t)
	cs := someChecks(300, "a")
	var rs []*replica
	for i := range 3 {
		rs = append(rs, newReplica(t, s, fmt.Sprintf("r%d", i), 5*time.Second, cs))
	}
	cycle(t, rs...)
	assertOwnedOnce(t, 300, rs...)
	for _, r := range rs {
		if n := len(r.c.Owned()); n < 70 || n > 130 {
			t.Errorf("%s owns %d of 300 checks, want about 100", r.c.ID(), n)
		}
		if m := r.c.Members(); len(m) != 3 {
			t.Errorf("%s sees %d members", r.c.ID(), len(m))
		}
	}
}

// A replica that joins takes about a third; the others keep the rest.
func TestJoinMovesAboutOneNth(t *testing.T) {
	s := newStore(t)
	cs := someChecks(300, "a")
	a, b := newReplica(t, s, "a", 5*time.Second, cs), newReplica(t, s, "b", 5*time.Second, cs)
	cycle(t, a, b)
	before := assertOwnedOnce(t, 300, a, b)
	c := newReplica(t, s, "c", 5*time.Second, cs)
	cycle(t, a, b, c)
	after := assertOwnedOnce(t, 300, a, b, c)
	moved := 0
	for ch, who := range after {
		if who[0] != before[ch][0] {
			moved++
			if who[0] != "c" {
				t.Errorf("%s moved from %s to %s, not to the newcomer", ch, before[ch][0], who[0])
			}
		}
	}
	if moved < 60 || moved > 140 {
		t.Fatalf("%d of 300 checks moved when a third replica joined, want about 100", moved)
	}
}

// A replica that stops renewing loses its checks to the others once its
// leases expire by the database's clock, and the epoch of every moved
// lease grows (fencing its late writes).
func TestDeadReplicaChecksMoveAfterTheTTL(t *testing.T) {
	s := newStore(t)
	cs := someChecks(60, "a")
	ttl := 2 * time.Second
	a, b, dead := newReplica(t, s, "a", ttl, cs), newReplica(t, s, "b", ttl, cs), newReplica(t, s, "dead", ttl, cs)
	cycle(t, a, b, dead)
	assertOwnedOnce(t, 60, a, b, dead)
	deadOwned := dead.c.Owned()
	epochs := map[string]int64{}
	for _, ch := range deadOwned {
		epochs[ch], _ = dead.c.Owns(ch)
	}
	start := time.Now()
	// dead renews no more; the others cycle until they own everything.
	for {
		cycle(t, a, b)
		if len(owners(a, b)) == 60 {
			break
		}
		if time.Since(start) > 3*ttl {
			t.Fatalf("after %v the others own %d of 60 checks", time.Since(start), len(owners(a, b)))
		}
		time.Sleep(ttl / 10) // the database's clock must pass the leases' expiry
	}
	if took := time.Since(start); took < ttl/2 {
		t.Fatalf("checks moved after %v, before the dead replica's leases could expire (ttl %v)", took, ttl)
	}
	assertOwnedOnce(t, 60, a, b)
	for _, ch := range deadOwned {
		ea, oka := a.c.Owns(ch)
		eb, okb := b.c.Owns(ch)
		if e := max(ea, eb); !(oka || okb) || e <= epochs[ch] {
			t.Errorf("%s: epoch %d after the move, %d before", ch, e, epochs[ch])
		}
	}
}

// A replica checks its own deadline: once the lease's time minus a margin
// passed on its clock without a renewal, it owns nothing, before the
// database would give the lease to another.
func TestPausedReplicaStopsBeforeItsLeaseEnds(t *testing.T) {
	s := newStore(t)
	ttl := 15 * time.Second
	r := newReplica(t, s, "r", ttl, someChecks(5, "a"))
	cycle(t, r)
	if _, ok := r.c.Owns("check-000"); !ok {
		t.Fatal("owns nothing after renewing")
	}
	r.advance(ttl - ttl/5 - time.Millisecond)
	if _, ok := r.c.Owns("check-000"); !ok {
		t.Fatal("stopped before its deadline")
	}
	r.advance(2 * time.Millisecond)
	if _, ok := r.c.Owns("check-000"); ok || len(r.c.Owned()) != 0 {
		t.Fatal("still owns its checks past its deadline (ttl minus a fifth)")
	}
}

// A replica that leaves releases its leases at once: the others take
// them at their next renewal, not a TTL later.
func TestLeaveReleasesAtOnce(t *testing.T) {
	s := newStore(t)
	cs := someChecks(30, "a")
	ttl := time.Minute
	a, b := newReplica(t, s, "a", ttl, cs), newReplica(t, s, "b", ttl, cs)
	cycle(t, a, b)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.c.Run(ctx) }()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	cycle(t, a)
	assertOwnedOnce(t, 30, a)
}

// A replica whose checks differ from the majority's says so and runs only
// the checks it and the majority agree on; a check only it has runs
// nowhere, a check it defines differently runs on the majority.
func TestConfigMismatch(t *testing.T) {
	s := newStore(t)
	cs := someChecks(30, "a")
	odd := someChecks(30, "a")
	odd[0] = &checks.Check{Name: "check-000", Fingerprint: "fp-changed"}
	odd = append(odd, &checks.Check{Name: "only-here", Fingerprint: "fp-x"})
	a, b, c := newReplica(t, s, "a", 5*time.Second, cs), newReplica(t, s, "b", 5*time.Second, cs), newReplica(t, s, "c", 5*time.Second, odd)
	cycle(t, a, b, c)
	if a.c.Mismatch() || b.c.Mismatch() || !c.c.Mismatch() {
		t.Fatalf("mismatch a %v b %v c %v, want only c", a.c.Mismatch(), b.c.Mismatch(), c.c.Mismatch())
	}
	o := assertOwnedOnce(t, 30, a, b, c)
	if who := o["check-000"]; who[0] == "c" {
		t.Fatal("the replica with its own version of check-000 runs it")
	}
	if _, ok := o["only-here"]; ok {
		t.Fatal("a check only the odd replica has is run")
	}
	// Fixed: it agrees again.
	c.c.SetChecks(cs)
	cycle(t, a, b, c)
	if c.c.Mismatch() {
		t.Fatal("still a mismatch after the fix")
	}
	assertOwnedOnce(t, 30, a, b, c)
}

// A replica hands a check over only after what it holds for it is
// written: BeforeRelease runs while the lease is still its own (so a run
// written then is stored under its epoch, not fenced by the successor's)
// and after it stopped starting runs of the check.
func TestHandOverWritesWhileTheLeaseIsStillOurs(t *testing.T) {
	s := newStore(t)
	cs := someChecks(30, "a")
	a := newReplica(t, s, "a", 5*time.Second, cs)
	cycle(t, a)
	epochs := map[string]int64{}
	for _, ch := range a.c.Owned() {
		epochs[ch], _ = a.c.Owns(ch)
	}
	var handed []string
	id := int64(0)
	a.c.BeforeRelease(func(ctx context.Context, names []string) error {
		handed = append(handed, names...)
		var runs []history.StoredRun
		for _, ch := range names {
			if _, ok := a.c.Owns(ch); ok {
				t.Errorf("%s may still be started while it is being handed over", ch)
			}
			id++
			runs = append(runs, history.StoredRun{RunSummary: history.RunSummary{ID: id, Check: ch, Started: time.Now(), Passed: true},
				Data: []byte(`{}`), Epoch: epochs[ch]})
		}
		return s.WriteBatch(ctx, history.Batch{Runs: runs})
	})
	b := newReplica(t, s, "b", 5*time.Second, cs)
	cycle(t, b, a)
	o := assertOwnedOnce(t, 30, a, b)
	moved := 0
	for _, who := range o {
		if who[0] == "b" {
			moved++
		}
	}
	if moved == 0 || len(handed) != moved {
		t.Fatalf("%d checks moved to b, %d handed over by a", moved, len(handed))
	}
	for _, ch := range handed {
		if rs, err := s.Results(context.Background(), ch, history.ResultQuery{}); err != nil || len(rs) != 1 {
			t.Errorf("%s: %d runs stored (err %v), want the one written while handing it over", ch, len(rs), err)
		}
	}
	if s.FencedWrites() != 0 {
		t.Fatalf("%v writes fenced", s.FencedWrites())
	}
}

// When what a replica holds for a check cannot be written, it keeps the
// lease (and runs the check on) and hands it over at a later cycle.
func TestHandOverThatCannotWriteKeepsTheLease(t *testing.T) {
	s := newStore(t)
	cs := someChecks(30, "a")
	a := newReplica(t, s, "a", 5*time.Second, cs)
	cycle(t, a)
	fail := true
	a.c.BeforeRelease(func(context.Context, []string) error {
		if fail {
			return errors.New("the store is down")
		}
		return nil
	})
	b := newReplica(t, s, "b", 5*time.Second, cs)
	cycle(t, b, a)
	if n := len(a.c.Owned()); n != 30 {
		t.Fatalf("a owns %d of 30 checks after a failed hand-over, want all", n)
	}
	for _, ch := range a.c.Owned() {
		if _, ok := a.c.Owns(ch); !ok {
			t.Fatalf("a does not run %s, which it still holds", ch)
		}
	}
	if n := len(b.c.Owned()); n != 0 {
		t.Fatalf("b owns %d checks a could not hand over", n)
	}
	fail = false
	cycle(t, a, b)
	o := assertOwnedOnce(t, 30, a, b)
	if len(b.c.Owned()) == 0 || len(o) != 30 {
		t.Fatalf("b owns nothing once a could hand over")
	}
}
