package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/assay-monitor/assay/history"
	"github.com/jackc/pgx/v5"
)

// PutSilence implements history.SilenceStore.
func (s *Store) PutSilence(ctx context.Context, r history.SilenceRecord) error {
	_, err := s.exec(ctx, `INSERT INTO silences (id, starts_ms, ends_ms, updated_ms, doc) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (id) DO UPDATE SET starts_ms = excluded.starts_ms, ends_ms = excluded.ends_ms,
			updated_ms = excluded.updated_ms, doc = excluded.doc`,
		r.ID, ms(r.Starts), ms(r.Ends), ms(r.Updated), string(r.Doc))
	return err
}

// Silence implements history.SilenceStore.
func (s *Store) Silence(ctx context.Context, id string) (history.SilenceRecord, error) {
	r, err := scanSilence(s.pool.QueryRow(ctx, `SELECT id, starts_ms, ends_ms, updated_ms, doc FROM silences WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return r, history.ErrNotFound
	}
	return r, err
}

// Silences implements history.SilenceStore.
func (s *Store) Silences(ctx context.Context, endsAfter time.Time, limit int) ([]history.SilenceRecord, error) {
	return s.querySilences(ctx, `SELECT id, starts_ms, ends_ms, updated_ms, doc FROM silences
		WHERE ends_ms > $1 ORDER BY starts_ms, id LIMIT $2`, ms(endsAfter), limit)
}

// ExpiredSilences implements history.SilenceStore.
func (s *Store) ExpiredSilences(ctx context.Context, since, now time.Time, limit int) ([]history.SilenceRecord, error) {
	return s.querySilences(ctx, `SELECT id, starts_ms, ends_ms, updated_ms, doc FROM silences
		WHERE ends_ms > $1 AND ends_ms <= $2 ORDER BY ends_ms DESC, id LIMIT $3`, ms(since), ms(now), limit)
}

func (s *Store) querySilences(ctx context.Context, query string, args ...any) ([]history.SilenceRecord, error) {
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []history.SilenceRecord
	for rows.Next() {
		r, err := scanSilence(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// PurgeSilences implements history.SilenceStore.
func (s *Store) PurgeSilences(ctx context.Context, endedBefore time.Time) (int, error) {
	tag, err := s.exec(ctx, `DELETE FROM silences WHERE ends_ms < $1`, ms(endedBefore))
	if err != nil {
		return 0, err
	}
	return int(tag.RowsAffected()), nil
}

func scanSilence(row pgx.Row) (history.SilenceRecord, error) {
	var r history.SilenceRecord
	var starts, ends, updated int64
	var doc string
	if err := row.Scan(&r.ID, &starts, &ends, &updated, &doc); err != nil {
		return r, err
	}
	r.Starts, r.Ends, r.Updated, r.Doc = fromMS(starts), fromMS(ends), fromMS(updated), []byte(doc)
	return r, nil
}
