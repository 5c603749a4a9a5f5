package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/assay-monitor/assay/store/outbox"
	"github.com/jackc/pgx/v5"
)

// Apply stores a Change in one transaction.
func (s *Store) Apply(ctx context.Context, c outbox.Change) error {
	return s.ApplyAll(ctx, []outbox.Change{c})
}

// ApplyAll stores several Changes in one transaction.
func (s *Store) ApplyAll(ctx context.Context, cs []outbox.Change) error {
	fenced := 0
	err := s.tx(ctx, func(tx pgx.Tx) error {
		fenced = 0
		for _, c := range cs {
			if err := applyChange(ctx, tx, c); errors.Is(err, errFenced) {
				fenced++
			} else if errors.Is(err, errStale) {
				continue
			} else if err != nil {
				return fmt.Errorf("check %q: %w", c.Check, err)
			}
		}
		return nil
	})
	if err == nil && fenced > 0 {
		s.fenced.Add(uint64(fenced))
	}
	return err
}

// A change is skipped, events included, when another replica holds a
// newer lease of its check (fenced) or a newer state is stored (stale).
var (
	errFenced = errors.New("another replica owns the check now")
	errStale  = errors.New("a newer alert state is stored")
)

func applyChange(ctx context.Context, tx pgx.Tx, c outbox.Change) error {
	if c.Epoch != 0 {
		// The lease row is locked for the rest of the transaction: a
		// takeover waits for this change or comes after it.
		var epoch int64
		err := tx.QueryRow(ctx, `SELECT epoch FROM leases WHERE check_name = $1 FOR SHARE`, c.Check).Scan(&epoch)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && epoch != c.Epoch) {
			return errFenced
		}
		if err != nil {
			return err
		}
	}
	if c.State == nil {
		if _, err := tx.Exec(ctx, `DELETE FROM alert_state WHERE check_name = $1`, c.Check); err != nil {
			return err
		}
	} else {
		tag, err := tx.Exec(ctx, `INSERT INTO alert_state (check_name, state, updated_ms, version) VALUES ($1, $2, $3, $4)
			ON CONFLICT (check_name) DO UPDATE SET state = excluded.state, updated_ms = excluded.updated_ms, version = excluded.version
			WHERE excluded.version = 0 OR alert_state.version < excluded.version`,
			c.Check, string(c.State), time.Now().UnixMilli(), c.Version)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return errStale
		}
	}
	if in := c.Incident; in != nil {
		_, err := tx.Exec(ctx, `INSERT INTO incidents (id, check_name, started_ms, opened_ms, resolved_ms, resolution,
				first_failure, first_reason, last_failure, runs, failed_runs)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
			ON CONFLICT (id) DO UPDATE SET resolved_ms = excluded.resolved_ms, resolution = excluded.resolution,
				last_failure = excluded.last_failure, runs = excluded.runs, failed_runs = excluded.failed_runs`,
			in.ID, in.Check, ms(in.Started), ms(in.Opened), ms(in.Resolved), in.Resolution,
			in.FirstFailure, in.FirstReason, in.LastFailure, in.Runs, in.FailedRuns)
		if err != nil {
			return fmt.Errorf("incident %s: %w", in.ID, err)
		}
	}
	for _, e := range c.Events {
		if e.Check == "" {
			e.Check = c.Check
		}
		if e.Supersedes != "" {
			if _, err := tx.Exec(ctx, `DELETE FROM outbox WHERE check_name = $1 AND notifier = $2 AND kind = $3`,
				e.Check, e.Notifier, e.Supersedes); err != nil {
				return err
			}
		}
		next := e.Next
		if next.IsZero() {
			next = e.Created
		}
		_, err := tx.Exec(ctx, `INSERT INTO outbox (event_key, check_name, notifier, kind, payload, created_ms, attempts, next_ms, last_error)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			e.Key, e.Check, e.Notifier, e.Kind, string(e.Payload), ms(e.Created), e.Attempts, ms(next), e.LastError)
		if err != nil {
			return fmt.Errorf("outbox event %s for %s: %w", e.Key, e.Notifier, err)
		}
	}
	return nil
}

// AlertState returns one check's stored alert state (nil if none).
func (s *Store) AlertState(ctx context.Context, check string) ([]byte, error) {
	var state string
	err := s.pool.QueryRow(ctx, `SELECT state FROM alert_state WHERE check_name = $1`, check).Scan(&state)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	return []byte(state), err
}

// AlertStates returns every stored alert state by check name.
func (s *Store) AlertStates(ctx context.Context) (map[string][]byte, error) {
	rows, err := s.pool.Query(ctx, `SELECT check_name, state FROM alert_state`)
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

func scanEvents(rows pgx.Rows) ([]outbox.Event, error) {
	defer rows.Close()
	var out []outbox.Event
	for rows.Next() {
		var e outbox.Event
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

// Heads returns the oldest pending event of every queue (check and
// notifier), in Seq order.
func (s *Store) Heads(ctx context.Context) ([]outbox.Event, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+eventColumns+` FROM outbox
		WHERE seq IN (SELECT MIN(seq) FROM outbox GROUP BY check_name, notifier) ORDER BY seq`)
	if err != nil {
		return nil, err
	}
	return scanEvents(rows)
}

// Pending returns every pending event in Seq order.
func (s *Store) Pending(ctx context.Context) ([]outbox.Event, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+eventColumns+` FROM outbox ORDER BY seq`)
	if err != nil {
		return nil, err
	}
	return scanEvents(rows)
}

// Delivered removes a delivered event from the outbox.
func (s *Store) Delivered(ctx context.Context, seq int64) error {
	_, err := s.exec(ctx, `DELETE FROM outbox WHERE seq = $1`, seq)
	return err
}

// Retry records a failed attempt and when to try again.
func (s *Store) Retry(ctx context.Context, seq int64, attempts int, next time.Time, lastErr string) error {
	_, err := s.exec(ctx, `UPDATE outbox SET attempts = $1, next_ms = $2, last_error = $3 WHERE seq = $4`,
		attempts, ms(next), lastErr, seq)
	return err
}

// DeadLetter moves an event out of the outbox into the dead letters.
func (s *Store) DeadLetter(ctx context.Context, seq int64, attempts int, reason, lastErr string, at time.Time) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `INSERT INTO dead_letter (seq, event_key, check_name, notifier, kind, payload, created_ms, attempts, reason, last_error, failed_ms)
			SELECT seq, event_key, check_name, notifier, kind, payload, created_ms, $1, $2, $3, $4 FROM outbox WHERE seq = $5`,
			attempts, reason, lastErr, ms(at), seq)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return nil // superseded while in flight
		}
		_, err = tx.Exec(ctx, `DELETE FROM outbox WHERE seq = $1`, seq)
		return err
	})
}

// DeadLetters returns the most recent dead letters, newest first.
func (s *Store) DeadLetters(ctx context.Context, limit int) ([]outbox.DeadLetter, error) {
	rows, err := s.pool.Query(ctx, `SELECT seq, event_key, check_name, notifier, kind, payload, created_ms, attempts, last_error, reason, failed_ms
		FROM dead_letter ORDER BY failed_ms DESC, seq DESC LIMIT $1`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []outbox.DeadLetter
	for rows.Next() {
		var d outbox.DeadLetter
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
	rows, err := s.pool.Query(ctx, `SELECT notifier, COUNT(*) FROM outbox GROUP BY notifier`)
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
