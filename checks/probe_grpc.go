package checks

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/assay-monitor/assay/internal/oneline"
	"github.com/assay-monitor/assay/internal/yamlstrict"
	"go.yaml.in/yaml/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
)

// GRPCProbe calls grpc.health.v1.Health/Check on a gRPC server, in
// plaintext or over TLS:
//
//	grpc: { address: "127.0.0.1:50051", service: orders.v1.Orders }
//
// The step expects the health status SERVING unless its expect.status
// names others. The answer is the step's response body as JSON,
// {"status":"SERVING"}, for json assertions and captures.
type GRPCProbe struct {
	// Address is host:port; the host may be a name, an IPv4 or a
	// bracketed IPv6 address.
	Address Template `yaml:"address"`
	// Service is the service whose health is asked; empty asks about
	// the server as a whole.
	Service string `yaml:"service"`
	// Authority is the :authority the call carries (and, over TLS, the
	// server name verified unless tls.server_name is set); default the
	// address.
	Authority string `yaml:"authority"`
	// Metadata are headers sent with the call, by key (templates).
	Metadata map[string]Template `yaml:"metadata"`
	// TLS makes the call over TLS, with these client options; without
	// it the call is plaintext (h2c).
	TLS *TLSOptions `yaml:"tls"`
	// Timeout bounds the probe: connect, TLS handshake and call.
	Timeout Duration `yaml:"timeout"`
}

// healthCheckMethod is the method a grpc probe calls.
const healthCheckMethod = "/grpc.health.v1.Health/Check"

// defaultHealthStatus is what a grpc step that sets no status expects.
const defaultHealthStatus = "SERVING"

// defaultGRPCStatus is the expectation of a grpc step without a status;
// its Raw says so in a failure ("status: expected SERVING (default), got
// NOT_SERVING").
var defaultGRPCStatus = &StatusExpect{Raw: defaultHealthStatus + " (default)", names: []string{defaultHealthStatus}}

// grpcMaxAnswer bounds a message the probe receives; a health answer is a
// few bytes.
const grpcMaxAnswer = 64 << 10

// grpcMaxHeaderList bounds the headers and trailers the probe accepts.
const grpcMaxHeaderList = 16 << 10

func (p *GRPCProbe) kind() string           { return "grpc" }
func (p *GRPCProbe) timeout() time.Duration { return p.Timeout.D() }

func (p *GRPCProbe) expects() []string {
	return []string{"status", "body", "json", "json_schema", "response_time", "tls"}
}

func (p *GRPCProbe) templates() []Template {
	ts := []Template{p.Address}
	for _, k := range sortedKeys(p.Metadata) {
		ts = append(ts, p.Metadata[k])
	}
	return ts
}

// target is the probe's request URL for address addr.
func (p *GRPCProbe) target(addr string) string {
	scheme := "grpc"
	if p.TLS != nil {
		scheme = "grpcs"
	}
	return scheme + "://" + addr + healthCheckMethod
}

func (p *GRPCProbe) summary() RequestSummary {
	return RequestSummary{Method: "GRPC", URL: p.target(p.Address.Raw), Body: p.requestBody()}
}

// requestBody is the HealthCheckRequest as JSON.
func (p *GRPCProbe) requestBody() string {
	b, _ := json.Marshal(map[string]string{"service": p.Service})
	return string(b)
}

func (p *GRPCProbe) compile(d *decoder, _ *Check, s *Step, path string) {
	compileAddress(d, p.Address, s, path)
	boundProbeTimeout(d, p.Timeout, s, path)
	at := func(field string) Position { return d.ValuePos(field, s.Pos) }
	if a := p.Authority; a != "" && strings.ContainsAny(a, " \t\r\n/?#@") {
		d.ErrAt(at(path+".authority"), path+".authority", "expected an authority like api.internal or api.internal:443, got %q", a)
	}
	for _, k := range sortedKeys(p.Metadata) {
		fp := yamlstrict.JoinPath(path+".metadata", k)
		if msg := grpcMetadataKeyProblem(k); msg != "" {
			d.ErrAt(d.KeyPos(fp, s.Pos), fp, "%s", msg)
			continue
		}
		if t := p.Metadata[k]; !t.Templated() && !strings.HasSuffix(strings.ToLower(k), "-bin") && !grpcPrintable(t.Raw) {
			d.ErrAt(t.Pos, fp, "a metadata value is printable ASCII (a key ending in -bin carries bytes)")
		}
	}
	if p.TLS != nil {
		loadProbeTLS(d, p.TLS, s, path+".tls")
	}
	e := &s.Expect
	if e.TLS != nil && p.TLS == nil {
		fp := strings.TrimSuffix(path, ".grpc") + ".expect.tls"
		d.ErrAt(d.KeyPos(fp, s.Pos), fp, "a plaintext grpc step has no certificate: set grpc.tls to call over TLS")
	}
	st := e.Status
	switch {
	case st == nil:
		st = defaultGRPCStatus
	case !st.any && !st.isHealth() && len(st.ranges) == 0:
		// Its error is reported.
		return
	case !st.any && !st.isHealth():
		fp := strings.TrimSuffix(path, ".grpc") + ".expect.status"
		d.ErrAt(st.pos, fp, "expected a gRPC health status (%s) on a grpc step, got %s", strings.Join(grpcHealthStatuses, ", "), st.Raw)
		return
	}
	if !st.any {
		s.assertions = append(s.assertions, healthStatusAssertion(st))
	}
}

