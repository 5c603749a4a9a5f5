// Package probetest runs checks whose steps are probes (tcp, and the other
// kinds as they come) against servers on loopback, so that the tests of
// each sink (reports, metrics, history, page) take real non-HTTP results.
package probetest

import (
	"bufio"
	"context"
	"net"
	"strings"
	"testing"

	"github.com/assay-monitor/assay/checks"
)

// Names of the checks Results runs.
const (
	// Passing is a tcp check whose expectation holds.
	Passing = "tcp-pass"
	// Failing is a tcp check whose expectation does not: its result
	// carries what the peer said, Received.
	Failing = "tcp-fail"
	// Received is what the server says to a PING.
	Received = "+PONG probe-fixture"
)

// Checks loads the fixture's checks, aimed at a server started for the
// test.
func Checks(t testing.TB) []*checks.Check {
	t.Helper()
	addr := serve(t)
	src := `
checks:
  - name: ` + Passing + `
    labels: { kind: tcp }
    steps:
      - name: ping
        tcp: { address: "` + addr + `", send: "PING\r\n", expect: { matches: '\+PONG' }, timeout: 5s }
  - name: ` + Failing + `
    labels: { kind: tcp }
    steps:
      - name: ping
        tcp: { address: "` + addr + `", send: "PING\r\n", expect: { contains: "+PANG" }, timeout: 500ms }
`
	cs, err := checks.Parse("probes.yaml", []byte(src))
	if err != nil {
		t.Fatalf("fixture checks: %v", err)
	}
	return cs
}

// Results runs the fixture's checks once each, in the order of Checks.
func Results(t testing.TB) []*checks.Result {
	t.Helper()
	r := checks.NewRunner(checks.RunnerOptions{})
	t.Cleanup(r.Close)
	var out []*checks.Result
	for _, c := range Checks(t) {
		out = append(out, r.Run(context.Background(), c))
	}
	if !out[0].Passed || out[1].Passed {
		t.Fatalf("fixture: %s passed=%v (%s), %s passed=%v", out[0].Check, out[0].Passed, out[0].Message, out[1].Check, out[1].Passed)
	}
	return out
}

// serve answers PING with Received on a loopback port until the test
// ends.
func serve(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				line, err := bufio.NewReader(c).ReadString('\n')
				if err == nil && strings.HasPrefix(line, "PING") {
					c.Write([]byte(Received + "\r\n"))
				}
				// Hold the connection until the probe is done with it,
				// as a server that keeps it open does.
				c.Read(make([]byte, 1))
			}()
		}
	}()
	return ln.Addr().String()
}
