package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/assay-monitor/assay/alerting"
	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/config"
	"github.com/assay-monitor/assay/internal/yamlstrict"
	"github.com/spf13/cobra"
)

func newValidateCmd() *cobra.Command {
	var configFile string
	cmd := &cobra.Command{
		Use:   "validate [PATH...] [--config FILE]",
		Short: "check files for errors; exit 0 or 2 with every error listed",
		Long: `Loads the check files and prints every error (file:line:column: field:
message), or "ok: N checks, N steps in N files". PATH is a file or a
directory; the default is checks.d, or checks.dir of --config.

With --config, the global config is loaded too, exactly as assay run loads
it, and checked together with the checks: every notifier a check or
defaults.alert names must be defined, and storage.path must be usable.
A path with no check files is an error (exit 2).`,
		Example: `  assay validate checks.d
  assay validate --config examples/assay.yaml`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runValidate(cmd.Context(), args, configFile, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVar(&configFile, "config", "", "also validate this global config `FILE` (assay.yaml) and the checks against it")
	return cmd
}

func runValidate(ctx context.Context, paths []string, configFile string, stdout, stderr io.Writer) error {
	var cfg *config.Config
	if configFile != "" {
		var err error
		if cfg, err = loadConfigFile(configFile, stderr); err != nil {
			return err
		}
		if len(paths) == 0 {
			paths = []string{cfg.Checks.Dir}
		}
	}
	paths = orDefault(paths)
	var opts checks.LoadOptions
	if cfg != nil {
		opts.Secrets = cfg.Secrets
	}
	cs, err := loadChecksWith(ctx, opts, paths, stderr)
	if err != nil {
		return err
	}
	if len(cs) == 0 {
		return noChecks(paths)
	}
	files := map[string]bool{}
	steps := 0
	for _, c := range cs {
		files[c.Pos.File] = true
		steps += len(c.Steps) + len(c.Finally)
	}
	summary := fmt.Sprintf("ok: %d checks, %d steps in %d files", len(cs), steps, len(files))
	if cfg != nil {
		errs := validateWithConfig(cfg, cs)
		if len(errs) > 0 {
			for _, e := range errs {
				fmt.Fprintln(stderr, e.Error())
			}
			fmt.Fprintf(stderr, "%d error(s) in the config and the check files\n", len(errs))
			return exitError{exitUsage}
		}
		summary += fmt.Sprintf("; %s: %d notifiers, storage %s", configFile, len(cfg.Notifiers), cfg.Storage.Path)
	}
	fmt.Fprintln(stdout, summary)
	return nil
}

// validateWithConfig is what assay run checks beyond loading: the alert
// policies against the notifiers (the alerting sink rejects a load that
// names an unknown one) and the store's path.
func validateWithConfig(cfg *config.Config, cs []*checks.Check) yamlstrict.Errors {
	var errs yamlstrict.Errors
	var perrs yamlstrict.Errors
	if err := alerting.ValidatePolicies(cfg.Defaults.Alert, cfg.Notifiers, cs); errors.As(err, &perrs) {
		errs = append(errs, perrs...)
	} else if err != nil {
		errs = append(errs, &yamlstrict.Error{Pos: yamlstrict.Position{File: cfg.File}, Msg: err.Error()})
	}
	if msg := storagePathProblem(cfg.Storage.Path); msg != "" {
		errs = append(errs, &yamlstrict.Error{Pos: yamlstrict.Position{File: cfg.File}, Field: "storage.path", Msg: msg})
	}
	return errs
}

// storagePathProblem says why the store cannot be opened at p without
// creating anything: a directory in its place, or a file where one of its
// directories should be. The store creates missing directories itself.
func storagePathProblem(p string) string {
	if st, err := os.Stat(p); err == nil {
		if st.IsDir() {
			return fmt.Sprintf("%s is a directory; name the database file in it, e.g. %s", p, filepath.Join(p, config.DefaultStorage))
		}
		if !st.Mode().IsRegular() {
			return fmt.Sprintf("%s is not a regular file", p)
		}
		return ""
	}
	for dir := filepath.Dir(p); ; dir = filepath.Dir(dir) {
		st, err := os.Stat(dir)
		if err == nil {
			if !st.IsDir() {
				return fmt.Sprintf("%s is not a directory (in %s)", dir, p)
			}
			return ""
		}
		if dir == filepath.Dir(dir) {
			return ""
		}
	}
}

// noChecks is the error of a validate that found nothing to validate:
// no check files at all, or files that define no check.
func noChecks(paths []string) error {
	n := 0
	for _, p := range paths {
		_ = filepath.WalkDir(p, func(name string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && (strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")) {
				n++
			}
			return nil
		})
	}
	where := strings.Join(paths, ", ")
	if n == 0 {
		return usagef("no check files in %s (*.yaml or *.yml)", where)
	}
	return usagef("no checks in %s: its %d file(s) define none", where, n)
}

// loadChecks loads and prints every error, one per line; an interrupt
// (ctx done) stops the load.
func loadChecks(ctx context.Context, paths []string, stderr io.Writer) ([]*checks.Check, error) {
	return loadChecksWith(ctx, checks.LoadOptions{}, paths, stderr)
}

// loadChecksWith is loadChecks with options (the secrets of assay.yaml).
func loadChecksWith(ctx context.Context, opts checks.LoadOptions, paths []string, stderr io.Writer) ([]*checks.Check, error) {
	cs, err := opts.LoadContext(ctx, orDefault(paths)...)
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
