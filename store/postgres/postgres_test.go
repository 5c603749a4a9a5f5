package postgres_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/assay-monitor/assay/internal/pgtest"
	"github.com/assay-monitor/assay/store/postgres"
	"github.com/assay-monitor/assay/store/storetest"
)

var pg *pgtest.Server

func TestMain(m *testing.M) {
	s, stop, err := pgtest.Main()
	if err != nil {
		fmt.Fprintln(os.Stderr, "postgres tests:", err)
		os.Exit(1)
	}
	pg = s
	code := m.Run()
	stop()
	os.Exit(code)
}

func openStore(t *testing.T, dsn string) *postgres.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The PostgreSQL store passes the tests every driver passes, against a
// real server.
func TestPostgresConformance(t *testing.T) {
	srv := pgtest.Need(t, pg)
	storetest.Run(t, func(t *testing.T) func() storetest.Store {
		dsn := srv.NewDatabase(t)
		return func() storetest.Store { return openStore(t, dsn) }
	})
}

// Replicas starting together migrate once: the advisory lock makes the
// others wait, and a second Open finds the schema current.
func TestMigrationsRunOnceUnderTheLock(t *testing.T) {
	srv := pgtest.Need(t, pg)
	dsn := srv.NewDatabase(t)
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			s, err := postgres.Open(ctx, dsn)
			if err == nil {
				s.Close()
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// The password of a DSN appears in no error and no name of the store.
func TestPasswordNeverShown(t *testing.T) {
	for _, dsn := range []string{
		"postgres://assay:hunter2-pw@127.0.0.1:1/assay?sslmode=disable",
		"host=127.0.0.1 port=1 user=assay password=hunter2-pw dbname=assay sslmode=disable",
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		_, err := postgres.Open(ctx, dsn)
		cancel()
		if err == nil {
			t.Fatalf("connected to port 1?")
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("the error shows the password: %v", err)
		}
		if r := postgres.Redact(dsn); strings.Contains(r, "hunter2") || !strings.Contains(r, "REDACTED") {
			t.Errorf("Redact(%q) = %q", dsn, r)
		}
	}
	if _, err := postgres.Open(context.Background(), "postgres://u:hunter2-pw@[::1"); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("a malformed DSN: %v", err)
	}
}
