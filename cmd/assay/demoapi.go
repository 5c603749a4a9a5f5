package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/assay-monitor/assay/internal/demoapi"
)

func faultNames() string {
	names := make([]string, len(demoapi.Faults))
	for i, f := range demoapi.Faults {
		names[i] = string(f)
	}
	return strings.Join(names, ", ")
}

func cmdDemoAPI(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo-api", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:8787", "serve on `ADDR`")
	fault := fs.String("fault", "", "break the API on purpose: `NAME` is one of "+faultNames())
	pos, err := parseInterspersed(fs, args, stdout, "demo-api [--listen ADDR] [--fault NAME]")
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected argument %q", pos[0])
	}
	f, err := demoapi.ParseFault(*fault)
	if err != nil {
		return usagef("--fault: %v", err)
	}
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, format+"\n", a...) }
	return demoapi.ListenAndServe(ctx, *listen, demoapi.Options{Fault: f}, logf)
}
