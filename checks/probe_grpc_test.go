package checks

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"io"
	"math/big"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/net/http2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// grpcServer serves a gRPC server with opts on a loopback port until the
// test ends; register adds its services. It returns host:port.
func grpcServer(t *testing.T, register func(*grpc.Server), opts ...grpc.ServerOption) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer(opts...)
	if register != nil {
		register(s)
	}
	done := make(chan struct{})
	go func() { defer close(done); s.Serve(ln) }()
	t.Cleanup(func() { s.Stop(); <-done })
	return ln.Addr().String()
}

// healthServer serves the standard health service, with the statuses
// given by service name ("" is the server's own, SERVING unless set).
func healthServer(t *testing.T, statuses map[string]healthpb.HealthCheckResponse_ServingStatus, opts ...grpc.ServerOption) string {
	t.Helper()
	return grpcServer(t, func(s *grpc.Server) {
		h := health.NewServer()
		for svc, st := range statuses {
			h.SetServingStatus(svc, st)
		}
		healthpb.RegisterHealthServer(s, h)
	}, opts...)
}

// refusedAddr is a loopback port nothing listens on.
func refusedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// Rule: a grpc step calls grpc.health.v1.Health/Check for its service and
// passes on SERVING by default; its request and response have the shape
// of an HTTP step's, the answer is JSON for json assertions and
// captures, and its timings are measured.
func TestGRPCProbeServing(t *testing.T) {
	addr := healthServer(t, map[string]healthpb.HealthCheckResponse_ServingStatus{"orders.v1.Orders": healthpb.HealthCheckResponse_SERVING})
	c := loadCheck(t, `
checks:
  - name: orders
    steps:
      - name: health
        grpc: { address: "`+addr+`", service: orders.v1.Orders, timeout: 5s }
        expect: { json: { $.status: SERVING }, response_time: 5s }
        capture: { st: { json: $.status } }
`)
	res := runCheck(t, c)
	if !res.Passed {
		t.Fatalf("failed: %s %s", res.Reason, res.Message)
	}
	s := res.Steps()[0]
	if s.Kind != "grpc" || s.Request.Method != "GRPC" || s.Request.URL != "grpc://"+addr+"/grpc.health.v1.Health/Check" || s.Request.Body != `{"service":"orders.v1.Orders"}` {
		t.Errorf("request summary: kind %q %+v", s.Kind, s.Request)
	}
	if s.Response == nil || s.Response.Line != "SERVING" || s.Response.Body != `{"status":"SERVING"}` || s.Response.Proto != "gRPC" || s.Response.Status != 0 {
		t.Errorf("response summary: %+v", s.Response)
	}
	var names []string
	for _, a := range s.Assertions {
		names = append(names, a.Name)
		if a.Name == "status" && (a.Expected != "SERVING (default)" || a.Actual != "SERVING" || !a.Passed) {
			t.Errorf("status assertion: %+v", a)
		}
	}
	if strings.Join(names, ",") != "json $.status,response time,status" {
		t.Errorf("assertions: %v", names)
	}
	if s.Captures["st"] != "SERVING" {
		t.Errorf("captures: %v", s.Captures)
	}
	if s.Timings.Connect <= 0 || s.Timings.FirstByte <= 0 || s.Timings.Total < s.Timings.FirstByte || s.TLS != nil {
		t.Errorf("timings %+v, tls %+v", s.Timings, s.TLS)
	}
}

