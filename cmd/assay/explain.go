package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/assay-monitor/assay/checks"
)

// cmdExplain prints checks as the engine runs them: contract blocks
// expanded into their steps, defaults applied, secrets redacted. The
// output is itself a valid check file.
func cmdExplain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	dir := fs.String("checks", "checks.d", "load checks from `PATH` (a directory or a file)")
	names, err := parseInterspersed(fs, args, stdout, "explain CHECK... [--checks PATH]   (prints the expanded steps as YAML)")
	if err != nil {
		return err
	}
	if len(names) == 0 {
		return usagef("name the check to explain, e.g. assay explain documents-contract")
	}
	cs, err := loadChecks(ctx, []string{*dir}, stderr)
	if err != nil {
		return err
	}
	byName := map[string]*checks.Check{}
	for _, c := range cs {
		byName[c.Name] = c
	}
	for i, name := range names {
		c, ok := byName[name]
		if !ok {
			return usagef("no check named %q in %s%s", name, *dir, suggestCheck(name, byName))
		}
		out, err := checks.Explain(c)
		if err != nil {
			return err
		}
		if i > 0 {
			fmt.Fprintln(stdout, "---")
		}
		if _, err := stdout.Write(out); err != nil {
			return err
		}
	}
	return nil
}

// suggestCheck names the checks whose name contains the one asked for, or
// all of them when there are few.
func suggestCheck(name string, byName map[string]*checks.Check) string {
	var near, all []string
	for n := range byName {
		all = append(all, n)
		if strings.Contains(n, name) || strings.Contains(name, n) {
			near = append(near, n)
		}
	}
	sort.Strings(near)
	sort.Strings(all)
	switch {
	case len(near) > 0:
		return " (did you mean " + strings.Join(near, ", ") + "?)"
	case len(all) > 0 && len(all) <= 20:
		return " (checks: " + strings.Join(all, ", ") + ")"
	}
	return ""
}
