package store

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assay-monitor/assay/history"
)

// A database written before check_keys existed is migrated: every stored
// run gets its check's key, and each reader finds the runs of one check,
// and only those, through the new index.
func TestCheckKeysMigrateStoredRuns(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "assay.db")
	old, err := sql.Open("sqlite", dsn(path, "immediate", "journal_mode(WAL)"))
	must(t, err)
	for i, step := range schema[:len(schema)-1] {
		if _, err := old.Exec(step); err != nil {
			t.Fatalf("step %d: %v", i+1, err)
		}
	}
	_, err = old.Exec(fmt.Sprintf("PRAGMA user_version = %d", len(schema)-1))
	must(t, err)
	for i := range 30 {
		check := []string{"b", "a", "c"}[i%3]
		_, err := old.Exec(`INSERT INTO results (id, check_name, started_ms, duration_us, passed, reason, message, failing_step, result)
			VALUES (?, ?, ?, 1000, ?, '', '', '', '{}')`, i+1, check, t0.UnixMilli()+int64(i), i%2)
		must(t, err)
	}
	must(t, old.Close())

	s := open(t, path)
	defer s.Close()
	var unkeyed int
	must(t, s.db.QueryRow(`SELECT COUNT(*) FROM results WHERE check_key NOT IN (SELECT key FROM check_keys)`).Scan(&unkeyed))
	if unkeyed != 0 {
		t.Fatalf("%d runs have no check key after the migration", unkeyed)
	}
	if plan := queryPlan(t, s, `SELECT id FROM results WHERE `+byCheck+` ORDER BY id DESC`, "a"); !strings.Contains(plan, "results_check") {
		t.Fatalf("one check's runs are not read through results_check:\n%s", plan)
	}
	for _, check := range []string{"a", "b", "c"} {
		got, err := s.Results(ctx, check, history.ResultQuery{Status: history.StatusAny, Limit: 100})
		must(t, err)
		if len(got) != 10 {
			t.Fatalf("%s: %d runs, want 10", check, len(got))
		}
		for _, r := range got {
			if r.Check != check {
				t.Fatalf("runs of %s hold one of %s", check, r.Check)
			}
		}
	}
	// A run written now for a migrated name takes the name's key; a new
	// name gets a key of its own.
	must(t, s.WriteBatch(ctx, history.Batch{Runs: []history.StoredRun{run(31, "a", t0, true), run(32, "d", t0, true)}}))
	for check, want := range map[string]int{"a": 11, "d": 1} {
		got, err := s.Results(ctx, check, history.ResultQuery{Status: history.StatusAny, Limit: 100})
		must(t, err)
		if len(got) != want {
			t.Fatalf("%s: %d runs after a write, want %d", check, len(got), want)
		}
	}
}

// A name's key is the same for every process sharing the file, and a
// batch that fails leaves no key in the cache that the table lacks.
func TestCheckKeysAgreeAcrossProcessesAndRollbacks(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "assay.db")
	s1, s2 := open(t, path), open(t, path)
	defer s1.Close()
	defer s2.Close()
	must(t, s1.WriteBatch(ctx, history.Batch{Runs: []history.StoredRun{run(1, "x", t0, true)}}))
	must(t, s2.WriteBatch(ctx, history.Batch{Runs: []history.StoredRun{run(2, "y", t0, true), run(3, "x", t0, true)}}))
	must(t, s1.WriteBatch(ctx, history.Batch{Runs: []history.StoredRun{run(4, "y", t0, false)}}))
	for check, want := range map[string]int{"x": 2, "y": 2} {
		got, err := s1.Results(ctx, check, history.ResultQuery{Status: history.StatusAny, Limit: 100})
		must(t, err)
		if len(got) != want {
			t.Fatalf("%s: %d runs, want %d", check, len(got), want)
		}
	}
	// The insert of z's run fails (a trigger refuses it) after the keys
	// of w and z were added in the batch's transaction, which rolls back.
	_, err := s1.db.Exec(`CREATE TRIGGER refuse_z BEFORE INSERT ON results WHEN NEW.check_name = 'z' BEGIN SELECT RAISE(ABORT, 'refused'); END`)
	must(t, err)
	if err := s1.WriteBatch(ctx, history.Batch{Runs: []history.StoredRun{run(6, "w", t0, true), run(5, "z", t0, true)}}); err == nil {
		t.Fatal("the refused batch was written")
	}
	s1.keysMu.Lock()
	_, cachedZ := s1.keys["z"]
	_, cachedW := s1.keys["w"]
	s1.keysMu.Unlock()
	if cachedZ || cachedW {
		t.Fatalf("a rolled-back batch left keys in the cache (z %v, w %v)", cachedZ, cachedW)
	}
	_, err = s1.db.Exec(`DROP TRIGGER refuse_z`)
	must(t, err)
	must(t, s1.WriteBatch(ctx, history.Batch{Runs: []history.StoredRun{run(7, "z", t0, true)}}))
	got, err := s1.Results(ctx, "z", history.ResultQuery{Status: history.StatusAny, Limit: 100})
	must(t, err)
	if len(got) != 1 {
		t.Fatalf("z: %d runs after the retry, want 1", len(got))
	}
}

// A run inserted without a key, as an older assay still running on the
// file writes it, gets its check's key: the readers of its check find it.
func TestARunWrittenWithoutAKeyGetsOne(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "assay.db"))
	defer s.Close()
	must(t, s.WriteBatch(ctx, history.Batch{Runs: []history.StoredRun{run(1, "a", t0, true)}}))
	for i, check := range []string{"a", "new"} {
		_, err := s.db.Exec(`INSERT INTO results (id, check_name, started_ms, duration_us, passed, reason, message, failing_step, result)
			VALUES (?, ?, ?, 1000, 1, '', '', '', '{}')`, 10+i, check, t0.UnixMilli())
		must(t, err)
	}
	for check, want := range map[string]int{"a": 2, "new": 1} {
		got, err := s.Results(ctx, check, history.ResultQuery{Status: history.StatusAny, Limit: 10})
		must(t, err)
		if len(got) != want {
			t.Fatalf("%s: %d runs, want %d", check, len(got), want)
		}
	}
	var temp int
	must(t, s.db.QueryRow(`PRAGMA temp_store`).Scan(&temp))
	if temp != 2 {
		t.Fatalf("the writer's temp_store after the migrations is %d, want 2 (memory)", temp)
	}
}