// Rule: expect.status names the health statuses a grpc step accepts (one,
// a list, or any); without it anything but SERVING fails the assertion;
// an unknown service (NOT_FOUND, per the health protocol) is the status
// SERVICE_UNKNOWN, which can be asserted.
func TestGRPCProbeStatuses(t *testing.T) {
	addr := healthServer(t, map[string]healthpb.HealthCheckResponse_ServingStatus{
		"up": healthpb.HealthCheckResponse_SERVING, "down": healthpb.HealthCheckResponse_NOT_SERVING,
	})
	cases := []struct {
		service, expect string
		pass            bool
		msg             string
	}{
		{"down", "", false, "status: expected SERVING (default), got NOT_SERVING"},
		{"down", "expect: { status: NOT_SERVING }", true, ""},
		{"down", "expect: { status: [SERVING, not_serving] }", true, ""},
		{"down", "expect: { status: any }", true, ""},
		{"up", "expect: { status: [NOT_SERVING, UNKNOWN] }", false, "status: expected one of NOT_SERVING, UNKNOWN, got SERVING"},
		{"nosuch", "", false, "status: expected SERVING (default), got SERVICE_UNKNOWN"},
		{"nosuch", "expect: { status: SERVICE_UNKNOWN, json: { $.status: SERVICE_UNKNOWN } }", true, ""},
	}
	for _, tc := range cases {
		t.Run(tc.service+" "+tc.expect, func(t *testing.T) {
			c := loadCheck(t, `
checks:
  - name: h
    steps:
      - grpc: { address: "`+addr+`", service: `+tc.service+` }
        `+tc.expect+`
`)
			res := runCheck(t, c)
			if res.Passed != tc.pass || !tc.pass && (res.Reason != ReasonAssertion || res.Steps()[0].Message != tc.msg) {
				t.Errorf("got passed=%v %s %q, want passed=%v %q", res.Passed, res.Reason, res.Steps()[0].Message, tc.pass, tc.msg)
			}
			if r := res.Steps()[0].Response; r == nil || !strings.HasPrefix(r.Body, `{"status":`) {
				t.Errorf("response: %+v", r)
			}
		})
	}
}

// Rule: each way a grpc step fails has its reason: nothing listens
// (connect), the peer accepts and never answers (timeout, by the step's
// timeout), the peer is no gRPC server (protocol), the server has no
// health service (protocol, saying so), the peer closes at once
// (network), the call fails with another status (protocol, naming it).
func TestGRPCProbeFailures(t *testing.T) {
	silent := tcpServer(t, func(c net.Conn) { io.Copy(io.Discard, c) })
	closes := tcpServer(t, func(c net.Conn) {})
	http1 := serve(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("hello")) }).Listener.Addr().String()
	noHealth := grpcServer(t, nil)
	denied := healthServer(t, nil, grpc.UnaryInterceptor(func(ctx context.Context, _ any, _ *grpc.UnaryServerInfo, _ grpc.UnaryHandler) (any, error) {
		return nil, status.Error(codes.PermissionDenied, "no\nway")
	}))
	cases := []struct {
		name, grpc string
		reason     Reason
		msg        string
		line       string
	}{
		{"refused", `{ address: "` + refusedAddr(t) + `" }`, ReasonConnect, "connect: ", ""},
		{"silent", `{ address: "` + silent + `", timeout: 300ms }`, ReasonTimeout,
			"timeout: no complete answer within the step timeout 300ms (while waiting for the answer)", ""},
		{"http/1", `{ address: "` + http1 + `" }`, ReasonProtocol, "protocol: no gRPC answer (is it a gRPC server?): UNAVAILABLE", ""},
		{"no health service", `{ address: "` + noHealth + `" }`, ReasonProtocol,
			"protocol: the server has no health service (grpc.health.v1.Health/Check is UNIMPLEMENTED)", "UNIMPLEMENTED: unknown service grpc.health.v1.Health"},
		{"closes", `{ address: "` + closes + `" }`, ReasonNetwork, "network: the server closed the connection before it answered", ""},
		{"denied", `{ address: "` + denied + `" }`, ReasonProtocol, "protocol: the health check failed with PERMISSION_DENIED: no way", "PERMISSION_DENIED: no way"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := loadCheck(t, `
checks:
  - name: t
    timeout: 10s
    steps:
      - name: s
        grpc: `+tc.grpc+`
`)
			start := time.Now()
			res := runCheck(t, c)
			if res.Passed || res.Reason != tc.reason || !strings.HasPrefix(res.Steps()[0].Message, tc.msg) {
				t.Errorf("got %s %q, want %s starting %q", res.Reason, res.Steps()[0].Message, tc.reason, tc.msg)
			}
			if r := res.Steps()[0].Response; tc.line != "" && (r == nil || r.Line != tc.line) {
				t.Errorf("response %+v, want line %q", r, tc.line)
			}
			if el := time.Since(start); el > 5*time.Second {
				t.Errorf("took %v", el)
			}
		})
	}
}

