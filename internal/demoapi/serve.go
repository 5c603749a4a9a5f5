package demoapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// shutdownTimeout bounds a graceful shutdown. Slow-fault delays end as soon
// as shutdown starts, so only a stuck client can use it up.
const shutdownTimeout = 5 * time.Second

// ListenAndServe serves a new demo API on addr until ctx is done, then shuts
// down gracefully. It returns nil after a shutdown caused by ctx, and an
// error if it cannot listen or serving fails. logf (may be nil) receives
// start, stop and server error lines.
func ListenAndServe(ctx context.Context, addr string, opts Options, logf func(string, ...any)) error {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("demo API: %w", err)
	}
	fault := string(opts.Fault)
	if fault == "" {
		fault = "none"
	}
	logf("demo API listening on http://%s (fault: %s)", ln.Addr(), fault)
	s := New(opts)
	err = s.serve(ctx, ln, log.New(logWriter(logf), "demo API: ", 0))
	if err == nil {
		logf("demo API stopped")
	}
	return err
}

// Start serves a new demo API on addr (default "127.0.0.1:0", a free
// loopback port) in the background, for tests and `assay demo`. It returns
// the base URL and a stop function that shuts the server down and waits for
// it; stop is safe to call more than once.
func Start(addr string, opts Options) (url string, stop func(), err error) {
	return New(opts).Start(addr)
}

// Start serves s on addr in the background, like the package-level Start,
// for callers that switch faults or reset data while it runs.
func (s *Server) Start(addr string) (url string, stop func(), err error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("demo API: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		// Errors after a successful listen are shutdown timeouts or
		// accept failures; stop has no one to report them to.
		_ = s.serve(ctx, ln, log.New(io.Discard, "", 0))
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			<-done
		})
	}
	return "http://" + ln.Addr().String(), stop, nil
}

// serve runs an http.Server for s on ln until ctx is done. Request contexts
// derive from ctx, so in-flight slow-fault delays end when shutdown begins
// instead of holding it up.
func (s *Server) serve(ctx context.Context, ln net.Listener, errorLog *log.Logger) error {
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       time.Minute,
		ErrorLog:          errorLog,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()

	select {
	case err := <-served:
		return fmt.Errorf("demo API: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	err := hs.Shutdown(sctx)
	if err != nil {
		_ = hs.Close()
	}
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if err != nil {
		return fmt.Errorf("demo API: shutdown: %w", err)
	}
	return nil
}

// logWriter adapts logf to the io.Writer that http.Server's ErrorLog needs.
type logWriter func(string, ...any)

func (f logWriter) Write(p []byte) (int, error) {
	f("%s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
