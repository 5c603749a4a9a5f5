package postgres_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/assay-monitor/assay/history"
	"github.com/assay-monitor/assay/internal/pgtest"
	"github.com/assay-monitor/assay/store/outbox"
	"github.com/assay-monitor/assay/store/postgres"
	"github.com/assay-monitor/assay/store/storetest"
)

var pg *pgtest.Server

func TestMain(m *testing.M) {
	s, stop, err := pgtest.Main()
	if err != nil {
		fmt.Fprintln(os.Stderr, "postgres tests:", err)
		os.Exit(1)
	}
	pg = s
	code := m.Run()
	stop()
	os.Exit(code)
}

func openStore(t *testing.T, dsn string) *postgres.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The PostgreSQL store passes the tests every driver passes, against a
// real server.
func TestPostgresConformance(t *testing.T) {
	srv := pgtest.Need(t, pg)
	storetest.Run(t, func(t *testing.T) func() storetest.Store {
		dsn := srv.NewDatabase(t)
		return func() storetest.Store { return openStore(t, dsn) }
	})
}

// Replicas starting together migrate once: the advisory lock makes the
// others wait, and a second Open finds the schema current.
func TestMigrationsRunOnceUnderTheLock(t *testing.T) {
	srv := pgtest.Need(t, pg)
	dsn := srv.NewDatabase(t)
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			s, err := postgres.Open(ctx, dsn)
			if err == nil {
				s.Close()
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// The password of a DSN appears in no error and no name of the store.
func TestPasswordNeverShown(t *testing.T) {
	for _, dsn := range []string{
		"postgres://assay:hunter2-pw@127.0.0.1:1/assay?sslmode=disable",
		"host=127.0.0.1 port=1 user=assay password=hunter2-pw dbname=assay sslmode=disable",
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		_, err := postgres.Open(ctx, dsn)
		cancel()
		if err == nil {
			t.Fatalf("connected to port 1?")
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("the error shows the password: %v", err)
		}
		if r := postgres.Redact(dsn); strings.Contains(r, "hunter2") || !strings.Contains(r, "REDACTED") {
			t.Errorf("Redact(%q) = %q", dsn, r)
		}
	}
	if _, err := postgres.Open(context.Background(), "postgres://u:hunter2-pw@[::1"); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("a malformed DSN: %v", err)
	}
}

// A run written under a lease epoch that is no longer the check's (its
// writer lost the lease while paused) is refused; the new owner's is not.
func TestRunsAreFencedByTheLeaseEpoch(t *testing.T) {
	srv := pgtest.Need(t, pg)
	s := openStore(t, srv.NewDatabase(t))
	defer s.Close()
	ctx := context.Background()
	grant := func(member string, release bool) int64 {
		t.Helper()
		var rel []string
		if release {
			rel = []string{"a"}
		}
		gs, err := s.Leases(ctx, member, []string{"a"}, rel, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if release {
			return 0
		}
		if len(gs) != 1 {
			t.Fatalf("%s got %+v", member, gs)
		}
		return gs[0].Epoch
	}
	old := grant("m1", false)
	run := func(id, epoch int64) history.StoredRun {
		return history.StoredRun{RunSummary: history.RunSummary{ID: id, Check: "a", Started: time.Now(), Passed: true}, Data: []byte(`{}`), Epoch: epoch}
	}
	if err := s.WriteBatch(ctx, history.Batch{Runs: []history.StoredRun{run(1, old)}}); err != nil {
		t.Fatal(err)
	}
	// m1 lets go (or is paused past its lease); m2 takes the check.
	if _, err := s.Leases(ctx, "m1", nil, []string{"a"}, time.Minute); err != nil {
		t.Fatal(err)
	}
	cur := grant("m2", false)
	if cur <= old {
		t.Fatalf("epoch %d after the move, %d before", cur, old)
	}
	if err := s.WriteBatch(ctx, history.Batch{Runs: []history.StoredRun{run(2, old), run(3, cur), run(4, 0)}}); err != nil {
		t.Fatal(err)
	}
	rs, _ := s.Results(ctx, "a", history.ResultQuery{})
	got := []int64{}
	for _, r := range rs {
		got = append(got, r.ID)
	}
	if fmt.Sprint(got) != "[4 3 1]" {
		t.Fatalf("stored runs %v, want [4 3 1]: run 2, written under the old epoch, refused", got)
	}
	if s.FencedWrites() != 1 {
		t.Fatalf("fenced writes = %v, want 1", s.FencedWrites())
	}
}

// An alert state change (and its events) made under an old lease epoch
// is refused whole; the other changes of the transaction are kept.
func TestAlertChangesAreFencedByTheLeaseEpoch(t *testing.T) {
	srv := pgtest.Need(t, pg)
	s := openStore(t, srv.NewDatabase(t))
	defer s.Close()
	ctx := context.Background()
	lease := func(member string) int64 {
		t.Helper()
		gs, err := s.Leases(ctx, member, []string{"a"}, nil, time.Minute)
		if err != nil || len(gs) != 1 {
			t.Fatalf("%s: %+v %v", member, gs, err)
		}
		return gs[0].Epoch
	}
	ev := func(key string) outbox.Event {
		return outbox.Event{Key: key, Check: "a", Notifier: "hook", Kind: "firing", Payload: []byte(`{}`), Created: time.Now()}
	}
	old := lease("m1")
	if err := s.Apply(ctx, outbox.Change{Check: "a", State: []byte(`{"v":1}`), Version: 1, Epoch: old, Events: []outbox.Event{ev("k1")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Leases(ctx, "m1", nil, []string{"a"}, time.Minute); err != nil {
		t.Fatal(err)
	}
	cur := lease("m2")
	err := s.ApplyAll(ctx, []outbox.Change{
		{Check: "a", State: []byte(`{"v":"late"}`), Version: 2, Epoch: old, Events: []outbox.Event{ev("k2")}},
		{Check: "b", State: []byte(`{"v":"other"}`), Version: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	states, _ := s.AlertStates(ctx)
	pending, _ := s.Pending(ctx)
	if string(states["a"]) != `{"v":1}` || string(states["b"]) != `{"v":"other"}` || len(pending) != 1 || pending[0].Key != "k1" {
		t.Fatalf("after a fenced change: states %q, pending %+v", states, pending)
	}
	if err := s.Apply(ctx, outbox.Change{Check: "a", State: []byte(`{"v":2}`), Version: 2, Epoch: cur, Events: []outbox.Event{ev("k3")}}); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.Pending(ctx); len(p) != 2 || s.FencedWrites() != 1 {
		t.Fatalf("the owner's change: pending %+v, fenced %v", p, s.FencedWrites())
	}
}
