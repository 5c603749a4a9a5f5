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
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testCA issues the certificates of the TLS tests; its PEM is ca.pem in
// dir, for ca_file.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	dir  string
}

var testSerial = time.Now().UnixNano()

func nextSerial() *big.Int { testSerial++; return big.NewInt(testSerial) }

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: nextSerial(), Subject: pkix.Name{CommonName: "Assay Test CA", Organization: []string{"Assay"}},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	ca := &testCA{cert: cert, key: key, dir: t.TempDir()}
	writePEM(t, filepath.Join(ca.dir, "ca.pem"), "CERTIFICATE", der)
	return ca
}

// leafSpec describes a server certificate; the zero validity is now-1h
// to now+30d.
type leafSpec struct {
	cn                  string
	dns                 []string
	ips                 []string
	uris, emails        []string
	notBefore, notAfter time.Time
	selfSigned          bool
}

func (ca *testCA) leaf(t *testing.T, s leafSpec) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if s.notBefore.IsZero() {
		s.notBefore = time.Now().Add(-time.Hour)
	}
	if s.notAfter.IsZero() {
		s.notAfter = time.Now().Add(30 * 24 * time.Hour)
	}
	tmpl := &x509.Certificate{
		SerialNumber: nextSerial(), Subject: pkix.Name{CommonName: s.cn}, DNSNames: s.dns, EmailAddresses: s.emails,
		NotBefore: s.notBefore, NotAfter: s.notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, ip := range s.ips {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.ParseIP(ip))
	}
	for _, u := range s.uris {
		pu, _ := url.Parse(u)
		tmpl.URIs = append(tmpl.URIs, pu)
	}
	parent, parentKey := ca.cert, ca.key
	if s.selfSigned {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	chain := [][]byte{der}
	if !s.selfSigned {
		chain = append(chain, ca.cert.Raw)
	}
	return tls.Certificate{Certificate: chain, PrivateKey: key}
}

// tlsPeer serves TLS with cfg on loopback: each connection makes the
// handshake, then h (nil: wait for the client to close).
func tlsPeer(t *testing.T, cfg *tls.Config, h func(c *tls.Conn)) string {
	return tcpServer(t, func(c net.Conn) {
		tc := tls.Server(c, cfg)
		if err := tc.Handshake(); err != nil {
			return
		}
		if h != nil {
			h(tc)
			return
		}
		tc.Read(make([]byte, 1))
	})
}

// loadIn loads the check file src from the CA's directory, so that
// ca_file: ca.pem resolves.
func (ca *testCA) loadIn(t *testing.T, src string) *Check {
	t.Helper()
	cs, err := LoadOptions{LookupEnv: envMap()}.parseFile(t, ca.dir, src)
	if err != nil {
		t.Fatalf("load: %v\n%s", err, src)
	}
	if len(cs) != 1 {
		t.Fatalf("want 1 check, got %d", len(cs))
	}
	return cs[0]
}

var fullLeaf = leafSpec{cn: "assay.test", dns: []string{"assay.test", "www.assay.test"}, ips: []string{"127.0.0.1"},
	uris: []string{"spiffe://assay.test/web"}, emails: []string{"ops@assay.test"}}

