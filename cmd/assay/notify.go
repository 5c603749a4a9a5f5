package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/assay-monitor/assay/alerting"
	"github.com/assay-monitor/assay/config"
	"github.com/assay-monitor/assay/internal/yamlstrict"
)

// cmdNotify runs the notify subcommands; there is one: test.
func cmdNotify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(stdout, "usage: assay notify test NAME [--config FILE]")
		fmt.Fprintln(stdout, "\n  test    send a test event through the notifier NAME of the global config and show the receiver's answer")
		if len(args) == 0 {
			return usagef("missing subcommand (test)")
		}
		return nil
	}
	if args[0] != "test" {
		return usagef("unknown subcommand %q (valid: test)", args[0])
	}
	return cmdNotifyTest(ctx, args[1:], stdout, stderr)
}

func cmdNotifyTest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("notify test", flag.ContinueOnError)
	configFile := fs.String("config", "assay.yaml", "global config `FILE` that defines the notifiers")
	pos, err := parseInterspersed(fs, args, stdout, "notify test NAME [--config FILE]\n\nSends a test event through the notifier NAME and prints what the receiver answered.\nExit 0 when it was accepted, 1 when it was refused or unreachable, 2 on a usage error.")
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want exactly one notifier name, got %d (usage: assay notify test NAME [--config FILE])", len(pos))
	}
	name := pos[0]
	cfg, err := config.Load(*configFile)
	if err != nil {
		var es yamlstrict.Errors
		if errors.As(err, &es) {
			for _, e := range es {
				fmt.Fprintln(stderr, e.Error())
			}
			return exitError{exitUsage}
		}
		if errors.Is(err, os.ErrNotExist) {
			return usagef("--config %s: no such file (notifiers are defined in the global config)", *configFile)
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
			return usagef("%s defines no notifiers", *configFile)
		}
		return usagef("no notifier %q in %s (configured: %s)", name, *configFile, strings.Join(sortStrings(names), ", "))
	}
	fmt.Fprintf(stdout, "sending a test event through %q (%s)\n", name, n.Type)
	responses, retry, err := alerting.SendTest(ctx, n, cfg.Server.ExternalURL, nil)
	for _, r := range responses {
		switch {
		case r.Err != "":
			fmt.Fprintf(stdout, "  %s: %s\n", r.Target, r.Err)
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
