package checks

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// TestProxy: a step with proxy sends its request through that proxy.
func TestProxy(t *testing.T) {
	var proxied atomic.Int32
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A forward proxy receives the absolute URI of the target.
		if r.URL.Host != "target.invalid" {
			http.Error(w, "unexpected target "+r.URL.String(), 502)
			return
		}
		proxied.Add(1)
		w.Header().Set("Via", "1.1 test-proxy")
		_, _ = w.Write([]byte("through the proxy"))
	}))
	defer proxy.Close()
	cs, err := Parse("p.yaml", []byte(`checks:
  - name: via-proxy
    steps:
      - request: { url: "http://target.invalid/x", proxy: "`+proxy.URL+`" }
        expect: { status: 200, body: { equals: through the proxy }, headers: { Via: { contains: test-proxy } } }
`))
	if err != nil {
		t.Fatal(err)
	}
	r := NewRunner(RunnerOptions{})
	defer r.Close()
	if res := r.Run(context.Background(), cs[0]); !res.Passed || proxied.Load() != 1 {
		t.Fatalf("passed=%v (%s), proxied %d requests, want a pass through 1", res.Passed, res.Message, proxied.Load())
	}
}

// TestClientCertificate: cert_file and key_file present a client
// certificate; without it the server refuses the handshake.
func TestClientCertificate(t *testing.T) {
	dir := t.TempDir()
	caCert, caKey := selfSigned(t, "test CA", nil, nil, true)
	clientCert, clientKey := selfSigned(t, "probe", caCert, caKey, false)
	writePEM(t, filepath.Join(dir, "client.pem"), "CERTIFICATE", clientCert.Raw)
	kb, err := x509.MarshalECPrivateKey(clientKey)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, filepath.Join(dir, "client-key.pem"), "EC PRIVATE KEY", kb)

	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("hello " + r.TLS.PeerCertificates[0].Subject.CommonName))
	}))
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	srv.StartTLS()
	defer srv.Close()

	load := func(tlsBlock string) *Check {
		cs, err := LoadOptions{LookupEnv: func(string) (string, bool) { return "", false }}.parseFile(t, dir, `checks:
  - name: mtls
    steps:
      - request:
          url: "`+srv.URL+`"
          tls: { insecure_skip_verify: true`+tlsBlock+` }
        expect: { status: 200, body: { equals: hello probe } }
`)
		if err != nil {
			t.Fatal(err)
		}
		return cs[0]
	}
	r := NewRunner(RunnerOptions{})
	defer r.Close()
	if res := r.Run(context.Background(), load(", cert_file: client.pem, key_file: client-key.pem")); !res.Passed {
		t.Errorf("with a client certificate: %s", res.Message)
	}
	res := r.Run(context.Background(), load(""))
	if res.Passed || res.Reason != ReasonTLS && res.Reason != ReasonNetwork {
		t.Errorf("without a client certificate: passed=%v reason=%s (%s), want a tls failure", res.Passed, res.Reason, res.Message)
	}
}

// parseFile writes the check into dir (so relative cert paths resolve
// against it) and loads it.
func (o LoadOptions) parseFile(t *testing.T, dir, yaml string) ([]*Check, error) {
	t.Helper()
	p := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return o.Load(p)
}

func selfSigned(t *testing.T, cn string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, isCA bool) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		IsCA:         isCA, BasicConstraintsValid: true,
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}