// Rule: a tls step makes a verified handshake; the four tls assertions
// hold on what was negotiated and presented; the body is the connection
// and the chain as JSON, for json assertions and captures; the line sums
// it up.
func TestTLSProbePasses(t *testing.T) {
	ca := newTestCA(t)
	addr := tlsPeer(t, &tls.Config{Certificates: []tls.Certificate{ca.leaf(t, fullLeaf)}}, nil)
	c := ca.loadIn(t, `
checks:
  - name: cert
    steps:
      - name: handshake
        tls: { address: "`+addr+`", server_name: www.assay.test, ca_file: ca.pem, timeout: 5s }
        expect:
          response_time: 5s
          tls:
            days_remaining: { gte: 14 }
            version: 1.3
            issuer: { contains: Assay Test CA }
            sans: { includes: spiffe://assay.test/web, count: 5 }
          json:
            $.verified: true
            $.server_name: www.assay.test
            $.version: "1.3"
            $.chain[*].subject: [CN=assay.test, "CN=Assay Test CA,O=Assay"]
            $.sans[2]: 127.0.0.1
        capture: { fingerprint: { json: $.sha256 } }
`)
	res := runCheck(t, c)
	if !res.Passed {
		t.Fatalf("failed: %s %s\n%+v", res.Reason, res.Message, res.Steps()[0].Assertions)
	}
	s := res.Steps()[0]
	if s.Kind != "tls" || s.Request.Method != "TLS" || s.Request.URL != "tls://"+addr+"?server_name=www.assay.test" {
		t.Errorf("request: %q %+v", s.Kind, s.Request)
	}
	if s.Response == nil || s.Response.Proto != "TLS" || s.Response.Line != "TLS 1.3, CN=assay.test, 29.9 days left" {
		t.Errorf("response: %+v", s.Response)
	}
	if len(s.Assertions) != 11 {
		t.Errorf("assertions: %+v", s.Assertions)
	}
	want := []string{"assay.test", "www.assay.test", "127.0.0.1", "spiffe://assay.test/web", "ops@assay.test"}
	if s.TLS == nil || strings.Join(s.TLS.SANs, " ") != strings.Join(want, " ") || s.TLS.Version != "TLS 1.3" || s.TLS.Issuer != "CN=Assay Test CA,O=Assay" {
		t.Errorf("TLSInfo: %+v", s.TLS)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(s.Response.Body), &body); err != nil {
		t.Fatalf("body is not JSON: %v: %s", err, s.Response.Body)
	}
	for _, k := range []string{"version", "cipher", "subject", "issuer", "sans", "not_before", "not_after", "days_remaining", "chain", "serial", "sha256"} {
		if _, ok := body[k]; !ok {
			t.Errorf("body has no %s: %s", k, s.Response.Body)
		}
	}
	if fp := s.Captures["fingerprint"]; len(fp) != 64 {
		t.Errorf("capture: %v", s.Captures)
	}
	if s.Timings.TLS <= 0 || s.Timings.Total < s.Timings.TLS {
		t.Errorf("timings: %+v", s.Timings)
	}
}

// Rule: tls.version compares as text "1.0" to "1.3", whether written
// 1.2, "1.2", "TLS 1.2" or "TLSv1.2", and numerically with gt, gte, lt,
// lte; a value that is no TLS version is refused at load.
func TestTLSVersionForms(t *testing.T) {
	ca := newTestCA(t)
	addr := tlsPeer(t, &tls.Config{Certificates: []tls.Certificate{ca.leaf(t, fullLeaf)}, MaxVersion: tls.VersionTLS12}, nil)
	for _, tc := range []struct {
		version string
		pass    bool
		msg     string
	}{
		{`1.2`, true, ""}, {`"1.2"`, true, ""}, {`TLS 1.2`, true, ""}, {`tlsv1.2`, true, ""},
		{`{ gte: 1.2 }`, true, ""}, {`{ in: [1.2, 1.3] }`, true, ""}, {`{ not_equals: 1.3 }`, true, ""},
		{`{ gte: 1.3 }`, false, `tls version: expected >= 1.3, got "1.2"`},
		{`1.3`, false, `tls version: expected "1.3", got "1.2"`},
	} {
		c := ca.loadIn(t, `
checks:
  - name: v
    steps:
      - tls: { address: "`+addr+`", server_name: assay.test, ca_file: ca.pem }
        expect: { tls: { version: `+tc.version+` } }
`)
		res := runCheck(t, c)
		if res.Passed != tc.pass || (!tc.pass && (res.Reason != ReasonAssertion || res.Steps()[0].Message != tc.msg)) {
			t.Errorf("version: %s: passed %v, %s %q", tc.version, res.Passed, res.Reason, res.Message)
		}
	}
}

