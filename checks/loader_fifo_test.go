//go:build unix

package checks_test

import (
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/assay-monitor/assay/checks"
)

// loadWithin loads paths, failing the test if that takes longer than a
// few seconds (reading a FIFO with no writer would block for ever).
func loadWithin(t *testing.T, paths ...string) error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := checks.LoadOptions{LookupEnv: lookup(testEnv)}.Load(paths...)
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatalf("Load(%v) blocked", paths)
		return nil
	}
}

// TestFIFOsAreNotRead: a FIFO named like a check file, whether walked in
// a directory or named, and FIFOs named by a check as a CA file, a JSON
// Schema or an OpenAPI spec, are errors at once, not a load that hangs
// (and a reload that wedges the daemon).
func TestFIFOsAreNotRead(t *testing.T) {
	writeTree(t, map[string]string{
		"d/ok.yaml": oneCheck(""),
		"c.yaml": `checks:
  - name: c1
    openapi: { spec: fifo.openapi.yaml }
    steps:
      - request: { url: "https://127.0.0.1:1/", tls: { ca_file: fifo.pem } }
        expect: { json_schema: fifo.json }
`,
	})
	for _, p := range []string{"d/x.yaml", "d/y.yml", "fifo.pem", "fifo.json", "fifo.openapi.yaml"} {
		if err := syscall.Mkfifo(p, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	err := loadWithin(t, "d")
	want := "d/x.yaml: cannot read: not a regular file (a named pipe)\nd/y.yml: cannot read: not a regular file (a named pipe)"
	if err == nil || err.Error() != want {
		t.Errorf("directory: %v\nwant %s", err, want)
	}
	if err := loadWithin(t, "d/x.yaml"); err == nil || err.Error() != "d/x.yaml: cannot read: not a regular file (a named pipe)" {
		t.Errorf("named: %v", err)
	}
	err = loadWithin(t, "c.yaml")
	if err == nil {
		t.Fatal("loaded")
	}
	lines := strings.Split(err.Error(), "\n")
	for _, w := range []string{
		"checks[0].openapi.spec: fifo.openapi.yaml: cannot read the spec: not a regular file (a named pipe)",
		"checks[0].steps[0].request.tls.ca_file: cannot read fifo.pem: not a regular file (a named pipe)",
		"fifo.json: cannot read: not a regular file (a named pipe)",
	} {
		if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasSuffix(l, w) }) {
			t.Errorf("no error ending %q in:\n%s", w, err)
		}
	}
}
