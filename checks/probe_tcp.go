package checks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"go.yaml.in/yaml/v3"
)

// TCPProbe connects to a TCP port, optionally sends a line, and reads
// what comes back until its expectation holds:
//
//	tcp: { address: "127.0.0.1:6379", send: "PING\r\n", expect: { matches: '^\+PONG' } }
//
// What it received is the step's response body, for body assertions and
// regex captures (a banner's version, say).
type TCPProbe struct {
	// Address is host:port; the host may be a name, an IPv4 or a
	// bracketed IPv6 address.
	Address Template `yaml:"address"`
	// Send is written once the connection is open.
	Send *Template `yaml:"send"`
	// Expect is what the bytes received must satisfy (as text); reading
	// stops as soon as they do. Without it the probe reads nothing
	// unless the step asserts on the body or captures from it, when it
	// takes the first bytes the peer sends (its banner).
	Expect *Predicate `yaml:"expect"`
	// MaxRead bounds what is read (default 64 KiB).
	MaxRead ByteSize `yaml:"max_read"`
	// Timeout bounds the probe (connect, send and read).
	Timeout Duration `yaml:"timeout"`
	// StartTLS upgrades the connection to TLS once it is open, by the
	// protocol's own negotiation (starttls.go): smtp, imap or postgres.
	// Send and Expect then run over TLS, and the step takes expect.tls.
	StartTLS string `yaml:"starttls"`
	// TLS configures the upgrade as a request's tls block does.
	TLS *TLSOptions `yaml:"tls"`

	Pos Position `yaml:"-"`
	// tlsOpts are the loaded options of StartTLS.
	tlsOpts *TLSOptions
	// banner says that the step reads what the peer sends first though
	// there is no Expect.
	banner bool
}

// DefaultMaxRead is how much a tcp probe reads at most.
const DefaultMaxRead = 64 << 10

func (p *TCPProbe) kind() string           { return "tcp" }
func (p *TCPProbe) timeout() time.Duration { return p.Timeout.D() }

func (p *TCPProbe) expects() []string {
	if p.StartTLS != "" {
		return []string{"body", "json", "json_schema", "response_time", "tls"}
	}
	return []string{"body", "json", "json_schema", "response_time"}
}

func (p *TCPProbe) templates() []Template {
	ts := []Template{p.Address}
	if p.Send != nil {
		ts = append(ts, *p.Send)
	}
	return append(ts, p.Expect.templates()...)
}

func (p *TCPProbe) summary() RequestSummary {
	return RequestSummary{Method: "TCP", URL: "tcp://" + p.Address.Raw}
}

func (p *TCPProbe) compile(d *decoder, _ *Check, s *Step, path string) {
	compileAddress(d, p.Address, s, path)
	boundProbeTimeout(d, p.Timeout, s, path)
	if p.MaxRead == 0 {
		p.MaxRead = DefaultMaxRead
	} else if p.MaxRead > DefaultMaxBody {
		fp := path + ".max_read"
		d.ErrAt(d.ValuePos(fp, s.Pos), fp, "must be at most %s, got %s", ByteSize(DefaultMaxBody), p.MaxRead)
	}
	if p.Expect != nil {
		p.Expect.Length.checkNumeric(d, path+".expect.length")
		rejectList(d, p.Expect, path+".expect", "what a tcp probe receives, which is text")
		s.assertions = append(s.assertions, textAssertion("tcp expect", p.Expect))
	}
	compileStartTLS(d, p, s, path)
	p.banner = p.Expect == nil && (s.Expect.Body != nil || len(s.Expect.JSON) > 0 || s.Expect.JSONSchema != nil || len(s.Capture) > 0)
}

