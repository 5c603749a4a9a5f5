package checks

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/assay-monitor/assay/internal/yamlstrict"
)

// startTLSKinds are the protocols a tcp probe can upgrade to TLS.
var startTLSKinds = []string{"smtp", "imap", "postgres"}

// What a STARTTLS negotiation reads is bounded: a line (SMTP allows 512
// bytes, RFC 5321 §4.5.3.1.5; IMAP capability lines are longer), and the
// lines before the answer (an EHLO's extensions, IMAP's untagged lines).
// The step's timeout bounds the time.
const (
	startTLSMaxLine  = 4 << 10
	startTLSMaxLines = 64
)

// compileStartTLS checks a tcp probe's starttls and tls (at path, the
// probe's) and loads the TLS options.
func compileStartTLS(d *decoder, p *TCPProbe, s *Step, path string) {
	if p.StartTLS == "" {
		if p.TLS != nil {
			fp := path + ".tls"
			d.ErrAt(d.KeyPos(fp, s.Pos), fp, "tls configures the upgrade of starttls; set starttls: %s", strings.Join(startTLSKinds, ", "))
		}
		return
	}
	if !slices.Contains(startTLSKinds, p.StartTLS) {
		fp := path + ".starttls"
		d.ErrAt(d.ValuePos(fp, s.Pos), fp, "expected one of %s, got %s", strings.Join(startTLSKinds, ", "), yamlstrict.Excerpt(p.StartTLS))
		return
	}
	p.tlsOpts = &TLSOptions{}
	if p.TLS != nil {
		p.tlsOpts = p.TLS
	}
	loadProbeTLS(d, p.tlsOpts, s, path+".tls")
}

// probeFailure is why a probe failed.
type probeFailure struct {
	reason  Reason
	message string
}

// protocolError is a peer that does not follow the protocol.
type protocolError struct{ msg string }

func (e *protocolError) Error() string { return e.msg }

func protoErr(format string, args ...any) error {
	return &protocolError{msg: fmt.Sprintf(format, args...)}
}

// upgrade negotiates TLS on conn by the probe's protocol and makes the
// handshake. cs is set when the server presented its certificate, even
// when it failed verification.
func (p *TCPProbe) upgrade(ctx context.Context, conn net.Conn, addr string, t *Timings) (*tls.Conn, *tls.ConnectionState, *probeFailure) {
	var err error
	switch p.StartTLS {
	case "smtp":
		err = startSMTP(conn)
	case "imap":
		err = startIMAP(conn)
	case "postgres":
		err = startPostgres(conn)
	}
	if err != nil {
		var pe *protocolError
		if errors.As(err, &pe) {
			return nil, nil, &probeFailure{ReasonProtocol, "protocol: " + pe.msg}
		}
		reason, msg := probeIOError(ctx, err, p.Timeout.D(), "negotiating STARTTLS ("+p.StartTLS+")")
		return nil, nil, &probeFailure{reason, msg}
	}
	tc, cs, err := tlsHandshake(ctx, conn, p.tlsOpts, addr, t)
	if err != nil {
		reason, msg := tlsHandshakeError(ctx, err, p.Timeout.D())
		return nil, cs, &probeFailure{reason, msg}
	}
	return tc, cs, nil
}

// over tells, in a tcp step's line, that it ran over TLS.
func (p *TCPProbe) over(i *TLSInfo) string {
	if i == nil {
		return ""
	}
	return fmt.Sprintf(" over %s after STARTTLS (%s)", i.Version, p.StartTLS)
}

// lineReader reads a negotiation's lines, each at most startTLSMaxLine
// bytes, startTLSMaxLines in all.
type lineReader struct {
	br    *bufio.Reader
	lines int
}

func newLineReader(c net.Conn) *lineReader {
	return &lineReader{br: bufio.NewReaderSize(c, startTLSMaxLine)}
}

// line reads one line, without its CR LF, while doing what.
func (lr *lineReader) line(what string) (string, error) {
	if lr.lines++; lr.lines > startTLSMaxLines {
		return "", protoErr("the server sent more than %d lines while %s", startTLSMaxLines, what)
	}
	b, err := lr.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return "", protoErr("the server sent a line over %d bytes while %s", startTLSMaxLine, what)
	}
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// drained refuses what the server sent after its answer to STARTTLS and
// before the handshake: read in plain text, it would pass for what came
// over TLS (the STARTTLS command injection of CVE-2011-0411).
func (lr *lineReader) drained() error {
	if n := lr.br.Buffered(); n > 0 {
		return protoErr("the server sent %d bytes after its answer to STARTTLS, before the TLS handshake", n)
	}
	return nil
}

// peerText quotes at most 120 bytes of what a peer said, for a message.
func peerText(s string) string {
	c, cut := cutAt(s, 120)
	if !cut {
		return strconv.Quote(s)
	}
	return strconv.Quote(c) + "…"
}

