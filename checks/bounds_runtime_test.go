package checks

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// openFDs counts the file descriptors this process holds.
func openFDs(t *testing.T) int {
	t.Helper()
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(es)
}

// awaitNoLeak waits until the process holds no more file descriptors and
// goroutines than it did at the baseline, and fails the test if that does
// not happen within a few seconds.
func awaitNoLeak(t *testing.T, fds, goroutines int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		f, g := openFDs(t), runtime.NumGoroutine()
		if f <= fds && g <= goroutines {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("after the runs: %d open files (baseline %d), %d goroutines (baseline %d)\n%s", f, fds, g, goroutines, buf)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// trickle writes data one byte every 20ms until the peer closes; with
// afterRequest, once it has read a request head.
func trickle(data []byte, afterRequest bool) func(net.Conn) {
	return func(c net.Conn) {
		if afterRequest {
			if _, err := readRequest(c); err != nil {
				return
			}
		}
		go silent(c) // notice the close
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			b := data[i%len(data):][:1]
			if _, err := c.Write(b); err != nil {
				return
			}
			<-tick.C
		}
	}
}

// fullBacklogAddr is the address of a loopback listener whose accept queue
// is full, so that a dial to it never completes: the kernel drops the SYN.
func fullBacklogAddr(t *testing.T) string {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
	// Fill the queue: dial until a dial hangs.
	for range 16 {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			return addr
		}
		t.Cleanup(func() { c.Close() })
	}
	t.Skip("the kernel accepted 16 connections on a backlog of 0")
	return ""
}

// Rule: a run's dials and TLS handshakes end at its deadline. A peer that
// accepts TCP and never answers the ClientHello, one that answers a byte
// at a time, one that sends its response head a byte at a time, and a
// listener that never completes the TCP handshake each fail every run with
// timeout (or tls for garbage) within the deadline, and then the process
// holds no more sockets or goroutines than before the runs.
func TestDialsAndHandshakesEndAtTheDeadline(t *testing.T) {
	// A TLS record header announcing 16 KiB of handshake, then garbage.
	slowRecord := append([]byte{0x16, 0x03, 0x03, 0x40, 0x00}, []byte("garbage")...)
	cases := []struct {
		name, scheme string
		handle       func(net.Conn) // nil: a listener whose dials never complete
		reasons      []Reason
	}{
		{"TLS: accepts and never speaks", "https", silent, []Reason{ReasonTimeout}},
		{"TLS: a record header, then a byte at a time", "https", trickle(slowRecord, false), []Reason{ReasonTimeout}},
		{"TLS: garbage a byte at a time", "https", trickle([]byte("SSH-2.0-OpenSSH_9.6\r\n"), false), []Reason{ReasonTimeout, ReasonTLS}},
		{"HTTP: accepts and never answers", "http", silent, []Reason{ReasonTimeout}},
		{"HTTP: a response head a byte at a time", "http", trickle([]byte("HTTP/1.1 200 OK\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaa"), true), []Reason{ReasonTimeout}},
		{"TCP: the dial never completes", "https", nil, []Reason{ReasonTimeout}},
	}
	const timeout = 200 * time.Millisecond
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var addr string
			if tc.handle == nil {
				addr = fullBacklogAddr(t)
			} else {
				u := rawServer(t, tc.handle)
				addr = u[len("http://"):]
			}
			c := loadCheck(t, `
checks:
  - name: stalled
    timeout: `+timeout.String()+`
    steps:
      - name: probe
        request: { url: "${BASE}/", tls: { insecure_skip_verify: true } }
`, "BASE", tc.scheme+"://"+addr)
			r := NewRunner(RunnerOptions{})
			defer r.Close()
			fds, goroutines := openFDs(t), runtime.NumGoroutine()
			// Several rounds of concurrent runs: a leak would add up.
			for range 3 {
				var wg sync.WaitGroup
				for range 8 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						start := time.Now()
						res := r.Run(context.Background(), c)
						elapsed := time.Since(start)
						if elapsed > timeout+300*time.Millisecond {
							t.Errorf("a run took %v with a timeout of %v", elapsed, timeout)
						}
						ok := false
						for _, want := range tc.reasons {
							ok = ok || res.Reason == want
						}
						if res.Passed || !ok {
							t.Errorf("passed=%v reason=%q message=%q, want one of %q", res.Passed, res.Reason, res.Message, tc.reasons)
						}
					}()
				}
				wg.Wait()
			}
			// No exchange completed, so no connection is idle in the
			// pool: nothing may be left, even before the runner closes
			// its idle connections (which also cancels abandoned dials,
			// and so would hide a leak of the daemon, which never does).
			awaitNoLeak(t, fds, goroutines)
		})
	}
}

// lyingServer answers every request with a Content-Length of announced
// and a body of sent bytes; then it closes the connection, or with hang
// waits for the client to close it.
func lyingServer(t *testing.T, announced, sent int, hang bool) string {
	body := bytes.Repeat([]byte("x"), sent)
	return rawServer(t, func(c net.Conn) {
		for {
			if _, err := readRequest(c); err != nil {
				return
			}
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", announced)
			c.Write(body)
			if hang {
				silent(c)
			}
			if announced != sent {
				return
			}
		}
	})
}

