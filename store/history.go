package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/history"
)

// The store is the history's SQLite driver.
var (
	_ history.Writer = (*Store)(nil)
	_ history.Reader = (*Store)(nil)
)

// Limits of the readers: a request can never make the store read or
// return an unbounded amount.
const (
	defaultListLimit = 50
	maxListLimit     = 1000
	// maxDurations bounds the rows read for percentiles.
	maxDurations = 100000
)

// ReserveIDs implements history.Writer: the counter row makes ids grow
// across restarts and across processes sharing the file.
func (s *Store) ReserveIDs(ctx context.Context, n int) (int64, error) {
	if n < 1 {
		return 0, fmt.Errorf("reserve %d ids", n)
	}
	var next int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		// A database written by hand (or restored) may hold higher ids.
		var max sql.NullInt64
		if err := tx.QueryRowContext(ctx, `SELECT MAX(id) FROM results`).Scan(&max); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `UPDATE counters SET value = MAX(value, ?) + ? WHERE name = 'next_result_id' RETURNING value`,
			max.Int64+1, n).Scan(&next); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return next - int64(n), nil
}

// insertRows is how many runs one INSERT statement writes: the driver's
// cost is per statement, so a batch of 1,000 runs is 16 statements.
const insertRows = 64

const insertRun = `INSERT INTO results (id, check_name, check_key, started_ms, duration_us, passed, reason, message, failing_step, result, in_maintenance) VALUES `

// rowShape is how insertRun's VALUES hold a run: the placeholders of one
// row and their arguments.
type rowShape struct {
	values string
	args   func(args []any, r *history.StoredRun, key int64) []any
}

var (
	fullRow = rowShape{"(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", func(args []any, r *history.StoredRun, key int64) []any {
		return append(args, r.ID, r.Check, key, r.Started.UnixMilli(), durationUS(r), boolInt(r.Passed),
			string(r.Reason), r.Message, r.FailingStep, string(r.Data), boolInt(r.InMaintenance))
	}}
	passingRow = rowShape{"(?, ?, ?, ?, ?, 1, '', '', '', ?, ?)", func(args []any, r *history.StoredRun, key int64) []any {
		return append(args, r.ID, r.Check, key, r.Started.UnixMilli(), durationUS(r),
			string(r.Data), boolInt(r.InMaintenance))
	}}
)

// execRows inserts n rows, insertRows to a statement: head is the
// statement up to its VALUES, row one row's placeholders, tail what
// follows; rowArgs appends row i's arguments, and what names row i in an
// error.
func execRows(ctx context.Context, tx *sql.Tx, head, row, tail string, n int,
	rowArgs func(args []any, i int) []any, what func(i int) string) error {
	var full *sql.Stmt // the statement of insertRows rows, prepared once
	var args []any
	for start := 0; start < n; start += insertRows {
		end := min(start+insertRows, n)
		stmt := full
		if stmt == nil || end-start < insertRows {
			var err error
			if stmt, err = tx.PrepareContext(ctx, head+strings.Repeat(row+", ", end-start-1)+row+tail); err != nil {
				return err
			}
			defer stmt.Close()
			if end-start == insertRows {
				full = stmt
			}
		}
		args = args[:0]
		for i := start; i < end; i++ {
			args = rowArgs(args, i)
		}
		if _, err := stmt.ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("%s to %s: %w", what(start), what(end-1), err)
		}
	}
	return nil
}

// insertRuns inserts runs[i] for each i in which, in the given shape.
func insertRuns(ctx context.Context, tx *sql.Tx, runs []history.StoredRun, keys []int64, which []int, shape rowShape) error {
	return execRows(ctx, tx, insertRun, shape.values, " ON CONFLICT (id) DO NOTHING", len(which),
		func(args []any, i int) []any { return shape.args(args, &runs[which[i]], keys[which[i]]) },
		func(i int) string { return fmt.Sprintf("run %d of %s", runs[which[i]].ID, runs[which[i]].Check) })
}

