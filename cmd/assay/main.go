// Command assay is a synthetic uptime and HTTP contract-testing monitor:
// `assay test` runs checks once as a CI gate, `assay run` runs them on
// their schedules, `assay validate` checks the files.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/assay-monitor/assay/checks"
)

// version is set with -ldflags "-X main.version=..." by release builds.
var version = "dev"

// Exit codes are an interface: CI scripts rely on them.
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

type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"run", "run the checks on their schedules: the monitoring daemon", cmdRun},
		{"demo", "start the demo API and the daemon on checks.d against it", cmdDemo},
		{"test", "run checks once, in parallel; exit 0 if all pass, 1 if one fails", cmdTest},
		{"validate", "check files for errors; exit 0 or 2 with every error listed", cmdValidate},
		{"explain", "print a check's steps as the engine runs them (contracts expanded)", cmdExplain},
		{"demo-api", "serve the demo documents API (with --fault NAME to break it)", cmdDemoAPI},
		{"notify", "notify test NAME: send a test event through a notifier of the global config", cmdNotify},
		{"replay", "replay RUN_ID [--curl]: a stored run's requests as curl lines, or the check run again beside it", cmdReplay},
		{"notifications", "list the outbox and dead letters; retry ID or drop ID", cmdNotifications},
		{"version", "print the version", cmdVersion},
	}
}

func main() {
	checks.Version = version
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		var ue usageError
		var ee exitError
		switch {
		case err == nil:
			return exitOK
		case errors.Is(err, flag.ErrHelp):
			return exitOK
		case errors.As(err, &ee):
			return ee.code
		case errors.As(err, &ue):
			fmt.Fprintf(stderr, "assay %s: %s\n", c.name, ue.msg)
			return exitUsage
		default:
			fmt.Fprintf(stderr, "assay %s: %v\n", c.name, err)
			return exitRuntime
		}
	}
	fmt.Fprintf(stderr, "assay: unknown command %q (run 'assay help')\n", args[0])
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: assay COMMAND [flags] [args]")
	fmt.Fprintln(w)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nexit codes: 0 ok, 1 a check failed, 2 configuration or usage error, 3 runtime error")
	fmt.Fprintln(w, "run 'assay COMMAND --help' for the flags of a command")
}

// parseInterspersed parses flags that may come before, between or after
// positional arguments (assay test checks.d --junit out.xml). --help prints
// the synopsis and flags to w.
func parseInterspersed(fs *flag.FlagSet, args []string, w io.Writer, synopsis string) ([]string, error) {
	fs.SetOutput(io.Discard)
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "-h" || a == "-help" || a == "--help" {
			fmt.Fprintf(w, "usage: assay %s\n\nflags:\n", synopsis)
			fs.SetOutput(w)
			fs.PrintDefaults()
			return nil, flag.ErrHelp
		}
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, usageError{err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func cmdVersion(_ context.Context, _ []string, stdout, _ io.Writer) error {
	fmt.Fprintf(stdout, "assay %s\n", version)
	return nil
}
