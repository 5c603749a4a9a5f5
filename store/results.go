package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/assay-monitor/assay/checks"
)

// Record stores a result in the history (a checks.Sink). Errors are
// logged: a lost history row must not stop the daemon.
func (s *Store) Record(ctx context.Context, r *checks.Result) {
	if err := s.SaveResult(ctx, r); err != nil {
		s.logger.Error("store: saving result", "check", r.Check, "err", err)
	}
}

// SaveResult stores a result and prunes the check's history to the
// configured length.
func (s *Store) SaveResult(ctx context.Context, r *checks.Result) error {
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	passed := 0
	if r.Passed {
		passed = 1
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO results (check_name, started_ms, duration_ms, passed, reason, message, result)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		r.Check, ms(r.Started), r.Duration.Milliseconds(), passed, string(r.Reason), r.Message, string(data))
	if err != nil {
		return err
	}
	if s.history > 0 {
		_, err = s.db.ExecContext(ctx, `DELETE FROM results WHERE check_name = ? AND id <= (
			SELECT id FROM results WHERE check_name = ? ORDER BY id DESC LIMIT 1 OFFSET ?)`,
			r.Check, r.Check, s.history)
	}
	return err
}

// ResultRow is one stored result; Result holds the full JSON.
type ResultRow struct {
	Check    string
	Started  time.Time
	Duration time.Duration
	Passed   bool
	Reason   checks.Reason
	Message  string
	Result   json.RawMessage
}

// Results returns a check's most recent results, newest first.
func (s *Store) Results(ctx context.Context, check string, limit int) ([]ResultRow, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT check_name, started_ms, duration_ms, passed, reason, message, result
		FROM results WHERE check_name = ? ORDER BY id DESC LIMIT ?`, check, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ResultRow
	for rows.Next() {
		var r ResultRow
		var started, dur int64
		var passed int
		var reason, result string
		if err := rows.Scan(&r.Check, &started, &dur, &passed, &reason, &r.Message, &result); err != nil {
			return nil, err
		}
		r.Started, r.Duration, r.Passed = fromMS(started), time.Duration(dur)*time.Millisecond, passed == 1
		r.Reason, r.Result = checks.Reason(reason), json.RawMessage(result)
		out = append(out, r)
	}
	return out, rows.Err()
}