// Rule: a grpc step without its own timeout ends before the check's
// deadline, with a timeout that says so.
func TestGRPCProbeCheckTimeout(t *testing.T) {
	silent := tcpServer(t, func(c net.Conn) { io.Copy(io.Discard, c) })
	c := loadCheck(t, `
checks:
  - name: t
    timeout: 600ms
    steps:
      - grpc: { address: "`+silent+`" }
`)
	start := time.Now()
	res := runCheck(t, c)
	if res.Reason != ReasonTimeout || !strings.Contains(res.Message, "before the check timeout") {
		t.Errorf("got %s %q", res.Reason, res.Message)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("took %v", el)
	}
}

// Rule: a grpc step cancelled from outside (Ctrl-C, shutdown) ends at
// once with reason interrupted, not timeout.
func TestGRPCProbeInterrupted(t *testing.T) {
	silent := silentServer(t)
	c := loadCheck(t, `
checks:
  - name: t
    steps:
      - grpc: { address: "`+silent+`", timeout: 20s }
`)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	res := newTestRunner(t).Run(ctx, c)
	if res.Reason != ReasonInterrupted {
		t.Errorf("got %s %q", res.Reason, res.Message)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("took %v", el)
	}
}

// testPKI is a CA and a server certificate it signed, for 127.0.0.1 and
// grpc.test, written as PEM files in dir.
type testPKI struct {
	dir    string
	server tls.Certificate
	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "grpc test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(30 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign, IsCA: true, BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, filepath.Join(dir, "ca.pem"), "CERTIFICATE", ca.Raw)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "grpc.test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(10 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"grpc.test"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return &testPKI{dir: dir, server: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, ca: ca, caKey: caKey}
}

// Rule: with a tls block a grpc step calls over TLS with the same client
// options as an HTTP request (ca_file, server_name, insecure_skip_verify,
// a client certificate); the result carries the certificate, for
// expect.tls; a certificate that does not verify fails with tls.
func TestGRPCProbeTLS(t *testing.T) {
	pki := newTestPKI(t)
	addr := healthServer(t, nil, grpc.Creds(credentials.NewServerTLSFromCert(&pki.server)))
	pool := x509.NewCertPool()
	pool.AddCert(pki.ca)
	mtls := healthServer(t, nil, grpc.Creds(credentials.NewTLS(&tls.Config{
		Certificates: []tls.Certificate{pki.server}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool,
	})))
	clientCert, clientKey := selfSigned(t, "probe", pki.ca, pki.caKey, false)
	writePEM(t, filepath.Join(pki.dir, "client.pem"), "CERTIFICATE", clientCert.Raw)
	kb, err := x509.MarshalECPrivateKey(clientKey)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, filepath.Join(pki.dir, "client-key.pem"), "EC PRIVATE KEY", kb)
	plain := healthServer(t, nil)
	silent := silentServer(t)

	cases := []struct {
		name, grpc, expect string
		reason             Reason
		msg                string
	}{
		{"ca_file", `{ address: "` + addr + `", tls: { ca_file: ca.pem } }`, `expect: { tls: { days_remaining: { gt: 9 } } }`, ReasonNone, ""},
		{"server_name", `{ address: "` + addr + `", tls: { ca_file: ca.pem, server_name: grpc.test } }`, ``, ReasonNone, ""},
		{"insecure_skip_verify", `{ address: "` + addr + `", tls: { insecure_skip_verify: true } }`, ``, ReasonNone, ""},
		{"client certificate", `{ address: "` + mtls + `", tls: { ca_file: ca.pem, cert_file: client.pem, key_file: client-key.pem } }`, ``, ReasonNone, ""},
		{"days_remaining fails", `{ address: "` + addr + `", tls: { ca_file: ca.pem } }`, `expect: { tls: { days_remaining: { gt: 30 } } }`, ReasonAssertion, "tls days_remaining: "},
		{"unknown authority", `{ address: "` + addr + `", tls: {} }`, ``, ReasonTLS, "tls: "},
		{"wrong name", `{ address: "` + addr + `", tls: { ca_file: ca.pem, server_name: other.test } }`, ``, ReasonTLS, "tls: "},
		{"silent", `{ address: "` + silent + `", tls: { insecure_skip_verify: true }, timeout: 300ms }`, ``, ReasonTimeout,
			"timeout: no complete answer within the step timeout 300ms (while doing the TLS handshake)"},
		{"plaintext server", `{ address: "` + plain + `", tls: { insecure_skip_verify: true } }`, ``, ReasonTLS, "tls: "},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cs, err := LoadOptions{LookupEnv: envMap()}.parseFile(t, pki.dir, `checks:
  - name: tls
    steps:
      - grpc: `+tc.grpc+`
        `+tc.expect+`
`)
			if err != nil {
				t.Fatal(err)
			}
			res := runCheck(t, cs[0])
			s := res.Steps()[0]
			if tc.reason == ReasonNone {
				if !res.Passed {
					t.Fatalf("failed: %s %s", res.Reason, res.Message)
				}
				if s.TLS == nil || s.TLS.Subject != "CN=grpc.test" || s.TLS.DaysRemaining < 9 || s.Timings.TLS <= 0 {
					t.Errorf("tls %+v, timings %+v", s.TLS, s.Timings)
				}
				if !strings.HasPrefix(s.Request.URL, "grpcs://") {
					t.Errorf("url %s", s.Request.URL)
				}
				return
			}
			if res.Passed || res.Reason != tc.reason || !strings.HasPrefix(s.Message, tc.msg) {
				t.Errorf("got %s %q, want %s starting %q", res.Reason, s.Message, tc.reason, tc.msg)
			}
		})
	}
}

