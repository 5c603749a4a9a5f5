package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/history"
	"github.com/jackc/pgx/v5"
)

// The PostgreSQL store is a history driver.
var (
	_ history.Writer            = (*Store)(nil)
	_ history.Reader            = (*Store)(nil)
	_ history.NotificationAdmin = (*Store)(nil)
)

// Reader bounds, as in the SQLite store.
const (
	defaultListLimit = 50
	maxListLimit     = 1000
	maxDurations     = 100000
	// rollUpRows bounds the runs one roll-up takes.
	rollUpRows = 50000
)

func clampLimit(n int) int {
	if n <= 0 {
		return defaultListLimit
	}
	return min(n, maxListLimit)
}

// ReserveIDs implements history.Writer: the counter row's lock hands each
// replica its own block of consecutive ids.
func (s *Store) ReserveIDs(ctx context.Context, n int) (int64, error) {
	if n < 1 {
		return 0, fmt.Errorf("reserve %d ids", n)
	}
	var next int64
	err := s.tx(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `UPDATE counters SET value = GREATEST(value, (SELECT COALESCE(MAX(id), 0) + 1 FROM results)) + $1
			WHERE name = 'next_result_id' RETURNING value`, n).Scan(&next)
	})
	if err != nil {
		return 0, err
	}
	return next - int64(n), nil
}

// WriteBatch implements history.Writer: one round trip for the runs and
// one for the baselines, in one transaction.
func (s *Store) WriteBatch(ctx context.Context, b history.Batch) error {
	n := len(b.Runs)
	ids, started, durs, epochs := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	passed, maint := make([]int16, n), make([]int16, n)
	names, reasons, msgs, steps, data := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, r := range b.Runs {
		ids[i], names[i], started[i], durs[i] = r.ID, r.Check, r.Started.UnixMilli(), int64(r.DurationSeconds*1e6)
		if r.Passed {
			passed[i] = 1
		}
		if r.InMaintenance {
			maint[i] = 1
		}
		reasons[i], msgs[i], steps[i], data[i], epochs[i] = string(r.Reason), r.Message, r.FailingStep, string(r.Data), r.Epoch
	}
	m := len(b.Baselines)
	bc, bs, bresp := make([]string, m), make([]string, m), make([]string, m)
	brun, bstart := make([]int64, m), make([]int64, m)
	for i := range b.Baselines {
		bl := &b.Baselines[i]
		resp, err := json.Marshal(&bl.Response)
		if err != nil {
			return err
		}
		bc[i], bs[i], brun[i], bstart[i], bresp[i] = bl.Check, bl.Step, bl.RunID, bl.Started.UnixMilli(), string(resp)
	}
	return s.tx(ctx, func(tx pgx.Tx) error {
		batch := &pgx.Batch{}
		if n > 0 {
			// A run made under a lease epoch is stored only while that
			// epoch is the check's: a replica that lost the lease (paused,
			// partitioned) cannot write over its successor (fencing).
			batch.Queue(`INSERT INTO results (id, check_name, started_ms, duration_us, passed, reason, message, failing_step, result, in_maintenance)
				SELECT v.id, v.c, v.s, v.d, v.p, v.r, v.m, v.f, v.j, v.im
				FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::bigint[], $5::smallint[], $6::text[], $7::text[], $8::text[], $9::text[], $10::bigint[], $11::smallint[])
					AS v(id, c, s, d, p, r, m, f, j, e, im)
				WHERE v.e = 0 OR EXISTS (SELECT 1 FROM leases l WHERE l.check_name = v.c AND l.epoch = v.e)
				ON CONFLICT (id) DO NOTHING`, ids, names, started, durs, passed, reasons, msgs, steps, data, epochs, maint)
			batch.Queue(`SELECT COUNT(*) FROM unnest($1::text[], $2::bigint[]) AS v(c, e)
				WHERE v.e <> 0 AND NOT EXISTS (SELECT 1 FROM leases l WHERE l.check_name = v.c AND l.epoch = v.e)`, names, epochs).
				QueryRow(func(row pgx.Row) error {
					var refused int64
					if err := row.Scan(&refused); err != nil {
						return err
					}
					s.fenced.Add(uint64(refused))
					return nil
				})
		}
		if m > 0 {
			batch.Queue(`INSERT INTO baselines (check_name, step_name, run_id, started_ms, response)
				SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[])
				ON CONFLICT (check_name, step_name) DO UPDATE SET run_id = excluded.run_id, started_ms = excluded.started_ms, response = excluded.response
				WHERE excluded.run_id >= baselines.run_id`, bc, bs, brun, bstart, bresp)
		}
		if batch.Len() == 0 {
			return nil
		}
		return tx.SendBatch(ctx, batch).Close()
	})
}

