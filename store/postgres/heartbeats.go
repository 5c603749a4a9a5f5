package postgres

import (
	"context"
	"errors"
	"slices"
	"time"

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

// WatchHeartbeats records since as when assay began to watch each check
// of names, unless an earlier time is stored (another replica, or this
// one before a restart, began earlier), and returns the stored (earliest)
// time of each. A check removed from the configuration keeps its row.
func (s *Store) WatchHeartbeats(ctx context.Context, names []string, since time.Time) (map[string]time.Time, error) {
	out := make(map[string]time.Time, len(names))
	if len(names) == 0 {
		return out, nil
	}
	// A name twice would make the upsert touch a row twice, an error.
	names = slices.Compact(slices.Sorted(slices.Values(names)))
	// One statement: the rows only ever move earlier, so what it returns
	// is the earliest of all replicas' writes so far.
	_, err := s.exec(ctx, `INSERT INTO heartbeat_watches (check_name, since_ms) SELECT n, $2 FROM unnest($1::text[]) AS n
		ON CONFLICT (check_name) DO UPDATE SET since_ms = excluded.since_ms WHERE excluded.since_ms < heartbeat_watches.since_ms`, names, ms(since))
	if err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT check_name, since_ms FROM heartbeat_watches WHERE check_name = ANY($1::text[])`, names)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var n string
		var v int64
		if err := rows.Scan(&n, &v); err != nil {
			return nil, err
		}
		out[n] = fromMS(v)
	}
	return out, rows.Err()
}
