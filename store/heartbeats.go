package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/assay-monitor/assay/checks"
)

// RecordPing keeps p as the latest ping of a heartbeat check unless
// a later one is stored already (pings that reach two replicas at once
// may be written out of order). It survives a restart.
func (s *Store) RecordPing(ctx context.Context, check string, p checks.Ping) error {
	_, err := s.exec(ctx, `INSERT INTO heartbeats (check_name, at_ms, failed, message) VALUES (?, ?, ?, ?)
		ON CONFLICT (check_name) DO UPDATE SET at_ms = excluded.at_ms, failed = excluded.failed, message = excluded.message
		WHERE excluded.at_ms >= heartbeats.at_ms`, check, ms(p.At), boolInt(p.Failed), p.Message)
	return err
}

// LastPing is the latest ping of a check (zero when none came).
func (s *Store) LastPing(ctx context.Context, check string) (checks.Ping, error) {
	var p checks.Ping
	var at, failed int64
	err := s.rdb.QueryRowContext(ctx, `SELECT at_ms, failed, message FROM heartbeats WHERE check_name = ?`, check).Scan(&at, &failed, &p.Message)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return checks.Ping{}, nil
		}
		return checks.Ping{}, err
	}
	p.At, p.Failed = fromMS(at), failed != 0
	return p, nil
}

// LastPings is the latest ping of every check that has one.
func (s *Store) LastPings(ctx context.Context) (map[string]checks.Ping, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT check_name, at_ms, failed, message FROM heartbeats`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]checks.Ping{}
	for rows.Next() {
		var name string
		var p checks.Ping
		var at, failed int64
		if err := rows.Scan(&name, &at, &failed, &p.Message); err != nil {
			return nil, err
		}
		p.At, p.Failed = fromMS(at), failed != 0
		out[name] = p
	}
	return out, rows.Err()
}

// WatchHeartbeats records since as when assay began to watch each check
// of names, unless an earlier time is stored (another replica, or this
// one before a restart, began earlier), and returns the stored (earliest)
// time of each. A check removed from the configuration keeps its row.
func (s *Store) WatchHeartbeats(ctx context.Context, names []string, since time.Time) (map[string]time.Time, error) {
	out := make(map[string]time.Time, len(names))
	err := s.tx(ctx, func(tx *sql.Tx) error {
		ins, err := tx.PrepareContext(ctx, `INSERT INTO heartbeat_watches (check_name, since_ms) VALUES (?, ?)
			ON CONFLICT (check_name) DO UPDATE SET since_ms = excluded.since_ms WHERE excluded.since_ms < heartbeat_watches.since_ms`)
		if err != nil {
			return err
		}
		defer ins.Close()
		get, err := tx.PrepareContext(ctx, `SELECT since_ms FROM heartbeat_watches WHERE check_name = ?`)
		if err != nil {
			return err
		}
		defer get.Close()
		for _, n := range names {
			if _, err := ins.ExecContext(ctx, n, ms(since)); err != nil {
				return err
			}
			var v int64
			if err := get.QueryRowContext(ctx, n).Scan(&v); err != nil {
				return err
			}
			out[n] = fromMS(v)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