// smtpReply reads one SMTP reply, of one or more lines (RFC 5321 §4.2).
func (lr *lineReader) smtpReply(what string) (int, []string, error) {
	code := 0
	var lines []string
	for {
		l, err := lr.line(what)
		if err != nil {
			return 0, nil, err
		}
		c, cerr := strconv.Atoi(l[:min(3, len(l))])
		if len(l) < 3 || cerr != nil || c < 100 || c > 599 || (len(l) > 3 && l[3] != ' ' && l[3] != '-') {
			return 0, nil, protoErr("not an SMTP reply while %s: %s", what, peerText(l))
		}
		if code != 0 && c != code {
			return 0, nil, protoErr("an SMTP reply with two codes while %s: %s", what, peerText(l))
		}
		code = c
		lines = append(lines, l)
		if len(l) == 3 || l[3] == ' ' {
			return code, lines, nil
		}
	}
}

// startSMTP negotiates STARTTLS with an SMTP server (RFC 3207): its
// greeting, EHLO, the STARTTLS extension, STARTTLS and its 220.
func startSMTP(conn net.Conn) error {
	lr := newLineReader(conn)
	code, lines, err := lr.smtpReply("reading the SMTP greeting")
	if err != nil {
		return err
	}
	if code != 220 {
		return protoErr("the SMTP server greeted with %s, not 220", peerText(lines[len(lines)-1]))
	}
	if _, err := io.WriteString(conn, "EHLO "+ehloName(conn.LocalAddr())+"\r\n"); err != nil {
		return err
	}
	if code, lines, err = lr.smtpReply("reading the answer to EHLO"); err != nil {
		return err
	}
	if code != 250 {
		return protoErr("the SMTP server answered EHLO with %s", peerText(lines[len(lines)-1]))
	}
	var exts []string
	offered := false
	for _, l := range lines[1:] {
		kw, _, _ := strings.Cut(strings.TrimSpace(l[4:]), " ")
		exts = append(exts, kw)
		offered = offered || strings.EqualFold(kw, "STARTTLS")
	}
	if !offered {
		listed := "no extensions"
		if len(exts) > 0 {
			listed = "only " + peerText(strings.Join(exts, " "))
		}
		return protoErr("the SMTP server does not offer STARTTLS (its EHLO answer lists %s)", listed)
	}
	if _, err := io.WriteString(conn, "STARTTLS\r\n"); err != nil {
		return err
	}
	if code, lines, err = lr.smtpReply("reading the answer to STARTTLS"); err != nil {
		return err
	}
	if code != 220 {
		return protoErr("the SMTP server refused STARTTLS: %s", peerText(lines[len(lines)-1]))
	}
	return lr.drained()
}

// ehloName is the client's address literal for EHLO (RFC 5321 §4.1.3):
// the probe has no name of its own to give.
func ehloName(a net.Addr) string {
	ta, ok := a.(*net.TCPAddr)
	switch {
	case !ok:
		return "[127.0.0.1]"
	case ta.IP.To4() != nil:
		return "[" + ta.IP.To4().String() + "]"
	}
	return "[IPv6:" + ta.IP.String() + "]"
}

// imapTag is the tag of the probe's one IMAP command.
const imapTag = "a001"

// startIMAP negotiates STARTTLS with an IMAP server (RFC 3501 §6.2.1):
// its * OK greeting, then a001 STARTTLS and its tagged OK; untagged
// lines in between (a CAPABILITY) are skipped.
func startIMAP(conn net.Conn) error {
	lr := newLineReader(conn)
	l, err := lr.line("reading the IMAP greeting")
	if err != nil {
		return err
	}
	if !hasPrefixFold(l, "* OK") {
		return protoErr("the IMAP server greeted with %s, not * OK", peerText(l))
	}
	if _, err := io.WriteString(conn, imapTag+" STARTTLS\r\n"); err != nil {
		return err
	}
	for {
		if l, err = lr.line("reading the answer to STARTTLS"); err != nil {
			return err
		}
		switch {
		case strings.HasPrefix(l, "* "):
			continue
		case hasPrefixFold(l, imapTag+" OK") && (len(l) == len(imapTag)+3 || l[len(imapTag)+3] == ' '):
			return lr.drained()
		case hasPrefixFold(l, imapTag+" "):
			return protoErr("the IMAP server refused STARTTLS: %s", peerText(l))
		}
		return protoErr("not an IMAP answer to STARTTLS: %s", peerText(l))
	}
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// postgresSSLRequest is PostgreSQL's SSLRequest: length 8, code 80877103
// (protocol 3.0, "Message Formats").
var postgresSSLRequest = []byte{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f}

// startPostgres asks a PostgreSQL server for SSL; it answers one byte,
// S (yes) or N (no). Nothing is buffered beyond it.
func startPostgres(conn net.Conn) error {
	if _, err := conn.Write(postgresSSLRequest); err != nil {
		return err
	}
	var b [1]byte
	if _, err := io.ReadFull(conn, b[:]); err != nil {
		return err
	}
	switch b[0] {
	case 'S':
		return nil
	case 'N':
		return protoErr("the PostgreSQL server does not accept SSL (it answered N to SSLRequest)")
	case 'E':
		return protoErr("the PostgreSQL server answered SSLRequest with an error")
	}
	return protoErr("not a PostgreSQL answer to SSLRequest: %s", peerText(string(b[:])))
}
