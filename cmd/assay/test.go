package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"sync"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/maintenance"
	"github.com/assay-monitor/assay/report"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// stringList is a repeatable flag; each value may also be comma-separated.
type stringList []string

func (s *stringList) String() string { return strings.Join(*s, ",") }

// Set adds one flag value.
func (s *stringList) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*s = append(*s, p)
		}
	}
	return nil
}

// Type names the value in pflag's messages.
func (s *stringList) Type() string { return "strings" }

// stdoutName is the report file name that means standard output.
const stdoutName = "-"

// testOptions are the flags of assay test.
type testOptions struct {
	parallel    int
	tags, names stringList
	junit, json string
	verbose     bool
	color       string
	semantics   string
}

func (o *testOptions) register(fs *pflag.FlagSet) {
	// --v, the old spelling of --verbose, still works.
	fs.SetNormalizeFunc(func(_ *pflag.FlagSet, name string) pflag.NormalizedName {
		if name == "v" {
			name = "verbose"
		}
		return pflag.NormalizedName(name)
	})
	fs.IntVar(&o.parallel, "parallel", 8, "run at most `N` checks at once")
	fs.Var(&o.tags, "tag", "run only checks with this `TAG` (repeatable or comma-separated; any matches)")
	fs.Var(&o.names, "name", "run only checks whose name matches this glob `PATTERN` (repeatable)")
	fs.StringVar(&o.junit, "junit", "", "write a JUnit XML report to `FILE` (- for standard output)")
	fs.StringVar(&o.json, "json", "", "write the full results as JSON to `FILE` (- for standard output)")
	fs.BoolVarP(&o.verbose, "verbose", "v", false, "also show passing steps")
	fs.StringVar(&o.color, "color", "auto", "`WHEN` to colour the output: auto (on a terminal, NO_COLOR unset), always or never")
	fs.StringVar(&o.semantics, "semantics", "", "HTTP semantics `MODE` of checks that set none: strict, warn (the default) or off")
}

