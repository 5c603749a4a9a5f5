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

const insertRun = `INSERT INTO results (id, check_name, started_ms, duration_us, passed, reason, message, failing_step, result, in_maintenance) VALUES `

func runArgs(args []any, r *history.StoredRun) []any {
	return append(args, r.ID, r.Check, r.Started.UnixMilli(), int64(r.DurationSeconds*1e6), boolInt(r.Passed),
		string(r.Reason), r.Message, r.FailingStep, string(r.Data), boolInt(r.InMaintenance))
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
	return s.tx(ctx, func(tx *sql.Tx) error {
		runs := b.Runs
		if len(runs) >= insertRows {
			q := insertRun + strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?), ", insertRows-1) + "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING"
			ins, err := tx.PrepareContext(ctx, q)
			if err != nil {
				return err
			}
			defer ins.Close()
			args := make([]any, 0, 10*insertRows)
			for len(runs) >= insertRows {
				args = args[:0]
				for i := range runs[:insertRows] {
					args = runArgs(args, &runs[i])
				}
				if _, err := ins.ExecContext(ctx, args...); err != nil {
					return fmt.Errorf("runs %d..%d: %w", runs[0].ID, runs[insertRows-1].ID, err)
				}
				runs = runs[insertRows:]
			}
		}
		if len(runs) > 0 {
			ins, err := tx.PrepareContext(ctx, insertRun+"(?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING")
			if err != nil {
				return err
			}
			defer ins.Close()
			for i := range runs {
				if _, err := ins.ExecContext(ctx, runArgs(nil, &runs[i])...); err != nil {
					return fmt.Errorf("run %d of %s: %w", runs[i].ID, runs[i].Check, err)
				}
			}
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
}

// RollUp implements history.Writer: the runs with ids above the last
// roll-up, up to upTo, are added to the minute and hour aggregates, and
// the mark moves to upTo, in one transaction, by SQL over the stored
// runs (one upsert per check and minute rather than one per run).
func (s *Store) RollUp(ctx context.Context, upTo int64) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var from int64
		if err := tx.QueryRowContext(ctx, `SELECT value FROM counters WHERE name = 'rolled_up_to'`).Scan(&from); err != nil {
			return err
		}
		if upTo <= from {
			return nil
		}
		for table, size := range map[string]int64{"rollup_minute": 60_000, "rollup_hour": 3_600_000} {
			// "WHERE true" lets SQLite read ON CONFLICT as the upsert's.
			if _, err := tx.ExecContext(ctx, `INSERT INTO `+table+` (check_name, bucket_ms, runs, failures, duration_us)
				SELECT check_name, started_ms - (started_ms % ?), COUNT(*), SUM(1 - passed), SUM(duration_us)
				FROM results WHERE id > ? AND id <= ? AND true GROUP BY 1, 2
				ON CONFLICT (check_name, bucket_ms) DO UPDATE SET runs = runs + excluded.runs,
				failures = failures + excluded.failures, duration_us = duration_us + excluded.duration_us`, size, from, upTo); err != nil {
				return fmt.Errorf("%s: %w", table, err)
			}
		}
		_, err := tx.ExecContext(ctx, `UPDATE counters SET value = ? WHERE name = 'rolled_up_to'`, upTo)
		return err
	})
}

// rolledUpTo is the id up to which the aggregates count the runs.
func (s *Store) rolledUpTo(ctx context.Context) (int64, error) {
	var v int64
	err := s.rdb.QueryRowContext(ctx, `SELECT value FROM counters WHERE name = 'rolled_up_to'`).Scan(&v)
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

// Prune implements history.Writer. Each statement deletes at most
// p.Limit rows, oldest first.
func (s *Store) Prune(ctx context.Context, p history.PrunePolicy) (int, bool, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = 1000
	}
	total, more := 0, false
	// Runs not yet in the aggregates stay until the next roll-up.
	wm, err := s.rolledUpTo(ctx)
	if err != nil {
		return 0, false, err
	}
	exec := func(q string, args ...any) error {
		res, err := s.exec(ctx, q, args...)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		total += int(n)
		more = more || int(n) >= limit
		return nil
	}
	if !p.Before.IsZero() {
		if err := exec(pruneByAge, p.Before.UnixMilli(), wm, limit); err != nil {
			return total, more, err
		}
		if err := exec(`DELETE FROM incidents WHERE id IN (SELECT id FROM incidents WHERE resolved_ms > 0 AND resolved_ms < ? LIMIT ?)`, p.Before.UnixMilli(), limit); err != nil {
			return total, more, err
		}
		if err := exec(`DELETE FROM baselines WHERE (check_name, step_name) IN (SELECT check_name, step_name FROM baselines WHERE started_ms < ? LIMIT ?)`, p.Before.UnixMilli(), limit); err != nil {
			return total, more, err
		}
	}
	for _, check := range slices.Sorted(maps.Keys(p.Keep)) {
		keep := p.Keep[check]
		if keep <= 0 {
			continue
		}
		// The id of the oldest run to keep; older ones go.
		if err := exec(`DELETE FROM results WHERE id IN (SELECT id FROM results WHERE check_name = ? AND id <= ? AND id < (
				SELECT id FROM results WHERE check_name = ? ORDER BY id DESC LIMIT 1 OFFSET ?) ORDER BY id LIMIT ?)`,
			check, wm, check, keep-1, limit); err != nil {
			return total, more, err
		}
	}
	if !p.MinuteBefore.IsZero() {
		if err := exec(`DELETE FROM rollup_minute WHERE (check_name, bucket_ms) IN (SELECT check_name, bucket_ms FROM rollup_minute WHERE bucket_ms < ? LIMIT ?)`, p.MinuteBefore.UnixMilli(), limit); err != nil {
			return total, more, err
		}
	}
	if !p.HourBefore.IsZero() {
		if err := exec(`DELETE FROM rollup_hour WHERE (check_name, bucket_ms) IN (SELECT check_name, bucket_ms FROM rollup_hour WHERE bucket_ms < ? LIMIT ?)`, p.HourBefore.UnixMilli(), limit); err != nil {
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
	where := `check_name = ?`
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
	wm, err := s.rolledUpTo(ctx)
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
		// The index on (check_name, id) serves one check's tail.
		err = add(tail+` AND check_name = ? GROUP BY check_name`, wm, f, to.UnixMilli(), check)
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
	durationsQuery = `SELECT duration_us FROM results WHERE check_name = ? AND +started_ms >= ? AND +started_ms < ?
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
