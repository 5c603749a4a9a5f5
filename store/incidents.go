package store

import (
	"context"
	"database/sql"

	"github.com/assay-monitor/assay/history"
	"github.com/assay-monitor/assay/store/outbox"
)

func applyIncident(ctx context.Context, tx *sql.Tx, in *outbox.IncidentRecord) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO incidents (id, check_name, started_ms, opened_ms, resolved_ms, resolution,
			first_failure, first_reason, last_failure, runs, failed_runs)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET resolved_ms = excluded.resolved_ms, resolution = excluded.resolution,
			last_failure = excluded.last_failure, runs = excluded.runs, failed_runs = excluded.failed_runs`,
		in.ID, in.Check, ms(in.Started), ms(in.Opened), ms(in.Resolved), in.Resolution,
		in.FirstFailure, in.FirstReason, in.LastFailure, in.Runs, in.FailedRuns)
	return err
}

// Incidents implements history.Reader: open ones and resolved ones kept
// by the retention, newest first.
func (s *Store) Incidents(ctx context.Context, q history.IncidentQuery) ([]history.Incident, error) {
	where := `1 = 1`
	var args []any
	if q.Check != "" {
		where += ` AND check_name = ?`
		args = append(args, q.Check)
	}
	if q.Open {
		where += ` AND resolved_ms = 0`
	}
	args = append(args, clampLimit(q.Limit))
	rows, err := s.rdb.QueryContext(ctx, `SELECT id, check_name, started_ms, opened_ms, resolved_ms, resolution, first_failure,
		first_reason, last_failure, runs, failed_runs FROM incidents WHERE `+where+` ORDER BY opened_ms DESC, id LIMIT ?`, args...)
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