// Rule: metadata is sent with the call (templates rendered, keys in lower
// case) and authority is its :authority; a credential in metadata (from
// the environment, or written literally under a credential key) never
// shows in the result: the request shows its reference or [REDACTED].
func TestGRPCProbeMetadataAuthorityAndRedaction(t *testing.T) {
	var mu sync.Mutex
	var got metadata.MD
	addr := healthServer(t, nil, grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		mu.Lock()
		got = md
		mu.Unlock()
		if v := md.Get("authorization"); len(v) != 1 || v[0] != "Bearer tok-s3cret-1" {
			// A server that echoes the credential, as some do in errors.
			return nil, status.Errorf(codes.Unauthenticated, "bad token %v", v)
		}
		return h(ctx, req)
	}))
	c := loadCheck(t, `
checks:
  - name: md
    vars: { tenant: acme }
    steps:
      - grpc:
          address: "`+addr+`"
          authority: health.internal
          metadata:
            Authorization: "Bearer ${GRPC_TOKEN}"
            x-api-key: literal-key-2
            X-Tenant: "{{ .vars.tenant }}"
`, "GRPC_TOKEN", "tok-s3cret-1")
	res := runCheck(t, c)
	if !res.Passed {
		t.Fatalf("failed: %s %s", res.Reason, res.Message)
	}
	mu.Lock()
	md := got
	mu.Unlock()
	if md.Get("x-tenant")[0] != "acme" || md.Get("x-api-key")[0] != "literal-key-2" || md.Get(":authority")[0] != "health.internal" {
		t.Errorf("server got %v", md)
	}
	h := res.Steps()[0].Request.Headers
	if h["Authorization"][0] != "Bearer ${GRPC_TOKEN}" || h["X-Api-Key"][0] != Redacted || h["X-Tenant"][0] != "acme" {
		t.Errorf("request headers %v", h)
	}
	b, _ := json.Marshal(res)
	for _, secret := range []string{"tok-s3cret-1", "literal-key-2"} {
		if strings.Contains(string(b), secret) {
			t.Errorf("%s is in the result: %s", secret, b)
		}
	}

	// The server echoes a wrong token in its error: it is hidden there too.
	bad := loadCheck(t, `
checks:
  - name: md
    steps:
      - grpc: { address: "`+addr+`", metadata: { authorization: "Bearer ${GRPC_TOKEN}" } }
`, "GRPC_TOKEN", "wrong-s3cret-2")
	res = runCheck(t, bad)
	if res.Reason != ReasonProtocol || !strings.Contains(res.Message, "UNAUTHENTICATED") {
		t.Errorf("got %s %q", res.Reason, res.Message)
	}
	if b, _ := json.Marshal(res); strings.Contains(string(b), "wrong-s3cret-2") {
		t.Errorf("the echoed secret is in the result: %s", b)
	}
}

