package checks

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// smtpPeer is a tiny SMTP server: it greets, answers EHLO with exts,
// STARTTLS with starttls (then makes the TLS handshake and answers EHLO
// and QUIT over TLS).
type smtpPeer struct {
	cfg      *tls.Config
	greeting string
	exts     []string
	starttls string
}

func (sp smtpPeer) serve(c net.Conn) {
	greeting := sp.greeting
	if greeting == "" {
		greeting = "220 mail.assay.test ESMTP ready\r\n"
	}
	c.Write([]byte(greeting))
	rd := bufio.NewReader(c)
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			return
		}
		switch cmd := strings.ToUpper(strings.TrimSpace(line)); {
		case strings.HasPrefix(cmd, "EHLO "):
			// The domain first, then the extensions: 250- on every line
			// but the last (RFC 5321 §4.1.1.1).
			lines := append([]string{"mail.assay.test"}, sp.exts...)
			var b strings.Builder
			for i, l := range lines {
				sep := "-"
				if i == len(lines)-1 {
					sep = " "
				}
				b.WriteString("250" + sep + l + "\r\n")
			}
			c.Write([]byte(b.String()))
		case cmd == "STARTTLS":
			answer := sp.starttls
			if answer == "" {
				answer = "220 2.0.0 go ahead\r\n"
			}
			c.Write([]byte(answer))
			if !strings.HasPrefix(answer, "220") {
				continue
			}
			tc := tls.Server(c, sp.cfg)
			if tc.Handshake() != nil {
				return
			}
			trd := bufio.NewReader(tc)
			for {
				l, err := trd.ReadString('\n')
				if err != nil {
					return
				}
				if strings.HasPrefix(strings.ToUpper(l), "EHLO") {
					tc.Write([]byte("250-mail.assay.test over TLS\r\n250 AUTH PLAIN\r\n"))
				} else {
					tc.Write([]byte("221 bye\r\n"))
					return
				}
			}
		default:
			c.Write([]byte("500 what\r\n"))
		}
	}
}

var mailLeaf = leafSpec{cn: "mail.assay.test", dns: []string{"mail.assay.test"}}

// Rule: starttls: smtp upgrades an SMTP connection (EHLO, STARTTLS, 220,
// handshake); send and expect run over TLS, and expect.tls asserts on the
// SMTP server's certificate.
func TestStartTLSSMTP(t *testing.T) {
	ca := newTestCA(t)
	cfg := &tls.Config{Certificates: []tls.Certificate{ca.leaf(t, mailLeaf)}}
	addr := tcpServer(t, smtpPeer{cfg: cfg, exts: []string{"PIPELINING", "SIZE 35882577", "STARTTLS"}}.serve)
	c := ca.loadIn(t, `
checks:
  - name: mail
    steps:
      - name: over tls
        tcp: { address: "`+addr+`", starttls: smtp, tls: { ca_file: ca.pem, server_name: mail.assay.test }, send: "EHLO probe\r\n", expect: { contains: "250 AUTH" }, timeout: 5s }
        expect: { tls: { days_remaining: { gte: 14 }, sans: { includes: mail.assay.test }, version: 1.3 } }
      - name: handshake only
        tcp: { address: "`+addr+`", starttls: smtp, tls: { ca_file: ca.pem, server_name: mail.assay.test } }
        expect: { tls: { days_remaining: { gte: 14 } } }
`)
	res := runCheck(t, c)
	if !res.Passed {
		t.Fatalf("%s %s", res.Reason, res.Message)
	}
	s := res.Steps()[0]
	if s.TLS == nil || s.TLS.Subject != "CN=mail.assay.test" || !strings.Contains(s.Response.Body, "over TLS") ||
		!strings.HasSuffix(s.Response.Line, " bytes received over TLS 1.3 after STARTTLS (smtp)") || s.Timings.TLS <= 0 {
		t.Errorf("step: %+v %+v %+v", s.TLS, s.Response, s.Timings)
	}
	if l := res.Steps()[1].Response.Line; l != "connected over TLS 1.3 after STARTTLS (smtp)" {
		t.Errorf("line: %q", l)
	}
}