// RollUp implements history.Writer. Runs are marked as counted as they
// are added, so that replicas writing interleaved ids never count one
// twice nor skip one; SKIP LOCKED lets replicas roll up side by side.
// upTo is not needed here: every stored run not yet counted is taken.
func (s *Store) RollUp(ctx context.Context, _ int64) error {
	_, err := s.exec(ctx, `WITH r AS (
			UPDATE results SET rolled = true WHERE id IN (
				SELECT id FROM results WHERE NOT rolled ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
			RETURNING check_name, started_ms, passed, duration_us
		), m AS (
			INSERT INTO rollup_minute (check_name, bucket_ms, runs, failures, duration_us)
			SELECT check_name, started_ms - (started_ms % 60000), COUNT(*), SUM(1 - passed), SUM(duration_us) FROM r GROUP BY 1, 2
			ON CONFLICT (check_name, bucket_ms) DO UPDATE SET runs = rollup_minute.runs + excluded.runs,
				failures = rollup_minute.failures + excluded.failures, duration_us = rollup_minute.duration_us + excluded.duration_us
		)
		INSERT INTO rollup_hour (check_name, bucket_ms, runs, failures, duration_us)
		SELECT check_name, started_ms - (started_ms % 3600000), COUNT(*), SUM(1 - passed), SUM(duration_us) FROM r GROUP BY 1, 2
		ON CONFLICT (check_name, bucket_ms) DO UPDATE SET runs = rollup_hour.runs + excluded.runs,
			failures = rollup_hour.failures + excluded.failures, duration_us = rollup_hour.duration_us + excluded.duration_us`, rollUpRows)
	return err
}

