package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/assay-monitor/assay/history"
	"github.com/spf13/cobra"
)

const notificationsLong = `  list    the outbox (pending notifications, with their attempts and next try)
          and the dead letters (given up on, with why), newest first; the
          default when no subcommand is given
  retry   send a dead letter again (it goes back into the outbox) or try a
          pending one now; through --config the daemon sees it within a minute,
          through --server at once
  drop    delete a dead letter or a pending notification`

// listOptions are the flags of notifications list.
type listOptions struct {
	status string
	limit  int
	json   bool
}

func (o *listOptions) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&o.status, "status", "", "list only the notifications with this `STATUS`: pending or dead")
	cmd.Flags().IntVar(&o.limit, "limit", 50, "list at most `N` notifications")
	cmd.Flags().BoolVar(&o.json, "json", false, "print the list as JSON")
	mustComplete(cmd, "status", completeWords(history.NotificationPending, history.NotificationDead))
}

func newNotificationsCmd() *cobra.Command {
	cmd := newNotificationsSubCmd("list",
		"notifications [list] [--status pending|dead] [--limit N] [--json] [--config FILE | --server URL]",
		"list the outbox and dead letters; retry ID or drop ID")
	cmd.Long = "Lists, retries and drops the notifications of the outbox and the dead letters.\n\n" + notificationsLong
	cmd.AddCommand(
		newNotificationsSubCmd("list", "list [--status pending|dead] [--limit N] [--json] [--config FILE | --server URL]",
			"the outbox (pending, with attempts and next try) and the dead letters, newest first"),
		newNotificationsSubCmd("retry", "retry ID... [--config FILE | --server URL]",
			"send a dead letter again, or try a pending notification now"),
		newNotificationsSubCmd("drop", "drop ID... [--config FILE | --server URL]",
			"delete a dead letter or a pending notification"),
	)
	return cmd
}

// newNotificationsSubCmd builds notifications (which lists), or one of
// its subcommands list, retry and drop.
func newNotificationsSubCmd(sub, use, short string) *cobra.Command {
	var src historySource
	var o listOptions
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, pos []string) error {
			return runNotifications(cmd, sub, pos, src, o)
		},
	}
	src.register(cmd.Flags())
	mustComplete(cmd, "config", completeFiles("yaml", "yml"))
	if sub == "list" {
		o.register(cmd)
	}
	return cmd
}

func runNotifications(cmd *cobra.Command, sub string, pos []string, src historySource, o listOptions) error {
	ctx, stdout, stderr := cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr()
	if sub == "list" {
		if len(pos) > 0 {
			return usagef("unexpected argument %q (usage: assay notifications list [--status pending|dead])", pos[0])
		}
		if o.status != "" && o.status != history.NotificationPending && o.status != history.NotificationDead {
			return usagef("--status must be pending or dead, got %q", o.status)
		}
		if o.limit < 1 || o.limit > 1000 {
			return usagef("--limit must be between 1 and 1000, got %d", o.limit)
		}
	} else if len(pos) == 0 {
		return usagef("notifications %s needs the ID of a notification (see assay notifications list)", sub)
	}
	var ids []int64
	for _, p := range pos {
		id, err := strconv.ParseInt(p, 10, 64)
		if err != nil || id <= 0 {
			return usagef("a notification ID is a positive integer, got %q", p)
		}
		ids = append(ids, id)
	}
	h, closeH, err := src.open(stderr)
	if err != nil {
		return err
	}
	defer closeH()
	if sub == "list" {
		ns, err := h.Notifications(ctx, o.status, o.limit)
		if err != nil {
			return err
		}
		if o.json {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(map[string]any{"notifications": ns})
		}
		printNotifications(stdout, ns)
		return nil
	}
	failed := 0
	for _, id := range ids {
		var err error
		if sub == "retry" {
			err = h.RetryNotification(ctx, id)
		} else {
			err = h.DropNotification(ctx, id)
		}
		switch {
		case errors.Is(err, history.ErrNotFound):
			fmt.Fprintf(stderr, "assay notifications %s: no notification %d\n", sub, id)
			failed++
		case err != nil:
			fmt.Fprintf(stderr, "assay notifications %s: %d: %v\n", sub, id, err)
			failed++
		case sub == "retry":
			fmt.Fprintf(stdout, "notification %d: queued for delivery\n", id)
		default:
			fmt.Fprintf(stdout, "notification %d: dropped\n", id)
		}
	}
	if failed > 0 {
		return exitError{exitFailed}
	}
	return nil
}

func printNotifications(w io.Writer, ns []history.Notification) {
	if len(ns) == 0 {
		fmt.Fprintln(w, "no notifications pending or dead")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATUS\tCHECK\tNOTIFIER\tKIND\tATTEMPTS\tCREATED\tWHEN\tLAST ERROR")
	for _, n := range ns {
		when := ""
		switch {
		case n.Status == history.NotificationDead && n.Failed != nil:
			when = "failed " + n.Failed.Local().Format(time.DateTime) + " (" + n.Reason + ")"
		case n.Next != nil:
			when = "next " + n.Next.Local().Format(time.DateTime)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", n.ID, n.Status, oneLineCLI(n.Check), oneLineCLI(n.Notifier), n.Kind, n.Attempts,
			n.Created.Local().Format(time.DateTime), when, oneLineCLI(n.LastError))
	}
	tw.Flush()
}

// oneLineCLI keeps a stored value on one table cell.
func oneLineCLI(s string) string {
	out := make([]rune, 0, len(s))
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			r = ' '
		}
		out = append(out, r)
		if len(out) >= 120 {
			out = append(out, '…')
			break
		}
	}
	return string(out)
}
