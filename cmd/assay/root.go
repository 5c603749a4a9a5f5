package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

const rootLong = `assay is a synthetic uptime and HTTP contract-testing monitor: checks in
YAML (checks.d/*.yaml) run once as a CI gate (assay test) or on their
schedules as a monitor (assay run).

Flags may come before or after the arguments, with two dashes or one
(--junit FILE, -junit FILE). --json - and --junit - write the report to
standard output; the console report then goes to standard error.

Exit codes:
  0    ok
  1    a check failed
  2    configuration or usage error (invalid files, bad flag, nothing selected)
  3    runtime error (a report cannot be written, a port is taken)
  130  interrupted by SIGINT (Ctrl-C), 143 by SIGTERM: the report so far is printed`

// newRoot builds the command tree; stdout and stderr are where every
// command writes (help and completion scripts go to stdout).
func newRoot(stdout, stderr io.Writer) *cobra.Command {
	var showVersion bool
	root := &cobra.Command{
		Use:   "assay [--version]",
		Short: "synthetic uptime and HTTP contract-testing monitor",
		Long:  rootLong,
		// Unknown words land here, for the message of the old CLI.
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if showVersion {
				return writeVersion(cmd.OutOrStdout())
			}
			if len(args) == 0 {
				// Not a request for help: a mistake, on stderr, exit 2.
				cmd.SetOut(cmd.ErrOrStderr())
				_ = cmd.Help()
				return exitError{exitUsage}
			}
			hint := ""
			if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
				hint = fmt.Sprintf("did you mean %q? ", s[0])
			}
			return usagef("unknown command %q (%srun 'assay help')", args[0], hint)
		},
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.Flags().BoolVar(&showVersion, "version", false, "print the version and the VCS revision (as assay version does)")
	root.SuggestionsMinimumDistance = 2
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err.Error()} })
	root.SetHelpCommand(newHelpCmd(root))
	root.AddCommand(
		newRunCmd(),
		newDemoCmd(),
		newTestCmd(),
		newValidateCmd(),
		newExplainCmd(),
		newInitCmd(),
		newDemoAPICmd(),
		newNotifyCmd(),
		newReplayCmd(),
		newNotificationsCmd(),
		newVersionCmd(),
	)
	adoptCompletionCmd(root)
	// The synopses in Use name the flags already.
	// The -h, --help flag is listed in every command's help, not only
	// once that command ran.
	walk(root, func(c *cobra.Command) {
		c.DisableFlagsInUseLine = true
		c.InitDefaultHelpFlag()
	})
	return root
}

// The commands are listed in the order of newRoot (most used first),
// not sorted.
func init() { cobra.EnableCommandSorting = false }

func walk(c *cobra.Command, f func(*cobra.Command)) {
	f(c)
	for _, sub := range c.Commands() {
		walk(sub, f)
	}
}

// newHelpCmd is `assay help [COMMAND...]`: the help of a command on
// stdout, exit 0; an unknown command is a usage error, not the root help.
func newHelpCmd(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:   "help [COMMAND...]",
		Short: "help about any command: its synopsis, description and every flag",
		Args:  cobra.ArbitraryArgs,
		ValidArgsFunction: func(_ *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			cmd, _, err := root.Find(args)
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var names []string
			for _, c := range cmd.Commands() {
				if c.IsAvailableCommand() && strings.HasPrefix(c.Name(), toComplete) {
					names = append(names, c.Name()+"\t"+c.Short)
				}
			}
			return names, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(_ *cobra.Command, args []string) error {
			cmd, rest, err := root.Find(args)
			if err != nil || len(rest) > 0 {
				return usagef("unknown command %q (run 'assay help')", strings.Join(args, " "))
			}
			return cmd.Help()
		},
	}
}

// normalizeArgs rewrites single-dash long flags to two dashes (-junit FILE
// to --junit FILE): Go's flag package, which assay used before cobra,
// accepted both, and pflag would read -junit as the shorthands -j -u -n ...
// The value of a flag that takes one is left alone (--name -x), as is
// everything after "--".
func normalizeArgs(root *cobra.Command, args []string) []string {
	cmd, _, err := root.Find(args)
	if err != nil || cmd == nil {
		cmd = root
	}
	lookup := func(name string) *pflag.Flag {
		if f := cmd.Flags().Lookup(name); f != nil {
			return f
		}
		return cmd.InheritedFlags().Lookup(name)
	}
	out := make([]string, 0, len(args))
	value := false // args[i] is the value of the flag before it
	for i, a := range args {
		if value {
			out = append(out, a)
			value = false
			continue
		}
		if a == "--" {
			return append(out, args[i:]...)
		}
		if len(a) > 2 && a[0] == '-' && isLetter(a[1]) {
			a = "-" + a
		}
		if name, ok := strings.CutPrefix(a, "--"); ok && !strings.Contains(name, "=") {
			if f := lookup(name); f != nil && f.NoOptDefVal == "" {
				value = true
			}
		} else if len(a) == 2 && a[0] == '-' {
			if f := cmd.Flags().ShorthandLookup(a[1:]); f != nil && f.NoOptDefVal == "" {
				value = true
			}
		}
		out = append(out, a)
	}
	return out
}

func isLetter(b byte) bool { return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' }

// noArgs is a usage error for a command that takes no arguments, in the
// words of the old CLI.
func noArgs(args []string, hint string) error {
	if len(args) > 0 {
		return usagef("unexpected argument %q%s", args[0], hint)
	}
	return nil
}

// completeWords completes a flag's fixed values.
func completeWords(words ...string) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return words, cobra.ShellCompDirectiveNoFileComp
	}
}

// mustComplete registers a flag completion; the flag is ours, so an error
// is a bug in this file.
func mustComplete(cmd *cobra.Command, flag string, f func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective)) {
	if err := cmd.RegisterFlagCompletionFunc(flag, f); err != nil {
		panic(err)
	}
}

// adoptCompletionCmd adds cobra's `completion bash|zsh|fish|powershell`
// now rather than at execution, so that its mistakes follow assay's
// conventions: a missing or unknown shell, or an extra argument, is a
// usage error (exit 2), not cobra's help (exit 0) or a runtime error.
func adoptCompletionCmd(root *cobra.Command) {
	root.InitDefaultCompletionCmd()
	comp, _, err := root.Find([]string{"completion"})
	if err != nil || comp == root {
		panic("cobra added no completion command")
	}
	comp.Short = "print the shell completion script: bash, zsh, fish or powershell"
	comp.Args = cobra.ArbitraryArgs
	comp.RunE = func(_ *cobra.Command, args []string) error {
		if len(args) == 0 {
			return usagef("name the shell: bash, zsh, fish or powershell")
		}
		return usagef("unknown shell %q (valid: bash, zsh, fish, powershell)", args[0])
	}
	for _, sh := range comp.Commands() {
		args := sh.Args
		sh.Args = func(c *cobra.Command, a []string) error {
			if args != nil {
				if err := args(c, a); err != nil {
					return usageError{err.Error()}
				}
			}
			return nil
		}
	}
}
