// Package postgres is assay's PostgreSQL store: what the SQLite store
// keeps (result history, alert state, outbox, dead letters), in a
// database that several replicas share. Its methods are those of the
// SQLite store (package store), and one set of tests (store/storetest)
// runs against both.
//
// Migrations are embedded SQL files applied at start-up under an
// advisory lock, so that replicas starting together migrate once.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/assay-monitor/assay/history"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrationLock is the advisory lock key of the migrations ("assay" in
// ASCII, to stay clear of other applications' keys).
const migrationLock = 0x6173736179

// Store is an open PostgreSQL store. It is safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
	// claims is the pool of delivery claims (see Claim).
	claims      *pgxpool.Pool
	log         *slog.Logger
	writeErrors atomic.Uint64
	// lastErr is the outcome of the last write (nil: it succeeded).
	lastErr atomic.Pointer[writeOutcome]
	// fenced counts writes refused because a newer lease owner exists.
	fenced atomic.Uint64
	// redacted is the DSN with its password hidden, for messages.
	redacted string
	trips    roundTrips
}

// Option configures Open.
type Option func(*options)

type options struct {
	log      *slog.Logger
	maxConns int32
}

// WithLogger sets where the store reports problems.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithMaxConns bounds the connection pool (default 8).
func WithMaxConns(n int32) Option { return func(o *options) { o.maxConns = n } }

// Open connects (waiting up to ctx's deadline for the server) and brings
// the schema up to date. dsn is a libpq URL or key=value string; its
// password never appears in an error.
func Open(ctx context.Context, dsn string, opts ...Option) (*Store, error) {
	o := options{log: slog.New(slog.DiscardHandler), maxConns: 8}
	for _, f := range opts {
		f(&o)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's parse errors may quote the DSN: say only what is wrong.
		return nil, fmt.Errorf("storage.dsn: not a valid PostgreSQL connection string (a libpq URL such as postgres://user@host:5432/db or key=value pairs)")
	}
	cfg.MaxConns = o.maxConns
	cfg.ConnConfig.RuntimeParams["application_name"] = "assay"
	s := &Store{log: o.log, redacted: Redact(dsn)}
	cfg.ConnConfig.Tracer = &s.trips
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, s.explain(err)
	}
	s.pool = pool
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	if s.claims, err = claimPool(ctx, cfg, claimConns); err != nil {
		pool.Close()
		return nil, s.explain(err)
	}
	return s, nil
}

// Redact hides the password of a DSN (URL or key=value).
func Redact(dsn string) string {
	if strings.Contains(dsn, "://") {
		if at := strings.LastIndex(dsn, "@"); at > 0 {
			scheme := strings.Index(dsn, "://") + 3
			if colon := strings.Index(dsn[scheme:at], ":"); colon >= 0 {
				return dsn[:scheme+colon+1] + "REDACTED" + dsn[at:]
			}
		}
		return dsn
	}
	fields := strings.Fields(dsn)
	for i, f := range fields {
		if k, _, ok := strings.Cut(f, "="); ok && strings.EqualFold(k, "password") {
			fields[i] = k + "=REDACTED"
		}
	}
	return strings.Join(fields, " ")
}

// explain names the server (never the password) in a connection error.
func (s *Store) explain(err error) error {
	msg := err.Error()
	// pgx puts the host and user in its errors, not the password; the
	// DSN itself is not repeated.
	return fmt.Errorf("postgres %s: %s", s.redacted, msg)
}

// claimConns bounds the deliveries in flight per replica (alerting's
// default delivery concurrency is 8).
const claimConns = 10

// Close closes the pools.
func (s *Store) Close() error {
	s.claims.Close()
	s.pool.Close()
	return nil
}

// Path names the database for logs (the DSN without its password).
func (s *Store) Path() string { return s.redacted }

// FencedWrites is the number of writes refused so far because the
// writer's lease epoch was no longer the check's.
func (s *Store) FencedWrites() float64 { return float64(s.fenced.Load()) }

