package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"sync"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/report"
)

// stringList is a repeatable flag; each value may also be comma-separated.
type stringList []string

func (s *stringList) String() string { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*s = append(*s, p)
		}
	}
	return nil
}

// defaultPaths is where checks live when no path is given.
var defaultPaths = []string{"checks.d"}

// loadChecks loads and prints every error, one per line; an interrupt
// (ctx done) stops the load.
func loadChecks(ctx context.Context, paths []string, stderr io.Writer) ([]*checks.Check, error) {
	if len(paths) == 0 {
		paths = defaultPaths
	}
	cs, err := checks.LoadContext(ctx, paths...)
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		var les checks.LoadErrors
		if errors.As(err, &les) {
			for _, e := range les {
				fmt.Fprintln(stderr, e.Error())
			}
			fmt.Fprintf(stderr, "%d error(s) in the check files\n", len(les))
			return nil, exitError{exitUsage}
		}
		return nil, usageError{err.Error()}
	}
	return cs, nil
}

func cmdValidate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	paths, err := parseInterspersed(fs, args, stdout, "validate [PATH...]   (default checks.d)")
	if err != nil {
		return err
	}
	cs, err := loadChecks(ctx, paths, stderr)
	if err != nil {
		return err
	}
	files := map[string]bool{}
	steps := 0
	for _, c := range cs {
		files[c.Pos.File] = true
		steps += len(c.Steps)
	}
	fmt.Fprintf(stdout, "ok: %d checks, %d steps in %d files\n", len(cs), steps, len(files))
	return nil
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

func cmdTest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	parallel := fs.Int("parallel", 8, "run at most `N` checks at once")
	var tags, names stringList
	fs.Var(&tags, "tag", "run only checks with this `TAG` (repeatable or comma-separated; any matches)")
	fs.Var(&names, "name", "run only checks whose name matches this glob `PATTERN` (repeatable)")
	junit := fs.String("junit", "", "write a JUnit XML report to `FILE`")
	jsonOut := fs.String("json", "", "write the full results as JSON to `FILE`")
	verbose := fs.Bool("v", false, "also show passing steps")
	color := fs.String("color", "auto", "colour output: auto, always or never")
	semantics := fs.String("semantics", "", "HTTP semantics `MODE` of checks that set none: strict, warn (the default) or off")
	paths, err := parseInterspersed(fs, args, stdout, "test [PATH...] [--parallel N] [--tag T] [--name GLOB] [--junit FILE] [--json FILE]")
	if err != nil {
		return err
	}
	if *parallel < 1 {
		return usagef("--parallel must be at least 1, got %d", *parallel)
	}
	useColor, err := colorFlag(*color, stdout)
	if err != nil {
		return err
	}
	semMode, err := checks.ParseSemanticsMode(*semantics)
	if err != nil {
		return usagef("--semantics: %v", err)
	}
	cs, err := loadChecks(ctx, paths, stderr)
	if err != nil {
		return err
	}
	cs, err = selectChecks(cs, tags, names)
	if err != nil {
		return err
	}
	if len(cs) == 0 {
		return usagef("no checks selected (paths %v, --tag %v, --name %v)", orDefault(paths), tags, names)
	}
	runner := checks.NewRunner(checks.RunnerOptions{Semantics: semMode})
	defer runner.Close()
	results := runAll(ctx, runner, cs, *parallel)

	report.WriteConsole(stdout, results, report.ConsoleOptions{Color: useColor, Verbose: *verbose})
	if *junit != "" {
		if err := writeFile(*junit, func(w io.Writer) error { return report.WriteJUnit(w, results, "assay") }); err != nil {
			return err
		}
	}
	if *jsonOut != "" {
		if err := writeFile(*jsonOut, func(w io.Writer) error { return report.WriteJSON(w, results) }); err != nil {
			return err
		}
	}
	if _, failed := report.Summary(results); failed > 0 {
		return exitError{exitFailed}
	}
	if ctx.Err() != nil {
		return exitError{exitFailed}
	}
	return nil
}

func orDefault(p []string) []string {
	if len(p) == 0 {
		return defaultPaths
	}
	return p
}

// runAll runs every check once with at most parallel in flight and keeps
// the results in the order of the checks.
func runAll(ctx context.Context, r *checks.Runner, cs []*checks.Check, parallel int) []*checks.Result {
	results := make([]*checks.Result, len(cs))
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			results[i] = r.Run(ctx, c)
		}()
	}
	wg.Wait()
	return results
}

func writeFile(name string, write func(io.Writer) error) error {
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
