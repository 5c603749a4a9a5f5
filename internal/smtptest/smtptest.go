// Package smtptest runs a loopback SMTP server for tests (go-smtp): it
// offers STARTTLS, or speaks TLS from the first byte, with a certificate
// it makes for 127.0.0.1; it requires AUTH PLAIN when given credentials,
// and records every message with how it arrived. Only tests import it.
package smtptest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Options shape a server.
type Options struct {
	// Implicit makes the server speak TLS from the first byte (port 465
	// style) instead of offering STARTTLS.
	Implicit bool
	// NoTLS offers no STARTTLS at all.
	NoTLS bool
	// Username and Password, when set, are required with AUTH PLAIN
	// before MAIL.
	Username, Password string
	// Reject, if set, may refuse a command: stage is "mail", "rcpt" or
	// "data", arg the address (or "" for data). Return an *smtp.SMTPError
	// for a reply code of your choosing.
	Reject func(stage, arg string) error
	// Delay is how long the server waits before it answers AUTH, MAIL,
	// each RCPT and the end of DATA (a slow server).
	Delay time.Duration
}

// Message is one message the server accepted.
type Message struct {
	From string
	To   []string
	Data []byte
	// TLS says the session was encrypted when MAIL was given; Version is
	// its TLS version.
	TLS     bool
	Version uint16
	// AuthUser is who authenticated (AUTH PLAIN), "" without AUTH.
	AuthUser string
}

// Server is a running SMTP server.
type Server struct {
	Host string
	Port int
	// CAFile is a PEM file of the server's (self-signed) certificate, to
	// trust it.
	CAFile string

	opts Options
	srv  *smtp.Server
	mu   sync.Mutex
	msgs []Message
	auth []string // mechanisms tried
}

// Start starts a server on 127.0.0.1 and stops it when the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	cert, pemBytes := selfSigned(t)
	s := &Server{opts: opts}
	s.CAFile = filepath.Join(t.TempDir(), "smtp-ca.pem")
	if err := os.WriteFile(s.CAFile, pemBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	tlsConfig := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.srv = smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &session{s: s, c: c}, nil }))
	s.srv.Domain = "localhost"
	s.srv.ReadTimeout, s.srv.WriteTimeout = 10*time.Second, 10*time.Second
	s.srv.MaxMessageBytes = 1 << 20
	s.srv.ErrorLog = log.New(io.Discard, "", 0) // clients that hang up are the point of some tests
	switch {
	case opts.Implicit:
		l = tls.NewListener(l, tlsConfig)
	case !opts.NoTLS:
		s.srv.TLSConfig = tlsConfig
	}
	addr := l.Addr().(*net.TCPAddr)
	s.Host, s.Port = "127.0.0.1", addr.Port
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.srv.Serve(l)
	}()
	t.Cleanup(func() {
		// The listener is closed here too: Close only closes the listeners
		// Serve has registered, and Serve may not have started yet.
		_ = l.Close()
		_ = s.srv.Close()
		<-done
	})
	return s
}

// Addr is host:port.
func (s *Server) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// Messages returns the messages accepted so far.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// AuthMechanisms returns the AUTH mechanisms clients tried, in order.
func (s *Server) AuthMechanisms() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.auth...)
}

type session struct {
	s    *Server
	c    *smtp.Conn
	user string
	msg  Message
}

func (ss *session) AuthMechanisms() []string {
	if ss.s.opts.Username == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	time.Sleep(ss.s.opts.Delay)
	ss.s.mu.Lock()
	ss.s.auth = append(ss.s.auth, mech)
	ss.s.mu.Unlock()
	return sasl.NewPlainServer(func(_, username, password string) error {
		if username != ss.s.opts.Username || password != ss.s.opts.Password {
			return smtp.ErrAuthFailed // 535
		}
		ss.user = username
		return nil
	}), nil
}

func (ss *session) reject(stage, arg string) error {
	time.Sleep(ss.s.opts.Delay)
	if ss.s.opts.Reject != nil {
		return ss.s.opts.Reject(stage, arg)
	}
	return nil
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if ss.s.opts.Username != "" && ss.user == "" {
		return smtp.ErrAuthRequired // 502
	}
	if err := ss.reject("mail", from); err != nil {
		return err
	}
	state, ok := ss.c.TLSConnectionState()
	ss.msg = Message{From: from, TLS: ok && state.HandshakeComplete, Version: state.Version, AuthUser: ss.user}
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if err := ss.reject("rcpt", to); err != nil {
		return err
	}
	ss.msg.To = append(ss.msg.To, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	var b bytes.Buffer
	if _, err := io.Copy(&b, r); err != nil {
		return err
	}
	if err := ss.reject("data", ""); err != nil {
		return err
	}
	ss.msg.Data = b.Bytes()
	ss.s.mu.Lock()
	ss.s.msgs = append(ss.s.msgs, ss.msg)
	ss.s.mu.Unlock()
	return nil
}

func (ss *session) Reset()        { ss.msg = Message{} }
func (ss *session) Logout() error { return nil }

// selfSigned makes a certificate for 127.0.0.1 that is its own CA.
func selfSigned(t testing.TB) (tls.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "smtptest"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pemBytes
}
