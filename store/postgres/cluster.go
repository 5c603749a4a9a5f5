package postgres

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/assay-monitor/assay/cluster"
	"github.com/jackc/pgx/v5"
)

var _ cluster.Store = (*Store)(nil)

// forgetMembers is how many TTLs a silent member's row stays (for the
// cluster API to show it gone) before it is deleted.
const forgetMembers = 10

func seconds(d time.Duration) float64 { return d.Seconds() }

// Heartbeat implements cluster.Store.
func (s *Store) Heartbeat(ctx context.Context, self cluster.Member, prints map[string]string, ttl time.Duration) ([]cluster.Member, error) {
	var members []cluster.Member
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO members (id, fingerprint, started, heartbeat, owned) VALUES ($1, $2, $3, now(), $4)
			ON CONFLICT (id) DO UPDATE SET fingerprint = excluded.fingerprint, heartbeat = now(), owned = excluded.owned`,
			self.ID, self.Fingerprint, self.Started, self.Owned); err != nil {
			return err
		}
		if prints != nil {
			if _, err := tx.Exec(ctx, `DELETE FROM member_checks WHERE member_id = $1`, self.ID); err != nil {
				return err
			}
			names := slices.Sorted(maps.Keys(prints))
			fps := make([]string, len(names))
			for i, n := range names {
				fps[i] = prints[n]
			}
			if _, err := tx.Exec(ctx, `INSERT INTO member_checks (member_id, check_name, fingerprint)
				SELECT $1, n, f FROM unnest($2::text[], $3::text[]) AS t(n, f)`, self.ID, names, fps); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `WITH gone AS (DELETE FROM members WHERE heartbeat < now() - make_interval(secs => $1) RETURNING id)
			DELETE FROM member_checks WHERE member_id IN (SELECT id FROM gone)`, seconds(ttl)*forgetMembers); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT id, fingerprint, started, heartbeat, owned FROM members
			WHERE heartbeat >= now() - make_interval(secs => $1) ORDER BY id`, seconds(ttl))
		if err != nil {
			return err
		}
		members, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (cluster.Member, error) {
			var m cluster.Member
			err := r.Scan(&m.ID, &m.Fingerprint, &m.Started, &m.Heartbeat, &m.Owned)
			return m, err
		})
		return err
	})
	return members, err
}

// CheckPrints implements cluster.Store.
func (s *Store) CheckPrints(ctx context.Context, member string) (map[string]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT check_name, fingerprint FROM member_checks WHERE member_id = $1`, member)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var n, f string
		if err := rows.Scan(&n, &f); err != nil {
			return nil, err
		}
		out[n] = f
	}
	return out, rows.Err()
}

// Leases implements cluster.Store: releases, renewals and claims in one
// transaction of three statements.
func (s *Store) Leases(ctx context.Context, member string, want, release []string, ttl time.Duration) ([]cluster.Grant, error) {
	var grants []cluster.Grant
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if len(release) > 0 {
			if _, err := tx.Exec(ctx, `UPDATE leases SET expires = now() WHERE owner = $1 AND check_name = ANY($2)`, member, release); err != nil {
				return err
			}
		}
		if len(want) > 0 {
			// Renew what is ours (same epoch); take what expired (the
			// epoch grows); leave what another owns while it is valid.
			if _, err := tx.Exec(ctx, `INSERT INTO leases (check_name, owner, epoch, expires)
				SELECT c, $1, 1, now() + make_interval(secs => $3) FROM unnest($2::text[]) AS c
				ON CONFLICT (check_name) DO UPDATE SET owner = excluded.owner,
					epoch = CASE WHEN leases.owner = excluded.owner THEN leases.epoch ELSE leases.epoch + 1 END,
					expires = excluded.expires
				WHERE leases.owner = excluded.owner OR leases.expires <= now()`, member, want, seconds(ttl)); err != nil {
				return err
			}
		}
		rows, err := tx.Query(ctx, `SELECT check_name, epoch FROM leases WHERE owner = $1 AND expires > now() AND check_name = ANY($2)`, member, want)
		if err != nil {
			return err
		}
		grants, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (cluster.Grant, error) {
			var g cluster.Grant
			err := r.Scan(&g.Check, &g.Epoch)
			return g, err
		})
		return err
	})
	return grants, err
}

// Leave implements cluster.Store.
func (s *Store) Leave(ctx context.Context, member string) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE leases SET expires = now() WHERE owner = $1`, member); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM member_checks WHERE member_id = $1`, member); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM members WHERE id = $1`, member)
		return err
	})
}
