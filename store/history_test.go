package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/history"
)

func run(id int64, check string, started time.Time, passed bool) history.StoredRun {
	r := &checks.Result{ID: id, Check: check, Started: started, Passed: passed}
	data, _ := json.Marshal(r)
	return history.StoredRun{RunSummary: history.RunSummary{ID: id, Check: check, Started: started, Passed: passed}, Data: data}
}

// TestEveryWritePathCountsItsFailures: every kind of write that fails
// (here: the database is locked by another process) is counted for
// assay_store_write_errors_total, and WriteError says so until a write
// succeeds again.
func TestEveryWritePathCountsItsFailures(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "assay.db")
	s, err := Open(path, WithBusyTimeout(20*time.Millisecond))
	must(t, err)
	defer s.Close()
	must(t, s.Apply(ctx, Change{Check: "a", State: []byte(`{}`), Events: []Event{{Key: "k", Notifier: "n", Kind: "firing", Payload: []byte(`{}`), Created: t0}}}))
	if s.WriteError() != nil {
		t.Fatalf("WriteError after a good write = %v", s.WriteError())
	}
	other, err := Open(path)
	must(t, err)
	defer other.Close()
	lock, err := other.db.BeginTx(ctx, nil) // immediate: takes the write lock
	must(t, err)
	if _, err := lock.ExecContext(ctx, `UPDATE counters SET value = value`); err != nil {
		t.Fatal(err)
	}
	writes := []struct {
		name  string
		write func() error
	}{
		{"WriteBatch", func() error {
			return s.WriteBatch(ctx, history.Batch{Runs: []history.StoredRun{run(1, "a", t0, true)}})
		}},
		{"ReserveIDs", func() error { _, err := s.ReserveIDs(ctx, 10); return err }},
		{"Prune", func() error {
			_, _, err := s.Prune(ctx, history.PrunePolicy{Before: t0.Add(time.Hour), MinuteBefore: t0, HourBefore: t0, Limit: 10})
			return err
		}},
		{"ApplyAll", func() error { return s.ApplyAll(ctx, []Change{{Check: "b", State: []byte(`{}`)}}) }},
		{"Delivered", func() error { return s.Delivered(ctx, 1) }},
		{"Retry", func() error { return s.Retry(ctx, 1, 1, t0, "x") }},
		{"DeadLetter", func() error { return s.DeadLetter(ctx, 1, 1, "r", "x", t0) }},
		{"RetryNotification", func() error { return s.RetryNotification(ctx, 1) }},
		{"DropNotification", func() error { return s.DropNotification(ctx, 1) }},
		{"Probe", func() error { return s.Probe(ctx) }},
	}
	for i, w := range writes {
		if err := w.write(); err == nil {
			t.Errorf("%s under another process's lock succeeded", w.name)
		}
		if got := s.WriteErrors(); got != float64(i+1) {
			t.Errorf("after %s: write errors = %v, want %d", w.name, got, i+1)
		}
		if err := s.WriteError(); err == nil || !strings.Contains(err.Error(), "locked") {
			t.Errorf("after %s: WriteError = %v, want the lock error", w.name, err)
		}
	}
	// A read is not a write: it neither counts nor clears.
	if _, err := s.Heads(ctx); err != nil {
		t.Fatal(err)
	}
	if s.WriteError() == nil {
		t.Error("a read cleared WriteError")
	}
	must(t, lock.Rollback())
	must(t, s.Probe(ctx))
	if s.WriteError() != nil || s.WriteErrors() != float64(len(writes)) {
		t.Fatalf("after a good write: WriteError = %v, errors = %v, want nil and %d", s.WriteError(), s.WriteErrors(), len(writes))
	}
}