// imapPeer is a tiny IMAP server: it greets, answers a001 STARTTLS with
// answer, and after the handshake answers any tagged command with OK.
func imapPeer(cfg *tls.Config, greeting, answer string) func(net.Conn) {
	return func(c net.Conn) {
		c.Write([]byte(greeting))
		rd := bufio.NewReader(c)
		line, err := rd.ReadString('\n')
		if err != nil || line != "a001 STARTTLS\r\n" {
			c.Write([]byte("* BAD unexpected " + line))
			return
		}
		c.Write([]byte(answer))
		if !strings.Contains(answer, "a001 OK") {
			return
		}
		tc := tls.Server(c, cfg)
		if tc.Handshake() != nil {
			return
		}
		l, err := bufio.NewReader(tc).ReadString('\n')
		if err != nil {
			return
		}
		tag, _, _ := strings.Cut(l, " ")
		tc.Write([]byte(tag + " OK NOOP completed\r\n"))
		tc.Read(make([]byte, 1))
	}
}

// Rule: starttls: imap upgrades after the * OK greeting with a001
// STARTTLS and its tagged OK (untagged lines before it are skipped); a
// refusal or a wrong greeting is reason protocol.
func TestStartTLSIMAP(t *testing.T) {
	ca := newTestCA(t)
	cfg := &tls.Config{Certificates: []tls.Certificate{ca.leaf(t, mailLeaf)}}
	good := tcpServer(t, imapPeer(cfg, "* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n", "* CAPABILITY IMAP4rev1 STARTTLS\r\na001 OK Begin TLS negotiation now\r\n"))
	refuses := tcpServer(t, imapPeer(cfg, "* OK ready\r\n", "a001 BAD STARTTLS not offered\r\n"))
	bye := tcpServer(t, imapPeer(cfg, "* BYE too busy\r\n", ""))
	c := ca.loadIn(t, `
checks:
  - name: imap
    steps:
      - tcp: { address: "`+good+`", starttls: imap, tls: { ca_file: ca.pem, server_name: mail.assay.test }, send: "a002 NOOP\r\n", expect: { contains: "a002 OK" }, timeout: 5s }
        expect: { tls: { issuer: { contains: Assay Test CA } } }
`)
	if res := runCheck(t, c); !res.Passed {
		t.Fatalf("%s %s", res.Reason, res.Message)
	}
	for addr, msg := range map[string]string{
		refuses: `protocol: the IMAP server refused STARTTLS: "a001 BAD STARTTLS not offered"`,
		bye:     `protocol: the IMAP server greeted with "* BYE too busy", not * OK`,
	} {
		c := ca.loadIn(t, `
checks:
  - name: imap
    steps:
      - tcp: { address: "`+addr+`", starttls: imap, timeout: 5s }
`)
		res := runCheck(t, c)
		if s := res.Steps()[0]; res.Passed || s.Reason != ReasonProtocol || s.Message != msg {
			t.Errorf("got %s %q, want protocol %q", s.Reason, s.Message, msg)
		}
	}
}

// postgresPeer reads the 8 bytes of an SSLRequest (reporting them on got)
// and answers with answer; on S it makes the handshake.
func postgresPeer(cfg *tls.Config, answer byte, got chan<- []byte) func(net.Conn) {
	return func(c net.Conn) {
		req := make([]byte, 8)
		if _, err := io.ReadFull(c, req); err != nil {
			return
		}
		got <- req
		c.Write([]byte{answer})
		if answer != 'S' {
			c.Read(make([]byte, 1))
			return
		}
		tc := tls.Server(c, cfg)
		if tc.Handshake() != nil {
			return
		}
		tc.Read(make([]byte, 1))
	}
}

