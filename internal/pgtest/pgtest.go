// Package pgtest starts a real PostgreSQL for tests: Debian's server
// binaries, initdb into a temporary directory (as the postgres user when
// the tests run as root, since initdb refuses root), listening on
// loopback only, stopped when the tests end.
//
// Without the binaries a test is skipped on a workstation and fails when
// the environment variable CI is "true", so that CI never passes by
// skipping.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Server is a PostgreSQL server of the tests.
type Server struct {
	bin, dir string
	port     int
	// asPostgres: the binaries run as the postgres user (tests run as root).
	asPostgres bool
	dbs        atomic.Int64
}

// ErrNoPostgres is returned by Start when the server binaries are missing.
var ErrNoPostgres = errors.New("PostgreSQL server binaries not found (apt-get install postgresql)")

// binDir finds Debian's server binaries, the newest version first.
func binDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi > vj
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", ErrNoPostgres
}

// Start initialises and starts a server in a new temporary directory.
// Call Stop when done (TestMain does).
func Start() (*Server, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	root, err := os.MkdirTemp("", "assay-pg-")
	if err != nil {
		return nil, err
	}
	// The postgres user must be able to reach its directory.
	if err := os.Chmod(root, 0o755); err != nil {
		return nil, err
	}
	s := &Server{bin: bin, dir: filepath.Join(root, "data")}
	if u, err := user.Current(); err == nil && u.Uid == "0" {
		s.asPostgres = true
	}
	if err := os.Mkdir(s.dir, 0o700); err != nil {
		return nil, err
	}
	if s.asPostgres {
		if out, err := exec.Command("chown", "postgres:postgres", s.dir).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("chown postgres %s: %v: %s", s.dir, err, out)
		}
	}
	if out, err := s.run("initdb", "-D", s.dir, "-U", "assay", "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions"); err != nil {
		return nil, fmt.Errorf("initdb: %v: %s", err, out)
	}
	if s.port, err = freePort(); err != nil {
		return nil, err
	}
	if err := s.Start(); err != nil {
		return nil, err
	}
	return s, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) run(name string, args ...string) ([]byte, error) {
	path := filepath.Join(s.bin, name)
	var cmd *exec.Cmd
	if s.asPostgres {
		cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
	}
	return cmd.CombinedOutput()
}

// Start starts the (stopped) server and waits until it accepts
// connections. Tests that restart PostgreSQL call Stop then Start.
func (s *Server) Start() error {
	// Durability off: a test server may lose everything on a crash, and
	// fsync would make every test slow.
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
		s.port, s.dir)
	if out, err := s.run("pg_ctl", "-D", s.dir, "-o", opts, "-l", filepath.Join(s.dir, "server.log"), "-w", "-t", "60", "start"); err != nil {
		return fmt.Errorf("pg_ctl start: %v: %s", err, out)
	}
	return nil
}

// Stop stops the server at once (in-flight transactions abort).
func (s *Server) Stop() error {
	if out, err := s.run("pg_ctl", "-D", s.dir, "-m", "immediate", "-w", "stop"); err != nil {
		return fmt.Errorf("pg_ctl stop: %v: %s", err, out)
	}
	return nil
}

// Close stops the server and removes its files.
func (s *Server) Close() {
	_ = s.Stop()
	_ = os.RemoveAll(filepath.Dir(s.dir))
}

// Port is the server's loopback port.
func (s *Server) Port() int { return s.port }

// DSN is the URL of database name on the server.
func (s *Server) DSN(name string) string {
	return fmt.Sprintf("postgres://assay@127.0.0.1:%d/%s?sslmode=disable", s.port, name)
}

// NewDatabase creates an empty database for one test and drops it when
// the test ends; it returns its DSN.
func (s *Server) NewDatabase(tb testing.TB) string {
	tb.Helper()
	name := fmt.Sprintf("t%d_%d", os.Getpid(), s.dbs.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.DSN("postgres"))
	if err != nil {
		tb.Fatalf("connecting to the test PostgreSQL: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("CREATE DATABASE %s: %v", name, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, s.DSN("postgres"))
		if err != nil {
			return // the server is gone: the directory goes with it
		}
		defer conn.Close(ctx)
		_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	return s.DSN(name)
}

// Main starts a server for a test binary: call it from TestMain. Without
// the binaries it returns nil (tests then skip, or fail under CI=true);
// stop is always safe to call.
func Main() (s *Server, stop func(), err error) {
	s, err = Start()
	if errors.Is(err, ErrNoPostgres) {
		if os.Getenv("CI") == "true" {
			return nil, func() {}, err
		}
		return nil, func() {}, nil
	}
	if err != nil {
		return nil, func() {}, err
	}
	return s, s.Close, nil
}

// Need returns s, or skips the test (fails under CI=true) when there is
// no server.
func Need(tb testing.TB, s *Server) *Server {
	tb.Helper()
	if s == nil {
		if os.Getenv("CI") == "true" {
			tb.Fatal(ErrNoPostgres)
		}
		tb.Skip(ErrNoPostgres.Error() + "; skipping")
	}
	return s
}

// Log returns the server's log, for a failing test to show.
func (s *Server) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "server.log"))
	lines := strings.Split(string(b), "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return strings.Join(lines, "\n")
}
