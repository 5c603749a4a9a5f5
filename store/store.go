// Package store is assay's embedded database: check result history, the
// alert state of every check and the notification outbox. It uses SQLite
// through a pure-Go driver (modernc.org/sqlite) in WAL mode, so the binary
// still builds with CGO_ENABLED=0.
//
// The package knows nothing of alerting rules or notifiers: alert state and
// event payloads are opaque bytes that the alerting package encodes. The
// SQL sticks to what PostgreSQL also accepts (plain types, times as integer
// Unix milliseconds) apart from the connection pragmas and the schema's
// AUTOINCREMENT, so that a PostgreSQL store can follow for many replicas.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Store is an open database. It is safe for concurrent use.
type Store struct {
	db      *sql.DB
	path    string
	logger  *slog.Logger
	history int
}

// Option configures Open.
type Option func(*Store)

// WithLogger sets where Record reports write errors (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(s *Store) { s.logger = l } }

// WithHistory sets how many results per check Record keeps (default
// DefaultHistory; older ones are deleted as new ones arrive).
func WithHistory(n int) Option { return func(s *Store) { s.history = n } }

// DefaultHistory is how many results per check are kept.
const DefaultHistory = 1000

// schema is applied in order; PRAGMA user_version counts the steps done.
var schema = []string{
	`CREATE TABLE alert_state (
		check_name TEXT PRIMARY KEY,
		state      TEXT NOT NULL,
		updated_ms INTEGER NOT NULL
	);
	CREATE TABLE outbox (
		seq          INTEGER PRIMARY KEY AUTOINCREMENT,
		event_key    TEXT NOT NULL,
		check_name   TEXT NOT NULL,
		notifier     TEXT NOT NULL,
		kind         TEXT NOT NULL,
		payload      TEXT NOT NULL,
		created_ms   INTEGER NOT NULL,
		attempts     INTEGER NOT NULL DEFAULT 0,
		next_ms      INTEGER NOT NULL,
		last_error   TEXT NOT NULL DEFAULT '',
		UNIQUE (event_key, notifier)
	);
	CREATE INDEX outbox_queue ON outbox (check_name, notifier, seq);
	CREATE TABLE dead_letter (
		seq          INTEGER PRIMARY KEY,
		event_key    TEXT NOT NULL,
		check_name   TEXT NOT NULL,
		notifier     TEXT NOT NULL,
		kind         TEXT NOT NULL,
		payload      TEXT NOT NULL,
		created_ms   INTEGER NOT NULL,
		attempts     INTEGER NOT NULL,
		reason       TEXT NOT NULL,
		last_error   TEXT NOT NULL,
		failed_ms    INTEGER NOT NULL
	);
	CREATE TABLE results (
		id           INTEGER PRIMARY KEY AUTOINCREMENT,
		check_name   TEXT NOT NULL,
		started_ms   INTEGER NOT NULL,
		duration_ms  INTEGER NOT NULL,
		passed       INTEGER NOT NULL,
		reason       TEXT NOT NULL,
		message      TEXT NOT NULL,
		result       TEXT NOT NULL
	);
	CREATE INDEX results_check ON results (check_name, id);`,
}

// Open opens (creating if needed) the database at path and brings its
// schema up to date. The directory of path must exist or be creatable.
func Open(path string, opts ...Option) (*Store, error) {
	s := &Store{path: path, logger: slog.Default(), history: DefaultHistory}
	for _, o := range opts {
		o(s)
	}
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("store %s: the path must not contain '?' or '#'", path)
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("store %s: %w", path, err)
		}
	}
	// WAL lets readers run beside the writer; synchronous=FULL makes a
	// committed transaction (an alert state change and its outbox events)
	// survive a power loss, not only a crash of the process.
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "synchronous(FULL)", "busy_timeout(10000)", "foreign_keys(ON)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", path, err)
	}
	// One connection: SQLite has one writer anyway, and a single
	// connection can never meet SQLITE_BUSY from itself.
	db.SetMaxOpenConns(1)
	s.db = db
	if err := s.migrate(context.Background()); err != nil {
		db.Close()
		return nil, fmt.Errorf("store %s: %w", path, err)
	}
	return s, nil
}

func (s *Store) migrate(ctx context.Context) error {
	var mode string
	if err := s.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return err
	}
	if mode != "wal" {
		return fmt.Errorf("journal mode is %q, want wal", mode)
	}
	var version int
	if err := s.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return err
	}
	if version > len(schema) {
		return fmt.Errorf("schema version %d is newer than this assay knows (%d)", version, len(schema))
	}
	for i := version; i < len(schema); i++ {
		err := s.tx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, schema[i]); err != nil {
				return fmt.Errorf("schema step %d: %w", i+1, err)
			}
			_, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", i+1))
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// Path is the database file.
func (s *Store) Path() string { return s.path }

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

func (s *Store) tx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
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

// ErrNotFound is returned when a row that should exist does not.
var ErrNotFound = errors.New("not found")