// Rule: starttls: postgres sends PostgreSQL's SSLRequest (length 8, code
// 80877103) and makes the handshake when the server answers S; N is
// reason protocol.
func TestStartTLSPostgres(t *testing.T) {
	ca := newTestCA(t)
	cfg := &tls.Config{Certificates: []tls.Certificate{ca.leaf(t, leafSpec{cn: "db.assay.test", dns: []string{"db.assay.test"}})}}
	got := make(chan []byte, 2)
	yes := tcpServer(t, postgresPeer(cfg, 'S', got))
	no := tcpServer(t, postgresPeer(cfg, 'N', got))
	c := ca.loadIn(t, `
checks:
  - name: pg
    steps:
      - tcp: { address: "`+yes+`", starttls: postgres, tls: { ca_file: ca.pem, server_name: db.assay.test }, timeout: 5s }
        expect: { tls: { days_remaining: { gte: 14 }, sans: [db.assay.test] } }
`)
	if res := runCheck(t, c); !res.Passed {
		t.Fatalf("%s %s", res.Reason, res.Message)
	}
	if req := <-got; !bytes.Equal(req, []byte{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f}) {
		t.Errorf("SSLRequest sent as % x", req)
	}
	c = ca.loadIn(t, `
checks:
  - name: pg
    steps:
      - tcp: { address: "`+no+`", starttls: postgres, timeout: 5s }
`)
	res := runCheck(t, c)
	if s := res.Steps()[0]; res.Passed || s.Reason != ReasonProtocol || s.Message != "protocol: the PostgreSQL server does not accept SSL (it answered N to SSLRequest)" {
		t.Errorf("got %s %q", s.Reason, s.Message)
	}
}

