package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestInterruptedTestReportsWhatRanAndExits130: SIGINT during assay test
// stops the check in flight, prints and writes the report of the checks
// that ran, starts no other, and exits 128 + the signal (130, 143 for
// SIGTERM). assay runs as a child process (this test binary, running
// main) against a loopback server whose /hang never answers.
func TestInterruptedTestReportsWhatRanAndExits130(t *testing.T) {
	for _, tc := range []struct {
		sig  syscall.Signal
		name string
		code int
	}{
		{syscall.SIGINT, "SIGINT", 130},
		{syscall.SIGTERM, "SIGTERM", 143},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hanging := make(chan struct{})
			var once sync.Once
			release := make(chan struct{})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/hang" {
					once.Do(func() { close(hanging) })
					select {
					case <-r.Context().Done():
					case <-release:
					}
					return
				}
				w.WriteHeader(http.StatusOK)
			}))
			defer srv.Close()
			defer close(release)

			dir := writeFiles(t, map[string]string{"checks.yaml": `checks:
  - name: quick
    steps: [ { name: ok, request: { url: "` + srv.URL + `/ok" }, expect: { status: 200 } } ]
  - name: hangs
    timeout: 5m
    steps: [ { name: wait, request: { url: "` + srv.URL + `/hang" } } ]
  - name: never-starts
    steps: [ { name: ok, request: { url: "` + srv.URL + `/ok" } } ]
`})
			jsonFile := filepath.Join(t.TempDir(), "results.json")
			cmd := exec.Command(os.Args[0], "test", dir, "--parallel", "1", "--json", jsonFile, "--color", "never")
			cmd.Env = append(os.Environ(), runMainEnv+"=1")
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			select {
			case <-hanging:
			case err := <-exited:
				t.Fatalf("assay test exited before the hanging check started: %v\n%s%s", err, stdout.String(), stderr.String())
			case <-time.After(30 * time.Second):
				_ = cmd.Process.Kill()
				t.Fatal("the hanging check did not start within 30s")
			}
			if err := cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			select {
			case <-exited:
			case <-time.After(30 * time.Second):
				_ = cmd.Process.Kill()
				t.Fatalf("assay test did not stop within 30s of %s", tc.name)
			}
			if got := cmd.ProcessState.ExitCode(); got != tc.code {
				t.Errorf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", got, tc.code, stdout.String(), stderr.String())
			}
			out := stdout.String()
			for _, want := range []string{"PASS  quick", "FAIL  hangs", "--- FAIL  hangs", "step:     wait", "1 passed, 1 failed\n"} {
				if !strings.Contains(out, want) {
					t.Errorf("the partial report lacks %q:\n%s", want, out)
				}
			}
			if strings.Contains(out, "never-starts") {
				t.Errorf("a check started after the signal:\n%s", out)
			}
			wantErr := "assay test: interrupted by " + tc.name + ": the report above has the 2 check(s) that ran; 1 did not start\n"
			if stderr.String() != wantErr {
				t.Errorf("stderr:\n%s\nwant:\n%s", stderr.String(), wantErr)
			}
			var res struct {
				Passed, Failed int
				Results        []struct{ Check string }
			}
			b, err := os.ReadFile(jsonFile)
			if err != nil {
				t.Fatalf("no JSON report written: %v", err)
			}
			if err := json.Unmarshal(b, &res); err != nil || res.Passed != 1 || res.Failed != 1 || len(res.Results) != 2 {
				t.Errorf("JSON report: %+v, %v", res, err)
			}
		})
	}
}
