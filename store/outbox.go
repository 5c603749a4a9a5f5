package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/assay-monitor/assay/store/outbox"
)

// Event is one notification waiting in the outbox for one notifier.
type Event = outbox.Event

// Change is a check's new alert state with the events it produced.
type Change = outbox.Change

// Apply stores a Change in one transaction.
func (s *Store) Apply(ctx context.Context, c Change) error {
	return s.ApplyAll(ctx, []Change{c})
}

// ApplyAll stores several Changes in one transaction.
func (s *Store) ApplyAll(ctx context.Context, cs []Change) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		for _, c := range cs {
			if err := applyChange(ctx, tx, c); errors.Is(err, errStale) {
				continue
			} else if err != nil {
				return fmt.Errorf("check %q: %w", c.Check, err)
			}
		}
		return nil
	})
}

// errStale skips a change older than the stored state.
var errStale = errors.New("a newer alert state is stored")

// AlertState returns one check's stored alert state (nil if none): a
// replica that takes a check over reads what the previous owner left.
func (s *Store) AlertState(ctx context.Context, check string) ([]byte, error) {
	var state string
	err := s.db.QueryRowContext(ctx, `SELECT state FROM alert_state WHERE check_name = ?`, check).Scan(&state)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return []byte(state), err
}

func applyChange(ctx context.Context, tx *sql.Tx, c Change) error {
	if c.State == nil {
		if _, err := tx.ExecContext(ctx, `DELETE FROM alert_state WHERE check_name = ?`, c.Check); err != nil {
			return err
		}
	} else {
		res, err := tx.ExecContext(ctx, `INSERT INTO alert_state (check_name, state, updated_ms, version) VALUES (?, ?, ?, ?)
			ON CONFLICT (check_name) DO UPDATE SET state = excluded.state, updated_ms = excluded.updated_ms, version = excluded.version
			WHERE excluded.version = 0 OR alert_state.version < excluded.version`,
			c.Check, string(c.State), time.Now().UnixMilli(), c.Version)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errStale // a newer state is stored: this one and its events go
		}
	}
	if c.Incident != nil {
		if err := applyIncident(ctx, tx, c.Incident); err != nil {
			return fmt.Errorf("incident %s: %w", c.Incident.ID, err)
		}
	}
	for _, e := range c.Events {
		if e.Check == "" {
			e.Check = c.Check
		}
		if e.Supersedes != "" {
			_, err := tx.ExecContext(ctx, `DELETE FROM outbox WHERE check_name = ? AND notifier = ? AND kind = ?`,
				e.Check, e.Notifier, e.Supersedes)
			if err != nil {
				return err
			}
		}
		next := e.Next
		if next.IsZero() {
			next = e.Created
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO outbox (event_key, check_name, notifier, kind, payload, created_ms, attempts, next_ms, last_error)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			e.Key, e.Check, e.Notifier, e.Kind, string(e.Payload), ms(e.Created), e.Attempts, ms(next), e.LastError)
		if err != nil {
			return fmt.Errorf("outbox event %s for %s: %w", e.Key, e.Notifier, err)
		}
		if e.DeadReason != "" {
			// Through the outbox, so that the dead letter has a sequence
			// number like every other.
			seq, err := res.LastInsertId()
			if err == nil {
				err = moveToDeadLetter(ctx, tx, seq, e.Attempts, e.DeadReason, e.LastError, e.Failed)
			}
			if err != nil {
				return fmt.Errorf("dead letter %s for %s: %w", e.Key, e.Notifier, err)
			}
		}
	}
	return nil
}