// Rule: each way a STARTTLS upgrade fails has its reason: no STARTTLS
// in EHLO, a refused STARTTLS, bytes after the 220 (injection), a line
// too long, too many lines (protocol); a server that never greets
// (timeout, by the step's timeout); an expired certificate (tls, with
// what was presented); a wrong answer over TLS (assertion).
func TestStartTLSFailures(t *testing.T) {
	ca := newTestCA(t)
	cfg := &tls.Config{Certificates: []tls.Certificate{ca.leaf(t, mailLeaf)}}
	expired := &tls.Config{Certificates: []tls.Certificate{ca.leaf(t, leafSpec{cn: "mail.assay.test", dns: []string{"mail.assay.test"},
		notBefore: time.Now().Add(-40 * 24 * time.Hour), notAfter: time.Now().Add(-24*time.Hour - time.Hour)})}}
	exts := []string{"PIPELINING", "STARTTLS"}
	for _, tc := range []struct {
		name   string
		peer   func(net.Conn)
		extra  string
		reason Reason
		msg    string
	}{
		{"no starttls", smtpPeer{cfg: cfg, exts: []string{"PIPELINING", "8BITMIME"}}.serve, "", ReasonProtocol,
			`protocol: the SMTP server does not offer STARTTLS (its EHLO answer lists only "PIPELINING 8BITMIME")`},
		{"refused", smtpPeer{cfg: cfg, exts: exts, starttls: "454 4.7.0 TLS not available\r\n"}.serve, "", ReasonProtocol,
			`protocol: the SMTP server refused STARTTLS: "454 4.7.0 TLS not available"`},
		{"injection", smtpPeer{cfg: cfg, exts: exts, starttls: "220 go ahead\r\n250 injected\r\n"}.serve, "", ReasonProtocol,
			`protocol: the server sent 14 bytes after its answer to STARTTLS, before the TLS handshake`},
		{"bad greeting", smtpPeer{cfg: cfg, greeting: "554 no service\r\n"}.serve, "", ReasonProtocol,
			`protocol: the SMTP server greeted with "554 no service", not 220`},
		{"not smtp", smtpPeer{cfg: cfg, greeting: "SSH-2.0-OpenSSH\r\n"}.serve, "", ReasonProtocol,
			`protocol: not an SMTP reply while reading the SMTP greeting: "SSH-2.0-OpenSSH"`},
		{"long line", func(c net.Conn) { c.Write([]byte("220-" + strings.Repeat("x", 8<<10))); io.Copy(io.Discard, c) }, "", ReasonProtocol,
			`protocol: the server sent a line over 4096 bytes while reading the SMTP greeting`},
		{"endless reply", func(c net.Conn) {
			for {
				if _, err := c.Write([]byte("220-still greeting\r\n")); err != nil {
					return
				}
			}
		}, "", ReasonProtocol, `protocol: the server sent more than 64 lines while reading the SMTP greeting`},
		{"silent", func(c net.Conn) { io.Copy(io.Discard, c) }, "", ReasonTimeout,
			`timeout: no complete answer within the step timeout 400ms (while negotiating STARTTLS (smtp))`},
		{"closes", func(c net.Conn) { c.Write([]byte("220 hi\r\n")) }, "", ReasonNetwork,
			`network: connection closed by the server: `},
		{"expired", smtpPeer{cfg: expired, exts: exts}.serve, "", ReasonTLS,
			`tls: x509: certificate has expired or is not yet valid: `},
		{"wrong answer", smtpPeer{cfg: cfg, exts: exts}.serve, `, send: "EHLO probe\r\n", expect: { contains: "250 XCLIENT" }`, ReasonAssertion,
			`tcp expect: expected to contain "250 XCLIENT", got "250-mail.assay.test over TLS\r\n250 AUTH PLAIN\r\n"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := tcpServer(t, tc.peer)
			c := ca.loadIn(t, `
checks:
  - name: mail
    timeout: 20s
    steps:
      - tcp: { address: "`+addr+`", starttls: smtp, tls: { ca_file: ca.pem, server_name: mail.assay.test }, timeout: 400ms`+tc.extra+` }
`)
			start := time.Now()
			res := runCheck(t, c)
			s := res.Steps()[0]
			if res.Passed || s.Reason != tc.reason || !strings.HasPrefix(s.Message, tc.msg) {
				t.Errorf("got %s %q, want %s starting %q", s.Reason, s.Message, tc.reason, tc.msg)
			}
			if el := time.Since(start); el > 3*time.Second {
				t.Errorf("took %v", el)
			}
			if tc.name == "expired" && (s.TLS == nil || s.TLS.DaysRemaining > -1 || !strings.Contains(s.Message, "(expired 1.0 days ago)")) {
				t.Errorf("what was presented is not shown: %+v %q", s.TLS, s.Message)
			}
		})
	}
}

// Rule: starttls and its tls block are checked at load; expect.tls is
// refused on a tcp step without starttls.
func TestStartTLSLoadErrors(t *testing.T) {
	got := loadErrors(t, `
checks:
  - name: a
    steps:
      - tcp: { address: "h:25", starttls: ftp }
      - tcp: { address: "h:25", tls: { insecure_skip_verify: true } }
      - tcp: { address: "h:25" }
        expect: { tls: { days_remaining: { gte: 14 } } }
      - tcp: { address: "h:25", starttls: smtp, tls: { ca_file: missing.pem } }
`)
	wantErrors(t, got,
		`checks.yaml:5:43: checks[0].steps[0].tcp.starttls: expected one of smtp, imap, postgres, got "ftp"`,
		`checks.yaml:6:33: checks[0].steps[1].tcp.tls: tls configures the upgrade of starttls; set starttls: smtp, imap, postgres`,
		`checks.yaml:8:19: checks[0].steps[2].expect.tls: tls does not apply to a tcp step (it takes body, json, json_schema, response_time)`,
		`checks.yaml:9:65: checks[0].steps[3].tcp.tls.ca_file: cannot read missing.pem: no such file or directory`,
	)
}
