package store

import (
	"context"
	"encoding/json"
	"errors"
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

// A write that fails (here: the database is locked by another process)
// is counted, so that assay_store_write_errors_total shows it.
func TestWriteErrorsAreCounted(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "assay.db")
	s, err := Open(path, WithBusyTimeout(50*time.Millisecond))
	must(t, err)
	defer s.Close()
	other, err := Open(path)
	must(t, err)
	defer other.Close()
	lock, err := other.db.BeginTx(ctx, nil) // immediate: takes the write lock
	must(t, err)
	if _, err := lock.ExecContext(ctx, `UPDATE counters SET value = value`); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteBatch(ctx, history.Batch{Runs: []history.StoredRun{run(1, "a", t0, true)}}); err == nil {
		t.Fatal("a write under another process's lock succeeded")
	}
	if s.WriteErrors() != 1 {
		t.Fatalf("write errors = %v, want 1", s.WriteErrors())
	}
	must(t, lock.Rollback())
	must(t, s.WriteBatch(ctx, history.Batch{Runs: []history.StoredRun{run(1, "a", t0, true)}}))
	if s.WriteErrors() != 1 {
		t.Fatalf("write errors after a good write = %v, want still 1", s.WriteErrors())
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
