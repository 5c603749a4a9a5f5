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
	"sync"
	"sync/atomic"
	"time"

	"github.com/assay-monitor/assay/history"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Store is an open database. It is safe for concurrent use.
type Store struct {
	// db is the one writer connection; rdb a pool of readers, which WAL
	// lets run beside the writer, so that the API, the page and the
	// baselines of failing runs never wait for a history flush.
	db, rdb *sql.DB
	path    string
	logger  *slog.Logger
	busy    time.Duration
	// writeErrors counts failed writes (a full disk, a locked file);
	// lastWrite is the outcome of the latest write (nil: it succeeded).
	writeErrors atomic.Uint64
	lastWrite   atomic.Pointer[writeOutcome]
	// keys caches check_keys (a name's key never changes); only the
	// writer's committed transactions add to it.
	keysMu sync.Mutex
	keys   map[string]int64
	// book holds the runs committed and not yet rolled up; rollUps
	// counts the roll-ups made from it and from the table.
	book    rollupBook
	rollUps struct{ booked, table atomic.Uint64 }
}

type writeOutcome struct{ err error }

// WriteErrors is the number of writes that failed so far, for
// assay_store_write_errors_total.
func (s *Store) WriteErrors() float64 { return float64(s.writeErrors.Load()) }

// WriteError is the error of the latest write if it failed, nil if it
// succeeded (or nothing was written yet): the daemon reports itself
// degraded while it is not nil.
func (s *Store) WriteError() error {
	if o := s.lastWrite.Load(); o != nil {
		return o.err
	}
	return nil
}

// wrote records the outcome of a write: a failure is counted. A write
// cut short by its own context says nothing about the store.
func (s *Store) wrote(ctx context.Context, err error) {
	if err != nil && ctx.Err() != nil {
		return
	}
	if err != nil {
		s.writeErrors.Add(1)
	}
	s.lastWrite.Store(&writeOutcome{err})
}

