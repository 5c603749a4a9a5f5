package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// signalError is the cause of a context cancelled by a signal.
type signalError struct{ sig os.Signal }

func (e signalError) Error() string { return "interrupted by " + signalName(e.sig) }

// signalContext is cancelled by the first SIGINT or SIGTERM, with the
// signal as its cause (context.Cause). After it the signals get their
// default action back, so that a second Ctrl-C stops a command that does
// not stop by itself.
func signalContext(parent context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-ch:
			signal.Stop(ch)
			cancel(signalError{sig})
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		close(done)
		cancel(context.Canceled)
	}
}

// interruptedBy reports the signal that cancelled ctx, if one did.
func interruptedBy(ctx context.Context) (os.Signal, bool) {
	var se signalError
	if errors.As(context.Cause(ctx), &se) {
		return se.sig, true
	}
	return nil, false
}

// signalExitCode is 128 + the signal number, the shell's convention:
// 130 for SIGINT, 143 for SIGTERM.
func signalExitCode(sig os.Signal) int {
	if s, ok := sig.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return 128 + int(syscall.SIGINT)
}

func signalName(sig os.Signal) string {
	switch sig {
	case os.Interrupt:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return sig.String()
}

// stopGrace is how long a command that is not a daemon may take to stop
// after SIGINT or SIGTERM before the process exits anyway: the partial
// report of assay test takes milliseconds, and a command stuck where it
// cannot see the signal (a blocking read) must not outlive `timeout 5`
// or a CI job's cancellation.
const stopGrace = 5 * time.Second

// daemonCommands stop gracefully on a signal and may take their
// shutdown_grace; a second signal ends them at once.
var daemonCommands = map[string]bool{"run": true, "demo": true, "demo-api": true}

// forceExitAfterSignal waits for ctx to be cancelled by a signal and,
// unless the command (its path below assay: "notify test") is a daemon, exits with 128 + the signal if the
// command has not returned within grace. It reports whether it waited.
func forceExitAfterSignal(ctx context.Context, command string, grace time.Duration, stderr io.Writer, exit func(int)) bool {
	if daemonCommands[command] {
		return false
	}
	<-ctx.Done()
	sig, ok := interruptedBy(ctx)
	if !ok {
		return true
	}
	time.Sleep(grace)
	fmt.Fprintf(stderr, "assay %s: did not stop within %s of %s; exiting\n", command, grace, signalName(sig))
	exit(signalExitCode(sig))
	return true
}
