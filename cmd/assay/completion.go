package main

import (
	"strings"

	"github.com/assay-monitor/assay/internal/demoapi"
	"github.com/spf13/cobra"
)

// Shell completion: cobra's `assay completion bash|zsh|fish|powershell`
// prints the script; these functions complete flag values that are not
// free text.

// completeFiles completes file names with one of the extensions.
func completeFiles(exts ...string) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return exts, cobra.ShellCompDirectiveFilterFileExt
	}
}

// completeDirs completes directory names.
func completeDirs(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return nil, cobra.ShellCompDirectiveFilterDirs
}

// completeFaults completes the demo API's fault names.
func completeFaults(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	var out []string
	for _, f := range demoapi.Faults {
		if strings.HasPrefix(string(f), toComplete) {
			out = append(out, string(f))
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}
