package main

import (
	"fmt"
	"strings"

	"github.com/assay-monitor/assay/internal/demoapi"
	"github.com/spf13/cobra"
)

func faultNames() string {
	names := make([]string, len(demoapi.Faults))
	for i, f := range demoapi.Faults {
		names[i] = string(f)
	}
	return strings.Join(names, ", ")
}

func newDemoAPICmd() *cobra.Command {
	var listen, fault string
	cmd := &cobra.Command{
		Use:   "demo-api [--listen ADDR] [--fault NAME]",
		Short: "serve the demo documents API (with --fault NAME to break it)",
		Long: `Serves the demo documents API, which gets RFC 9110 conditional requests
right, until SIGINT or SIGTERM (exit 0). --fault breaks one contract on
purpose: ` + faultNames() + `.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := noArgs(args, ""); err != nil {
				return err
			}
			f, err := demoapi.ParseFault(fault)
			if err != nil {
				return usagef("--fault: %v", err)
			}
			stderr := cmd.ErrOrStderr()
			logf := func(format string, a ...any) { fmt.Fprintf(stderr, format+"\n", a...) }
			return demoapi.ListenAndServe(cmd.Context(), listen, demoapi.Options{Fault: f}, logf)
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:8787", "serve on `ADDR`")
	cmd.Flags().StringVar(&fault, "fault", "", "break the API on purpose: `NAME` is one of "+faultNames())
	mustComplete(cmd, "fault", completeFaults)
	return cmd
}
