package checks

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"
)

// tcpServer serves each connection with h on a loopback port until the
// test ends; it returns host:port.
func tcpServer(t *testing.T, h func(c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { close(done); ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				// A connection the probe leaves open ends with the test.
				go func() { <-done; c.Close() }()
				h(c)
			}()
		}
	}()
	return ln.Addr().String()
}

// redisLike greets, then answers PING with +PONG and AUTH with +OK.
func redisLike(c net.Conn) {
	c.Write([]byte("+OK probe-banner v7.2.4 ready\r\n"))
	rd := bufio.NewReader(c)
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			return
		}
		switch {
		case strings.HasPrefix(line, "PING"):
			c.Write([]byte("+PONG\r\n"))
		case strings.HasPrefix(line, "AUTH "):
			c.Write([]byte("+OK\r\n"))
		}
	}
}

// Rule: a tcp step connects, sends, and reads until its expectation holds;
// what it sent and received is the step's request and response, with the
// same shape as an HTTP step's.
func TestTCPProbeReadsUntilItsExpectationHolds(t *testing.T) {
	addr := tcpServer(t, redisLike)
	c := loadCheck(t, `
checks:
  - name: redis
    steps:
      - name: ping
        tcp: { address: "`+addr+`", send: "PING\r\n", expect: { matches: '\+PONG' }, timeout: 5s }
`)
	res := runCheck(t, c)
	if !res.Passed {
		t.Fatalf("failed: %s %s", res.Reason, res.Message)
	}
	s := res.Steps()[0]
	if s.Kind != "tcp" || s.Request.Method != "TCP" || s.Request.URL != "tcp://"+addr || s.Request.Body != "PING\r\n" {
		t.Errorf("request summary: kind %q %+v", s.Kind, s.Request)
	}
	if s.Response == nil || !strings.Contains(s.Response.Body, "+PONG") || s.Response.Proto != "TCP" || !strings.Contains(s.Response.Line, "bytes received") {
		t.Errorf("response summary: %+v", s.Response)
	}
	if len(s.Assertions) != 1 || s.Assertions[0].Name != "tcp expect" || !s.Assertions[0].Passed {
		t.Errorf("assertions: %+v", s.Assertions)
	}
	if s.Timings.Total <= 0 || s.Timings.Total < s.Timings.FirstByte {
		t.Errorf("timings: %+v", s.Timings)
	}
}

// Rule: each way a tcp step fails has its reason: the expectation does
// not hold on what came (assertion, showing what came), nothing listens
// (connect), the peer says nothing before the deadline (timeout), the
// peer closes at once (network).
func TestTCPProbeFailures(t *testing.T) {
	addr := tcpServer(t, redisLike)
	silent := tcpServer(t, func(c net.Conn) { c.Read(make([]byte, 1)) })
	closes := tcpServer(t, func(c net.Conn) {})
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	refused := ln.Addr().String()
	ln.Close()
	cases := []struct {
		name, tcp string
		reason    Reason
		msg       string
	}{
		{"wrong answer", `{ address: "` + addr + `", send: "PING\r\n", expect: { matches: '\+PANG' }, timeout: 500ms }`, ReasonAssertion,
			`tcp expect: expected to match "\\+PANG", got "+OK probe-banner v7.2.4 ready\r\n+PONG\r\n"`},
		{"refused", `{ address: "` + refused + `", expect: { contains: x } }`, ReasonConnect, "connect: "},
		{"silent", `{ address: "` + silent + `", expect: { contains: x }, timeout: 300ms }`, ReasonTimeout,
			"timeout: no complete answer within the step timeout 300ms (while reading the answer)"},
		{"closed", `{ address: "` + closes + `", expect: { contains: x } }`, ReasonNetwork, "network: the connection was closed before anything was received"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := loadCheck(t, `
checks:
  - name: t
    timeout: 10s
    steps:
      - name: s
        tcp: `+tc.tcp+`
`)
			start := time.Now()
			res := runCheck(t, c)
			if res.Passed || res.Reason != tc.reason || !strings.Contains(res.Message, tc.msg) {
				t.Errorf("got %s %q, want %s containing %q", res.Reason, res.Message, tc.reason, tc.msg)
			}
			if el := time.Since(start); el > 5*time.Second {
				t.Errorf("took %v", el)
			}
		})
	}
}

// Rule: without an expectation a tcp step that asserts on the body or
// captures from it reads the peer's first bytes (a banner); a regex group
// of it feeds a later step, and a secret sent is shown by reference only.
func TestTCPProbeBannerCaptureAndSecretSend(t *testing.T) {
	addr := tcpServer(t, redisLike)
	c := loadCheck(t, `
checks:
  - name: banner
    steps:
      - name: greet
        tcp: { address: "`+addr+`" }
        expect: { body: { contains: probe-banner } }
        capture: { version: { regex: 'v(\d+\.\d+\.\d+)' } }
      - name: auth
        tcp: { address: "`+addr+`", send: "AUTH ${REDIS_PASSWORD} {{ .version }}\r\n", expect: { contains: "ready\r\n+OK\r\n" }, timeout: 5s }
`, "REDIS_PASSWORD", "hunter2-s3cret")
	res := runCheck(t, c)
	if !res.Passed {
		t.Fatalf("failed: %s %s", res.Reason, res.Message)
	}
	steps := res.Steps()
	if steps[0].Captures["version"] != "7.2.4" {
		t.Errorf("captures: %v", steps[0].Captures)
	}
	if got := steps[1].Request.Body; got != "AUTH ${REDIS_PASSWORD} 7.2.4\r\n" {
		t.Errorf("sent body shown as %q", got)
	}
	b, _ := json.Marshal(res)
	if strings.Contains(string(b), "hunter2") {
		t.Errorf("the secret is in the result: %s", b)
	}
}

