package main

import (
	"bytes"
	"context"
	"syscall"
	"testing"
	"time"
)

// TestSignalAlwaysStopsACommand: a command that does not return after
// SIGTERM (stuck where it cannot see the signal) is ended with 143 after
// the grace; a daemon is left to its own graceful stop; a command that
// ends without a signal is not touched.
func TestSignalAlwaysStopsACommand(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	exited := make(chan int, 1)
	var stderr bytes.Buffer
	done := make(chan bool)
	go func() {
		done <- forceExitAfterSignal(ctx, "validate", time.Millisecond, &stderr, func(code int) { exited <- code })
	}()
	cancel(signalError{syscall.SIGTERM})
	select {
	case code := <-exited:
		if code != 143 {
			t.Errorf("exit code %d, want 143", code)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no forced exit")
	}
	<-done
	if want := "assay validate: did not stop within 1ms of SIGTERM; exiting\n"; stderr.String() != want {
		t.Errorf("stderr %q, want %q", stderr.String(), want)
	}

	for _, daemon := range []string{"run", "demo", "demo-api"} {
		if forceExitAfterSignal(ctx, daemon, time.Millisecond, &stderr, func(int) { t.Errorf("%s was forced to exit", daemon) }) {
			t.Errorf("%s: the watchdog waited on a daemon", daemon)
		}
	}

	plain, cancelPlain := context.WithCancel(context.Background())
	cancelPlain()
	if !forceExitAfterSignal(plain, "test", time.Millisecond, &stderr, func(int) { t.Error("forced exit without a signal") }) {
		t.Error("the watchdog did not wait for the command")
	}
}

func TestSignalExitCodes(t *testing.T) {
	for sig, want := range map[syscall.Signal]int{syscall.SIGINT: 130, syscall.SIGTERM: 143} {
		if got := signalExitCode(sig); got != want {
			t.Errorf("%v: %d, want %d", sig, got, want)
		}
	}
}
