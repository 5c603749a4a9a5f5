package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/assay-monitor/assay/store/outbox"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

var _ outbox.Claimer = (*Store)(nil)

// Claim implements outbox.Claimer: the event's row is locked (FOR UPDATE
// SKIP LOCKED) in a transaction on the delivery pool until the outcome
// commits, so that of several replicas exactly one sends it; if that one
// dies mid-send, the lock goes with its connection and another sends it
// again, under the same idempotency key.
func (s *Store) Claim(ctx context.Context, seq int64) (outbox.Claim, bool, error) {
	tx, err := s.claims.Begin(ctx)
	if err != nil {
		return nil, false, err
	}
	var got int64
	err = tx.QueryRow(ctx, `SELECT seq FROM outbox WHERE seq = $1 FOR UPDATE SKIP LOCKED`, seq).Scan(&got)
	if errors.Is(err, pgx.ErrNoRows) {
		_ = tx.Rollback(ctx)
		return nil, false, nil
	}
	if err != nil {
		_ = tx.Rollback(ctx)
		return nil, false, err
	}
	return &claim{s: s, tx: tx, seq: seq}, true, nil
}

type claim struct {
	s    *Store
	tx   pgx.Tx
	seq  int64
	done bool
}

func (c *claim) finish(ctx context.Context, f func(pgx.Tx) error) error {
	if c.done {
		return errors.New("the claim ended already")
	}
	c.done = true
	if err := f(c.tx); err != nil {
		_ = c.tx.Rollback(ctx)
		c.s.writeFailed(ctx, err)
		return err
	}
	err := c.tx.Commit(ctx)
	c.s.writeFailed(ctx, err)
	return err
}

func (c *claim) Delivered(ctx context.Context) error {
	return c.finish(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `DELETE FROM outbox WHERE seq = $1`, c.seq)
		return err
	})
}

func (c *claim) Retry(ctx context.Context, attempts int, next time.Time, lastErr string) error {
	return c.finish(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE outbox SET attempts = $1, next_ms = $2, last_error = $3 WHERE seq = $4`, attempts, ms(next), lastErr, c.seq)
		return err
	})
}

func (c *claim) DeadLetter(ctx context.Context, attempts int, reason, lastErr string, at time.Time) error {
	return c.finish(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO dead_letter (seq, event_key, check_name, notifier, kind, payload, created_ms, attempts, reason, last_error, failed_ms)
			SELECT seq, event_key, check_name, notifier, kind, payload, created_ms, $1, $2, $3, $4 FROM outbox WHERE seq = $5`,
			attempts, reason, lastErr, ms(at), c.seq); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM outbox WHERE seq = $1`, c.seq)
		return err
	})
}

func (c *claim) Release() {
	if c.done {
		return
	}
	c.done = true
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = c.tx.Rollback(ctx)
}

// claimPool is the delivery pool: claims hold a connection while the
// notification is sent, which must not starve the history and alerting.
func claimPool(ctx context.Context, cfg *pgxpool.Config, conns int32) (*pgxpool.Pool, error) {
	c := cfg.Copy()
	c.MaxConns = conns
	return pgxpool.NewWithConfig(ctx, c)
}
