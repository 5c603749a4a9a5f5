package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/config"
	"github.com/assay-monitor/assay/daemon"
	"github.com/assay-monitor/assay/internal/demoapi"
	"github.com/assay-monitor/assay/internal/yamlstrict"
	"github.com/spf13/cobra"
)

// daemonFlags are shared by run and demo. A new daemon flag is a field
// here and a line in register (both commands get it), or, for run only,
// a line in newRunCmd.
type daemonFlags struct {
	checksDir, configFile, listen, logFormat, logLevel, webConfig string
}

func (f *daemonFlags) register(cmd *cobra.Command, listenDefault string) {
	fs := cmd.Flags()
	fs.StringVar(&f.checksDir, "checks", "", "`DIR` of the check files (default checks.d, or checks.dir from the config)")
	fs.StringVar(&f.configFile, "config", "", "global config `FILE` (assay.yaml); optional")
	fs.StringVar(&f.listen, "listen", listenDefault, "serve /metrics, /healthz, /readyz and the API on `ADDR` (default "+config.DefaultListen+" or server.listen)")
	fs.StringVar(&f.logFormat, "log-format", f.logFormat, "log `FORMAT`: json or text")
	fs.StringVar(&f.logLevel, "log-level", "info", "log `LEVEL`: debug, info, warn or error")
	fs.StringVar(&f.webConfig, "web.config.file", "", "Prometheus web config `FILE` for TLS and basic auth (default server.web_config_file)")
	mustComplete(cmd, "log-format", completeWords("json", "text"))
	mustComplete(cmd, "log-level", completeWords("debug", "info", "warn", "error"))
	mustComplete(cmd, "config", completeFiles("yaml", "yml"))
	mustComplete(cmd, "checks", completeDirs)
}

// loadConfig reads the config file if any and applies flag overrides.
func (f *daemonFlags) loadConfig(stderr io.Writer) (*config.Config, error) {
	cfg := config.Default()
	if f.configFile != "" {
		var err error
		cfg, err = config.Load(f.configFile)
		if err != nil {
			var es yamlstrict.Errors
			if errors.As(err, &es) {
				for _, e := range es {
					fmt.Fprintln(stderr, e.Error())
				}
				return nil, exitError{exitUsage}
			}
			return nil, usagef("--config: %v", err)
		}
	}
	if f.checksDir != "" {
		cfg.Checks.Dir = f.checksDir
	}
	if f.listen != "" {
		cfg.Server.Listen = f.listen
	}
	if f.webConfig != "" {
		cfg.Server.WebConfigFile = f.webConfig
	}
	return cfg, nil
}

func (f *daemonFlags) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return nil, usagef("--log-level must be debug, info, warn or error, got %q", f.logLevel)
	}
	ho := &slog.HandlerOptions{Level: level}
	switch f.logFormat {
	case "json":
		return slog.New(slog.NewJSONHandler(w, ho)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, ho)), nil
	}
	return nil, usagef("--log-format must be json or text, got %q", f.logFormat)
}