func (p *TCPProbe) node() *yaml.Node {
	n := yMap("address", yStr(p.Address.Raw))
	if p.Send != nil {
		yAdd(n, "send", yStr(p.Send.Raw))
	}
	if p.Expect != nil {
		yAdd(n, "expect", predicateNode(p.Expect))
	}
	if p.MaxRead != DefaultMaxRead {
		yAdd(n, "max_read", yInt(int(p.MaxRead)))
	}
	if p.Timeout > 0 {
		yAdd(n, "timeout", yStr(durationText(p.Timeout)))
	}
	if p.StartTLS != "" {
		yAdd(n, "starttls", yStr(p.StartTLS))
	}
	if p.TLS != nil {
		yAdd(n, "tls", tlsOptionsNode(p.TLS))
	}
	return yFlow(n)
}

// textAssertion asserts p on the body as text, shown as label.
func textAssertion(label string, p *Predicate) assertion {
	return assertion{name: label, eval: func(r *response, data map[string]any) []AssertionResult {
		return p.eval(r, label, string(r.body), true, true, data)
	}}
}

func (p *TCPProbe) run(ctx context.Context, pc *probeCall) *probeOutcome {
	out := &probeOutcome{request: p.summary(), proto: "TCP"}
	addr, err := p.Address.RenderContext(ctx, pc.data)
	if err != nil {
		return out.fail(ReasonTemplate, "template: "+err.Error())
	}
	out.request.URL = "tcp://" + addr
	var send string
	if p.Send != nil {
		if send, err = p.Send.RenderContext(ctx, pc.data); err != nil {
			return out.fail(ReasonTemplate, "template: "+err.Error())
		}
		out.request.Body = send
	}
	start := time.Now()
	conn, err := dialProbe(ctx, addr, &out.timings)
	if err != nil {
		out.timings.Total = time.Since(start)
		return out.fail(probeDialError(ctx, err, p.Timeout.D()))
	}
	defer conn.Close()
	// A deadline of the step or the check closes the connection, which
	// ends a read in flight.
	// The raw connection: closing it ends a TLS read too, without the
	// close_notify a TLS close would try to write.
	raw := conn
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	defer stop()
	if p.StartTLS != "" {
		tc, cs, err := p.upgrade(ctx, conn, addr, &out.timings)
		if cs != nil {
			out.tls = tlsInfo(cs, time.Now())
		}
		if err != nil {
			out.timings.Total = time.Since(start)
			return out.fail(err.reason, err.message)
		}
		conn = tc
	}
	if send != "" {
		if _, err := io.WriteString(conn, send); err != nil {
			out.timings.Total = time.Since(start)
			return out.fail(probeIOError(ctx, err, p.Timeout.D(), "sending"))
		}
	}
	if p.Expect == nil && !p.banner {
		out.timings.Total = time.Since(start)
		out.answered, out.line = true, "connected"+p.over(out.tls)
		return out
	}
	buf, err := p.read(ctx, conn, pc, start, &out.timings)
	out.timings.Total = time.Since(start)
	out.body = buf
	if len(buf) > 0 {
		out.answered, out.line = true, fmt.Sprintf("%d bytes received", len(buf))+p.over(out.tls)
	}
	switch {
	case err == nil, len(buf) > 0 && (errors.Is(err, io.EOF) || errors.Is(err, errReadLimit)):
		// Done, or the peer stopped: the assertions say whether what came
		// is right.
		return out
	case len(buf) > 0 && ctx.Err() != nil && !interrupted(ctx):
		// Something came, and never what was expected: the assertion
		// shows what did.
		return out
	case errors.Is(err, io.EOF):
		return out.fail(ReasonNetwork, "network: the connection was closed before anything was received")
	}
	return out.fail(probeIOError(ctx, err, p.Timeout.D(), "reading the answer"))
}

var errReadLimit = errors.New("read limit")

