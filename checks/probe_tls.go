package checks

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"path/filepath"
	"strings"
	"time"

	"github.com/assay-monitor/assay/internal/yamlstrict"
	"go.yaml.in/yaml/v3"
)

// TLSProbe makes a TLS handshake with a server, for the connection and
// its certificate, and sends nothing else:
//
//	tls: { address: "mail.example.org:465", server_name: mail.example.org }
//
// By default the chain and the host name are verified, as an HTTPS
// client does; a certificate that fails is reason tls, and the result
// still shows what was presented (its days remaining, its names).
// The step's response body is the connection and the chain as JSON
// (tlsAnswer), for json assertions and captures.
type TLSProbe struct {
	// Address is host:port.
	Address Template `yaml:"address"`
	// ServerName is sent as SNI and verified against the certificate;
	// default: the address's host.
	ServerName string `yaml:"server_name"`
	// CAFile, CertFile, KeyFile and InsecureSkipVerify are those of a
	// request's tls block (TLSOptions).
	CAFile             string `yaml:"ca_file"`
	CertFile           string `yaml:"cert_file"`
	KeyFile            string `yaml:"key_file"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
	// Timeout bounds the probe (connect and handshake).
	Timeout Duration `yaml:"timeout"`

	Pos Position `yaml:"-"`
	// opts holds the loaded options (their config).
	opts TLSOptions
}

func (p *TLSProbe) kind() string           { return "tls" }
func (p *TLSProbe) timeout() time.Duration { return p.Timeout.D() }

func (p *TLSProbe) expects() []string {
	return []string{"body", "json", "json_schema", "response_time", "tls"}
}

func (p *TLSProbe) templates() []Template { return []Template{p.Address} }

func (p *TLSProbe) summary() RequestSummary {
	return RequestSummary{Method: "TLS", URL: p.url(p.Address.Raw)}
}

func (p *TLSProbe) url(addr string) string {
	if p.ServerName != "" {
		return "tls://" + addr + "?server_name=" + p.ServerName
	}
	return "tls://" + addr
}

func (p *TLSProbe) compile(d *decoder, _ *Check, s *Step, path string) {
	compileAddress(d, p.Address, s, path)
	boundProbeTimeout(d, p.Timeout, s, path)
	p.opts = TLSOptions{InsecureSkipVerify: p.InsecureSkipVerify, CAFile: p.CAFile, CertFile: p.CertFile, KeyFile: p.KeyFile, ServerName: p.ServerName}
	loadProbeTLS(d, &p.opts, s, path)
}

// loadProbeTLS loads a probe's TLS options, reporting a bad file at the
// field of block (the probe's path, or its tls block's) that names it.
func loadProbeTLS(d *decoder, o *TLSOptions, s *Step, block string) {
	field, err := o.load(filepath.Dir(d.File), d.Read)
	if err == nil {
		return
	}
	fp := block
	if field != "" {
		fp = yamlstrict.JoinPath(block, field)
	}
	d.ErrAt(d.ValuePos(fp, d.ValuePos(block, s.Pos)), fp, "%v", err)
}

func (p *TLSProbe) node() *yaml.Node {
	n := yMap("address", yStr(p.Address.Raw))
	for _, kv := range [][2]string{{"server_name", p.ServerName}, {"ca_file", p.CAFile}, {"cert_file", p.CertFile}, {"key_file", p.KeyFile}} {
		if kv[1] != "" {
			yAdd(n, kv[0], yStr(kv[1]))
		}
	}
	if p.InsecureSkipVerify {
		yAdd(n, "insecure_skip_verify", yBool(true))
	}
	if p.Timeout > 0 {
		yAdd(n, "timeout", yStr(durationText(p.Timeout)))
	}
	return yFlow(n)
}

func (p *TLSProbe) run(ctx context.Context, pc *probeCall) *probeOutcome {
	out := &probeOutcome{request: p.summary(), proto: "TLS"}
	addr, err := p.Address.RenderContext(ctx, pc.data)
	if err != nil {
		return out.fail(ReasonTemplate, "template: "+err.Error())
	}
	out.request.URL = p.url(addr)
	start := time.Now()
	conn, err := dialProbe(ctx, addr, &out.timings)
	if err != nil {
		out.timings.Total = time.Since(start)
		return out.fail(probeDialError(ctx, err, p.Timeout.D()))
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	tc, cs, err := tlsHandshake(ctx, conn, &p.opts, addr, &out.timings)
	out.timings.Total = time.Since(start)
	if cs != nil {
		now := time.Now()
		out.tls = tlsInfo(cs, now)
		out.answered = true
		out.line = tlsLine(cs, now)
		out.body = tlsAnswerJSON(cs, p.opts.InsecureSkipVerify, err, now)
	}
	if err != nil {
		reason, msg := tlsHandshakeError(ctx, err, p.Timeout.D())
		// A certificate that fails verification was presented: its
		// assertions are evaluated for the record (days_remaining -3
		// next to the x509 error), the reason stays tls.
		out.assess = cs != nil && reason == ReasonTLS
		return out.fail(reason, msg)
	}
	_ = tc.Close()
	return out
}

// tlsHandshake makes a TLS client handshake on conn with the options o
// (loaded), for the server at addr (host:port). Verification (unless o
// skips it) is done here after the server's certificates arrive, so that
// what the server presented comes back even when it fails: cs is set
// whenever the server got as far as its certificate.
func tlsHandshake(ctx context.Context, conn net.Conn, o *TLSOptions, addr string, t *Timings) (tc *tls.Conn, cs *tls.ConnectionState, err error) {
	cfg := o.config.Clone()
	name := cfg.ServerName
	if name == "" {
		name, _, _ = net.SplitHostPort(addr)
		name = strings.TrimSuffix(name, ".")
		cfg.ServerName = name
	}
	verify := !cfg.InsecureSkipVerify
	roots := cfg.RootCAs
	//nolint:gosec // verified below, in VerifyConnection, unless the check opts out
	cfg.InsecureSkipVerify = true
	cfg.VerifyConnection = func(state tls.ConnectionState) error {
		cs = &state
		if !verify {
			return nil
		}
		return verifyPeer(&state, roots, name, time.Now())
	}
	began := time.Now()
	tc = tls.Client(conn, cfg)
	err = tc.HandshakeContext(ctx)
	t.TLS = time.Since(began)
	if err == nil {
		state := tc.ConnectionState()
		cs = &state
	}
	return tc, cs, err
}

// certError is a server certificate that failed verification.
type certError struct {
	err  error
	leaf *x509.Certificate
	now  time.Time
}

func (e *certError) Error() string {
	msg := e.err.Error()
	switch c := e.leaf; {
	case e.now.After(c.NotAfter):
		msg += fmt.Sprintf(" (expired %s ago)", daysText(e.now.Sub(c.NotAfter)))
	case e.now.Before(c.NotBefore):
		msg += fmt.Sprintf(" (not valid for another %s)", daysText(c.NotBefore.Sub(e.now)))
	}
	var ua x509.UnknownAuthorityError
	// Signed by its own key (CheckSignatureFrom would want a CA).
	if c := e.leaf; errors.As(e.err, &ua) && c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil {
		msg += " (the certificate is self-signed)"
	}
	return msg
}

func (e *certError) Unwrap() error { return e.err }

// daysText is a duration in days with one decimal, rounded down.
func daysText(d time.Duration) string {
	return fmt.Sprintf("%.1f days", math.Floor(d.Hours()/24*10)/10)
}

// verifyPeer verifies the server's chain against roots (nil: the
// system's) and the name, as crypto/tls would.
func verifyPeer(cs *tls.ConnectionState, roots *x509.CertPool, name string, now time.Time) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("tls: the server presented no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	leaf := cs.PeerCertificates[0]
	_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: name, CurrentTime: now})
	if err != nil {
		return &certError{err: err, leaf: leaf, now: now}
	}
	return nil
}

// tlsHandshakeError classifies a failed handshake.
func tlsHandshakeError(ctx context.Context, err error, timeout time.Duration) (Reason, string) {
	var ce *certError
	if errors.As(err, &ce) && ctx.Err() == nil {
		return ReasonTLS, "tls: " + ce.Error()
	}
	return probeIOError(ctx, err, timeout, "handshaking")
}

// tlsVersion is the negotiated version as a number: "1.3".
func tlsVersion(v uint16) string {
	return strings.TrimPrefix(tls.VersionName(v), "TLS ")
}

// certSANs lists a certificate's subject alternative names: DNS names,
// IP addresses, URIs, then e-mail addresses.
func certSANs(c *x509.Certificate) []string {
	out := make([]string, 0, len(c.DNSNames)+len(c.IPAddresses)+len(c.URIs)+len(c.EmailAddresses))
	out = append(out, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		out = append(out, ip.String())
	}
	for _, u := range c.URIs {
		out = append(out, u.String())
	}
	return append(out, c.EmailAddresses...)
}

// tlsLine sums up a handshake: "TLS 1.3, CN=example.org, 89.5 days left".
func tlsLine(cs *tls.ConnectionState, now time.Time) string {
	line := tls.VersionName(cs.Version)
	if len(cs.PeerCertificates) == 0 {
		return line + ", no certificate"
	}
	c := cs.PeerCertificates[0]
	subject := c.Subject.String()
	if c.Subject.CommonName != "" {
		subject = "CN=" + c.Subject.CommonName
	} else if subject == "" {
		subject = "no subject"
	}
	switch {
	case now.After(c.NotAfter):
		return fmt.Sprintf("%s, %s, expired %s ago", line, subject, daysText(now.Sub(c.NotAfter)))
	case now.Before(c.NotBefore):
		return fmt.Sprintf("%s, %s, not valid for another %s", line, subject, daysText(c.NotBefore.Sub(now)))
	}
	return fmt.Sprintf("%s, %s, %s left", line, subject, daysText(c.NotAfter.Sub(now)))
}

// tlsAnswer is the body of a tls step: the connection and the chain the
// server presented, leaf first.
type tlsAnswer struct {
	Version     string `json:"version"`
	Cipher      string `json:"cipher"`
	ServerName  string `json:"server_name,omitempty"`
	Verified    bool   `json:"verified"`
	VerifyError string `json:"verify_error,omitempty"`
	tlsCert
	SANs          []string  `json:"sans"`
	Serial        string    `json:"serial"`
	SHA256        string    `json:"sha256"`
	DaysRemaining float64   `json:"days_remaining"`
	Chain         []tlsCert `json:"chain"`
}

// tlsCert is one certificate of the chain.
type tlsCert struct {
	Subject   string    `json:"subject"`
	Issuer    string    `json:"issuer"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
}

