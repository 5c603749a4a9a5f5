package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
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

type rollupKey struct {
	check  string
	bucket int64
}

type rollupVal struct {
	runs, failures, durationUS int64
}

// WriteBatch implements history.Writer: runs, baselines and the minute
// and hour aggregates of the runs in one transaction, so that the
// aggregates count exactly the runs stored.
func (s *Store) WriteBatch(ctx context.Context, b history.Batch) error {
	minutes := map[rollupKey]*rollupVal{}
	hours := map[rollupKey]*rollupVal{}
	add := func(m map[rollupKey]*rollupVal, k rollupKey, r *history.StoredRun) {
		v := m[k]
		if v == nil {
			v = &rollupVal{}
			m[k] = v
		}
		v.runs++
		if !r.Passed {
			v.failures++
		}
		v.durationUS += int64(r.DurationSeconds * 1e6)
	}
	for i := range b.Runs {
		r := &b.Runs[i]
		t := r.Started.UnixMilli()
		add(minutes, rollupKey{r.Check, t - mod(t, 60_000)}, r)
		add(hours, rollupKey{r.Check, t - mod(t, 3_600_000)}, r)
	}
	baselines := make([][]byte, len(b.Baselines))
	for i := range b.Baselines {
		data, err := json.Marshal(&b.Baselines[i].Response)
		if err != nil {
			return err
		}
		baselines[i] = data
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		if len(b.Runs) > 0 {
			ins, err := tx.PrepareContext(ctx, `INSERT INTO results (id, check_name, started_ms, duration_us, passed, reason, message, failing_step, result)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`)
			if err != nil {
				return err
			}
			defer ins.Close()
			for i := range b.Runs {
				r := &b.Runs[i]
				if _, err := ins.ExecContext(ctx, r.ID, r.Check, r.Started.UnixMilli(), int64(r.DurationSeconds*1e6), boolInt(r.Passed),
					string(r.Reason), r.Message, r.FailingStep, string(r.Data)); err != nil {
					return fmt.Errorf("run %d of %s: %w", r.ID, r.Check, err)
				}
			}
		}
		for table, m := range map[string]map[rollupKey]*rollupVal{"rollup_minute": minutes, "rollup_hour": hours} {
			if len(m) == 0 {
				continue
			}
			up, err := tx.PrepareContext(ctx, `INSERT INTO `+table+` (check_name, bucket_ms, runs, failures, duration_us) VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (check_name, bucket_ms) DO UPDATE SET runs = runs + excluded.runs,
				failures = failures + excluded.failures, duration_us = duration_us + excluded.duration_us`)
			if err != nil {
				return err
			}
			defer up.Close()
			for k, v := range m {
				if _, err := up.ExecContext(ctx, k.check, k.bucket, v.runs, v.failures, v.durationUS); err != nil {
					return err
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

// Prune implements history.Writer. Each statement deletes at most
// p.Limit rows, oldest first.
func (s *Store) Prune(ctx context.Context, p history.PrunePolicy) (int, bool, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = 1000
	}
	total, more := 0, false
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
		// Ids grow with time, so the oldest runs are the lowest ids: the
		// scan stops at the first run that is recent enough.
		if err := exec(`DELETE FROM results WHERE id IN (SELECT id FROM results WHERE started_ms < ? ORDER BY id LIMIT ?)`, p.Before.UnixMilli(), limit); err != nil {
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
		if err := exec(`DELETE FROM results WHERE id IN (SELECT id FROM results WHERE check_name = ? AND id < (
				SELECT id FROM results WHERE check_name = ? ORDER BY id DESC LIMIT 1 OFFSET ?) ORDER BY id LIMIT ?)`,
			check, check, keep-1, limit); err != nil {
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
		where += ` AND started_ms >= ?`
		args = append(args, q.Since.UnixMilli())
	}
	args = append(args, clampLimit(q.Limit))
	rows, err := s.rdb.QueryContext(ctx, `SELECT id, check_name, started_ms, duration_us, passed, reason, message, failing_step
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
	var passed int
	var reason string
	dest := append([]any{&r.ID, &r.Check, &started, &dur, &passed, &reason, &r.Message, &r.FailingStep}, extra...)
	if err := sc.Scan(dest...); err != nil {
		return r, err
	}
	r.Started, r.DurationSeconds, r.Passed, r.Reason = fromMS(started), float64(dur)/1e6, passed == 1, checks.Reason(reason)
	return r, nil
}

// Result implements history.Reader.
func (s *Store) Result(ctx context.Context, id int64) (*history.Run, error) {
	var data string
	row := s.rdb.QueryRowContext(ctx, `SELECT id, check_name, started_ms, duration_us, passed, reason, message, failing_step, result
		FROM results WHERE id = ?`, id)
	sum, err := scanSummary(row, &data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, history.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	run := &history.Run{RunSummary: sum, Result: &checks.Result{}}
	if err := json.Unmarshal([]byte(data), run.Result); err != nil {
		return nil, fmt.Errorf("run %d: %w", id, err)
	}
	run.Result.ID = id
	return run, nil
}

// rollupTable picks the aggregates that serve a window starting at from.
func rollupTable(from, now time.Time) (string, int64) {
	if now.Sub(from) <= history.MinuteWindow {
		return "rollup_minute", 60_000
	}
	return "rollup_hour", 3_600_000
}

// Counts implements history.Reader.
func (s *Store) Counts(ctx context.Context, check string, from, to time.Time) (history.Counts, error) {
	table, size := rollupTable(from, time.Now())
	f := from.UnixMilli()
	f -= mod(f, size)
	var c history.Counts
	err := s.rdb.QueryRowContext(ctx, `SELECT COALESCE(SUM(runs), 0), COALESCE(SUM(failures), 0) FROM `+table+`
		WHERE check_name = ? AND bucket_ms >= ? AND bucket_ms < ?`, check, f, to.UnixMilli()).Scan(&c.Runs, &c.Failures)
	return c, err
}

// CountsAll implements history.Reader.
func (s *Store) CountsAll(ctx context.Context, from, to time.Time) (map[string]history.Counts, error) {
	table, size := rollupTable(from, time.Now())
	f := from.UnixMilli()
	f -= mod(f, size)
	rows, err := s.rdb.QueryContext(ctx, `SELECT check_name, SUM(runs), SUM(failures) FROM `+table+`
		WHERE bucket_ms >= ? AND bucket_ms < ? GROUP BY check_name`, f, to.UnixMilli())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]history.Counts{}
	for rows.Next() {
		var name string
		var c history.Counts
		if err := rows.Scan(&name, &c.Runs, &c.Failures); err != nil {
			return nil, err
		}
		out[name] = c
	}
	return out, rows.Err()
}

// Durations implements history.Reader.
func (s *Store) Durations(ctx context.Context, check string, from, to time.Time) ([]time.Duration, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT duration_us FROM results WHERE check_name = ? AND started_ms >= ? AND started_ms < ?
		ORDER BY id DESC LIMIT ?`, check, from.UnixMilli(), to.UnixMilli(), maxDurations)
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
