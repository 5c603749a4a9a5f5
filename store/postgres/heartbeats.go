package postgres

import (
	"context"
	"errors"

	"github.com/assay-monitor/assay/checks"
	"github.com/jackc/pgx/v5"
)

// RecordPing keeps p as the latest ping of a heartbeat check unless
// a later one is stored already: any replica takes a ping, and two may
// write theirs out of order. It is not fenced by the check's lease.
func (s *Store) RecordPing(ctx context.Context, check string, p checks.Ping) error {
	_, err := s.exec(ctx, `INSERT INTO heartbeats (check_name, at_ms, failed, message) VALUES ($1, $2, $3, $4)
		ON CONFLICT (check_name) DO UPDATE SET at_ms = excluded.at_ms, failed = excluded.failed, message = excluded.message
		WHERE excluded.at_ms >= heartbeats.at_ms`, check, ms(p.At), p.Failed, p.Message)
	return err
}

// LastPing is the latest ping of a check (zero when none came).
func (s *Store) LastPing(ctx context.Context, check string) (checks.Ping, error) {
	var p checks.Ping
	var at int64
	err := s.pool.QueryRow(ctx, `SELECT at_ms, failed, message FROM heartbeats WHERE check_name = $1`, check).Scan(&at, &p.Failed, &p.Message)
	if errors.Is(err, pgx.ErrNoRows) {
		return checks.Ping{}, nil
	}
	if err != nil {
		return checks.Ping{}, err
	}
	p.At = fromMS(at)
	return p, nil
}

// LastPings is the latest ping of every check that has one.
func (s *Store) LastPings(ctx context.Context) (map[string]checks.Ping, error) {
	rows, err := s.pool.Query(ctx, `SELECT check_name, at_ms, failed, message FROM heartbeats`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]checks.Ping{}
	for rows.Next() {
		var name string
		var p checks.Ping
		var at int64
		if err := rows.Scan(&name, &at, &p.Failed, &p.Message); err != nil {
			return nil, err
		}
		p.At = fromMS(at)
		out[name] = p
	}
	return out, rows.Err()
}