// Rule: a certificate that fails verification is reason tls with the
// x509 error, and the step still shows what was presented: an expired
// certificate says how long ago it expired, its TLSInfo is set, and the
// step's assertions are evaluated for the record.
func TestTLSProbeCertificateFailures(t *testing.T) {
	ca := newTestCA(t)
	expired := ca.leaf(t, leafSpec{cn: "assay.test", dns: []string{"assay.test"}, notBefore: time.Now().Add(-40 * 24 * time.Hour), notAfter: time.Now().Add(-3*24*time.Hour - time.Hour)})
	future := ca.leaf(t, leafSpec{cn: "assay.test", dns: []string{"assay.test"}, notBefore: time.Now().Add(2*24*time.Hour + time.Hour)})
	self := ca.leaf(t, leafSpec{cn: "assay.test", dns: []string{"assay.test"}, selfSigned: true})
	good := ca.leaf(t, fullLeaf)
	serve := func(c tls.Certificate) string {
		return tlsPeer(t, &tls.Config{Certificates: []tls.Certificate{c}}, nil)
	}
	for _, tc := range []struct {
		name, addr, opts, line string
		msgs                   []string
	}{
		{"expired", serve(expired), "ca_file: ca.pem", "TLS 1.3, CN=assay.test, expired 3.0 days ago",
			[]string{"tls: x509: certificate has expired or is not yet valid: ", "(expired 3.0 days ago)"}},
		{"not yet valid", serve(future), "ca_file: ca.pem", "TLS 1.3, CN=assay.test, not valid for another 2.0 days",
			[]string{"tls: x509: certificate has expired or is not yet valid: ", "(not valid for another 2.0 days)"}},
		{"wrong host", serve(good), "ca_file: ca.pem, server_name: other.test", "TLS 1.3, CN=assay.test, 29.9 days left",
			[]string{"tls: x509: certificate is valid for assay.test, www.assay.test, not other.test"}},
		{"self-signed", serve(self), "server_name: assay.test", "TLS 1.3, CN=assay.test, 29.9 days left",
			[]string{"tls: x509: certificate signed by unknown authority (the certificate is self-signed)"}},
		{"unknown CA", serve(good), "server_name: assay.test", "TLS 1.3, CN=assay.test, 29.9 days left",
			[]string{"tls: x509: certificate signed by unknown authority"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ca.loadIn(t, `
checks:
  - name: cert
    steps:
      - tls: { address: "`+tc.addr+`", `+tc.opts+` }
        expect: { tls: { days_remaining: { gte: 14 } }, json: { $.verified: true } }
`)
			res := runCheck(t, c)
			s := res.Steps()[0]
			if res.Passed || res.Reason != ReasonTLS {
				t.Fatalf("got %v %s %q", res.Passed, res.Reason, res.Message)
			}
			for _, m := range tc.msgs {
				if !strings.Contains(res.Message, m) {
					t.Errorf("message %q does not contain %q", res.Message, m)
				}
			}
			if strings.Contains(tc.msgs[0], "self-signed") != strings.Contains(res.Message, "self-signed") {
				t.Errorf("self-signed said wrongly: %q", res.Message)
			}
			if s.TLS == nil || s.Response == nil || s.Response.Line != tc.line || !strings.Contains(s.Response.Body, `"verified":false`) {
				t.Fatalf("what was presented is not shown: %+v %+v", s.TLS, s.Response)
			}
			// The assertions ran for the record: verified is false.
			var verified *AssertionResult
			for i := range s.Assertions {
				if s.Assertions[i].Name == "json $.verified" {
					verified = &s.Assertions[i]
				}
			}
			if verified == nil || verified.Passed {
				t.Errorf("assertions: %+v", s.Assertions)
			}
			if tc.name == "expired" {
				if s.TLS.DaysRemaining > -3 || s.Assertions[1].Name != "tls days_remaining" || s.Assertions[1].Passed || s.Assertions[1].Actual != "-3.1" {
					t.Errorf("days: %v, assertions %+v", s.TLS.DaysRemaining, s.Assertions)
				}
			}
		})
	}
}

// Rule: insecure_skip_verify handshakes with any certificate; the body
// says it was not verified, the assertions still run.
func TestTLSProbeInsecureSkipVerify(t *testing.T) {
	ca := newTestCA(t)
	addr := tlsPeer(t, &tls.Config{Certificates: []tls.Certificate{ca.leaf(t, leafSpec{cn: "x", selfSigned: true})}}, nil)
	c := ca.loadIn(t, `
checks:
  - name: self
    steps:
      - tls: { address: "`+addr+`", insecure_skip_verify: true }
        expect: { tls: { issuer: CN=x, sans: { count: 0 } }, json: { $.verified: false } }
`)
	if res := runCheck(t, c); !res.Passed {
		t.Fatalf("%s %s", res.Reason, res.Message)
	}
}