func newRunCmd() *cobra.Command {
	f := daemonFlags{logFormat: "json"}
	cmd := &cobra.Command{
		Use:   "run [--checks DIR] [--config FILE] [--listen ADDR] [flags]",
		Short: "run the checks on their schedules: the monitoring daemon",
		Long: `Runs each check on its schedule until stopped, and serves /metrics,
/healthz, /readyz and the JSON API on --listen. Flags override the global
config; without --config the built-in defaults apply (checks in checks.d,
listen on ` + config.DefaultListen + `). SIGHUP or POST /-/reload reloads the checks;
SIGINT or SIGTERM stops it gracefully (exit 0). A check file or config
error at start-up is printed one per line, exit 2.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := noArgs(args, " (use --checks DIR)"); err != nil {
				return err
			}
			cfg, err := f.loadConfig(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			log, err := f.logger(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			return runDaemon(cmd.Context(), daemon.Options{Config: cfg, Logger: log}, cmd.ErrOrStderr(), nil)
		},
	}
	f.register(cmd, "")
	return cmd
}

// runDaemon builds the daemon, reloads on SIGHUP and stops on ctx.
// announce, if set, is told the bound address; the demo then falls back
// to a free port when its default one is taken.
func runDaemon(ctx context.Context, opts daemon.Options, stderr io.Writer, announce func(addr string)) error {
	cfg, log := opts.Config, opts.Logger
	opts.Version = version
	daemon.RouteStandardLog(log)
	stopStorage, err := daemon.OpenStorage(&opts)
	if err != nil {
		var ce daemon.ConfigError
		if errors.As(err, &ce) {
			return usageError{err.Error()}
		}
		return err
	}
	defer stopStorage()
	d, err := daemon.New(opts)
	if err != nil {
		var les checks.LoadErrors
		if errors.As(err, &les) {
			for _, e := range les {
				fmt.Fprintln(stderr, e.Error())
			}
			return exitError{exitUsage}
		}
		return usageError{err.Error()}
	}
	addr, err := d.Listen(cfg.Server.Listen)
	if err != nil && announce != nil {
		addr, err = d.Listen("127.0.0.1:0")
	}
	if err != nil {
		return err
	}
	if announce != nil {
		announce(addr.String())
	}
	log.Info("assay running", "listen", addr.String(), "checks", len(d.Checks()), "dir", cfg.Checks.Dir, "version", version)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reload := make(chan struct{}, 1)
	go func() {
		for {
			select {
			case <-hup:
				select {
				case reload <- struct{}{}:
				default:
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	return d.Run(ctx, reload)
}

// resultPrinter prints a line per result for `assay demo`.
type resultPrinter struct{ w io.Writer }

func (p resultPrinter) Record(_ context.Context, r *checks.Result) {
	ts := r.Started.Format("15:04:05")
	if r.Passed {
		fmt.Fprintf(p.w, "%s PASS %s (%s)\n", ts, r.Check, r.Duration.Round(time.Millisecond))
		return
	}
	fmt.Fprintf(p.w, "%s FAIL %s (%s): %s\n", ts, r.Check, r.Duration.Round(time.Millisecond), r.Message)
}

func newDemoCmd() *cobra.Command {
	f := daemonFlags{logFormat: "text"}
	var apiListen, fault string
	var every time.Duration
	var once bool
	cmd := &cobra.Command{
		Use:   "demo [--once] [--fault NAME] [--listen ADDR] [--api-listen ADDR] [flags]",
		Short: "start the demo API and the daemon on checks.d against it",
		Long: `Starts the demo API (on --api-listen, or a free port if it is taken; it
sets DEMO_API_URL) and the daemon on checks.d, running every check every
--every instead of its schedule, and prints a line per result until
Ctrl-C. With --once it runs the checks once like assay test instead and
exits with its exit code.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := noArgs(args, ""); err != nil {
				return err
			}
			if every < time.Second {
				return usagef("--every must be at least 1s")
			}
			// The demo is quiet unless asked: its output is the result lines.
			if !cmd.Flags().Changed("log-level") {
				f.logLevel = "warn"
			}
			return runDemo(cmd.Context(), f, apiListen, fault, every, once, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f.register(cmd, "127.0.0.1:9464")
	cmd.Flags().StringVar(&apiListen, "api-listen", "127.0.0.1:8787", "serve the demo API on `ADDR` (a free port if it is taken)")
	cmd.Flags().StringVar(&fault, "fault", "", "start the demo API with a fault: `NAME` is one of "+faultNames())
	cmd.Flags().DurationVar(&every, "every", 10*time.Second, "run each check this often (the demo overrides the files' schedules)")
	cmd.Flags().BoolVar(&once, "once", false, "run every check once like 'assay test' and exit with its exit code")
	mustComplete(cmd, "fault", completeFaults)
	return cmd
}

func runDemo(ctx context.Context, f daemonFlags, apiListen, fault string, every time.Duration, once bool, stdout, stderr io.Writer) error {
	flt, err := demoapi.ParseFault(fault)
	if err != nil {
		return usagef("--fault: %v", err)
	}
	api := demoapi.New(demoapi.Options{Fault: flt})
	url, stop, err := api.Start(apiListen)
	if err != nil {
		url, stop, err = api.Start("127.0.0.1:0")
	}
	if err != nil {
		return err
	}
	defer stop()
	if err := os.Setenv("DEMO_API_URL", url); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "demo API:  %s  (fault: %s)\n", url, orNone(string(flt)))
	if once {
		return runTest(ctx, orDefault(nonEmpty(f.checksDir)), testOptions{parallel: 8, color: "auto"}, stdout, stderr)
	}
	cfg, err := f.loadConfig(stderr)
	if err != nil {
		return err
	}
	if f.configFile == "" {
		// The demo's history is the demo's: kept in a temporary directory,
		// not left behind as assay.db wherever the demo was started.
		tmp, err := os.MkdirTemp("", "assay-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		cfg.Storage.Path = filepath.Join(tmp, "assay.db")
	}
	log, err := f.logger(stderr)
	if err != nil {
		return err
	}
	announce := func(addr string) {
		fmt.Fprintf(stdout, "status:    http://%s/\nmetrics:   http://%s/metrics\nAPI:       http://%s/api/v1/checks\nchecks:    %s (Ctrl-C to stop)\n", addr, addr, addr, cfg.Checks.Dir)
		fmt.Fprintf(stdout, "break it:  curl -X PUT --data ignore-if-match %s%s   (none to repair)\n", url, demoapi.FaultPath)
	}
	// The demo runs every check often so that results show up at once.
	dir := cfg.Checks.Dir
	load := func() ([]*checks.Check, error) {
		cs, err := checks.LoadContext(ctx, dir)
		for _, c := range cs {
			c.Schedule = "@every " + every.String()
		}
		return cs, err
	}
	return runDaemon(ctx, daemon.Options{Config: cfg, Logger: log, Load: load, Sinks: []checks.Sink{resultPrinter{stdout}}}, stderr, announce)
}

// nonEmpty is s as a one-element list, or nil for "".
func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
