// Command assay is a synthetic uptime and HTTP contract-testing monitor:
// `assay test` runs checks once as a CI gate, `assay run` runs them on
// their schedules, `assay validate` checks the files.
//
// The command line is built with spf13/cobra (root.go); each command is
// one file that registers its flags and calls into the packages.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/internal/oneline"
	"github.com/spf13/cobra"
)

// version is set with -ldflags "-X main.version=..." by release builds.
var version = "dev"

// Exit codes are an interface: CI scripts rely on them. A command stopped
// by SIGINT or SIGTERM exits 128 + the signal number (130, 143), as a
// shell reports it, except the daemons (run, demo, demo-api), for which a
// signal is the normal way to stop: they exit 0 once they have stopped.
const (
	exitOK      = 0
	exitFailed  = 1 // a check failed
	exitUsage   = 2 // bad configuration, flag or argument
	exitRuntime = 3 // the command itself could not work (I/O, port in use)
)

// usageError is a user mistake: one line, exit code 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return usageError{fmt.Sprintf(format, args...)}
}

// exitError carries an exit code without a message (the command printed it).
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

func main() {
	checks.Version = version
	ctx, stop := signalContext(context.Background())
	if cmd, _, err := newRoot(io.Discard, io.Discard).Find(os.Args[1:]); err == nil {
		go forceExitAfterSignal(ctx, strings.TrimPrefix(cmd.CommandPath(), "assay "), stopGrace, os.Stderr, os.Exit)
	}
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes the command line args as main does and returns the exit
// code; tests call it in-process.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	// A nil slice would make cobra read os.Args.
	root.SetArgs(append([]string{}, normalizeArgs(root, args)...))
	cmd, err := root.ExecuteContextC(ctx)
	return exitCode(ctx, cmd, err, stderr)
}

// exitCode maps a command's error to the exit code and prints the one
// line a usage or runtime error gets: "assay CMD: message", with control
// characters of the user's arguments escaped (an unknown flag is echoed).
func exitCode(ctx context.Context, cmd *cobra.Command, err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	name := "assay"
	if cmd != nil {
		name = cmd.CommandPath()
	}
	var ue usageError
	var ee exitError
	if sig, ok := interruptedBy(ctx); ok {
		if !errors.As(err, &ee) {
			fmt.Fprintf(stderr, "%s: interrupted by %s\n", name, signalName(sig))
		}
		return signalExitCode(sig)
	}
	switch {
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "%s: %s\n", name, oneline.Clean(ue.msg))
		return exitUsage
	default:
		fmt.Fprintf(stderr, "%s: %s\n", name, oneline.Clean(err.Error()))
		return exitRuntime
	}
}
