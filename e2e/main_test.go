//go:build linux

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// assayBin is the assay binary built once by TestMain.
var assayBin string

// moduleRoot is the repository root (the parent of this package's directory).
var moduleRoot string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	wd, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	moduleRoot = filepath.Dir(wd)
	dir, err := os.MkdirTemp("", "assay-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	assayBin = filepath.Join(dir, "assay")
	build := exec.Command("go", "build", "-o", assayBin, "./cmd/assay")
	build.Dir = moduleRoot
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go build ./cmd/assay: %v\n%s", err, out)
		return 1
	}
	code := m.Run()
	stopPostgres()
	if code == 0 {
		// Every process, proxy and HTTP connection a test started must be
		// gone by now.
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: goroutine leak:", err)
			return 1
		}
	}
	return code
}

// proc is a child process whose combined output is kept line by line, so
// that a test can await a line instead of sleeping.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *lineLog
	done chan struct{} // closed when the process has exited
	err  error         // cmd.Wait's result, set before done is closed
}

// start runs bin with args. The process is killed (if still running) and
// reaped when the test ends; if the test failed, its output is logged.
func start(t *testing.T, name, bin string, args ...string) *proc {
	t.Helper()
	return startEnv(t, name, nil, bin, args...)
}

func startEnv(t *testing.T, name string, env []string, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, out: newLineLog(), done: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	// If the test binary dies, so do its children.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			lines := p.out.Lines()
			if len(lines) > 60 {
				lines = lines[len(lines)-60:]
			}
			t.Logf("output of %s (last %d lines):\n%s", name, len(lines), strings.Join(lines, "\n"))
		}
	})
	return p
}

// wait waits for the process to exit and returns its exit code.
func (p *proc) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		t.Fatalf("%s did not exit within %v", p.name, timeout)
	}
	if p.err == nil {
		return 0
	}
	if ee, ok := p.err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	t.Fatalf("%s: %v", p.name, p.err)
	return -1
}

func (p *proc) signal(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %v to %s: %v", sig, p.name, err)
	}
}

// awaitLine waits for an output line that match accepts, from the first
// line on, and returns it.
func (p *proc) awaitLine(t *testing.T, timeout time.Duration, what string, match func(string) bool) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for i := 0; ; {
		lines, changed := p.out.since(i)
		for _, l := range lines {
			if match(l) {
				return l
			}
		}
		i += len(lines)
		select {
		case <-changed:
		case <-p.done:
			// Lines written just before the exit are in by now.
			lines, _ := p.out.since(i)
			for _, l := range lines {
				if match(l) {
					return l
				}
			}
			t.Fatalf("%s exited (%v) before %s", p.name, p.err, what)
		case <-ctx.Done():
			t.Fatalf("%s: no %s within %v", p.name, what, timeout)
		}
	}
}

// lineLog is an io.Writer that keeps complete lines and tells waiters
// about new ones.
type lineLog struct {
	mu      sync.Mutex
	partial []byte
	lines   []string
	changed chan struct{}
}

func newLineLog() *lineLog { return &lineLog{changed: make(chan struct{})} }

func (l *lineLog) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, b...)
	added := false
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.lines = append(l.lines, string(l.partial[:i]))
		l.partial = l.partial[i+1:]
		added = true
	}
	if added {
		close(l.changed)
		l.changed = make(chan struct{})
	}
	return len(b), nil
}

// since returns the lines from index i on and a channel closed when more
// arrive.
func (l *lineLog) since(i int) ([]string, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines[i:]...), l.changed
}

// Lines returns every complete line so far.
func (l *lineLog) Lines() []string {
	lines, _ := l.since(0)
	return lines
}

// jsonLines returns the output lines that are JSON objects (the daemon's
// slog lines), decoded.
func (p *proc) jsonLines() []map[string]any {
	var out []map[string]any
	for _, l := range p.out.Lines() {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

var demoURL = regexp.MustCompile(`demo API listening on (http://127\.0\.0\.1:\d+)`)

// startDemoAPI runs `assay demo-api` on a free loopback port with fault
// ("" for none) and returns its base URL.
func startDemoAPI(t *testing.T, fault string) string {
	t.Helper()
	args := []string{"demo-api", "--listen", "127.0.0.1:0"}
	if fault != "" {
		args = append(args, "--fault", fault)
	}
	name := "demo-api"
	if fault != "" {
		name += " --fault " + fault
	}
	p := start(t, name, assayBin, args...)
	line := p.awaitLine(t, 10*time.Second, "listening line", demoURL.MatchString)
	return demoURL.FindStringSubmatch(line)[1]
}

// startDaemon runs `assay run` on a free loopback port and returns the
// process and its base URL, read from the "assay running" log line.
func startDaemon(t *testing.T, checksDir, configFile string) (*proc, string) {
	t.Helper()
	p := start(t, "assay run", assayBin, "run", "--checks", checksDir, "--config", configFile,
		"--listen", "127.0.0.1:0", "--log-level", "debug")
	var addr string
	p.awaitLine(t, 10*time.Second, `"assay running" log line`, func(l string) bool {
		var m struct{ Msg, Listen string }
		if json.Unmarshal([]byte(l), &m) != nil || m.Msg != "assay running" {
			return false
		}
		addr = m.Listen
		return true
	})
	return p, "http://" + addr
}

// writeFile writes data to dir/name atomically (a temporary name the
// loader ignores, then a rename), so that a file watcher never sees half
// a file.
func writeFile(t *testing.T, dir, name, data string) {
	t.Helper()
	tmp := filepath.Join(dir, "."+name+".tmp")
	if err := os.WriteFile(tmp, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}

// freePort returns a loopback port that was free a moment ago, for
// programs that cannot report the port they bound.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// client is for every request of the tests: no keep-alive, so that no
// idle connection outlives a test.
var client = &http.Client{
	Timeout:   5 * time.Second,
	Transport: &http.Transport{DisableKeepAlives: true},
}

func httpDo(t *testing.T, method, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return resp.StatusCode, string(body)
}

// poll calls cond every interval until it returns true or timeout passes;
// it returns how long that took. cond's last message explains a failure.
func poll(t *testing.T, timeout, interval time.Duration, what string, cond func() (bool, string)) time.Duration {
	t.Helper()
	begin := time.Now()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		ok, msg := cond()
		if ok {
			return time.Since(begin)
		}
		select {
		case <-deadline.C:
			t.Fatalf("%s: not within %v; last: %s", what, timeout, msg)
		case <-tick.C:
		}
	}
}

// metricValue finds the sample of name whose labels include every given
// label="value" pair in a text exposition.
func metricValue(exposition, name string, labels ...string) (float64, bool) {
	sc := bufio.NewScanner(strings.NewReader(exposition))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		ok := true
		for i := 0; i+1 < len(labels); i += 2 {
			if !strings.Contains(line, labels[i]+"="+strconv.Quote(labels[i+1])) {
				ok = false
			}
		}
		if !ok {
			continue
		}
		rest := line[len(name):]
		if strings.HasPrefix(rest, "{") {
			rest = rest[strings.LastIndexByte(rest, '}')+1:]
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		return v, true
	}
	return 0, false
}