// rawCodec lets a hostile test server send any bytes as a message.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *(v.(*[]byte)), nil }
func (rawCodec) Unmarshal(b []byte, v any) error {
	*(v.(*[]byte)) = append([]byte(nil), b...)
	return nil
}
func (rawCodec) Name() string { return "proto" }

// Rule: what a grpc step receives is bounded: an answer over 64 KiB is
// refused unread (protocol), and so are headers over 16 KiB; neither
// costs the probe more than the bound.
func TestGRPCProbeAnswerIsBounded(t *testing.T) {
	hostile := func(send func(grpc.ServerStream) error) string {
		return grpcServer(t, nil, grpc.ForceServerCodec(rawCodec{}), grpc.UnknownServiceHandler(func(_ any, ss grpc.ServerStream) error {
			var in []byte
			if err := ss.RecvMsg(&in); err != nil {
				return err
			}
			return send(ss)
		}))
	}
	big := hostile(func(ss grpc.ServerStream) error {
		b := make([]byte, 8<<20)
		return ss.SendMsg(&b)
	})
	// A peer that ignores the header list size the probe advertises
	// (grpc-go's server honours it) sends a 1 MiB header.
	bigHeader := h2cServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/grpc")
		w.Header().Set("X-Flood", strings.Repeat("y", 1<<20))
		w.WriteHeader(200)
		w.Write([]byte{0, 0, 0, 0, 2, 0x08, 0x01})
	})
	// A well-formed answer through the same server passes: the bound,
	// not the codec, refuses the others.
	fine := hostile(func(ss grpc.ServerStream) error {
		b := []byte{0x08, 0x01} // status: SERVING
		return ss.SendMsg(&b)
	})
	for _, tc := range []struct {
		addr   string
		reason Reason
		msg    string
	}{
		{fine, ReasonNone, ""},
		{big, ReasonProtocol, "protocol: the answer is larger than the 64 KiB a grpc probe reads"},
		{bigHeader, ReasonProtocol, "protocol: no gRPC answer (is it a gRPC server?): UNAVAILABLE"},
	} {
		c := loadCheck(t, `
checks:
  - name: b
    steps:
      - grpc: { address: "`+tc.addr+`", timeout: 5s }
`)
		start := time.Now()
		res := runCheck(t, c)
		if m := res.Steps()[0].Message; res.Reason != tc.reason || !strings.HasPrefix(m, tc.msg) {
			t.Errorf("%s: got %s %q, want %s starting %q", tc.addr, res.Reason, m, tc.reason, tc.msg)
		}
		if el := time.Since(start); el > 4*time.Second {
			t.Errorf("took %v", el)
		}
	}
}