// grpcMetadataKeyProblem says what is wrong with a metadata key; empty: it
// is fine.
func grpcMetadataKeyProblem(k string) string {
	lk := strings.ToLower(k)
	if lk == "" {
		return "a metadata key is not empty"
	}
	for i := 0; i < len(lk); i++ {
		c := lk[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Sprintf("a metadata key has only letters, digits and - _ . (got %q)", k)
		}
	}
	if strings.HasPrefix(lk, "grpc-") || lk == "content-type" || lk == "te" || lk == "user-agent" {
		return fmt.Sprintf("%s is set by gRPC itself", k)
	}
	return ""
}

// grpcPrintable reports whether s may be a gRPC metadata value.
func grpcPrintable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// grpcSecretMetadata reports whether the metadata key carries a credential
// whatever its value (authorization, x-api-key, or a name ending in
// token, secret, key...).
func grpcSecretMetadata(k string) bool {
	return sensitiveHeaders[http.CanonicalHeaderKey(k)] || credentialName(k)
}

// healthStatusAssertion asserts the health status the server answered.
func healthStatusAssertion(s *StatusExpect) assertion {
	return assertion{name: "status", eval: func(r *response, _ map[string]any) []AssertionResult {
		got, _ := r.observed["status"].(string)
		return []AssertionResult{result("status", s.MatchHealth(got), s.Raw, got)}
	}}
}

func (p *GRPCProbe) node() *yaml.Node {
	n := yMap("address", yStr(p.Address.Raw))
	if p.Service != "" {
		yAdd(n, "service", yStr(p.Service))
	}
	if p.Authority != "" {
		yAdd(n, "authority", yStr(p.Authority))
	}
	if len(p.Metadata) > 0 {
		mn := yMap()
		for _, k := range sortedKeys(p.Metadata) {
			v := p.Metadata[k]
			if grpcSecretMetadata(k) && !v.Templated() {
				// A credential written in the file is not shown; a
				// template says where it comes from.
				yAdd(mn, k, yStr(Redacted))
				continue
			}
			yAdd(mn, k, yStr(v.Raw))
		}
		yAdd(n, "metadata", yFlow(mn))
	}
	if p.TLS != nil {
		yAdd(n, "tls", tlsOptionsNode(p.TLS))
	}
	if p.Timeout > 0 {
		yAdd(n, "timeout", yStr(durationText(p.Timeout)))
	}
	return yFlow(n)
}

