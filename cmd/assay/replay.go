package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/config"
	"github.com/assay-monitor/assay/history"
	"github.com/assay-monitor/assay/report"
	"github.com/spf13/cobra"
)

const replayLong = `Prints a stored run (its id is in the API, the status page and the logs).
With --curl: its requests as curl command lines, secrets written as
environment references (${API_TOKEN}), never as values.
Without: runs the check once now and prints the new result next to the
stored one; exit 0 if the new run passes, 1 if it fails.`

const replayUse = "replay RUN_ID [--curl] [--config FILE | --server URL] [--checks DIR]"

func newReplayCmd() *cobra.Command {
	var src historySource
	var curl bool
	var checksDir, color string
	cmd := &cobra.Command{
		Use:     replayUse,
		Short:   "replay RUN_ID [--curl]: a stored run's requests as curl lines, or the check run again beside it",
		Long:    replayLong,
		Example: "  assay replay 1234 --curl --config assay.yaml\n  assay replay 1234 --server http://127.0.0.1:9464",
		Args:    cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, pos []string) error {
			return runReplay(cmd, pos, src, curl, checksDir, color)
		},
	}
	src.register(cmd.Flags())
	cmd.Flags().BoolVar(&curl, "curl", false, "print the run's requests as curl command lines instead of running the check again")
	cmd.Flags().StringVar(&checksDir, "checks", "", "where the check is defined, to run it again (default checks.dir of --config, else checks.d)")
	cmd.Flags().StringVar(&color, "color", "auto", "`WHEN` to colour the output: auto (on a terminal, NO_COLOR unset), always or never")
	mustComplete(cmd, "color", completeWords("auto", "always", "never"))
	mustComplete(cmd, "config", completeFiles("yaml", "yml"))
	mustComplete(cmd, "checks", completeDirs)
	return cmd
}

func runReplay(cmd *cobra.Command, pos []string, src historySource, curl bool, checksDir, color string) error {
	ctx, stdout, stderr := cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr()
	if len(pos) != 1 {
		return usagef("want exactly one RUN_ID, got %d (usage: assay %s)", len(pos), replayUse)
	}
	id, err := strconv.ParseInt(pos[0], 10, 64)
	if err != nil || id <= 0 {
		return usagef("RUN_ID is a positive integer, got %q", pos[0])
	}
	useColor, err := colorFlag(color, stdout)
	if err != nil {
		return err
	}
	h, closeH, err := src.open(stderr)
	if err != nil {
		return err
	}
	run, err := h.Result(ctx, id)
	closeH()
	if errors.Is(err, history.ErrNotFound) {
		return usagef("no run %d in the history (it may have been pruned)", id)
	}
	if err != nil {
		return err
	}
	if curl {
		return report.Curl(stdout, run.Result)
	}

	dir := checksDir
	if dir == "" {
		dir = config.DefaultChecksDir
		if src.configFile != "" {
			cfg, err := loadConfigFile(src.configFile, stderr)
			if err != nil {
				return err
			}
			dir = cfg.Checks.Dir
		}
	}
	cs, err := loadChecks(ctx, []string{dir}, stderr)
	if err != nil {
		return err
	}
	var c *checks.Check
	for _, x := range cs {
		if x.Name == run.Check {
			c = x
		}
	}
	if c == nil {
		return usagef("check %q of run %d is not defined in %s (pass --checks DIR)", run.Check, id, dir)
	}
	runner := checks.NewRunner(checks.RunnerOptions{})
	defer runner.Close()
	now := runner.Run(ctx, c)
	writeReplay(stdout, run, now)
	if !now.Passed {
		fmt.Fprintln(stdout)
		report.WriteConsole(stdout, []*checks.Result{now}, report.ConsoleOptions{Color: useColor})
		return exitError{exitFailed}
	}
	return nil
}

func verdict(passed bool, reason checks.Reason) string {
	if passed {
		return "PASS"
	}
	if reason == "" {
		return "FAIL"
	}
	return "FAIL (" + string(reason) + ")"
}

// writeReplay prints the stored run and the new one side by side, step by
// step.
func writeReplay(w io.Writer, stored *history.Run, now *checks.Result) {
	fmt.Fprintf(w, "check %s: run %d (stored) and a run now\n\n", stored.Check, stored.ID)
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	fmt.Fprintf(tw, "\tstored run %d\tnow\n", stored.ID)
	fmt.Fprintf(tw, "started\t%s\t%s\n", stored.Started.Local().Format(time.DateTime), now.Started.Local().Format(time.DateTime))
	fmt.Fprintf(tw, "verdict\t%s\t%s\n", verdict(stored.Passed, stored.Reason), verdict(now.Passed, now.Reason))
	fmt.Fprintf(tw, "duration\t%s\t%s\n", shortDuration(time.Duration(stored.DurationSeconds*1e9)), shortDuration(now.Duration))
	var old []checks.StepResult
	if stored.Result != nil {
		old = stored.Result.Steps()
	}
	steps := now.Steps()
	for i := range max(len(old), len(steps)) {
		name := ""
		var a, b string
		if i < len(old) {
			name, a = old[i].Name, stepCell(&old[i])
		}
		if i < len(steps) {
			name, b = steps[i].Name, stepCell(&steps[i])
		}
		fmt.Fprintf(tw, "step %d %s\t%s\t%s\n", i+1, oneLineCLI(name), a, b)
	}
	fmt.Fprintf(tw, "message\t%s\t%s\n", oneLineCLI(stored.Message), oneLineCLI(now.Message))
	tw.Flush()
}

func stepCell(s *checks.StepResult) string {
	switch {
	case s.Skipped:
		return "skipped"
	case s.Response == nil && s.Passed:
		return "ok"
	case s.Response == nil:
		return "FAIL " + string(s.Reason)
	}
	v := "ok"
	if !s.Passed {
		v = "FAIL"
	}
	if s.Response.Line != "" { // a probe's answer
		return fmt.Sprintf("%s %s %s", v, oneLineCLI(s.Response.Line), shortDuration(s.Timings.Total))
	}
	return fmt.Sprintf("%s %d %s", v, s.Response.Status, shortDuration(s.Timings.Total))
}

// shortDuration keeps two significant digits below a second (0.42ms,
// 12ms) and milliseconds above.
func shortDuration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/1e6)
	case d < time.Second:
		return d.Round(100 * time.Microsecond).String()
	}
	return d.Round(time.Millisecond).String()
}
