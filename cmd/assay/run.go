package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/config"
	"github.com/assay-monitor/assay/daemon"
	"github.com/assay-monitor/assay/internal/demoapi"
	"github.com/assay-monitor/assay/internal/yamlstrict"
)

// daemonFlags are shared by run and demo.
type daemonFlags struct {
	checksDir, configFile, listen, logFormat, logLevel, webConfig string
}

func (f *daemonFlags) register(fs *flag.FlagSet, listenDefault string) {
	fs.StringVar(&f.checksDir, "checks", "", "directory of check files (default checks.d, or checks.dir from the config)")
	fs.StringVar(&f.configFile, "config", "", "global config `FILE` (assay.yaml); optional")
	fs.StringVar(&f.listen, "listen", listenDefault, "serve /metrics, /healthz, /readyz and the API on `ADDR` (default "+config.DefaultListen+" or server.listen)")
	fs.StringVar(&f.logFormat, "log-format", "json", "log format: json or text")
	fs.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&f.webConfig, "web.config.file", "", "Prometheus web config `FILE` for TLS and basic auth (default server.web_config_file)")
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

func cmdRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var f daemonFlags
	f.register(fs, "")
	pos, err := parseInterspersed(fs, args, stdout, "run [--checks DIR] [--config FILE] [--listen ADDR] [--log-format json|text]")
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q (use --checks DIR)", pos[0])
	}
	cfg, err := f.loadConfig(stderr)
	if err != nil {
		return err
	}
	log, err := f.logger(stderr)
	if err != nil {
		return err
	}
	return runDaemon(ctx, daemon.Options{Config: cfg, Logger: log}, stderr, nil)
}

// runDaemon builds the daemon, reloads on SIGHUP and stops on ctx.
// announce, if set, is told the bound address; the demo then falls back
// to a free port when its default one is taken.
func runDaemon(ctx context.Context, opts daemon.Options, stderr io.Writer, announce func(addr string)) error {
	cfg, log := opts.Config, opts.Logger
	opts.Version = version
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

func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	var f daemonFlags
	f.register(fs, "127.0.0.1:9464")
	apiListen := fs.String("api-listen", "127.0.0.1:8787", "serve the demo API on `ADDR` (a free port if it is taken)")
	fault := fs.String("fault", "", "start the demo API with a fault: `NAME` is one of "+faultNames())
	every := fs.Duration("every", 10*time.Second, "run each check this often (the demo overrides the files' schedules)")
	once := fs.Bool("once", false, "run every check once like 'assay test' and exit with its exit code")
	f.logFormat = "text"
	pos, err := parseInterspersed(fs, args, stdout, "demo [--once] [--fault NAME] [--listen ADDR] [--api-listen ADDR]")
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	if *every < time.Second {
		return usagef("--every must be at least 1s")
	}
	flt, err := demoapi.ParseFault(*fault)
	if err != nil {
		return usagef("--fault: %v", err)
	}
	api := demoapi.New(demoapi.Options{Fault: flt})
	url, stop, err := api.Start(*apiListen)
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
	if *once {
		return cmdTest(ctx, []string{orDefault(nil)[0]}, stdout, stderr)
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
	if !strings.Contains(strings.Join(args, " "), "-log-level") {
		f.logLevel = "warn"
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

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