// WriteErrors is the number of writes that failed so far.
func (s *Store) WriteErrors() float64 { return float64(s.writeErrors.Load()) }

type writeOutcome struct{ err error }

// writeFailed records a write's outcome: a failure (not a cancellation,
// not "nothing to change") counts, and the last outcome is kept for
// readiness.
func (s *Store) writeFailed(ctx context.Context, err error) {
	if err != nil && ctx.Err() != nil {
		return
	}
	if errors.Is(err, history.ErrNotFound) {
		err = nil
	}
	if err != nil {
		s.writeErrors.Add(1)
	}
	s.lastErr.Store(&writeOutcome{err})
}

// WriteError is the error of the last write, nil when it succeeded (or
// none was made yet).
func (s *Store) WriteError() error {
	if o := s.lastErr.Load(); o != nil {
		return o.err
	}
	return nil
}

// Probe makes a small write to learn whether the store can write again.
func (s *Store) Probe(ctx context.Context) error {
	_, err := s.exec(ctx, `UPDATE counters SET value = value WHERE name = 'next_result_id'`)
	return err
}

// tx runs f in a transaction, counting a failure as a write error.
func (s *Store) tx(ctx context.Context, f func(pgx.Tx) error) error {
	err := pgx.BeginFunc(ctx, s.pool, f)
	s.writeFailed(ctx, err)
	return err
}

// exec runs one write statement, counting a failure.
func (s *Store) exec(ctx context.Context, q string, args ...any) (pgconn.CommandTag, error) {
	tag, err := s.pool.Exec(ctx, q, args...)
	s.writeFailed(ctx, err)
	return tag, err
}

type migration struct {
	version int
	name    string
	sql     string
}

func loadMigrations(fsys fs.FS) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, "migrations")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range entries {
		v, err := strconv.Atoi(strings.SplitN(e.Name(), "_", 2)[0])
		if err != nil {
			return nil, fmt.Errorf("migration %s: the name must start with its version number", e.Name())
		}
		b, err := fs.ReadFile(fsys, "migrations/"+e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i := 1; i < len(out); i++ {
		// Two branches that each added "their" next migration: one
		// would never run where the other already had.
		if out[i].version == out[i-1].version {
			return nil, fmt.Errorf("migrations %s and %s have the same version", out[i-1].name, out[i].name)
		}
	}
	return out, nil
}

// migrate applies the embedded migrations not applied yet, each in its
// own transaction, holding an advisory lock so that one replica migrates
// while the others wait.
func (s *Store) migrate(ctx context.Context) error {
	ms, err := loadMigrations(migrations)
	if err != nil {
		return err
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return s.explain(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(migrationLock)); err != nil {
		return s.explain(err)
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_, _ = conn.Exec(uctx, `SELECT pg_advisory_unlock($1)`, int64(migrationLock))
	}()
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS assay_schema_migrations (
		version    INTEGER PRIMARY KEY,
		name       TEXT NOT NULL,
		applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("postgres: creating the migrations table: %w", err)
	}
	applied := map[int]bool{}
	rows, err := conn.Query(ctx, `SELECT version FROM assay_schema_migrations`)
	if err != nil {
		return err
	}
	newest := 0
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return err
		}
		applied[v] = true
		newest = max(newest, v)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if known := ms[len(ms)-1].version; newest > known {
		return fmt.Errorf("postgres: the schema is at version %d, newer than this assay knows (%d): run a newer assay", newest, known)
	}
	for _, m := range ms {
		if applied[m.version] {
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO assay_schema_migrations (version, name) VALUES ($1, $2)`, m.version, m.name)
			return err
		})
		if err != nil {
			return fmt.Errorf("postgres: migration %s: %w", m.name, err)
		}
		s.log.Info("postgres: schema migrated", "version", m.version, "migration", m.name)
	}
	return nil
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}