// Rule: a client certificate (cert_file, key_file) is presented to a
// server that requires one.
func TestTLSProbeClientCertificate(t *testing.T) {
	ca := newTestCA(t)
	clientCert, clientKey := selfSigned(t, "probe", ca.cert, ca.key, false)
	writePEM(t, filepath.Join(ca.dir, "client.pem"), "CERTIFICATE", clientCert.Raw)
	kb, _ := x509.MarshalECPrivateKey(clientKey)
	writePEM(t, filepath.Join(ca.dir, "client-key.pem"), "EC PRIVATE KEY", kb)
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	got := make(chan string, 1)
	addr := tlsPeer(t, &tls.Config{Certificates: []tls.Certificate{ca.leaf(t, fullLeaf)}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool},
		func(c *tls.Conn) { got <- c.ConnectionState().PeerCertificates[0].Subject.CommonName })
	c := ca.loadIn(t, `
checks:
  - name: mtls
    steps:
      - tls: { address: "`+addr+`", server_name: assay.test, ca_file: ca.pem, cert_file: client.pem, key_file: client-key.pem }
`)
	if res := runCheck(t, c); !res.Passed {
		t.Fatalf("%s %s", res.Reason, res.Message)
	}
	select {
	case cn := <-got:
		if cn != "probe" {
			t.Errorf("server saw %q", cn)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the server never completed the handshake")
	}
}

// Rule: every other way a tls step fails has its reason, and ends by its
// timeout: nothing listens (connect); a peer that accepts and never
// handshakes, or trickles bytes, (timeout); a peer that speaks something
// else, or floods garbage, (tls); a peer that closes at once (network).
func TestTLSProbeFailures(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	refused := ln.Addr().String()
	ln.Close()
	silent := tcpServer(t, func(c net.Conn) { io.Copy(io.Discard, c) })
	trickle := tcpServer(t, func(c net.Conn) {
		// A TLS record header that promises a big record, then a byte
		// at a time.
		c.Write([]byte{0x16, 0x03, 0x03, 0x40, 0x00})
		for {
			if _, err := c.Write([]byte{0}); err != nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	ssh := tcpServer(t, func(c net.Conn) { c.Write([]byte("SSH-2.0-OpenSSH_9.6\r\n")); c.Read(make([]byte, 1)) })
	flood := tcpServer(t, func(c net.Conn) {
		junk := []byte(strings.Repeat("\x16\x03\x03\xff\xff", 1000))
		for {
			if _, err := c.Write(junk); err != nil {
				return
			}
		}
	})
	closes := tcpServer(t, func(c net.Conn) {})
	for _, tc := range []struct {
		name, addr string
		reason     Reason
		msg        string
	}{
		{"refused", refused, ReasonConnect, "connect: "},
		{"silent", silent, ReasonTimeout, "timeout: no complete answer within the step timeout 400ms (while handshaking)"},
		{"trickle", trickle, ReasonTimeout, "timeout: no complete answer within the step timeout 400ms (while handshaking)"},
		{"not tls", ssh, ReasonTLS, "tls: first record does not look like a TLS handshake (while handshaking)"},
		{"flood", flood, ReasonTLS, "tls: oversized record received"},
		{"closes", closes, ReasonNetwork, "network: connection closed by the server: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := loadCheck(t, `
checks:
  - name: t
    timeout: 20s
    steps:
      - tls: { address: "`+tc.addr+`", timeout: 400ms }
`)
			start := time.Now()
			res := runCheck(t, c)
			if s := res.Steps()[0]; res.Passed || s.Reason != tc.reason || !strings.HasPrefix(s.Message, tc.msg) {
				t.Errorf("got %s %q, want %s starting %q", s.Reason, s.Message, tc.reason, tc.msg)
			}
			if el := time.Since(start); el > 3*time.Second {
				t.Errorf("took %v", el)
			}
			if s := res.Steps()[0]; s.TLS != nil || s.Response != nil {
				t.Errorf("nothing was presented, yet: %+v %+v", s.TLS, s.Response)
			}
		})
	}
}

// Rule: an HTTPS response's TLSInfo carries the certificate's SANs, and
// the four tls assertions work on HTTP steps too; on plain HTTP they fail.
func TestTLSExpectOnHTTPSteps(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	plain := serve(t, func(w http.ResponseWriter, r *http.Request) {})
	c := loadCheck(t, `
checks:
  - name: https
    steps:
      - request: { url: "`+srv.URL+`", tls: { insecure_skip_verify: true } }
        expect: { tls: { days_remaining: { gt: 0 }, version: { gte: 1.2 }, issuer: { matches: 'O=Acme Co' }, sans: { includes: example.com } } }
`)
	res := runCheck(t, c)
	if !res.Passed {
		t.Fatalf("%s %s", res.Reason, res.Message)
	}
	if s := res.Steps()[0]; s.TLS == nil || !strings.Contains(strings.Join(s.TLS.SANs, " "), "127.0.0.1") {
		t.Errorf("TLSInfo: %+v", s.TLS)
	}
	c = loadCheck(t, `
checks:
  - name: plain
    steps:
      - request: { url: "`+plain.URL+`" }
        expect: { tls: { sans: { includes: example.com } } }
`)
	if res := runCheck(t, c); res.Passed || res.Steps()[0].Message != `tls sans: expected a TLS connection, got plain HTTP` {
		t.Errorf("plain: %v %q", res.Passed, res.Message)
	}
}

// Rule: a tls step's fields and expect.tls are checked at load, each
// mistake at its file:line:col.
func TestTLSProbeLoadErrors(t *testing.T) {
	got := loadErrors(t, `
checks:
  - name: a
    steps:
      - tls: { server_name: x }
      - tls: { address: "h:1", ca_file: missing.pem, timeout: 25h }
      - tls: { address: "h:1" }
        expect: { tls: {} }
      - tls: { address: "h:1" }
        expect: { status: 200, tls: { version: 1.4 } }
      - tls: { address: "h:1" }
        expect: { tls: { version: { in: [SSLv3, "1.2"] }, issuer: { includes: x } } }
      - tls: { address: "h:1", cert_file: c.pem }
      - request: { url: "https://h/" }
        expect: { tls: { version: [1.2] } }
`)
	wantErrors(t, got,
		`checks.yaml:5:14: checks[0].steps[0].tls.address: a tls probe needs an address (host:port)`,
		`checks.yaml:6:41: checks[0].steps[1].tls.ca_file: cannot read missing.pem: no such file or directory`,
		`checks.yaml:6:63: checks[0].steps[1].tls.timeout: must be at most 24h, got 25h`,
		`checks.yaml:7:9: checks[0].steps[2].expect.tls: tls needs at least one of days_remaining, version, issuer, sans`,
		`checks.yaml:10:19: checks[0].steps[3].expect.status: status does not apply to a tls step (it takes body, json, json_schema, response_time, tls)`,
		`checks.yaml:10:48: checks[0].steps[3].expect.tls.version: expected a TLS version: 1.0, 1.1, 1.2 or 1.3 ("TLS 1.3" works too), got 1.4`,
		`checks.yaml:12:42: checks[0].steps[4].expect.tls.version.in[0]: expected a TLS version: 1.0, 1.1, 1.2 or 1.3 ("TLS 1.3" works too), got "SSLv3"`,
		`checks.yaml:12:69: checks[0].steps[4].expect.tls.issuer.includes: includes applies to a list (the nodes of a json query, or an array), not to an issuer`,
		`checks.yaml:13:14: checks[0].steps[5].tls: set both cert_file and key_file for a client certificate`,
		`checks.yaml:15:35: checks[0].steps[6].expect.tls.version: expected a TLS version: 1.0, 1.1, 1.2 or 1.3 ("TLS 1.3" works too), got a list`,
	)
}

// Rule: assay explain writes tls steps, and tcp steps with starttls,
// back as check-file YAML that loads as the same check.
func TestTLSProbesExplainRoundTrip(t *testing.T) {
	ca := newTestCA(t)
	src := `
checks:
  - name: e
    steps:
      - name: cert
        tls: { address: "h:443", server_name: h.test, ca_file: ca.pem, insecure_skip_verify: true, timeout: 3s }
        expect: { tls: { version: TLS 1.3, sans: { includes: h.test } } }
      - name: mail
        tcp: { address: "h:25", starttls: smtp, tls: { ca_file: ca.pem, server_name: mx.test }, send: "EHLO x\r\n", expect: { contains: "250" } }
        expect: { tls: { days_remaining: { gte: 14 } } }
`
	out, err := Explain(ca.loadIn(t, src))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`tls: {address: 'h:443', server_name: h.test, ca_file: ca.pem, insecure_skip_verify: true, timeout: 3s}`,
		`tcp: {address: 'h:25', send: "EHLO x\r\n", expect: {contains: "250"}, starttls: smtp, tls: {ca_file: ca.pem, server_name: mx.test}}`, `version: "1.3"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("explain lacks %s:\n%s", want, out)
		}
	}
	if err := os.WriteFile(filepath.Join(ca.dir, "again.yaml"), out, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := (LoadOptions{LookupEnv: envMap()}).Load(filepath.Join(ca.dir, "again.yaml")); err != nil {
		t.Fatalf("explain output does not load: %v\n%s", err, out)
	}
}

// Rule: a tls step that the caller cancels is interrupted, not a
// timeout or a tls failure.
func TestTLSProbeInterrupted(t *testing.T) {
	silent := tcpServer(t, func(c net.Conn) { io.Copy(io.Discard, c) })
	c := loadCheck(t, `
checks:
  - name: t
    steps:
      - tls: { address: "`+silent+`" }
`)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	if res := newTestRunner(t).Run(ctx, c); res.Reason != ReasonInterrupted {
		t.Errorf("got %s %q", res.Reason, res.Message)
	}
}
