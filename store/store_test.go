package store

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/assay-monitor/assay/alerting"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func open(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestWALAndSchemaVersion(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "sub", "assay.db"))
	defer s.Close()
	var mode string
	var version int
	if err := s.db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v", mode, err)
	}
	if err := s.db.QueryRow("PRAGMA user_version").Scan(&version); err != nil || version != len(schema) {
		t.Fatalf("user_version = %d, %v", version, err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// The SQLite store is what the alerting manager persists to.
var _ alerting.Store = (*Store)(nil)