// Baseline implements history.Writer.
func (s *Store) Baseline(ctx context.Context, check, step string) (*history.Baseline, error) {
	var b history.Baseline
	var started int64
	var resp string
	err := s.pool.QueryRow(ctx, `SELECT run_id, started_ms, response FROM baselines WHERE check_name = $1 AND step_name = $2`, check, step).
		Scan(&b.RunID, &started, &resp)
	if errors.Is(err, pgx.ErrNoRows) {
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

// Prune implements history.Writer; runs not yet rolled up stay.
func (s *Store) Prune(ctx context.Context, p history.PrunePolicy) (int, bool, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = 1000
	}
	total, more := 0, false
	exec := func(q string, args ...any) error {
		tag, err := s.exec(ctx, q, args...)
		if err != nil {
			return err
		}
		n := int(tag.RowsAffected())
		total += n
		more = more || n >= limit
		return nil
	}
	if !p.Before.IsZero() {
		before := p.Before.UnixMilli()
		if err := exec(`DELETE FROM results WHERE id IN (SELECT id FROM results WHERE rolled AND started_ms < $1 ORDER BY started_ms LIMIT $2)`, before, limit); err != nil {
			return total, more, err
		}
		if err := exec(`DELETE FROM incidents WHERE id IN (SELECT id FROM incidents WHERE resolved_ms > 0 AND resolved_ms < $1 LIMIT $2)`, before, limit); err != nil {
			return total, more, err
		}
		if err := exec(`DELETE FROM baselines WHERE (check_name, step_name) IN (SELECT check_name, step_name FROM baselines WHERE started_ms < $1 LIMIT $2)`, before, limit); err != nil {
			return total, more, err
		}
	}
	for _, check := range slices.Sorted(maps.Keys(p.Keep)) {
		keep := p.Keep[check]
		if keep <= 0 {
			continue
		}
		if err := exec(`DELETE FROM results WHERE id IN (SELECT id FROM results WHERE check_name = $1 AND rolled AND id < (
				SELECT id FROM results WHERE check_name = $1 ORDER BY id DESC LIMIT 1 OFFSET $2) ORDER BY id LIMIT $3)`,
			check, keep-1, limit); err != nil {
			return total, more, err
		}
	}
	if !p.MinuteBefore.IsZero() {
		if err := exec(`DELETE FROM rollup_minute WHERE (check_name, bucket_ms) IN (SELECT check_name, bucket_ms FROM rollup_minute WHERE bucket_ms < $1 LIMIT $2)`, p.MinuteBefore.UnixMilli(), limit); err != nil {
			return total, more, err
		}
	}
	if !p.HourBefore.IsZero() {
		if err := exec(`DELETE FROM rollup_hour WHERE (check_name, bucket_ms) IN (SELECT check_name, bucket_ms FROM rollup_hour WHERE bucket_ms < $1 LIMIT $2)`, p.HourBefore.UnixMilli(), limit); err != nil {
			return total, more, err
		}
	}
	return total, more, nil
}

const summaryColumns = `id, check_name, started_ms, duration_us, passed, reason, message, failing_step, in_maintenance`

func scanSummary(row pgx.Row, extra ...any) (history.RunSummary, error) {
	var r history.RunSummary
	var started, dur int64
	var passed, maint int16
	var reason string
	if err := row.Scan(append([]any{&r.ID, &r.Check, &started, &dur, &passed, &reason, &r.Message, &r.FailingStep, &maint}, extra...)...); err != nil {
		return r, err
	}
	r.Started, r.DurationSeconds, r.Passed, r.Reason = fromMS(started), float64(dur)/1e6, passed == 1, checks.Reason(reason)
	r.InMaintenance = maint == 1
	return r, nil
}

// Results implements history.Reader.
func (s *Store) Results(ctx context.Context, check string, q history.ResultQuery) ([]history.RunSummary, error) {
	where := `check_name = $1`
	args := []any{check}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if q.Before > 0 {
		where += ` AND id < ` + arg(q.Before)
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
		where += ` AND started_ms >= ` + arg(q.Since.UnixMilli())
	}
	rows, err := s.pool.Query(ctx, `SELECT `+summaryColumns+` FROM results WHERE `+where+` ORDER BY id DESC LIMIT `+arg(clampLimit(q.Limit)), args...)
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

// Result implements history.Reader.
func (s *Store) Result(ctx context.Context, id int64) (*history.Run, error) {
	var data string
	sum, err := scanSummary(s.pool.QueryRow(ctx, `SELECT `+summaryColumns+`, result FROM results WHERE id = $1`, id), &data)
	if errors.Is(err, pgx.ErrNoRows) {
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

// Counts implements history.Reader: the aggregates plus the runs not yet
// rolled up.
func (s *Store) Counts(ctx context.Context, check string, from, to time.Time) (history.Counts, error) {
	all, err := s.counts(ctx, check, from, to)
	return all[check], err
}

// CountsAll implements history.Reader.
func (s *Store) CountsAll(ctx context.Context, from, to time.Time) (map[string]history.Counts, error) {
	return s.counts(ctx, "", from, to)
}

func (s *Store) counts(ctx context.Context, check string, from, to time.Time) (map[string]history.Counts, error) {
	table, size := "rollup_hour", int64(3_600_000)
	if time.Since(from) <= history.MinuteWindow {
		table, size = "rollup_minute", 60_000
	}
	f := from.UnixMilli()
	f -= ((f % size) + size) % size
	out := map[string]history.Counts{}
	add := func(q string, args ...any) error {
		rows, err := s.pool.Query(ctx, q, args...)
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
	filter := ""
	args := []any{f, to.UnixMilli()}
	if check != "" {
		filter, args = ` AND check_name = $3`, append(args, check)
	}
	if err := add(`SELECT check_name, SUM(runs)::bigint, SUM(failures)::bigint FROM `+table+` WHERE bucket_ms >= $1 AND bucket_ms < $2`+filter+` GROUP BY check_name`, args...); err != nil {
		return nil, err
	}
	err := add(`SELECT check_name, COUNT(*), COALESCE(SUM(1 - passed), 0)::bigint FROM results WHERE NOT rolled AND started_ms >= $1 AND started_ms < $2`+filter+` GROUP BY check_name`, args...)
	return out, err
}

// Durations implements history.Reader.
func (s *Store) Durations(ctx context.Context, check string, from, to time.Time) ([]time.Duration, error) {
	rows, err := s.pool.Query(ctx, `SELECT duration_us FROM results WHERE check_name = $1 AND started_ms >= $2 AND started_ms < $3
		ORDER BY id DESC LIMIT $4`, check, from.UnixMilli(), to.UnixMilli(), maxDurations)
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

// Incidents implements history.Reader.
func (s *Store) Incidents(ctx context.Context, q history.IncidentQuery) ([]history.Incident, error) {
	where, args := `true`, []any{}
	if q.Check != "" {
		args = append(args, q.Check)
		where += ` AND check_name = $1`
	}
	if q.Open {
		where += ` AND resolved_ms = 0`
	}
	args = append(args, clampLimit(q.Limit))
	rows, err := s.pool.Query(ctx, `SELECT id, check_name, started_ms, opened_ms, resolved_ms, resolution, first_failure,
		first_reason, last_failure, runs, failed_runs FROM incidents WHERE `+where+` ORDER BY opened_ms DESC, id LIMIT $`+strconv.Itoa(len(args)), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []history.Incident{}
	for rows.Next() {
		var in history.Incident
		var started, opened, resolved int64
		if err := rows.Scan(&in.ID, &in.Check, &started, &opened, &resolved, &in.Resolution, &in.FirstFailure,
			&in.FirstReason, &in.LastFailure, &in.Runs, &in.FailedRuns); err != nil {
			return nil, err
		}
		in.Started, in.Opened = fromMS(started), fromMS(opened)
		if resolved != 0 {
			t := fromMS(resolved)
			in.Resolved = &t
		}
		out = append(out, in)
	}
	return out, rows.Err()
}

// Notifications implements history.Reader.
func (s *Store) Notifications(ctx context.Context, status string, limit int) ([]history.Notification, error) {
	pending := `SELECT seq, 'pending' AS status, event_key, check_name, notifier, kind, created_ms, attempts, next_ms, last_error, '' AS reason, 0::bigint AS failed_ms FROM outbox`
	dead := `SELECT seq, 'dead', event_key, check_name, notifier, kind, created_ms, attempts, 0::bigint, last_error, reason, failed_ms FROM dead_letter`
	var q string
	switch status {
	case history.NotificationPending:
		q = pending
	case history.NotificationDead:
		q = dead
	case "":
		q = pending + ` UNION ALL ` + dead
	default:
		return nil, fmt.Errorf("unknown status %q (want pending or dead)", status)
	}
	rows, err := s.pool.Query(ctx, `SELECT * FROM (`+q+`) n ORDER BY 1 DESC LIMIT $1`, clampLimit(limit))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []history.Notification{}
	for rows.Next() {
		var n history.Notification
		var created, next, failed int64
		if err := rows.Scan(&n.ID, &n.Status, &n.EventKey, &n.Check, &n.Notifier, &n.Kind, &created, &n.Attempts, &next,
			&n.LastError, &n.Reason, &failed); err != nil {
			return nil, err
		}
		n.Created = fromMS(created)
		if next != 0 {
			t := fromMS(next)
			n.Next = &t
		}
		if failed != 0 {
			t := fromMS(failed)
			n.Failed = &t
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// RetryNotification implements history.NotificationAdmin.
func (s *Store) RetryNotification(ctx context.Context, id int64) error {
	now := time.Now().UnixMilli()
	return s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE outbox SET next_ms = $1 WHERE seq = $2`, now, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() > 0 {
			return nil
		}
		tag, err = tx.Exec(ctx, `INSERT INTO outbox (event_key, check_name, notifier, kind, payload, created_ms, attempts, next_ms, last_error)
			SELECT event_key, check_name, notifier, kind, payload, created_ms, 0, $1, '' FROM dead_letter WHERE seq = $2
			ON CONFLICT (event_key, notifier) DO NOTHING`, now, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			var exists bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM dead_letter WHERE seq = $1)`, id).Scan(&exists); err != nil {
				return err
			}
			if !exists {
				return history.ErrNotFound
			}
			return fmt.Errorf("notification %d: the same event is already pending in the outbox", id)
		}
		_, err = tx.Exec(ctx, `DELETE FROM dead_letter WHERE seq = $1`, id)
		return err
	})
}

// DropNotification implements history.NotificationAdmin.
func (s *Store) DropNotification(ctx context.Context, id int64) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM dead_letter WHERE seq = $1`, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() > 0 {
			return nil
		}
		tag, err = tx.Exec(ctx, `DELETE FROM outbox WHERE seq = $1`, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return history.ErrNotFound
		}
		return nil
	})
}