// TestADeadEventIsStoredAsADeadLetter: an event alerting gave up on
// while the store failed is written straight among the dead letters.
func TestADeadEventIsStoredAsADeadLetter(t *testing.T) {
	ctx := context.Background()
	s, err := Open(filepath.Join(t.TempDir(), "assay.db"))
	must(t, err)
	defer s.Close()
	must(t, s.Apply(ctx, Change{Check: "a", State: []byte(`{}`), Events: []Event{
		{Key: "k1", Notifier: "n", Kind: "firing", Payload: []byte(`{}`), Created: t0, Attempts: 1, LastError: "HTTP 400", DeadReason: "http_4xx", Failed: t0.Add(time.Second)},
		{Key: "k2", Notifier: "n", Kind: "resolved", Payload: []byte(`{}`), Created: t0},
	}}))
	pending, err := s.Pending(ctx)
	must(t, err)
	if len(pending) != 1 || pending[0].Key != "k2" {
		t.Fatalf("pending = %+v, want only k2", pending)
	}
	dead, err := s.DeadLetters(ctx, 10)
	must(t, err)
	if len(dead) != 1 || dead[0].Key != "k1" || dead[0].Reason != "http_4xx" || dead[0].LastError != "HTTP 400" ||
		dead[0].Attempts != 1 || !dead[0].Failed.Equal(t0.Add(time.Second)) {
		t.Fatalf("dead letters = %+v", dead)
	}
}

func TestExplainNamesTheDirectory(t *testing.T) {
	err := Explain(errors.New("unable to open database file (14)"))
	if want := "is the directory writable"; !strings.Contains(err.Error(), want) {
		t.Fatalf("Explain = %q, want it to contain %q", err, want)
	}
	if other := errors.New("x"); Explain(other) != other {
		t.Fatal("Explain changed an unrelated error")
	}
}

// Every run reads back with the summary it was written with, whichever
// row shape stored it (a plain passing run binds literals for its empty
// reason, message and failing step), in batches of more and fewer than
// one statement's rows.
func TestRunSummariesSurviveEitherRowShape(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "assay.db"))
	defer s.Close()
	var want []history.StoredRun
	for i := range 2*insertRows + 7 {
		r := run(int64(i+1), "a", t0.Add(time.Duration(i)*time.Second), i%3 != 0)
		r.DurationSeconds = float64(i) / 1000
		switch i % 5 {
		case 1:
			r.Message = "passed on retry" // passing, yet not plain
		case 2:
			r.InMaintenance = true
		}
		if !r.Passed {
			r.Reason, r.Message, r.FailingStep = checks.ReasonAssertion, fmt.Sprintf("run %d failed", i+1), "read"
		}
		want = append(want, r)
	}
	for _, part := range [][]history.StoredRun{want[:insertRows+3], want[insertRows+3:]} {
		must(t, s.WriteBatch(ctx, history.Batch{Runs: part}))
	}
	got, err := s.Results(ctx, "a", history.ResultQuery{Status: history.StatusAny, Limit: 1000})
	must(t, err)
	if len(got) != len(want) {
		t.Fatalf("%d runs read back, want %d", len(got), len(want))
	}
	for i, g := range got {
		w := want[len(want)-1-i].RunSummary
		if g.ID != w.ID || g.Passed != w.Passed || g.Reason != w.Reason || g.Message != w.Message || g.FailingStep != w.FailingStep ||
			g.InMaintenance != w.InMaintenance || !g.Started.Equal(w.Started) || g.DurationSeconds != w.DurationSeconds {
			t.Fatalf("run %d read back as %+v, written as %+v", w.ID, g, w)
		}
	}
}

// The per-check prune holds for every check when there are more of them
// than one of its transactions takes.
func TestPruneKeepsEachCheckToItsLimitAcrossTransactions(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "assay.db"))
	defer s.Close()
	n := 2*keepPerTx + 3
	var runs []history.StoredRun
	keep := map[string]int{}
	id := int64(0)
	for c := range n {
		name := fmt.Sprintf("c%03d", c)
		keep[name] = 2
		for range 5 {
			id++
			runs = append(runs, run(id, name, t0.Add(time.Duration(id)*time.Millisecond), true))
		}
	}
	must(t, s.WriteBatch(ctx, history.Batch{Runs: runs}))
	must(t, s.RollUp(ctx, id))
	deleted, more, err := s.Prune(ctx, history.PrunePolicy{Keep: keep, Limit: 1000})
	must(t, err)
	if deleted != 3*n || more {
		t.Fatalf("pruned %d (more %v), want %d", deleted, more, 3*n)
	}
	for name := range keep {
		got, err := s.Results(ctx, name, history.ResultQuery{Status: history.StatusAny, Limit: 10})
		must(t, err)
		if len(got) != 2 || got[0].ID <= got[1].ID || got[1].ID%5 != 4 {
			t.Fatalf("%s keeps %+v, want its 2 newest runs", name, got)
		}
	}
}