// Rule: memory grows with what arrives, not with what is announced. A run
// against a server that announces up to max_body and sends a few bytes
// allocates about what was sent (plus a fixed amount), and fails cleanly;
// an honest body costs a small multiple of its size.
func TestMemoryGrowsWithWhatArrives(t *testing.T) {
	const fixed = 256 << 10 // a run's allocations besides the body
	cases := []struct {
		name            string
		announced, sent int
		hang            bool
		reason          Reason
		msg             string
	}{
		{"9 MiB announced, 3 bytes sent", 9 << 20, 3, false, ReasonNetwork,
			`step "probe": network: connection closed by the server: unexpected EOF (while reading the body)`},
		{"max_body announced, 3 bytes sent, then silence", 10 << 20, 3, true, ReasonTimeout,
			`step "probe": timeout: check timeout 200ms exceeded (while reading the body)`},
		{"1 MiB announced, 100 KiB sent", 1 << 20, 100 << 10, false, ReasonNetwork,
			`step "probe": network: connection closed by the server: unexpected EOF (while reading the body)`},
		{"1 MiB announced and sent", 1 << 20, 1 << 20, false, ReasonNone, ""},
		{"100 bytes announced and sent", 100, 100, false, ReasonNone, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			base := lyingServer(t, tc.announced, tc.sent, tc.hang)
			c := loadCheck(t, `
checks:
  - name: lying
    timeout: 200ms
    steps:
      - name: probe
        request: { url: "${BASE}/" }
`, "BASE", base)
			r := newTestRunner(t)
			r.Run(context.Background(), c) // warm up: the client and its pool
			const runs = 8
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			var res *Result
			for range runs {
				res = r.Run(context.Background(), c)
			}
			runtime.ReadMemStats(&after)
			perRun := int(after.TotalAlloc-before.TotalAlloc) / runs
			limit := 4*tc.sent + fixed
			t.Logf("%d bytes allocated per run (limit %d)", perRun, limit)
			if perRun > limit {
				t.Errorf("%d bytes allocated per run for %d bytes sent; want at most %d", perRun, tc.sent, limit)
			}
			if tc.reason == ReasonNone {
				if !res.Passed || res.Steps()[0].Response.BodySize != int64(tc.sent) {
					t.Errorf("want a pass with %d bytes, got %s: %s", tc.sent, res.Reason, res.Message)
				}
				return
			}
			if res.Passed || res.Reason != tc.reason || res.Message != tc.msg {
				t.Errorf("got %q %q, want %q %q", res.Reason, res.Message, tc.reason, tc.msg)
			}
		})
	}
}

// Rule: a run the caller cancels (Ctrl-C, shutdown) is interrupted, not
// timed out, wherever it is when the cancellation comes; a deadline, the
// caller's included, is a timeout.
func TestInterruptedIsNotATimeout(t *testing.T) {
	received := make(chan struct{}, 64)
	notify := func() {
		select {
		case received <- struct{}{}:
		default:
		}
	}
	silentAfterRequest := rawServer(t, func(c net.Conn) {
		if _, err := readRequest(c); err == nil {
			notify()
		}
		silent(c)
	})
	halfBody := rawServer(t, func(c net.Conn) {
		if _, err := readRequest(c); err == nil {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
			notify()
		}
		silent(c)
	})
	stalledTLS := rawServer(t, func(c net.Conn) { notify(); silent(c) })
	cases := []struct {
		name, url string
		// deadline, when set, ends the caller's context instead of a
		// cancellation once the server has the request.
		deadline time.Duration
		reason   Reason
		msg      string
	}{
		{name: "waiting for the response", url: silentAfterRequest, reason: ReasonInterrupted,
			msg: `step "probe": interrupted: the run was cancelled before the step completed`},
		// The cancellation may reach the client before the response
		// head: then the message lacks " (while reading the body)".
		{name: "reading the body", url: halfBody, reason: ReasonInterrupted,
			msg: `step "probe": interrupted: the run was cancelled before the step completed`},
		{name: "in the TLS handshake", url: "https" + stalledTLS[len("http"):], reason: ReasonInterrupted,
			msg: `step "probe": interrupted: the run was cancelled before the step completed`},
		{name: "the caller's deadline", url: silentAfterRequest, deadline: 100 * time.Millisecond, reason: ReasonTimeout,
			msg: `step "probe": timeout: no complete response before the check timeout`},
	}
	r := newTestRunner(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := loadCheck(t, `
checks:
  - name: interrupted
    timeout: 10s
    retries: { count: 2, backoff: 1ms }
    steps:
      - name: probe
        request: { url: "${BASE}/", tls: { insecure_skip_verify: true } }
      - name: after
        request: { url: "${BASE}/after" }
`, "BASE", tc.url)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.deadline > 0 {
				ctx, cancel = context.WithTimeout(ctx, tc.deadline)
				defer cancel()
			}
			for len(received) > 0 {
				<-received
			}
			done := make(chan *Result, 1)
			go func() { done <- r.Run(ctx, c) }()
			var res *Result
			select {
			case <-received:
				if tc.deadline == 0 {
					cancel()
				}
				res = <-done
			case res = <-done:
				t.Fatalf("the run ended before the server saw it: %s %s", res.Reason, res.Message)
			}
			if res.Passed || res.Reason != tc.reason || !strings.HasPrefix(res.Message, tc.msg) {
				t.Errorf("got %q %q, want %q %q", res.Reason, res.Message, tc.reason, tc.msg)
			}
			if len(res.Attempts) != 1 {
				t.Errorf("%d attempts: a cancelled run is not retried", len(res.Attempts))
			}
			if s := res.Steps(); len(s) != 2 || s[0].Reason != tc.reason || !s[1].Skipped {
				t.Errorf("steps: %+v", s)
			}
		})
	}
	// Cancelled before it starts: every step is interrupted at once.
	c := loadCheck(t, oneStep(`{ status: 200 }`), "BASE", silentAfterRequest)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if res := r.Run(ctx, c); res.Reason != ReasonInterrupted {
		t.Errorf("cancelled before the run: %q %q", res.Reason, res.Message)
	}
}
