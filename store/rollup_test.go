package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/assay-monitor/assay/history"
)

// buckets reads rows of check, bucket, runs, failures, duration as
// check@bucket -> the three sums.
func buckets(t *testing.T, s *Store, q string, args ...any) map[string][3]int64 {
	t.Helper()
	rows, err := s.db.Query(q, args...)
	must(t, err)
	defer rows.Close()
	out := map[string][3]int64{}
	for rows.Next() {
		var name string
		var bucket int64
		var v [3]int64
		must(t, rows.Scan(&name, &bucket, &v[0], &v[1], &v[2]))
		out[fmt.Sprint(name, "@", bucket)] = v
	}
	must(t, rows.Err())
	return out
}

// aggregates is one aggregate table as it is.
func aggregates(t *testing.T, s *Store, table string) map[string][3]int64 {
	t.Helper()
	return buckets(t, s, `SELECT check_name, bucket_ms, runs, failures, duration_us FROM `+table)
}

// grouped is what the aggregates must hold after a roll-up to mark: the
// stored runs up to it, grouped by SQL.
func grouped(t *testing.T, s *Store, size, mark int64) map[string][3]int64 {
	t.Helper()
	return buckets(t, s, `SELECT check_name, started_ms - (started_ms % ?), COUNT(*), SUM(1 - passed), SUM(duration_us)
		FROM results WHERE id <= ? GROUP BY 1, 2`, size, mark)
}

// The aggregates equal a GROUP BY over the stored runs after every
// roll-up, whether it adds the runs from the book or from the table, with
// batches in any id order, roll-ups that leave later runs for the next,
// batches written twice (a retry after a commit whose answer was lost),
// runs another process wrote to the same file, and runs stored before
// the store was opened. Both ways are taken, or the test proves nothing.
func TestRollUpsEqualAGroupByOverTheRuns(t *testing.T) {
	ctx := context.Background()
	var booked, table uint64
	for seed := range uint64(8) {
		rng := rand.New(rand.NewPCG(seed, 7))
		path := filepath.Join(t.TempDir(), "assay.db")
		var id int64
		base := time.Date(2026, 12, 1, 23, 58, 0, 0, time.UTC)
		batch := func() []history.StoredRun {
			runs := make([]history.StoredRun, 1+rng.IntN(150))
			for i := range runs {
				id++
				r := run(id, fmt.Sprintf("c%d", rng.IntN(7)), base.Add(time.Duration(rng.IntN(3*3600))*time.Second), rng.IntN(4) != 0)
				r.DurationSeconds = float64(rng.IntN(5_000_000)) / 1e6
				runs[i] = r
			}
			rng.Shuffle(len(runs), func(i, j int) { runs[i], runs[j] = runs[j], runs[i] })
			return runs
		}
		if seed%2 == 1 { // runs stored before this Open
			pre := open(t, path)
			must(t, pre.WriteBatch(ctx, history.Batch{Runs: batch()}))
			must(t, pre.Close())
		}
		s, other := open(t, path), open(t, path)
		var mark int64
		for step := range 40 {
			switch rng.IntN(10) {
			case 0:
				must(t, other.WriteBatch(ctx, history.Batch{Runs: batch()}))
			case 1:
				b := batch()
				must(t, s.WriteBatch(ctx, history.Batch{Runs: b}))
				must(t, s.WriteBatch(ctx, history.Batch{Runs: b}))
			default:
				must(t, s.WriteBatch(ctx, history.Batch{Runs: batch()}))
			}
			if rng.IntN(3) == 0 && id > mark {
				// Every id up to the mark is stored, as the recorder
				// guarantees; later ones may stay in the book.
				mark += 1 + rng.Int64N(id-mark)
				must(t, s.RollUp(ctx, mark))
				for _, tb := range rollupTables {
					if got, want := aggregates(t, s, tb.name), grouped(t, s, tb.size, mark); !reflect.DeepEqual(got, want) {
						t.Fatalf("seed %d, step %d, %s after a roll-up to %d:\n got %v\nwant %v", seed, step, tb.name, mark, got, want)
					}
				}
			}
		}
		booked += s.rollUps.booked.Load()
		table += s.rollUps.table.Load()
		must(t, other.Close())
		must(t, s.Close())
	}
	if booked == 0 || table == 0 {
		t.Fatalf("roll-ups from the book %d, from the table %d: one way was never tested", booked, table)
	}
	t.Logf("roll-ups from the book %d, from the table %d", booked, table)
}

// A book that overflows starts afresh: the roll-up of its range reads the
// table, and later ranges come from the book again.
func TestRollUpBookOverflowFallsBackToTheTable(t *testing.T) {
	var b rollupBook
	runs := make([]history.StoredRun, maxBooked/2+1)
	for i := range runs {
		runs[i] = history.StoredRun{RunSummary: history.RunSummary{ID: int64(i + 1), Check: "a", Started: t0}}
	}
	b.add(runs)
	for i := range runs {
		runs[i].ID += int64(len(runs))
	}
	b.add(runs) // over maxBooked: the first half is gone
	got := b.take(0, int64(2*len(runs)))
	if exactly(got, int64(2*len(runs))) {
		t.Fatal("an overflowed book claims to hold every run")
	}
	if len(got) != len(runs) || got[0].id != int64(len(runs)+1) {
		t.Fatalf("the book holds %d runs from id %d, want the %d of the second batch", len(got), got[0].id, len(runs))
	}
}

// A single batch larger than the book (a backlog flushed at once after
// an outage) is not booked at all: the book stays within its bound.
func TestRollUpBookRefusesABatchLargerThanItself(t *testing.T) {
	var b rollupBook
	b.add([]history.StoredRun{{RunSummary: history.RunSummary{ID: 1, Check: "a", Started: t0}}})
	runs := make([]history.StoredRun, maxBooked+1)
	for i := range runs {
		runs[i] = history.StoredRun{RunSummary: history.RunSummary{ID: int64(i + 2), Check: "a", Started: t0}}
	}
	b.add(runs)
	if n := len(b.runs); n != 0 {
		t.Fatalf("the book holds %d runs after a batch of %d, bound %d", n, len(runs), maxBooked)
	}
}