// Probe makes a small write (a transaction that rewrites one counter) to
// learn whether the store can write again when nothing else is due to.
func (s *Store) Probe(ctx context.Context) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE counters SET value = value WHERE name = 'next_result_id'`)
		return err
	})
}

// Option configures Open.
type Option func(*Store)

// WithLogger sets where the store reports problems (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(s *Store) { s.logger = l } }

// WithBusyTimeout sets how long a write waits for a lock held by another
// process before it fails (default 10s).
func WithBusyTimeout(d time.Duration) Option { return func(s *Store) { s.busy = d } }

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
	// History (issue 10). The results table of step 1 was never written:
	// it is replaced by one with the columns the API filters on.
	`DROP TABLE results;
	CREATE TABLE results (
		id           INTEGER PRIMARY KEY,
		check_name   TEXT NOT NULL,
		started_ms   INTEGER NOT NULL,
		duration_us  INTEGER NOT NULL,
		passed       INTEGER NOT NULL,
		reason       TEXT NOT NULL,
		message      TEXT NOT NULL,
		failing_step TEXT NOT NULL,
		result       TEXT NOT NULL
	);
	CREATE INDEX results_check ON results (check_name, id);
	CREATE TABLE baselines (
		check_name TEXT NOT NULL,
		step_name  TEXT NOT NULL,
		run_id     INTEGER NOT NULL,
		started_ms INTEGER NOT NULL,
		response   TEXT NOT NULL,
		PRIMARY KEY (check_name, step_name)
	) WITHOUT ROWID;
	CREATE TABLE rollup_minute (
		check_name  TEXT NOT NULL,
		bucket_ms   INTEGER NOT NULL,
		runs        INTEGER NOT NULL,
		failures    INTEGER NOT NULL,
		duration_us INTEGER NOT NULL,
		PRIMARY KEY (check_name, bucket_ms)
	) WITHOUT ROWID;
	CREATE INDEX rollup_minute_bucket ON rollup_minute (bucket_ms);
	CREATE TABLE rollup_hour (
		check_name  TEXT NOT NULL,
		bucket_ms   INTEGER NOT NULL,
		runs        INTEGER NOT NULL,
		failures    INTEGER NOT NULL,
		duration_us INTEGER NOT NULL,
		PRIMARY KEY (check_name, bucket_ms)
	) WITHOUT ROWID;
	CREATE INDEX rollup_hour_bucket ON rollup_hour (bucket_ms);
	CREATE TABLE incidents (
		id            TEXT PRIMARY KEY,
		check_name    TEXT NOT NULL,
		started_ms    INTEGER NOT NULL,
		opened_ms     INTEGER NOT NULL,
		resolved_ms   INTEGER NOT NULL,
		resolution    TEXT NOT NULL,
		first_failure TEXT NOT NULL,
		first_reason  TEXT NOT NULL,
		last_failure  TEXT NOT NULL,
		runs          INTEGER NOT NULL,
		failed_runs   INTEGER NOT NULL
	);
	CREATE INDEX incidents_check ON incidents (check_name, opened_ms);
	CREATE INDEX incidents_opened ON incidents (opened_ms);
	CREATE TABLE counters (
		name  TEXT PRIMARY KEY,
		value INTEGER NOT NULL
	);
	INSERT INTO counters (name, value) VALUES ('next_result_id', 1), ('rolled_up_to', 0);`,
	// Compare-and-set of alert state changes (issue 11).
	`ALTER TABLE alert_state ADD COLUMN version INTEGER NOT NULL DEFAULT 0;`,
	// Maintenance windows and silences (issue 14).
	`ALTER TABLE results ADD COLUMN in_maintenance INTEGER NOT NULL DEFAULT 0;
	CREATE TABLE silences (
		id         TEXT PRIMARY KEY,
		starts_ms  INTEGER NOT NULL,
		ends_ms    INTEGER NOT NULL,
		updated_ms INTEGER NOT NULL,
		doc        TEXT NOT NULL
	);
	CREATE INDEX silences_ends ON silences (ends_ms);`,
	// The latest ping of each heartbeat check (issue 14).
	`CREATE TABLE heartbeats (
		check_name TEXT PRIMARY KEY,
		at_ms      INTEGER NOT NULL,
		failed     INTEGER NOT NULL,
		message    TEXT NOT NULL
	);`,
	// The retention prune reads the oldest runs by start time.
	`CREATE INDEX results_started ON results (started_ms);`,
	// When assay began to watch each heartbeat check (the first deadline
	// of a check never pinged counts from it, across restarts).
	`CREATE TABLE heartbeat_watches (
		check_name TEXT PRIMARY KEY,
		since_ms   INTEGER NOT NULL
	) WITHOUT ROWID;`,
	// The by-check index holds a small integer per check, not its name:
	// every batch of the history touches that index all over, and a
	// shorter entry means fewer pages for each commit to write (bench
	// --only history). Names keep their key forever.
	`CREATE TABLE check_keys (
		key  INTEGER PRIMARY KEY,
		name TEXT NOT NULL UNIQUE
	);
	INSERT INTO check_keys (name) SELECT DISTINCT check_name FROM results ORDER BY 1;
	ALTER TABLE results ADD COLUMN check_key INTEGER NOT NULL DEFAULT 0;
	UPDATE results SET check_key = (SELECT key FROM check_keys WHERE name = results.check_name);
	DROP INDEX results_check;
	CREATE INDEX results_check ON results (check_key, id);
	-- A row written without a key (by an older assay still running on the
	-- file while this one migrated it) gets its key, so that the readers
	-- of its check find it.
	CREATE TRIGGER results_unkeyed AFTER INSERT ON results WHEN NEW.check_key = 0 BEGIN
		INSERT OR IGNORE INTO check_keys (name) VALUES (NEW.check_name);
		UPDATE results SET check_key = (SELECT key FROM check_keys WHERE name = NEW.check_name) WHERE id = NEW.id;
	END;`,
}

// Open opens (creating if needed) the database at path and brings its
// schema up to date. The directory of path must exist or be creatable.
func Open(path string, opts ...Option) (*Store, error) {
	s := &Store{path: path, logger: slog.Default(), busy: 10 * time.Second}
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
	//
	// The writer's other pragmas are for the history's 1,000 runs a second
	// (bench --only history): statement journals in memory, not in a temp
	// file written at every multi-row insert; a 32 MiB page cache, which
	// holds the by-check index that every batch touches all over; and a
	// checkpoint every 4,000 WAL pages (about 16 MB) rather than 1,000,
	// so that a page dirtied by several batches is copied back once.
	busy := fmt.Sprintf("busy_timeout(%d)", s.busy.Milliseconds())
	db, err := sql.Open("sqlite", dsn(path, "immediate", "journal_mode(WAL)", "synchronous(FULL)", busy, "foreign_keys(ON)",
		"temp_store(MEMORY)", "cache_size(-32768)", "wal_autocheckpoint(4000)"))
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
	rdb, err := sql.Open("sqlite", dsn(path, "deferred", busy, "query_only(1)"))
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store %s: %w", path, err)
	}
	rdb.SetMaxOpenConns(4)
	rdb.SetMaxIdleConns(4)
	s.rdb = rdb
	return s, nil
}

func dsn(path, txlock string, pragmas ...string) string {
	q := url.Values{}
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", txlock)
	return "file:" + path + "?" + q.Encode()
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
	if version < len(schema) {
		// A step that rewrites every stored run keeps a statement journal
		// of nearly every page: on disk, not in memory as the writer's
		// batches have it (a large history would need its size in RAM).
		if _, err := s.db.ExecContext(ctx, "PRAGMA temp_store = FILE"); err != nil {
			return err
		}
		defer s.db.ExecContext(ctx, "PRAGMA temp_store = MEMORY")
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
func (s *Store) Close() error {
	rerr := s.rdb.Close()
	if err := s.db.Close(); err != nil {
		return err
	}
	return rerr
}

func (s *Store) tx(ctx context.Context, f func(*sql.Tx) error) error {
	err := s.txOnce(ctx, f)
	if errors.Is(err, history.ErrNotFound) {
		s.wrote(ctx, nil) // nothing to change is not a failed write
	} else {
		s.wrote(ctx, err)
	}
	return err
}

func (s *Store) txOnce(ctx context.Context, f func(*sql.Tx) error) error {
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

// exec runs one write statement outside a transaction, counting failures.
func (s *Store) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	res, err := s.db.ExecContext(ctx, q, args...)
	s.wrote(ctx, err)
	return res, err
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

// Explain turns SQLite's terse open errors into ones that say what to
// fix: "unable to open database file (14)" alone does not say that the
// directory is read-only.
func Explain(err error) error {
	if err == nil || !strings.Contains(err.Error(), "unable to open database file") {
		return err
	}
	return fmt.Errorf("%w (is the directory writable by this user? storage.path must be a file assay can create and write, with its -wal and -shm files beside it)", err)
}