// byCheck selects one check's runs through results_check, which is
// keyed by check_keys.key.
const byCheck = `check_key = (SELECT key FROM check_keys WHERE name = ?)`

// checkKeys returns the key of each run's check, adding the names new to
// check_keys in tx; added holds those, for the cache once tx commits.
func (s *Store) checkKeys(ctx context.Context, tx *sql.Tx, runs []history.StoredRun) (keys []int64, added map[string]int64, err error) {
	keys = make([]int64, len(runs))
	var missing []int
	s.keysMu.Lock()
	for i := range runs {
		if k, ok := s.keys[runs[i].Check]; ok {
			keys[i] = k
		} else {
			missing = append(missing, i)
		}
	}
	s.keysMu.Unlock()
	for _, i := range missing {
		name := runs[i].Check
		if k, ok := added[name]; ok {
			keys[i] = k
			continue
		}
		// Another process sharing the file may have added the name.
		var k int64
		if err := tx.QueryRowContext(ctx, `INSERT INTO check_keys (name) VALUES (?) ON CONFLICT (name) DO UPDATE SET name = excluded.name RETURNING key`, name).Scan(&k); err != nil {
			return nil, nil, fmt.Errorf("key of check %s: %w", name, err)
		}
		if added == nil {
			added = map[string]int64{}
		}
		added[name], keys[i] = k, k
	}
	return keys, added, nil
}