// h2cServer serves h over cleartext HTTP/2 on a loopback port until the
// test ends; it returns host:port.
func h2cServer(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	srv := &http2.Server{}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() { defer wg.Done(); srv.ServeConn(c, &http2.ServeConnOpts{Handler: h}) }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// silentServer accepts connections and reads them until the peer closes,
// never answering; it returns host:port.
func silentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); defer c.Close(); io.Copy(io.Discard, c) }()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().String()
}

// Rule: a grpc step leaves nothing behind: its connection and the gRPC
// client's goroutines end with the step, whatever the outcome.
func TestGRPCProbeLeavesNoGoroutine(t *testing.T) {
	silent := silentServer(t)
	up := healthServer(t, nil)
	http1 := serve(t, func(w http.ResponseWriter, r *http.Request) {}).Listener.Addr().String()
	refused := refusedAddr(t)
	r := newTestRunner(t)
	// Servers run until the test ends: only what the probes started
	// counts.
	ignore := goleak.IgnoreCurrent()
	for _, addr := range []string{up, silent, http1, refused} {
		c := loadCheck(t, `
checks:
  - name: l
    steps:
      - grpc: { address: "`+addr+`", timeout: 300ms }
`)
		r.Run(context.Background(), c)
	}
	if err := goleak.Find(ignore, goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		// The servers' side of the probes' connections ends a little
		// after the probe's.
		goleak.IgnoreAnyFunction("google.golang.org/grpc.(*Server).handleRawConn"),
		goleak.IgnoreAnyFunction("google.golang.org/grpc/internal/transport.(*http2Server).HandleStreams"),
		goleak.IgnoreAnyFunction("google.golang.org/grpc/internal/transport.(*http2Server).keepalive"),
		goleak.IgnoreAnyFunction("google.golang.org/grpc/internal/transport.(*loopyWriter).run"),
		goleak.IgnoreAnyFunction("net/http.(*conn).serve"),
		goleak.IgnoreAnyFunction("github.com/assay-monitor/assay/checks.silentServer.func1.1"),
	); err != nil {
		t.Error(err)
	}
}

// Rule: a grpc step's fields are checked at load: address, authority,
// metadata keys and values, its tls files; its status is a health status
// (an HTTP code is refused, as a health status is on an HTTP step); HTTP
// expectations and captures, and tls expectations of a plaintext call,
// are refused by name.
func TestGRPCProbeLoadErrors(t *testing.T) {
	got := loadErrors(t, `
checks:
  - name: a
    steps:
      - grpc: { service: x }
      - grpc: { address: "h:1", authority: "a b", timeout: 25h }
      - grpc: { address: "h:1", metadata: { grpc-timeout: "1S", "bad key": x, te: y, x-ok: "tab	here" } }
      - grpc: { address: "h:1", tls: { ca_file: missing.pem } }
      - grpc: { address: "h:1" }
        expect: { status: 200, headers: { A: b }, tls: { days_remaining: { gt: 1 } } }
        capture: { s: { status: true } }
      - request: { url: "http://h/" }
        expect: { status: SERVING }
      - request: { url: "http://h/" }
        expect: { status: [200, SERVING] }
      - grpc: { address: "h:1" }
        expect: { status: [SERVING, 503] }
      - grpc: { address: "h:1" }
        expect: { status: SERVNG }
`)
	wantErrors(t, got,
		`checks.yaml:5:15: checks[0].steps[0].grpc.address: a grpc probe needs an address (host:port)`,
		`checks.yaml:6:44: checks[0].steps[1].grpc.authority: expected an authority like api.internal or api.internal:443, got "a b"`,
		`checks.yaml:6:60: checks[0].steps[1].grpc.timeout: must be at most 24h, got 25h`,
		`checks.yaml:7:45: checks[0].steps[2].grpc.metadata.grpc-timeout: grpc-timeout is set by gRPC itself`,
		`checks.yaml:7:65: checks[0].steps[2].grpc.metadata.bad key: a metadata key has only letters, digits and - _ . (got "bad key")`,
		`checks.yaml:7:79: checks[0].steps[2].grpc.metadata.te: te is set by gRPC itself`,
		`checks.yaml:7:92: checks[0].steps[2].grpc.metadata.x-ok: a metadata value is printable ASCII (a key ending in -bin carries bytes)`,
		`checks.yaml:8:49: checks[0].steps[3].grpc.tls.ca_file: cannot read missing.pem: no such file or directory`,
		`checks.yaml:10:27: checks[0].steps[4].expect.status: expected a gRPC health status (SERVING, NOT_SERVING, UNKNOWN, SERVICE_UNKNOWN) on a grpc step, got 200`,
		`checks.yaml:10:32: checks[0].steps[4].expect.headers: headers does not apply to a grpc step (it takes status, body, json, json_schema, response_time, tls)`,
		`checks.yaml:10:51: checks[0].steps[4].expect.tls: a plaintext grpc step has no certificate: set grpc.tls to call over TLS`,
		`checks.yaml:11:23: checks[0].steps[4].capture.s: a grpc step captures with json or regex (header, cookie and status are HTTP's)`,
		`checks.yaml:13:27: checks[0].steps[5].expect.status: SERVING is a gRPC health status, for grpc steps: an HTTP step expects a status code like 200, "2xx" or "200-299"`,
		`checks.yaml:15:33: checks[0].steps[6].expect.status: SERVING is a gRPC health status: a list of HTTP status codes cannot hold it`,
		`checks.yaml:17:37: checks[0].steps[7].expect.status: 503 is an HTTP status: a list of gRPC health statuses cannot hold it`,
		`checks.yaml:19:27: checks[0].steps[8].expect.status: expected a gRPC health status (SERVING, NOT_SERVING, UNKNOWN, SERVICE_UNKNOWN), got string "SERVNG"`,
	)
}