// AlertStates returns every stored alert state by check name.
func (s *Store) AlertStates(ctx context.Context) (map[string][]byte, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT check_name, state FROM alert_state`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][]byte{}
	for rows.Next() {
		var name, state string
		if err := rows.Scan(&name, &state); err != nil {
			return nil, err
		}
		out[name] = []byte(state)
	}
	return out, rows.Err()
}

const eventColumns = `seq, event_key, check_name, notifier, kind, payload, created_ms, attempts, next_ms, last_error`

func scanEvents(rows *sql.Rows) ([]Event, error) {
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var e Event
		var payload string
		var created, next int64
		if err := rows.Scan(&e.Seq, &e.Key, &e.Check, &e.Notifier, &e.Kind, &payload, &created, &e.Attempts, &next, &e.LastError); err != nil {
			return nil, err
		}
		e.Payload, e.Created, e.Next = []byte(payload), fromMS(created), fromMS(next)
		out = append(out, e)
	}
	return out, rows.Err()
}

// Heads returns the oldest pending event of every queue (one queue per
// check and notifier), in Seq order. Only a queue's head may be sent, so
// that each receiver sees a check's events in order.
func (s *Store) Heads(ctx context.Context) ([]Event, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+eventColumns+` FROM outbox
		WHERE seq IN (SELECT MIN(seq) FROM outbox GROUP BY check_name, notifier) ORDER BY seq`)
	if err != nil {
		return nil, err
	}
	return scanEvents(rows)
}

// Pending returns every pending event in Seq order (for inspection and tests).
func (s *Store) Pending(ctx context.Context) ([]Event, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+eventColumns+` FROM outbox ORDER BY seq`)
	if err != nil {
		return nil, err
	}
	return scanEvents(rows)
}

// Delivered removes a delivered event from the outbox. An event that is
// gone already (superseded while in flight) is not an error.
func (s *Store) Delivered(ctx context.Context, seq int64) error {
	_, err := s.exec(ctx, `DELETE FROM outbox WHERE seq = ?`, seq)
	return err
}

// Retry records a failed attempt and when to try again.
func (s *Store) Retry(ctx context.Context, seq int64, attempts int, next time.Time, lastErr string) error {
	_, err := s.exec(ctx, `UPDATE outbox SET attempts = ?, next_ms = ?, last_error = ? WHERE seq = ?`,
		attempts, ms(next), lastErr, seq)
	return err
}

// DeadLetter moves an event that cannot be delivered out of the outbox
// into the dead-letter table, with why.
func (s *Store) DeadLetter(ctx context.Context, seq int64, attempts int, reason, lastErr string, at time.Time) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		return moveToDeadLetter(ctx, tx, seq, attempts, reason, lastErr, at)
	})
}

func moveToDeadLetter(ctx context.Context, tx *sql.Tx, seq int64, attempts int, reason, lastErr string, at time.Time) error {
	res, err := tx.ExecContext(ctx, `INSERT INTO dead_letter (seq, event_key, check_name, notifier, kind, payload, created_ms, attempts, reason, last_error, failed_ms)
		SELECT seq, event_key, check_name, notifier, kind, payload, created_ms, ?, ?, ?, ? FROM outbox WHERE seq = ?`,
		attempts, reason, lastErr, ms(at), seq)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil // superseded while in flight
	}
	_, err = tx.ExecContext(ctx, `DELETE FROM outbox WHERE seq = ?`, seq)
	return err
}

// DeadLetter is an event given up on.
type DeadLetter = outbox.DeadLetter

// DeadLetters returns the most recent dead letters, newest first.
func (s *Store) DeadLetters(ctx context.Context, limit int) ([]DeadLetter, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT seq, event_key, check_name, notifier, kind, payload, created_ms, attempts, last_error, reason, failed_ms
		FROM dead_letter ORDER BY failed_ms DESC, seq DESC LIMIT ?`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []DeadLetter
	for rows.Next() {
		var d DeadLetter
		var payload string
		var created, failed int64
		if err := rows.Scan(&d.Seq, &d.Key, &d.Check, &d.Notifier, &d.Kind, &payload, &created, &d.Attempts, &d.LastError, &d.Reason, &failed); err != nil {
			return nil, err
		}
		d.Payload, d.Created, d.Failed = []byte(payload), fromMS(created), fromMS(failed)
		out = append(out, d)
	}
	return out, rows.Err()
}

// OutboxDepth counts pending events by notifier.
func (s *Store) OutboxDepth(ctx context.Context) (map[string]int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT notifier, COUNT(*) FROM outbox GROUP BY notifier`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var n string
		var c int
		if err := rows.Scan(&n, &c); err != nil {
			return nil, err
		}
		out[n] = c
	}
	return out, rows.Err()
}
