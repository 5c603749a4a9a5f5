package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/assay-monitor/assay/internal/demoapi"
)

// The target is the demo API in a child process, so that its CPU time is
// never counted against the engine or the plain client (both run in this
// process and talk to it over loopback), and so that it cannot disturb the
// resident memory measured in the daemon children.

// maxChildLife bounds every child process, whatever happens to the
// parent, unless it is given a -life (the soak's children).
const maxChildLife = 15 * time.Minute

// serveTarget is the child side: serve the demo API on a free loopback
// port, print its URL, and stop when stdin closes (the parent exited or
// is done) or after its life (-life, maxChildLife by default).
func serveTarget() error {
	url, stop, err := demoapi.Start("127.0.0.1:0", demoapi.Options{})
	if err != nil {
		return err
	}
	defer stop()
	fmt.Println(url)
	// Until the parent closes stdin, or childLife if it never does.
	ctx, cancel := stdinContext(childLife())
	defer cancel()
	<-ctx.Done()
	return nil
}

// child is a running child process of this binary.
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
}

// startChild runs this binary again with args; the child reads nothing
// from stdin but its end, which tells it to stop.
func startChild(env []string, args ...string) (*child, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, args...)
	cmd.Stderr = os.Stderr
	cmd.Env = append(os.Environ(), env...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &child{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout)}, nil
}

// line reads the child's next line of output, within d.
func (c *child) line(d time.Duration) (string, error) {
	type res struct {
		s   string
		err error
	}
	ch := make(chan res, 1)
	go func() {
		s, err := c.out.ReadString('\n')
		ch <- res{strings.TrimSpace(s), err}
	}()
	select {
	case r := <-ch:
		if r.err != nil && r.s == "" {
			return "", fmt.Errorf("child exited early: %w", r.err)
		}
		return r.s, nil
	case <-time.After(d):
		return "", errors.New("child did not answer in time")
	}
}

// stop closes the child's stdin and waits for it to exit, killing it if
// it takes longer than 10 seconds.
func (c *child) stop() {
	_ = c.stdin.Close()
	done := make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = c.cmd.Process.Kill()
		<-done
	}
}

// startTarget starts the demo API in a child and returns its base URL;
// args are more flags of the child (-life).
func startTarget(args ...string) (string, *child, error) {
	c, err := startChild(nil, append([]string{"-role=target"}, args...)...)
	if err != nil {
		return "", nil, err
	}
	url, err := c.line(30 * time.Second)
	if err != nil || !strings.HasPrefix(url, "http://127.0.0.1:") {
		c.stop()
		return "", nil, fmt.Errorf("target: %q %v", url, err)
	}
	return url, c, nil
}

// stdinContext is a context that ends when the child's stdin closes (the
// parent is done or gone), or after limit.
func stdinContext(limit time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	return ctx, cancel
}