// Rule: a connect-only tcp step (no expectation, nothing read) passes as
// soon as the port accepts, and reads nothing.
func TestTCPProbeConnectOnly(t *testing.T) {
	addr := tcpServer(t, func(c net.Conn) { c.Read(make([]byte, 1)) })
	c := loadCheck(t, `
checks:
  - name: port
    steps:
      - tcp: { address: "`+addr+`" }
        expect: { response_time: 5s }
`)
	res := runCheck(t, c)
	if !res.Passed || res.Steps()[0].Response.Line != "connected" || res.Steps()[0].Response.BodySize != 0 {
		t.Fatalf("got %v %s %+v", res.Passed, res.Message, res.Steps()[0].Response)
	}
}

// Rule: what a tcp step reads is bounded by max_read: a peer that streams
// forever costs at most that much and fails the expectation.
func TestTCPProbeReadIsBounded(t *testing.T) {
	addr := tcpServer(t, func(c net.Conn) {
		chunk := []byte(strings.Repeat("y", 4096))
		for {
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
	})
	c := loadCheck(t, `
checks:
  - name: flood
    steps:
      - tcp: { address: "`+addr+`", expect: { contains: never }, max_read: 16KiB }
`)
	res := newTestRunner(t).Run(context.Background(), c)
	s := res.Steps()[0]
	if res.Passed || res.Reason != ReasonAssertion || s.Response.BodySize != 16<<10 {
		t.Fatalf("got %s %q, read %d", res.Reason, res.Message, s.Response.BodySize)
	}
}

// Rule: a step has exactly one kind, a probe's fields are checked at load,
// and an HTTP expectation or capture on a tcp step is refused by name.
func TestTCPProbeLoadErrors(t *testing.T) {
	got := loadErrors(t, `
checks:
  - name: a
    steps:
      - tcp: { send: x }
      - tcp: { address: "no-port" }
      - tcp: { address: "h:1" }
        request: { url: "http://h/" }
      - tcp: { address: "h:1", max_read: 20MiB, timeout: 25h }
      - tcp: { address: "h:1" }
        expect: { status: 200, headers: { A: b } }
        capture: { s: { status: true } }
      - request: { url: "http://h/" }
        expect: { rcode: NOERROR }
`)
	wantErrors(t, got,
		`checks.yaml:5:14: checks[0].steps[0].tcp.address: a tcp probe needs an address (host:port)`,
		`checks.yaml:6:25: checks[0].steps[1].tcp.address: expected host:port like 127.0.0.1:6379 or db.internal:5432, got "no-port"`,
		`checks.yaml:7:9: checks[0].steps[2]: set exactly one of request, tcp, tls, dns, grpc`,
		`checks.yaml:9:42: checks[0].steps[3].tcp.max_read: must be at most 10 MiB, got 20 MiB`,
		`checks.yaml:9:58: checks[0].steps[3].tcp.timeout: must be at most 24h, got 25h`,
		`checks.yaml:11:19: checks[0].steps[4].expect.status: status does not apply to a tcp step (it takes body, json, json_schema, response_time)`,
		`checks.yaml:11:32: checks[0].steps[4].expect.headers: headers does not apply to a tcp step (it takes body, json, json_schema, response_time)`,
		`checks.yaml:12:23: checks[0].steps[4].capture.s: a tcp step captures with json or regex (header, cookie and status are HTTP's)`,
		`checks.yaml:14:19: checks[0].steps[5].expect.rcode: rcode applies to dns steps, not to an HTTP request`,
	)
}

// Rule: assay explain writes a probe step back as the check file it
// runs: the output loads again, with the same probe.
func TestExplainWritesAProbeStepBack(t *testing.T) {
	c := loadCheck(t, `
checks:
  - name: redis
    steps:
      - name: ping
        tcp: { address: "127.0.0.1:6379", send: "PING\r\n", expect: { matches: '\+PONG' }, timeout: 2s, max_read: 1KiB }
        expect: { response_time: 1s }
`)
	out, err := Explain(c)
	if err != nil {
		t.Fatal(err)
	}
	again := loadCheck(t, string(out))
	p := again.Steps[0].TCP
	if p == nil || p.Address.Raw != "127.0.0.1:6379" || p.Send.Raw != "PING\r\n" || p.Expect.Matches.Raw != `\+PONG` ||
		p.Timeout.D() != 2*time.Second || p.MaxRead != 1024 || again.Steps[0].Expect.ResponseTime.D() != time.Second ||
		strings.Contains(string(out), "status") {
		t.Errorf("explain:\n%s", out)
	}
}