func (p *GRPCProbe) run(ctx context.Context, pc *probeCall) *probeOutcome {
	out := &probeOutcome{request: p.summary(), proto: "gRPC"}
	addr, err := p.Address.RenderContext(ctx, pc.data)
	if err != nil {
		return out.fail(ReasonTemplate, "template: "+err.Error())
	}
	out.request.URL = p.target(addr)
	md := metadata.MD{}
	for _, k := range sortedKeys(p.Metadata) {
		t := p.Metadata[k]
		v, err := t.RenderContext(ctx, pc.data)
		if err != nil {
			return out.fail(ReasonTemplate, "template: "+err.Error())
		}
		if grpcSecretMetadata(k) {
			pc.headerSecret(k, v, t)
		}
		lk := strings.ToLower(k)
		if !strings.HasSuffix(lk, "-bin") && !grpcPrintable(v) {
			return out.fail(ReasonTemplate, fmt.Sprintf("template: metadata %s: a metadata value is printable ASCII, the rendered one is not", k))
		}
		md.Append(lk, v)
		if out.request.Headers == nil {
			out.request.Headers = map[string][]string{}
		}
		out.request.Headers[http.CanonicalHeaderKey(k)] = []string{v}
	}
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
		return out.fail(ReasonConnect, fmt.Sprintf("connect: expected host:port, got %q", addr))
	}

	tr := &grpcTrace{start: time.Now(), phase: "connecting"}
	var creds credentials.TransportCredentials = insecure.NewCredentials()
	if p.TLS != nil {
		creds = &tracedCreds{TransportCredentials: credentials.NewTLS(p.TLS.config), tr: tr}
	}
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithContextDialer(func(dctx context.Context, a string) (net.Conn, error) {
			return tr.dial(ctx, dctx, a, p.TLS != nil)
		}),
		// One call, one attempt, as the check's own retries: decide.
		grpc.WithDisableRetry(),
		grpc.WithDisableServiceConfig(),
		grpc.WithNoProxy(),
		grpc.WithMaxHeaderListSize(grpcMaxHeaderList),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(grpcMaxAnswer)),
		grpc.WithStatsHandler(tr),
	}
	if p.Authority != "" {
		opts = append(opts, grpc.WithAuthority(p.Authority))
	}
	// passthrough: the dialer resolves the name itself, timing it and
	// classifying its failure as the other probes do.
	conn, err := grpc.NewClient("passthrough:///"+addr, opts...)
	if err != nil {
		out.timings.Total = time.Since(tr.start)
		return out.fail(ReasonConnect, "connect: "+err.Error())
	}
	var resp *grpc_health_v1.HealthCheckResponse
	if len(md) > 0 {
		resp, err = grpc_health_v1.NewHealthClient(conn).Check(metadata.NewOutgoingContext(ctx, md), &grpc_health_v1.HealthCheckRequest{Service: p.Service})
	} else {
		resp, err = grpc_health_v1.NewHealthClient(conn).Check(ctx, &grpc_health_v1.HealthCheckRequest{Service: p.Service})
	}
	total := time.Since(tr.start)
	// The client ends its connection (or its attempt) and goroutines
	// before the step goes on; what they recorded is read under the
	// trace's lock.
	conn.Close()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	out.timings = tr.t
	out.timings.Total = total
	if tr.state != nil && len(tr.state.PeerCertificates) > 0 {
		out.tls = tlsInfo(tr.state, time.Now())
	}
	if err == nil {
		return grpcAnswer(out, resp.GetStatus().String())
	}
	return p.failure(ctx, out, tr, err)
}

// grpcAnswer records the health status the server answered.
func grpcAnswer(o *probeOutcome, st string) *probeOutcome {
	o.answered, o.line = true, st
	o.body, _ = json.Marshal(map[string]string{"status": st})
	o.observed = map[string]any{"status": st}
	return o
}

// failure classifies a failed call.
func (p *GRPCProbe) failure(ctx context.Context, out *probeOutcome, tr *grpcTrace, err error) *probeOutcome {
	timeout := p.Timeout.D()
	st := status.Convert(err)
	code := st.Code()
	switch {
	case interrupted(ctx):
		return out.fail(ReasonInterrupted, interruptedMessage)
	case tr.dialErr != nil:
		return out.fail(probeDialError(ctx, tr.dialErr, timeout))
	case tr.tlsErr != nil:
		if ctx.Err() != nil {
			return out.fail(ReasonTimeout, probeTimeoutMessage(timeout, tr.phase))
		}
		return out.fail(grpcHandshakeError(ctx, tr.tlsErr, timeout))
	case ctx.Err() != nil, code == codes.DeadlineExceeded:
		return out.fail(ReasonTimeout, probeTimeoutMessage(timeout, tr.phase))
	case code == codes.NotFound && tr.answered:
		// The health protocol's answer for a service it does not know.
		return grpcAnswer(out, grpc_health_v1.HealthCheckResponse_SERVICE_UNKNOWN.String())
	}
	name := grpcCodeName(code)
	msg := grpcServerText(st.Message(), 200)
	if tr.answered {
		// The server answered the call with an error status.
		out.answered = true
		out.line = name
		if msg != "" {
			out.line += ": " + msg
		}
		out.body, _ = json.Marshal(map[string]string{"code": name, "message": msg})
		if code == codes.Unimplemented {
			return out.fail(ReasonProtocol, "protocol: the server has no health service (grpc.health.v1.Health/Check is UNIMPLEMENTED)")
		}
		if code == codes.ResourceExhausted && strings.Contains(msg, "larger than max") {
			return out.fail(ReasonProtocol, fmt.Sprintf("protocol: the answer is larger than the %s a grpc probe reads", ByteSize(grpcMaxAnswer)))
		}
		return out.fail(ReasonProtocol, fmt.Sprintf("protocol: the health check failed with %s", out.line))
	}
	if code == codes.Unavailable && peerClosed(msg) {
		return out.fail(ReasonNetwork, "network: the server closed the connection before it answered: "+msg)
	}
	return out.fail(ReasonProtocol, fmt.Sprintf("protocol: no gRPC answer (is it a gRPC server?): %s: %s", name, msg))
}