// tlsAnswerJSON is the answer of a handshake as JSON; verr is its error.
func tlsAnswerJSON(cs *tls.ConnectionState, skipped bool, verr error, now time.Time) []byte {
	a := tlsAnswer{Version: tlsVersion(cs.Version), Cipher: tls.CipherSuiteName(cs.CipherSuite), ServerName: cs.ServerName,
		Verified: verr == nil && !skipped, SANs: []string{}, Chain: []tlsCert{}}
	var ce *certError
	if errors.As(verr, &ce) {
		a.VerifyError = ce.Error()
	}
	for i, c := range cs.PeerCertificates {
		tc := tlsCert{Subject: c.Subject.String(), Issuer: c.Issuer.String(), NotBefore: c.NotBefore.UTC(), NotAfter: c.NotAfter.UTC()}
		a.Chain = append(a.Chain, tc)
		if i == 0 {
			a.tlsCert = tc
			a.SANs = certSANs(c)
			a.Serial = c.SerialNumber.Text(16)
			sum := sha256.Sum256(c.Raw)
			a.SHA256 = hex.EncodeToString(sum[:])
			a.DaysRemaining = math.Floor(c.NotAfter.Sub(now).Hours()/24*10) / 10
		}
	}
	b, _ := json.Marshal(a)
	return b
}
