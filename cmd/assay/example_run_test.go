package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/assay-monitor/assay/internal/demoapi"
)

// logWatcher is a concurrency-safe writer that hands over the first JSON
// log line with the message it waits for.
type logWatcher struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	msg  string
	line chan map[string]any
}

func (w *logWatcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for _, l := range bytes.Split(p, []byte("\n")) {
		var m map[string]any
		if json.Unmarshal(l, &m) == nil && m["msg"] == w.msg {
			select {
			case w.line <- m:
			default:
			}
		}
	}
	return len(p), nil
}

func (w *logWatcher) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// TestRunAcceptsTheExampleConfig: assay run --config examples/assay.yaml
// starts, loads the example checks it points at, becomes ready, and stops
// with exit 0 when its context ends (as on SIGTERM).
func TestRunAcceptsTheExampleConfig(t *testing.T) {
	for _, v := range exampleEnv {
		t.Setenv(v, "")
		os.Unsetenv(v)
	}
	api := httptest.NewServer(demoapi.New(demoapi.Options{}))
	defer api.Close()
	t.Setenv("DEMO_API_URL", api.URL)
	t.Setenv("ASSAY_STORAGE_PATH", filepath.Join(t.TempDir(), "assay.db"))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &logWatcher{msg: "assay running", line: make(chan map[string]any, 1)}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"run", "--config", "../../examples/assay.yaml", "--listen", "127.0.0.1:0"}, io.Discard, logs)
	}()
	var started map[string]any
	select {
	case started = <-logs.line:
	case code := <-done:
		t.Fatalf("assay run exited %d:\n%s", code, logs)
	case <-time.After(30 * time.Second):
		t.Fatalf("assay run did not start within 30s:\n%s", logs)
	}
	if started["checks"] != float64(8) || started["dir"] != filepath.Join("..", "..", "checks.d") {
		t.Errorf("started with %v checks from %v, want 8 from ../../checks.d", started["checks"], started["dir"])
	}
	// "assay running" is logged as the daemon starts its scheduler:
	// readiness follows within moments, not necessarily before the line.
	ready := ""
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get("http://" + started["listen"].(string) + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		ready = resp.Status
		if resp.StatusCode == http.StatusOK || time.Now().After(deadline) {
			break
		}
	}
	if ready != "200 OK" {
		t.Errorf("/readyz within 10s of the start: %s", ready)
	}
	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Errorf("exit %d after the stop:\n%s", code, logs)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("assay run did not stop within 60s")
	}
}
