package store

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// queryPlan is SQLite's plan of q, one line per step.
func queryPlan(t *testing.T, s *Store, q string, args ...any) string {
	t.Helper()
	rows, err := s.db.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		out = append(out, detail)
	}
	return strings.Join(out, "\n")
}

// The retention prune finds old runs through results_started (a scan by
// id reads every run kept, every time); the readers of one check keep
// using results_check, however the time bounds look.
func TestQueriesUseTheirIndexes(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "assay.db"))
	defer s.Close()
	for _, tc := range []struct{ q, want string }{
		{pruneByAge, "results_started"},
		{pruneByCount, "results_check"},
		{durationsQuery, "results_check"},
		{`SELECT id FROM results WHERE ` + byCheck + ` AND ` + sinceTerm + ` ORDER BY id DESC LIMIT ?`, "results_check"},
		{countsTail + ` GROUP BY +check_name`, "INTEGER PRIMARY KEY (rowid>?)"},
		{countsTail + ` AND ` + byCheck + ` GROUP BY check_name`, "results_check"},
	} {
		n := strings.Count(tc.q, "?")
		args := make([]any, n)
		for i := range args {
			args[i] = 1
		}
		if plan := queryPlan(t, s, tc.q, args...); !strings.Contains(plan, tc.want) {
			t.Errorf("%s\nplan:\n%s\nwant it to use %s", tc.q, plan, tc.want)
		}
	}
}
