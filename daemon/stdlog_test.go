package daemon_test

import (
	"bufio"
	"context"
	"fmt"
	"log"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/daemon"
)

// recordHandler keeps every record it is given.
type recordHandler struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, r)
	return nil
}
func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordHandler) WithGroup(string) slog.Handler      { return h }

func (h *recordHandler) find(substr string) (slog.Record, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range h.recs {
		if strings.Contains(r.Message, substr) {
			return r, true
		}
	}
	return slog.Record{}, false
}

// TestATargetCannotWriteToStderrThroughTheStandardLog: a server that
// sends more than its Content-Length makes net/http log through the
// standard log package (on stderr, as plain text, on every run). Once
// routed, that line is a debug record of the daemon's logger.
func TestATargetCannotWriteToStderrThroughTheStandardLog(t *testing.T) {
	prev, prevLevel := slog.Default(), slog.SetLogLoggerLevel(slog.LevelInfo)
	t.Cleanup(func() {
		slog.SetDefault(prev)
		slog.SetLogLoggerLevel(prevLevel)
		log.SetOutput(os.Stderr)
		log.SetFlags(log.LstdFlags)
	})
	rec := &recordHandler{}
	daemon.RouteStandardLog(slog.New(rec))

	// Content-Length 2, and more after it on a connection kept open: the
	// rest arrives while the client holds the connection idle.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	served := make(chan struct{})
	go func() {
		defer close(served)
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		for {
			line, err := r.ReadString('\n')
			if err != nil || line == "\r\n" {
				break
			}
		}
		fmt.Fprint(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"+`{"more":"than announced"}`)
		_, _ = r.ReadByte() // until the client closes
	}()
	cs, err := checks.Parse("lie.yaml", []byte(fmt.Sprintf(`checks:
  - name: lie
    timeout: 5s
    steps:
      - name: get
        request: { method: GET, url: "http://%s/" }
        expect: { status: 200 }
`, l.Addr())))
	if err != nil {
		t.Fatal(err)
	}
	runner := checks.NewRunner(checks.RunnerOptions{})
	if res := runner.Run(context.Background(), cs[0]); !res.Passed {
		t.Fatalf("run: %s %s", res.Reason, res.Message)
	}
	deadline := time.Now().Add(10 * time.Second)
	var r slog.Record
	var ok bool
	for !ok && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
		r, ok = rec.find("Unsolicited response received on idle HTTP channel")
	}
	runner.Close()
	<-served
	if !ok {
		t.Fatal("net/http's line about the unsolicited response never reached the daemon's logger")
	}
	if r.Level != slog.LevelDebug {
		t.Errorf("the line is logged at %s, want DEBUG", r.Level)
	}
}
