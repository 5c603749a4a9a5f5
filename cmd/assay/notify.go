package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/assay-monitor/assay/alerting"
	"github.com/assay-monitor/assay/config"
	"github.com/assay-monitor/assay/internal/yamlstrict"
	"github.com/spf13/cobra"
)

// newNotifyCmd is the notify group; its one subcommand is test.
func newNotifyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "notify test NAME [--config FILE]",
		Short: "notify test NAME: send a test event through a notifier of the global config",
		Args:  cobra.ArbitraryArgs,
		RunE: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usagef("missing subcommand (test)")
			}
			return usagef("unknown subcommand %q (valid: test)", args[0])
		},
	}
	cmd.AddCommand(newNotifyTestCmd())
	return cmd
}

func newNotifyTestCmd() *cobra.Command {
	var configFile string
	cmd := &cobra.Command{
		Use:   "test NAME [--config FILE]",
		Short: "send a test event through the notifier NAME and show the receiver's answer",
		Long: `Sends a test event through the notifier NAME of the global config and
prints what the receiver answered. Only NAME's entry has to be complete:
a problem in another notifier (its unset ${VAR}) is printed as a warning.
Exit 0 when it was accepted, 1 when it was refused or unreachable, 2 on a
usage or configuration error.`,
		Example: "  PAGERDUTY_ROUTING_KEY=... assay notify test pager --config examples/assay.yaml",
		Args:    cobra.ArbitraryArgs,
		ValidArgsFunction: func(_ *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			cfg, _, err := config.LoadNotifier(configFile, "")
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var names []string
			for n := range cfg.Notifiers {
				if strings.HasPrefix(n, toComplete) {
					names = append(names, n)
				}
			}
			return sortStrings(names), cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, pos []string) error {
			if len(pos) != 1 {
				return usagef("want exactly one notifier name, got %d (usage: assay notify test NAME [--config FILE])", len(pos))
			}
			return runNotifyTest(cmd, pos[0], configFile)
		},
	}
	cmd.Flags().StringVar(&configFile, "config", "assay.yaml", "global config `FILE` that defines the notifiers")
	mustComplete(cmd, "config", completeFiles("yaml", "yml"))
	return cmd
}

func runNotifyTest(cmd *cobra.Command, name, configFile string) error {
	stdout, stderr := cmd.OutOrStdout(), cmd.ErrOrStderr()
	cfg, warnings, err := config.LoadNotifier(configFile, name)
	for _, w := range warnings {
		fmt.Fprintf(stderr, "warning: %s (notify test %s goes on without that notifier)\n", w.Error(), name)
	}
	if err != nil {
		var es yamlstrict.Errors
		if errors.As(err, &es) {
			for _, e := range es {
				fmt.Fprintln(stderr, e.Error())
			}
			return exitError{exitUsage}
		}
		if errors.Is(err, os.ErrNotExist) {
			return usagef("--config %s: no such file (notifiers are defined in the global config)", configFile)
		}
		return usagef("--config: %v", err)
	}
	n, ok := cfg.Notifiers[name]
	if !ok {
		names := make([]string, 0, len(cfg.Notifiers))
		for k := range cfg.Notifiers {
			names = append(names, k)
		}
		if len(names) == 0 {
			return usagef("%s defines no notifiers", configFile)
		}
		return usagef("no notifier %q in %s (configured: %s)", name, configFile, strings.Join(sortStrings(names), ", "))
	}
	fmt.Fprintf(stdout, "sending a test event through %q (%s)\n", name, n.Type)
	responses, retry, err := alerting.SendTest(cmd.Context(), n, cfg.Server.ExternalURL, nil)
	for _, r := range responses {
		switch {
		case r.Err != "":
			fmt.Fprintf(stdout, "  %s: %s\n", r.Target, r.Err)
		case r.Status == 0 && r.Body != "": // not HTTP (email: the SMTP outcome)
			fmt.Fprintf(stdout, "  %s: %s\n", r.Target, r.Body)
		case r.Body != "":
			fmt.Fprintf(stdout, "  %s: HTTP %d: %s\n", r.Target, r.Status, r.Body)
		default:
			fmt.Fprintf(stdout, "  %s: HTTP %d\n", r.Target, r.Status)
		}
	}
	if err != nil {
		verdict := "refused (a real event would not be retried)"
		if retry {
			verdict = "failed (a real event would be retried with backoff)"
		}
		fmt.Fprintf(stdout, "%s: %v\n", verdict, err)
		return exitError{exitFailed}
	}
	fmt.Fprintln(stdout, "ok: the receiver accepted the test event")
	return nil
}

func sortStrings(s []string) []string {
	slices.Sort(s)
	return s
}