// WriteBatch implements history.Writer: the runs and the baselines in one
// transaction. Aggregates come from the runs later (RollUp).
func (s *Store) WriteBatch(ctx context.Context, b history.Batch) error {
	baselines := make([][]byte, len(b.Baselines))
	for i := range b.Baselines {
		data, err := json.Marshal(&b.Baselines[i].Response)
		if err != nil {
			return err
		}
		baselines[i] = data
	}
	var added map[string]int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		runs := b.Runs
		keys, newKeys, err := s.checkKeys(ctx, tx, runs)
		if err != nil {
			return err
		}
		added = newKeys
		// A passing run has no reason, message or failing step: its row
		// binds 4 parameters fewer (binding is a tenth of a batch's CPU).
		var plain, other []int
		for i := range runs {
			if r := &runs[i]; r.Passed && r.Reason == "" && r.Message == "" && r.FailingStep == "" {
				plain = append(plain, i)
			} else {
				other = append(other, i)
			}
		}
		if err := insertRuns(ctx, tx, runs, keys, plain, passingRow); err != nil {
			return err
		}
		if err := insertRuns(ctx, tx, runs, keys, other, fullRow); err != nil {
			return err
		}
		if len(b.Baselines) > 0 {
			up, err := tx.PrepareContext(ctx, `INSERT INTO baselines (check_name, step_name, run_id, started_ms, response) VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (check_name, step_name) DO UPDATE SET run_id = excluded.run_id, started_ms = excluded.started_ms, response = excluded.response
				WHERE excluded.run_id >= baselines.run_id`)
			if err != nil {
				return err
			}
			defer up.Close()
			for i := range b.Baselines {
				bl := &b.Baselines[i]
				if _, err := up.ExecContext(ctx, bl.Check, bl.Step, bl.RunID, bl.Started.UnixMilli(), string(baselines[i])); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err == nil && len(added) > 0 {
		s.keysMu.Lock()
		if s.keys == nil {
			s.keys = map[string]int64{}
		}
		maps.Copy(s.keys, added)
		s.keysMu.Unlock()
	}
	if err == nil {
		s.book.add(b.Runs)
	}
	return err
}

// rowQuerier is a *sql.DB or a *sql.Tx.
type rowQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// rollUpMark is the id up to which the aggregates count the runs.
func rollUpMark(ctx context.Context, q rowQuerier) (int64, error) {
	var v int64
	err := q.QueryRowContext(ctx, `SELECT value FROM counters WHERE name = 'rolled_up_to'`).Scan(&v)
	return v, err
}

func mod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Baseline implements history.Writer.
func (s *Store) Baseline(ctx context.Context, check, step string) (*history.Baseline, error) {
	var b history.Baseline
	var started int64
	var resp string
	err := s.rdb.QueryRowContext(ctx, `SELECT run_id, started_ms, response FROM baselines WHERE check_name = ? AND step_name = ?`, check, step).
		Scan(&b.RunID, &started, &resp)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, history.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(resp), &b.Response); err != nil {
		return nil, fmt.Errorf("baseline of %s/%s: %w", check, step, err)
	}
	b.Check, b.Step, b.Started = check, step, fromMS(started)
	return &b, nil
}

// pruneByAge deletes the oldest runs that left the retention. It reads
// them through the index on started_ms, which holds them in order: it
// reads only the runs it deletes (a scan by id would read every run kept,
// recent ones included, whenever fewer than the limit are due; ids only
// roughly follow the start times).
const pruneByAge = `DELETE FROM results WHERE id IN (SELECT id FROM results WHERE started_ms < ? AND id <= ? ORDER BY started_ms LIMIT ?)`

// pruneByCount deletes one check's runs older than the newest ones it
// keeps (the last argument but one: how many, less one).
const pruneByCount = `DELETE FROM results WHERE id IN (SELECT id FROM results WHERE ` + byCheck + ` AND id <= ? AND id < (
	SELECT id FROM results WHERE ` + byCheck + ` ORDER BY id DESC LIMIT 1 OFFSET ?) ORDER BY id LIMIT ?)`

// keepPerTx is how many checks' per-check prunes one transaction makes:
// every check is pruned at start, and 10,000 checks in one transaction
// would hold the writer (alert state, the outbox) for seconds.
const keepPerTx = 100

// pruneTx is one transaction of a prune: exec runs a delete of at most
// limit rows and counts what went; wm is the roll-up mark (runs not yet
// in the aggregates stay).
type pruneTx struct {
	ctx     context.Context
	tx      *sql.Tx
	limit   int
	wm      int64
	deleted int
	more    bool // a statement reached the limit
}

func (p *pruneTx) exec(q string, args ...any) error {
	res, err := p.tx.ExecContext(p.ctx, q, args...)
	if err != nil {
		return err
	}
	n, _ := res.RowsAffected()
	p.deleted += int(n)
	p.more = p.more || int(n) >= p.limit
	return nil
}

// pruneIn runs f in one transaction and adds what it deleted to
// deleted and more once it commits.
func (s *Store) pruneIn(ctx context.Context, limit int, deleted *int, more *bool, f func(*pruneTx) error) error {
	var p *pruneTx
	err := s.tx(ctx, func(tx *sql.Tx) error {
		wm, err := rollUpMark(ctx, tx)
		if err != nil {
			return err
		}
		p = &pruneTx{ctx: ctx, tx: tx, limit: limit, wm: wm}
		return f(p)
	})
	if err == nil {
		*deleted, *more = *deleted+p.deleted, *more || p.more
	}
	return err
}

// Prune implements history.Writer. Each statement deletes at most
// p.Limit rows, oldest first. The age and aggregate statements are one
// transaction, a page of the by-check index that many deletes touch
// being written to the WAL once; the per-check ones follow, keepPerTx
// checks to a transaction.
func (s *Store) Prune(ctx context.Context, p history.PrunePolicy) (int, bool, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = 1000
	}
	total, more := 0, false
	err := s.pruneIn(ctx, limit, &total, &more, func(pt *pruneTx) error {
		if !p.Before.IsZero() {
			if err := pt.exec(pruneByAge, p.Before.UnixMilli(), pt.wm, limit); err != nil {
				return err
			}
			if err := pt.exec(`DELETE FROM incidents WHERE id IN (SELECT id FROM incidents WHERE resolved_ms > 0 AND resolved_ms < ? LIMIT ?)`, p.Before.UnixMilli(), limit); err != nil {
				return err
			}
			if err := pt.exec(`DELETE FROM baselines WHERE (check_name, step_name) IN (SELECT check_name, step_name FROM baselines WHERE started_ms < ? LIMIT ?)`, p.Before.UnixMilli(), limit); err != nil {
				return err
			}
		}
		if !p.MinuteBefore.IsZero() {
			if err := pt.exec(`DELETE FROM rollup_minute WHERE (check_name, bucket_ms) IN (SELECT check_name, bucket_ms FROM rollup_minute WHERE bucket_ms < ? LIMIT ?)`, p.MinuteBefore.UnixMilli(), limit); err != nil {
				return err
			}
		}
		if !p.HourBefore.IsZero() {
			if err := pt.exec(`DELETE FROM rollup_hour WHERE (check_name, bucket_ms) IN (SELECT check_name, bucket_ms FROM rollup_hour WHERE bucket_ms < ? LIMIT ?)`, p.HourBefore.UnixMilli(), limit); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return total, more, err
	}
	var kept []string
	for _, check := range slices.Sorted(maps.Keys(p.Keep)) {
		if p.Keep[check] > 0 {
			kept = append(kept, check)
		}
	}
	for part := range slices.Chunk(kept, keepPerTx) {
		err := s.pruneIn(ctx, limit, &total, &more, func(pt *pruneTx) error {
			for _, check := range part {
				// The id of the oldest run to keep; older ones go.
				if err := pt.exec(pruneByCount, check, pt.wm, check, p.Keep[check]-1, limit); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return total, more, err
		}
	}
	return total, more, nil
}

func clampLimit(n int) int {
	if n <= 0 {
		return defaultListLimit
	}
	return min(n, maxListLimit)
}

// Results implements history.Reader.
func (s *Store) Results(ctx context.Context, check string, q history.ResultQuery) ([]history.RunSummary, error) {
	where := byCheck
	args := []any{check}
	if q.Before > 0 {
		where += ` AND id < ?`
		args = append(args, q.Before)
	}
	switch q.Status {
	case history.StatusFailed:
		where += ` AND passed = 0`
	case history.StatusPassed:
		where += ` AND passed = 1`
	case history.StatusAny:
	default:
		return nil, fmt.Errorf("unknown status %q (want failed or passed)", q.Status)
	}
	if !q.Since.IsZero() {
		where += ` AND ` + sinceTerm
		args = append(args, q.Since.UnixMilli())
	}
	args = append(args, clampLimit(q.Limit))
	rows, err := s.rdb.QueryContext(ctx, `SELECT id, check_name, started_ms, duration_us, passed, reason, message, failing_step, in_maintenance
		FROM results WHERE `+where+` ORDER BY id DESC LIMIT ?`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []history.RunSummary{}
	for rows.Next() {
		r, err := scanSummary(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

type scanner interface{ Scan(...any) error }

func scanSummary(sc scanner, extra ...any) (history.RunSummary, error) {
	var r history.RunSummary
	var started, dur int64
	var passed, maint int
	var reason string
	dest := append([]any{&r.ID, &r.Check, &started, &dur, &passed, &reason, &r.Message, &r.FailingStep, &maint}, extra...)
	if err := sc.Scan(dest...); err != nil {
		return r, err
	}
	r.Started, r.DurationSeconds, r.Passed, r.Reason = fromMS(started), float64(dur)/1e6, passed == 1, checks.Reason(reason)
	r.InMaintenance = maint == 1
	return r, nil
}

// Result implements history.Reader.
func (s *Store) Result(ctx context.Context, id int64) (*history.Run, error) {
	var data string
	row := s.rdb.QueryRowContext(ctx, `SELECT id, check_name, started_ms, duration_us, passed, reason, message, failing_step, in_maintenance, result
		FROM results WHERE id = ?`, id)
	sum, err := scanSummary(row, &data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, history.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	res, err := history.DecodeRun(sum, []byte(data))
	if err != nil {
		return nil, fmt.Errorf("run %d: %w", id, err)
	}
	return &history.Run{RunSummary: sum, Result: res}, nil
}

// rollupTable picks the aggregates that serve a window starting at from.
func rollupTable(from, now time.Time) (string, int64) {
	if now.Sub(from) <= history.MinuteWindow {
		return "rollup_minute", 60_000
	}
	return "rollup_hour", 3_600_000
}

// Counts implements history.Reader: the aggregates, plus the runs stored
// since the last roll-up.
func (s *Store) Counts(ctx context.Context, check string, from, to time.Time) (history.Counts, error) {
	all, err := s.counts(ctx, check, from, to)
	return all[check], err
}

// CountsAll implements history.Reader.
func (s *Store) CountsAll(ctx context.Context, from, to time.Time) (map[string]history.Counts, error) {
	return s.counts(ctx, "", from, to)
}

// counts sums one check ("" for all) over [from, to).
func (s *Store) counts(ctx context.Context, check string, from, to time.Time) (map[string]history.Counts, error) {
	table, size := rollupTable(from, time.Now())
	f := from.UnixMilli()
	f -= mod(f, size)
	wm, err := rollUpMark(ctx, s.rdb)
	if err != nil {
		return nil, err
	}
	filter, args := "", []any{f, to.UnixMilli()}
	if check != "" {
		filter, args = " AND check_name = ?", append(args, check)
	}
	out := map[string]history.Counts{}
	add := func(q string, args ...any) error {
		rows, err := s.rdb.QueryContext(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var name string
			var c history.Counts
			if err := rows.Scan(&name, &c.Runs, &c.Failures); err != nil {
				return err
			}
			o := out[name]
			o.Runs, o.Failures = o.Runs+c.Runs, o.Failures+c.Failures
			out[name] = o
		}
		return rows.Err()
	}
	if err := add(`SELECT check_name, SUM(runs), SUM(failures) FROM `+table+` WHERE bucket_ms >= ? AND bucket_ms < ?`+filter+` GROUP BY check_name`, args...); err != nil {
		return nil, err
	}
	tail := countsTail
	if check != "" {
		// The index on (check_key, id) serves one check's tail.
		err = add(tail+` AND `+byCheck+` GROUP BY check_name`, wm, f, to.UnixMilli(), check)
	} else {
		// +check_name: grouping by the index would read all of it; the
		// id range reads only the runs since the roll-up.
		err = add(tail+` GROUP BY +check_name`, wm, f, to.UnixMilli())
	}
	return out, err
}

// countsTail counts the runs not yet rolled up (id > the mark) in a
// window: by id, which bounds it to the runs since the last roll-up.
const countsTail = `SELECT check_name, COUNT(*), SUM(1 - passed) FROM results WHERE id > ? AND +started_ms >= ? AND +started_ms < ?`

// The unary + keeps a term on started_ms from using results_started,
// which only the retention prune needs: a window of days over it would
// read every check's runs of those days, where results_check or the id
// range read one check's or the few since the roll-up.
const (
	sinceTerm      = `+started_ms >= ?`
	durationsQuery = `SELECT duration_us FROM results WHERE ` + byCheck + ` AND +started_ms >= ? AND +started_ms < ?
		ORDER BY id DESC LIMIT ?`
)

// Durations implements history.Reader.
func (s *Store) Durations(ctx context.Context, check string, from, to time.Time) ([]time.Duration, error) {
	rows, err := s.rdb.QueryContext(ctx, durationsQuery, check, from.UnixMilli(), to.UnixMilli(), maxDurations)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []time.Duration
	for rows.Next() {
		var us int64
		if err := rows.Scan(&us); err != nil {
			return nil, err
		}
		out = append(out, time.Duration(us)*time.Microsecond)
	}
	return out, rows.Err()
}
