package web_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/assay-monitor/assay/web"
)

// serveLimited serves the endpoints on loopback with the limits and web
// config; it returns the address.
func serveLimited(t *testing.T, l web.Limits, wc web.WebConfig) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := web.NewServer(handler(web.Access{}), l, nil)
	done := make(chan error, 1)
	go func() { done <- web.Serve(web.LimitListener(ln, l.MaxConnections), srv, wc, nil) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		web.Shutdown(ctx, srv)
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// idleConn opens a connection, makes one keep-alive request on it and
// leaves it idle.
func idleConn(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return c
}

// TestIdleClientsCannotHoldTheServer: connections are capped, and an
// idle keep-alive connection is closed after IdleTimeout, so a client
// waiting for a slot is served once an idle one goes; a client that
// never finishes its headers is cut off after ReadHeaderTimeout.
func TestIdleClientsCannotHoldTheServer(t *testing.T) {
	l := web.DefaultLimits()
	l.MaxConnections, l.IdleTimeout, l.ReadHeaderTimeout = 3, 300*time.Millisecond, 300*time.Millisecond
	addr := serveLimited(t, l, web.WebConfig{})
	idle := []net.Conn{idleConn(t, addr), idleConn(t, addr), idleConn(t, addr)}
	begin := time.Now()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatalf("a fourth client was never served: %v", err)
	}
	resp.Body.Close()
	if took := time.Since(begin); took < 200*time.Millisecond {
		t.Errorf("the fourth client was served after %s, before an idle connection could have closed: no limit", took)
	}
	for i, c := range idle {
		_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
		if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
			t.Errorf("idle connection %d: read %v, want EOF (closed by the server)", i, err)
		}
	}
	slow, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	io.WriteString(slow, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n") // never finished
	_ = slow.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := io.ReadAll(slow); err != nil {
		t.Errorf("a client that never finished its headers: %v, want the connection closed within the header timeout", err)
	}
}

// TestWebConfigTurnsOnTLSAndBasicAuth: a Prometheus web config (paths
// relative to it) serves HTTPS and asks every request for one of its
// users, bcrypt-hashed; a broken one is refused at load.
func TestWebConfigTurnsOnTLSAndBasicAuth(t *testing.T) {
	dir := t.TempDir()
	pool := writeCert(t, dir)
	// bcrypt of "fakepassword" (the exporter toolkit's own test hash).
	cfg := filepath.Join(dir, "web.yml")
	os.WriteFile(cfg, []byte(`tls_server_config:
  cert_file: cert.pem
  key_file: key.pem
basic_auth_users:
  alice: $2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi
`), 0o600)
	wc, err := web.LoadWebConfig(cfg)
	if err != nil || !wc.TLS || !wc.BasicAuth {
		t.Fatalf("LoadWebConfig = %+v, %v; want TLS and basic auth", wc, err)
	}
	addr := serveLimited(t, web.DefaultLimits(), wc)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer client.CloseIdleConnections()
	for _, tc := range []struct {
		user, pass string
		want       int
	}{
		{"", "", 401},
		{"alice", "wrong", 401},
		{"bob", "fakepassword", 401},
		{"alice", "fakepassword", 200},
	} {
		r, _ := http.NewRequest("GET", "https://"+addr+"/metrics", nil)
		if tc.user != "" {
			r.SetBasicAuth(tc.user, tc.pass)
		}
		resp, err := client.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("GET /metrics as %q:%q = %d, want %d", tc.user, tc.pass, resp.StatusCode, tc.want)
		}
	}
	plain := &http.Client{Timeout: 5 * time.Second}
	if resp, err := plain.Get("http://" + addr + "/metrics"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Error("plain HTTP was served next to the TLS config")
		}
	}

	for name, content := range map[string]string{
		"missing key file": "tls_server_config:\n  cert_file: cert.pem\n  key_file: nope.pem\n",
		"not bcrypt":       "basic_auth_users:\n  alice: plaintext\n",
		"unknown field":    "tls_server_confg: {}\n",
	} {
		p := filepath.Join(dir, "bad.yml")
		os.WriteFile(p, []byte(content), 0o600)
		if _, err := web.LoadWebConfig(p); err == nil {
			t.Errorf("%s: LoadWebConfig accepted it", name)
		}
	}
}

// writeCert writes a self-signed certificate for 127.0.0.1 into dir.
func writeCert(t *testing.T, dir string) *x509.CertPool {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "assay test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return pool
}
