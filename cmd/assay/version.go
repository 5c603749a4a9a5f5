package main

import (
	"fmt"
	"io"

	"github.com/assay-monitor/assay/internal/buildinfo"
	"github.com/spf13/cobra"
)

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "print the version, the VCS revision and the Go version",
		Long: `Prints the version (set at release builds with -ldflags "-X main.version=..."),
then the VCS revision the binary was built from (the same revision label
assay_build_info exports; "unknown" for go run, go test or -buildvcs=false),
whether the tree had uncommitted changes, and the Go toolchain.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := noArgs(args, ""); err != nil {
				return err
			}
			return writeVersion(cmd.OutOrStdout())
		},
	}
}

func writeVersion(w io.Writer) error {
	_, err := io.WriteString(w, formatVersion(version, buildinfo.Read()))
	return err
}

// formatVersion is the text of assay version: the first line is
// "assay VERSION" alone, for scripts.
func formatVersion(v string, bi buildinfo.Info) string {
	rev := bi.Revision
	switch {
	case rev == buildinfo.Unknown:
		rev += " (built without VCS information)"
	case bi.Modified:
		rev += " (modified)"
	}
	s := fmt.Sprintf("assay %s\nrevision: %s\n", v, rev)
	if bi.Time != "" {
		s += fmt.Sprintf("commit:   %s\n", bi.Time)
	}
	return s + fmt.Sprintf("go:       %s %s\n", bi.GoVersion, bi.Platform)
}