// Rule: assay explain writes a grpc step back as it loads (the default
// status shown), with a credential written in its metadata hidden.
func TestGRPCProbeExplain(t *testing.T) {
	c := loadCheck(t, `
checks:
  - name: e
    steps:
      - grpc: { address: "127.0.0.1:50051", service: svc, authority: a.internal, metadata: { x-api-key: lit-key-9, x-trace: keep-1 }, tls: { insecure_skip_verify: true, server_name: s.internal }, timeout: 2s }
      - grpc: { address: "127.0.0.1:50051" }
        expect: { status: [SERVING, NOT_SERVING] }
`)
	out, err := Explain(c)
	if err != nil {
		t.Fatal(err)
	}
	text := string(out)
	for _, want := range []string{"service: svc", "authority: a.internal", "x-trace: keep-1", "x-api-key: '" + Redacted + "'", "server_name: s.internal", "timeout: 2s",
		"status: SERVING # default", "status: [SERVING, NOT_SERVING]"} {
		if !strings.Contains(text, want) {
			t.Errorf("explain lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "lit-key-9") {
		t.Errorf("explain shows the key:\n%s", text)
	}
	again := loadCheck(t, text)
	if len(again.Steps) != 2 || again.Steps[0].GRPC == nil || again.Steps[0].GRPC.Service != "svc" || again.Steps[1].Expect.Status.Raw != "one of SERVING, NOT_SERVING" {
		t.Errorf("explain output loads as %+v", again.Steps)
	}
}

// Rule: a probe's response line is redacted like its body: it may quote
// the peer, and the peer may echo a secret.
func TestRedactorHidesSecretsInAProbeLine(t *testing.T) {
	rd := &redactor{}
	rd.add("s3cret-line-7")
	s := StepResult{Response: &ResponseSummary{Line: "UNAUTHENTICATED: bad token s3cret-line-7", Body: "s3cret-line-7"}}
	rd.step(&s, 0)
	if strings.Contains(s.Response.Line, "s3cret-line-7") || !strings.HasPrefix(s.Response.Line, "UNAUTHENTICATED: bad token ") {
		t.Errorf("line %q", s.Response.Line)
	}
}