// peerClosed reports whether the client's account of a failed connection
// (all that grpc-go leaves of it) says the peer closed it, rather than
// that it spoke something other than HTTP/2.
func peerClosed(msg string) bool {
	if strings.Contains(msg, "HTTP/1") || strings.Contains(msg, "frame") {
		return false
	}
	for _, s := range []string{"EOF", "connection reset", "broken pipe"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// grpcHandshakeError classifies a failed TLS handshake: a peer that closes
// is a network failure, anything else (a certificate, a protocol
// version, a missing h2 ALPN) is tls.
func grpcHandshakeError(ctx context.Context, err error, timeout time.Duration) (Reason, string) {
	reason, msg := classifyErr(ctx, err, timeout)
	if reason == ReasonTLS || reason == ReasonTimeout {
		return reason, msg
	}
	if errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) {
		return ReasonNetwork, "network: the server closed the connection during the TLS handshake"
	}
	return ReasonTLS, "tls: " + strings.TrimPrefix(err.Error(), "tls: ")
}

// grpcCodeName is a gRPC status code as the protocol spells it
// (PERMISSION_DENIED); grpc-go's String says PermissionDenied.
func grpcCodeName(c codes.Code) string {
	s := c.String()
	var b strings.Builder
	for i, r := range s {
		if i > 0 && 'A' <= r && r <= 'Z' {
			b.WriteByte('_')
		}
		b.WriteRune(r)
	}
	return strings.ToUpper(b.String())
}

// grpcServerText is text a server sent (a status message), made safe
// to show on one line and cut to at most limit bytes.
func grpcServerText(s string, limit int) string {
	s = oneline.Clean(oneLine(s))
	if c, cut := cutAt(s, limit); cut {
		return c + "…"
	}
	return s
}

// grpcTrace records what a probe's connection went through: the gRPC
// client dials and shakes hands in its own goroutines, and its errors
// come back as a status whose text is all that is left of them.
type grpcTrace struct {
	mu    sync.Mutex
	start time.Time
	t     Timings
	// phase is what the probe was doing, for a timeout's message.
	phase string
	// dialErr and tlsErr are the first failures to connect and to
	// shake hands.
	dialErr, tlsErr error
	state           *tls.ConnectionState
	// answered says that the server sent headers or trailers: a status
	// then comes from it, not from the client.
	answered bool
	dialed   bool
}

// dial connects to addr; the attempt ends with the run (ctx) or the
// client (dctx).
func (tr *grpcTrace) dial(ctx, dctx context.Context, addr string, secure bool) (net.Conn, error) {
	dctx, cancel := context.WithCancel(dctx)
	defer cancel()
	stop := context.AfterFunc(ctx, cancel)
	defer stop()
	var t Timings
	conn, err := dialProbe(dctx, addr, &t)
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.dialed {
		// The client reconnects after a failure; the run is over by then.
		if conn != nil {
			conn.Close()
		}
		return nil, errors.New("one connection per run")
	}
	tr.dialed = true
	tr.t.DNS, tr.t.Connect = t.DNS, t.Connect
	if err != nil {
		tr.dialErr = err
		return nil, err
	}
	if secure {
		tr.phase = "doing the TLS handshake"
	} else {
		tr.phase = "waiting for the answer"
	}
	return conn, nil
}

// tracedCreds are TLS credentials that record the handshake.
type tracedCreds struct {
	credentials.TransportCredentials
	tr *grpcTrace
}

func (c *tracedCreds) ClientHandshake(ctx context.Context, authority string, raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	began := time.Now()
	conn, info, err := c.TransportCredentials.ClientHandshake(ctx, authority, raw)
	c.tr.mu.Lock()
	defer c.tr.mu.Unlock()
	c.tr.t.TLS = time.Since(began)
	if err != nil {
		if c.tr.tlsErr == nil {
			c.tr.tlsErr = err
		}
		return nil, nil, err
	}
	if ti, ok := info.(credentials.TLSInfo); ok {
		cs := ti.State
		c.tr.state = &cs
	}
	c.tr.phase = "waiting for the answer"
	return conn, info, nil
}

// Clone keeps the trace: the client may clone its credentials.
func (c *tracedCreds) Clone() credentials.TransportCredentials {
	return &tracedCreds{TransportCredentials: c.TransportCredentials.Clone(), tr: c.tr}
}

func (tr *grpcTrace) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }
func (tr *grpcTrace) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	return ctx
}
func (tr *grpcTrace) HandleConn(context.Context, stats.ConnStats) {}

// HandleRPC notes the first answer from the server.
func (tr *grpcTrace) HandleRPC(_ context.Context, s stats.RPCStats) {
	switch s.(type) {
	case *stats.InHeader, *stats.InTrailer, *stats.InPayload:
		tr.mu.Lock()
		defer tr.mu.Unlock()
		if !tr.answered {
			tr.answered = true
			tr.t.FirstByte = time.Since(tr.start)
		}
	}
}