func newTestCmd() *cobra.Command {
	var o testOptions
	cmd := &cobra.Command{
		Use:   "test [PATH...] [flags]",
		Short: "run checks once, in parallel; exit 0 if all pass, 1 if one fails",
		Long: `Runs every selected check once, in parallel, and prints a line per check,
then a block per failure, then "N passed, N failed". PATH is a file or a
directory (walked for *.yaml and *.yml); the default is checks.d.

With --json - or --junit - that report is written to standard output and
the console report to standard error, so that standard output stays
parseable. Ctrl-C (SIGINT) stops the checks in flight, prints and writes
the report of what ran, and exits 130 (143 for SIGTERM); a second Ctrl-C
exits at once.`,
		Example: `  assay test checks.d --junit out.xml
  assay test --tag smoke --name 'documents-*' checks.d
  assay test checks.d --json - | jq .failed`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runTest(cmd.Context(), args, o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	o.register(cmd.Flags())
	mustComplete(cmd, "color", completeWords("auto", "always", "never"))
	mustComplete(cmd, "semantics", completeWords("strict", "warn", "off"))
	return cmd
}

// defaultPaths is where checks live when no path is given.
var defaultPaths = []string{"checks.d"}

func orDefault(p []string) []string {
	if len(p) == 0 {
		return defaultPaths
	}
	return p
}

func runTest(ctx context.Context, paths []string, o testOptions, stdout, stderr io.Writer) error {
	if o.parallel < 1 {
		return usagef("--parallel must be at least 1, got %d", o.parallel)
	}
	if o.json == stdoutName && o.junit == stdoutName {
		return usagef("--json - and --junit - both want standard output: write one of them to a file")
	}
	// A machine-readable report on stdout moves the console report to
	// stderr.
	console := stdout
	if o.json == stdoutName || o.junit == stdoutName {
		console = stderr
	}
	useColor, err := colorFlag(o.color, console)
	if err != nil {
		return err
	}
	semMode, err := checks.ParseSemanticsMode(o.semantics)
	if err != nil {
		return usagef("--semantics: %v", err)
	}
	cs, err := loadChecks(ctx, paths, stderr)
	if err != nil {
		return err
	}
	cs, err = selectChecks(cs, o.tags, o.names)
	if err != nil {
		return err
	}
	if len(cs) == 0 {
		return usagef("no checks selected (paths %v, --tag %v, --name %v)", orDefault(paths), o.tags, o.names)
	}
	// A heartbeat check is judged by the pings of its job, which a
	// one-shot run has none of: it is listed as skipped, not failed.
	var beats []string
	run := cs[:0:0]
	for _, c := range cs {
		if c.IsHeartbeat() {
			beats = append(beats, c.Name)
		} else {
			run = append(run, c)
		}
	}
	cs = run
	runner := checks.NewRunner(checks.RunnerOptions{Semantics: semMode})
	defer runner.Close()
	results := runAll(ctx, runner, cs, o.parallel)
	notStarted := len(cs) - len(results)
	// A check's own maintenance windows mark its results as the daemon
	// does (assay.yaml's windows and the silences are the daemon's).
	cal := maintenance.New(maintenance.Options{})
	cal.SetChecks(cs)
	for _, r := range results {
		cal.Annotate(ctx, r)
	}

	if len(cs) > 0 {
		report.WriteConsole(console, results, report.ConsoleOptions{Color: useColor, Verbose: o.verbose})
	}
	if len(beats) > 0 {
		fmt.Fprintf(console, "skipped %d heartbeat check(s), judged by assay run from their jobs' pings: %s\n", len(beats), strings.Join(beats, ", "))
	}
	if o.junit != "" {
		if err := writeReport(o.junit, stdout, func(w io.Writer) error { return report.WriteJUnit(w, results, "assay") }); err != nil {
			return err
		}
	}
	if o.json != "" {
		if err := writeReport(o.json, stdout, func(w io.Writer) error { return report.WriteJSON(w, results) }); err != nil {
			return err
		}
	}
	if sig, ok := interruptedBy(ctx); ok {
		fmt.Fprintf(stderr, "assay test: interrupted by %s: the report above has the %d check(s) that ran; %d did not start\n",
			signalName(sig), len(results), notStarted)
		return exitError{signalExitCode(sig)}
	}
	if _, failed := report.Summary(results); failed > 0 {
		return exitError{exitFailed}
	}
	if ctx.Err() != nil {
		return exitError{exitFailed}
	}
	return nil
}

// runAll runs every check once with at most parallel in flight and keeps
// the results in the order of the checks. Once ctx is done no check is
// started: the results are those of the checks that ran.
func runAll(ctx context.Context, r *checks.Runner, cs []*checks.Check, parallel int) []*checks.Result {
	results := make([]*checks.Result, len(cs))
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
start:
	for i, c := range cs {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			break start
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			results[i] = r.Run(ctx, c)
		}()
	}
	wg.Wait()
	ran := results[:0]
	for _, res := range results {
		if res != nil {
			ran = append(ran, res)
		}
	}
	return ran
}

// writeReport writes a report to the file name, or to stdout for "-".
func writeReport(name string, stdout io.Writer, write func(io.Writer) error) error {
	if name == stdoutName {
		return write(stdout)
	}
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", name, err)
	}
	return f.Close()
}

// selectChecks keeps the checks that carry one of the tags and whose name
// matches one of the glob patterns (an empty filter keeps everything).
func selectChecks(cs []*checks.Check, tags, names []string) ([]*checks.Check, error) {
	for _, n := range names {
		if _, err := path.Match(n, ""); err != nil {
			return nil, usagef("--name %q: bad pattern", n)
		}
	}
	var out []*checks.Check
	for _, c := range cs {
		if len(tags) > 0 && !hasAny(c.Tags, tags) {
			continue
		}
		if len(names) > 0 && !matchesAny(c.Name, names) {
			continue
		}
		out = append(out, c)
	}
	return out, nil
}

func hasAny(have, want []string) bool {
	for _, w := range want {
		for _, h := range have {
			if h == w {
				return true
			}
		}
	}
	return false
}

func matchesAny(name string, patterns []string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

func colorFlag(v string, w io.Writer) (bool, error) {
	switch v {
	case "always":
		return true, nil
	case "never":
		return false, nil
	case "auto":
		if os.Getenv("NO_COLOR") != "" {
			return false, nil
		}
		f, ok := w.(*os.File)
		if !ok {
			return false, nil
		}
		st, err := f.Stat()
		return err == nil && st.Mode()&os.ModeCharDevice != 0, nil
	}
	return false, usagef("--color must be auto, always or never, got %q", v)
}