// read reads until Expect holds (or, for a banner, once), the peer
// closes, MaxRead is reached or ctx ends.
func (p *TCPProbe) read(ctx context.Context, conn net.Conn, pc *probeCall, start time.Time, t *Timings) ([]byte, error) {
	limit := int(p.MaxRead)
	buf := make([]byte, 0, min(limit, 4<<10))
	for {
		if len(buf) == cap(buf) {
			if len(buf) >= limit {
				return buf, errReadLimit
			}
			grown := make([]byte, len(buf), min(limit, 2*cap(buf)))
			copy(grown, buf)
			buf = grown
		}
		n, err := conn.Read(buf[len(buf):cap(buf)])
		if n > 0 && t.FirstByte == 0 {
			t.FirstByte = time.Since(start)
		}
		buf = buf[:len(buf)+n]
		if n > 0 && (p.Expect == nil || p.holds(ctx, buf, pc.data)) {
			return buf, nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return buf, ctx.Err()
			}
			return buf, err
		}
	}
}

// holds reports whether what was read satisfies Expect.
func (p *TCPProbe) holds(ctx context.Context, b []byte, data map[string]any) bool {
	r := &response{body: b, ctx: ctx}
	return allPassed(p.Expect.eval(r, "tcp expect", string(b), true, true, data)) && !r.stopped
}

// dialProbe connects to addr, timing the name lookup apart from the
// connect; it tries each address the name has, in order.
func dialProbe(ctx context.Context, addr string, t *Timings) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, &net.AddrError{Err: "expected host:port", Addr: addr}
	}
	ips := []string{host}
	if net.ParseIP(host) == nil {
		began := time.Now()
		ips, err = net.DefaultResolver.LookupHost(ctx, host)
		t.DNS = time.Since(began)
		if err != nil {
			return nil, err
		}
	}
	began := time.Now()
	defer func() { t.Connect = time.Since(began) }()
	var d net.Dialer
	var first error
	for _, ip := range ips {
		conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(ip, port))
		if err == nil {
			return conn, nil
		}
		if first == nil {
			first = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, first
}

// probeDialError classifies a failed connect of a probe.
func probeDialError(ctx context.Context, err error, timeout time.Duration) (Reason, string) {
	if interrupted(ctx) {
		return ReasonInterrupted, interruptedMessage
	}
	if ctx.Err() != nil {
		return ReasonTimeout, probeTimeoutMessage(timeout, "connecting")
	}
	var ae *net.AddrError
	if errors.As(err, &ae) {
		return ReasonConnect, "connect: " + ae.Error()
	}
	return classifyErr(ctx, err, timeout)
}

// probeIOError classifies a failed read or write of a probe, done while
// doing what.
func probeIOError(ctx context.Context, err error, timeout time.Duration, what string) (Reason, string) {
	if interrupted(ctx) {
		return ReasonInterrupted, interruptedMessage
	}
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
		return ReasonTimeout, probeTimeoutMessage(timeout, what)
	}
	reason, msg := classifyErr(ctx, err, timeout)
	return reason, msg + " (while " + what + ")"
}

// compileAddress checks a host:port field as far as it is known at load.
func compileAddress(d *decoder, a Template, s *Step, path string) {
	fp := path + ".address"
	switch {
	case a.Raw == "":
		if !reported(d, fp) {
			d.ErrAt(d.ValuePos(path, s.Pos), fp, "a %s probe needs an address (host:port)", s.kind())
		}
	case !a.Templated():
		if _, port, err := net.SplitHostPort(a.Raw); err != nil || port == "" {
			d.ErrAt(a.Pos, fp, "expected host:port like 127.0.0.1:6379 or db.internal:5432, got %q", a.Raw)
		}
	}
}

// boundProbeTimeout reports a probe timeout over MaxTimeout.
func boundProbeTimeout(d *decoder, t Duration, s *Step, path string) {
	if t.D() > MaxTimeout {
		fp := path + ".timeout"
		d.ErrAt(d.ValuePos(fp, s.Pos), fp, "must be at most %s, got %s", shortDuration(MaxTimeout), shortDuration(t.D()))
	}
}
