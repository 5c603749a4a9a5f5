package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/assay-monitor/assay/checks"
	"go.uber.org/goleak"
)

// TestHostileTargetsFailByTheirKindAndLeaveNoGoroutineBehind runs the
// engine against each hostile target of the soak: each fails as it
// should, the ones that never finish end by the check's timeout, and
// once the runner closes its idle connections the engine keeps no
// goroutine of theirs (the targets' own end with their connections).
func TestHostileTargetsFailByTheirKindAndLeaveNoGoroutineBehind(t *testing.T) {
	defer goleak.VerifyNone(t)
	// net/http logs the lying short body's leftover (the daemon routes
	// that to its logger at debug; this test has none).
	log.SetOutput(io.Discard)
	defer log.SetOutput(os.Stderr)
	const timeout = time.Second
	want := map[string]struct {
		reason  checks.Reason
		message string // a part of the message
		slow    bool   // ends by the timeout
	}{
		"hang":     {checks.ReasonTimeout, "check timeout 1s exceeded", true},
		"reset":    {checks.ReasonNetwork, "connection reset by peer", false},
		"slowbody": {checks.ReasonTimeout, "check timeout 1s exceeded (while reading the body)", true},
		"tlsstall": {checks.ReasonTimeout, "check timeout 1s exceeded", true},
		"lielong":  {checks.ReasonNetwork, "unexpected EOF (while reading the body)", false},
		"lieshort": {checks.ReasonAssertion, "expected a JSON body", false},
	}
	if len(want) != len(hostileKinds) {
		t.Fatalf("%d kinds, %d expectations", len(hostileKinds), len(want))
	}
	runner := checks.NewRunner(checks.RunnerOptions{})
	for _, k := range hostileKinds {
		t.Run(k.name, func(t *testing.T) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			go acceptHostile(l, k.serve)
			tls := ""
			if k.scheme == "https" {
				tls = ", tls: { server_name: localhost }"
			}
			text := "checks:\n" + fmt.Sprintf(soakHostileYAML, k.name, 1, "30s", timeout, k.scheme, l.Addr(), tls, "")
			cs, err := checks.Parse("hostile.yaml", []byte(text))
			if err != nil {
				t.Fatalf("%v\n%s", err, text)
			}
			start := time.Now()
			res := runner.Run(context.Background(), cs[0])
			took := time.Since(start)
			w := want[k.name]
			if res.Passed || res.Reason != w.reason || !strings.Contains(res.Message, w.message) {
				t.Errorf("passed %v, reason %q, message %q; want reason %q and a message with %q", res.Passed, res.Reason, res.Message, w.reason, w.message)
			}
			if w.slow && (took < timeout || took > timeout+time.Second) {
				t.Errorf("took %s, want the timeout (%s) and at most a second more", took, timeout)
			}
			if !w.slow && took > timeout/2 {
				t.Errorf("took %s, want well under the timeout", took)
			}
		})
	}
	runner.Close()
}
