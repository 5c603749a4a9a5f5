package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/checks/openapi"
	"github.com/assay-monitor/assay/checks/scaffold"
	"github.com/spf13/cobra"
)

// initOptions are the flags of assay init.
type initOptions struct {
	spec, baseURL, out string
	writes, force      bool
}

// defaultOpenAPIOut is where --from-openapi writes without --out.
const defaultOpenAPIOut = "checks.d/openapi.yaml"

func newInitCmd() *cobra.Command {
	var o initOptions
	cmd := &cobra.Command{
		Use:   "init [--from-openapi SPEC [--base-url URL] [--writes] [--out FILE]] [--force]",
		Short: "write starter files, or a check file generated from an OpenAPI spec",
		Long: `Without --from-openapi, writes a commented starter check file
(checks.d/example.yaml, which runs against assay demo-api) and a global
config (assay.yaml) in the working directory.

With --from-openapi SPEC (OpenAPI 3.0 or 3.1, YAML or JSON), writes a check
file (default checks.d/openapi.yaml; --out - for standard output): a check
per GET operation that can be called without parameters that lack an
example, expecting the documented success status and validating the
response against the spec. Path parameters take their example or first
examples value; an operation whose required parameter has none is left out
and listed, with the reason, in a comment at the end of the file. The API's
URL is --base-url, else the spec's first server. With --writes, a
conditional-update contract is added for each resource whose PATCH or PUT
takes If-Match: those checks write to the resource.

An existing file is never overwritten: assay init exits 2 naming it, and
writes nothing, unless --force.`,
		Example: `  assay init
  assay init --from-openapi api/openapi.yaml --base-url http://127.0.0.1:8080
  assay init --from-openapi api/openapi.yaml --writes --out checks.d/api.yaml`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := noArgs(args, " (use --from-openapi SPEC)"); err != nil {
				return err
			}
			return runInit(o, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.spec, "from-openapi", "", "generate the checks from the OpenAPI 3.0/3.1 spec `SPEC`")
	f.StringVar(&o.baseURL, "base-url", "", "the API's `URL` (default: the spec's first server)")
	f.StringVar(&o.out, "out", "", "write the generated check file to `FILE` (default "+defaultOpenAPIOut+"; - for standard output)")
	f.BoolVar(&o.writes, "writes", false, "also generate conditional-update contracts, which write to the API")
	f.BoolVar(&o.force, "force", false, "replace files that exist")
	return cmd
}

func runInit(o initOptions, stdout io.Writer) error {
	if o.spec == "" {
		for flag, set := range map[string]bool{"--base-url": o.baseURL != "", "--writes": o.writes, "--out": o.out != ""} {
			if set {
				return usagef("%s applies to --from-openapi SPEC; assay init alone writes %s and %s", flag, scaffold.StarterChecksPath, scaffold.StarterConfigPath)
			}
		}
		return writeStarter(o.force, stdout)
	}
	return initFromOpenAPI(o, stdout)
}

// writeStarter writes the starter check file and config, or nothing when
// one of them exists (unless force).
func writeStarter(force bool, stdout io.Writer) error {
	files := []struct {
		path string
		data []byte
	}{{scaffold.StarterChecksPath, scaffold.StarterChecks}, {scaffold.StarterConfigPath, scaffold.StarterConfig}}
	for _, f := range files {
		if err := refuseExisting(f.path, force); err != nil {
			return err
		}
	}
	for _, f := range files {
		if err := writeNew(f.path, f.data); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "wrote %s and %s\nnext: start assay demo-api, then run assay test %s\n", scaffold.StarterChecksPath, scaffold.StarterConfigPath, filepath.Dir(scaffold.StarterChecksPath))
	return nil
}

// initFromOpenAPI writes the check file generated from the spec.
func initFromOpenAPI(o initOptions, stdout io.Writer) error {
	out := o.out
	if out == "" {
		out = defaultOpenAPIOut
	}
	if out != stdoutName {
		if err := refuseExisting(out, o.force); err != nil {
			return err
		}
	}
	spec, err := openapi.Load(o.spec)
	if err != nil {
		return usageError{err.Error()}
	}
	ref, err := specRef(o.spec, out)
	if err != nil {
		return err
	}
	g, err := scaffold.FromOpenAPI(spec, scaffold.Options{BaseURL: o.baseURL, SpecRef: ref, Source: o.spec, Writes: o.writes})
	if err != nil {
		if errors.Is(err, scaffold.ErrNothing) && len(g.LeftOut) > 0 {
			return usagef("%s: %v (%s)", o.spec, err, strings.Join(g.LeftOut, "; "))
		}
		if errors.Is(err, scaffold.ErrNothing) {
			return usagef("%s: %v (it documents no GET operation)", o.spec, err)
		}
		return usageError{err.Error()}
	}
	// What is written must load: a failure here is a bug of the
	// generator, not of the spec.
	file := out
	if out == stdoutName {
		file = filepath.Join(".", "openapi.yaml")
	}
	if _, err := checks.Parse(file, g.File); err != nil {
		return fmt.Errorf("the generated file does not load (a bug, please report it): %v", err)
	}
	if out == stdoutName {
		_, err := stdout.Write(g.File)
		return err
	}
	if err := writeNew(out, g.File); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %d checks from %s", out, g.Checks, o.spec)
	if n := len(g.LeftOut); n > 0 {
		fmt.Fprintf(stdout, " (%d operations left out, listed at the end of the file)", n)
	}
	fmt.Fprintf(stdout, "\nnext: assay test %s\n", out)
	return nil
}

// specRef is how a check file at out names the spec: relative to its
// directory, as the loader resolves it.
func specRef(spec, out string) (string, error) {
	dir := "."
	if out != stdoutName {
		dir = filepath.Dir(out)
	}
	absSpec, err := filepath.Abs(spec)
	if err != nil {
		return "", err
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	// Relative when they share a directory below the root, so that both
	// can move together; else absolute, which reads better than a climb
	// to the root.
	rel, err := filepath.Rel(absDir, absSpec)
	if err != nil || topDir(absDir) != topDir(absSpec) {
		return filepath.ToSlash(absSpec), nil
	}
	return filepath.ToSlash(rel), nil
}

// topDir is the first element of an absolute path ("work" of
// /work/api/openapi.yaml).
func topDir(abs string) string {
	rest := strings.TrimPrefix(filepath.ToSlash(abs), "/")
	top, _, _ := strings.Cut(rest, "/")
	return top
}

// refuseExisting is the usage error of a file init would replace.
func refuseExisting(path string, force bool) error {
	if force {
		return nil
	}
	if _, err := os.Lstat(path); err == nil {
		return usagef("%s exists: not overwriting it (--force replaces it)", path)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return usagef("%s: %v", path, err)
	}
	return nil
}

// writeNew writes data to path through a temporary file in the same
// directory (made if missing), so that no reader sees half a file.
func writeNew(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
