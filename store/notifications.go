package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/assay-monitor/assay/history"
)

var _ history.NotificationAdmin = (*Store)(nil)

// Notifications implements history.Reader: pending events of the outbox
// and dead letters, newest first.
func (s *Store) Notifications(ctx context.Context, status string, limit int) ([]history.Notification, error) {
	pending := `SELECT seq, 'pending', event_key, check_name, notifier, kind, created_ms, attempts, next_ms, last_error, '', 0 FROM outbox`
	dead := `SELECT seq, 'dead', event_key, check_name, notifier, kind, created_ms, attempts, 0, last_error, reason, failed_ms FROM dead_letter`
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
	rows, err := s.rdb.QueryContext(ctx, `SELECT * FROM (`+q+`) ORDER BY 1 DESC LIMIT ?`, clampLimit(limit))
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

// RetryNotification implements history.NotificationAdmin. A dead letter
// goes back into the outbox with a new sequence number, so that it is
// sent after whatever its queue holds now, under its own idempotency key.
func (s *Store) RetryNotification(ctx context.Context, id int64) error {
	now := time.Now().UnixMilli()
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE outbox SET next_ms = ? WHERE seq = ?`, now, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			return nil
		}
		res, err = tx.ExecContext(ctx, `INSERT INTO outbox (event_key, check_name, notifier, kind, payload, created_ms, attempts, next_ms, last_error)
			SELECT event_key, check_name, notifier, kind, payload, created_ms, 0, ?, '' FROM dead_letter WHERE seq = ?
			ON CONFLICT (event_key, notifier) DO NOTHING`, now, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			var exists int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM dead_letter WHERE seq = ?`, id).Scan(&exists); err != nil {
				return err
			}
			if exists == 0 {
				return history.ErrNotFound
			}
			return fmt.Errorf("notification %d: the same event is already pending in the outbox", id)
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM dead_letter WHERE seq = ?`, id)
		return err
	})
}

// DropNotification implements history.NotificationAdmin.
func (s *Store) DropNotification(ctx context.Context, id int64) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM dead_letter WHERE seq = ?`, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			return nil
		}
		res, err = tx.ExecContext(ctx, `DELETE FROM outbox WHERE seq = ?`, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return history.ErrNotFound
		}
		return nil
	})
}
