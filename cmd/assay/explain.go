package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/assay-monitor/assay/checks"
	"github.com/spf13/cobra"
)

func newExplainCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "explain CHECK... [--checks PATH]",
		Short: "print a check's steps as the engine runs them (contracts expanded)",
		Long: `Prints each named check as the engine runs it, as YAML that is itself a
valid check file: contract blocks expanded into their steps, defaults
filled in, secrets redacted.`,
		Example: "  assay explain documents-contract --checks checks.d",
		Args:    cobra.ArbitraryArgs,
		ValidArgsFunction: func(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			cs, err := checks.Load(dir)
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var names []string
			for _, c := range cs {
				if strings.HasPrefix(c.Name, toComplete) {
					names = append(names, c.Name)
				}
			}
			return names, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, names []string) error {
			return runExplain(cmd.Context(), names, dir, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVar(&dir, "checks", "checks.d", "load checks from `PATH` (a directory or a file)")
	return cmd
}

// runExplain prints checks as the engine runs them: contract blocks
// expanded into their steps, defaults applied, secrets redacted. The
// output is itself a valid check file.
func runExplain(ctx context.Context, names []string, dir string, stdout, stderr io.Writer) error {
	if len(names) == 0 {
		return usagef("name the check to explain, e.g. assay explain documents-contract")
	}
	cs, err := loadChecks(ctx, []string{dir}, stderr)
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
			return usagef("no check named %q in %s%s", name, dir, suggestCheck(name, byName))
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
