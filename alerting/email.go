package alerting

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/wneessen/go-mail"
)

// email sends one message per event through an SMTP server (go-mail):
// STARTTLS (mandatory: a server that does not offer it is refused, never
// used in the clear) or implicit TLS, AUTH when a username is set, and a
// multipart/alternative body of plain text and HTML. The Message-ID is
// the event's idempotency key, so a message sent twice after a crash
// can be recognised. A 4yz reply is retried, a 5yz reply is a dead
// letter; network and TLS failures are retried.
type email struct {
	cfg *NotifierConfig
	now func() time.Time
}

// emailSubjectMax bounds the subject (RFC 5322 lines are at most 998
// characters; clients show far fewer).
const emailSubjectMax = 200

// emailAuthPreference is the order AUTH mechanisms are tried in, the
// first the server offers wins; PLAIN and LOGIN only travel over TLS.
var emailAuthPreference = []mail.SMTPAuthType{mail.SMTPAuthSCRAMSHA256, mail.SMTPAuthSCRAMSHA1, mail.SMTPAuthPlain, mail.SMTPAuthLogin}

var emailHTML = template.Must(template.New("email").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{ .Headline }}</title></head>
<body style="font-family: sans-serif; font-size: 14px; color: #1f2937">
<h2 style="color: {{ .Color }}; margin: 0 0 8px 0">[{{ .State }}] {{ .Check }}</h2>
<p style="margin: 0 0 12px 0">{{ .Summary }}</p>
<table style="border-collapse: collapse; margin-bottom: 12px">
{{- range .Facts }}
<tr><th style="text-align: left; padding: 2px 12px 2px 0; vertical-align: top">{{ .Name }}</th><td style="padding: 2px 0">{{ .Value }}</td></tr>
{{- end }}
</table>
{{- if .Assertions }}
<h3 style="margin: 12px 0 4px 0">Failed assertions</h3>
<pre style="background: #f3f4f6; padding: 8px; white-space: pre-wrap">{{ range .Assertions }}{{ . }}
{{ end }}</pre>
{{- end }}
{{- if .Diff }}
<h3 style="margin: 12px 0 4px 0">Changed since the last passing run</h3>
<pre style="background: #f3f4f6; padding: 8px; white-space: pre-wrap">{{ range .Diff }}{{ . }}
{{ end }}</pre>
{{- end }}
{{- range .Links }}
<p style="margin: 4px 0"><a href="{{ .URL }}">{{ .Title }}</a></p>
{{- end }}
<p style="color: #6b7280; font-size: 12px; margin-top: 16px">{{ .Footer }}</p>
</body></html>
`))

// emailHTMLFor renders the HTML part of an event.
func emailHTMLFor(ev *Event) (string, error) {
	color := "#b42318"
	switch {
	case ev.Kind == KindTest:
		color = "#475467"
	case ev.Status == StatusResolved:
		color = "#067647"
	case ev.Kind == KindReminder:
		color = "#b54708"
	}
	var b strings.Builder
	err := emailHTML.Execute(&b, map[string]any{
		"Headline": eventHeadline(ev), "State": eventState(ev), "Check": ev.Check.Name, "Color": color,
		"Summary": oneLineSummary(ev), "Facts": eventFacts(ev), "Assertions": assertionLines(ev),
		"Diff": diffLines(ev), "Links": eventLinks(ev), "Footer": eventFooter(ev),
	})
	return b.String(), err
}

// message builds the mail of an event.
func (n *email) message(ev *Event) (*mail.Msg, error) {
	m := mail.NewMsg(mail.WithNoDefaultUserAgent())
	if err := m.From(n.cfg.From); err != nil {
		return nil, err
	}
	if err := m.To(n.cfg.To...); err != nil {
		return nil, err
	}
	m.Subject(truncateRunes(eventHeadline(ev), emailSubjectMax))
	m.SetMessageIDWithValue(ev.ID + "@assay")
	m.SetDateWithValue(n.now())
	m.SetUserAgent("assay/" + checks.Version)
	m.SetGenHeader(mail.Header(HeaderEvent), string(ev.Kind))
	m.SetGenHeader(mail.Header("X-Assay-Incident"), ev.Incident.ID)
	m.SetBodyString(mail.TypeTextPlain, eventText(ev))
	html, err := emailHTMLFor(ev)
	if err != nil {
		return nil, err
	}
	m.AddAlternativeString(mail.TypeTextHTML, html)
	return m, nil
}

// client builds the SMTP client of one attempt. Its connections close
// when ctx ends, so the attempt as a whole, not only each command, is
// bounded by the notifier's timeout.
func (n *email) client(ctx context.Context) (*mail.Client, error) {
	// An IPv6 literal is written [::1]; the certificate names ::1.
	tlsConfig := &tls.Config{ServerName: strings.Trim(n.cfg.Host, "[]"), RootCAs: n.cfg.rootCAs, MinVersion: tls.VersionTLS12}
	implicit := n.cfg.TLS == SMTPImplicitTLS
	dial := func(dctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		conn, err := d.DialContext(dctx, network, addr)
		if err != nil {
			return nil, err
		}
		context.AfterFunc(ctx, func() { conn.Close() })
		if implicit {
			tc := tls.Client(conn, tlsConfig)
			if err := tc.HandshakeContext(dctx); err != nil {
				conn.Close()
				return nil, err
			}
			return tc, nil
		}
		return conn, nil
	}
	opts := []mail.Option{
		mail.WithPort(n.cfg.Port),
		mail.WithTimeout(n.cfg.Timeout.D()),
		mail.WithTLSConfig(tlsConfig),
		mail.WithDialContextFunc(dial),
	}
	if implicit {
		// TLS is already up when the SMTP session starts.
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	} else {
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	}
	if n.cfg.Username != "" {
		opts = append(opts, mail.WithOpportunisticSMTPAuth(emailAuthPreference...),
			mail.WithUsername(n.cfg.Username), mail.WithPassword(n.cfg.Password))
	}
	return mail.NewClient(n.cfg.Host, opts...)
}

func (n *email) Notify(ctx context.Context, ev *Event) (bool, error) {
	target := n.cfg.Host + ":" + strconv.Itoa(n.cfg.Port) // as go-mail dials it
	m, err := n.message(ev)
	if err != nil {
		return false, &DeliveryError{Reason: ReasonInvalid, Msg: "building the message: " + err.Error()}
	}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.Timeout.D())
	defer cancel()
	c, err := n.client(ctx)
	if err != nil {
		return false, &DeliveryError{Reason: ReasonInvalid, Msg: "SMTP client: " + err.Error()}
	}
	if err := c.DialAndSendWithContext(ctx, m); err != nil {
		if ctx.Err() != nil && !errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err) // the closed connection was the timeout
		}
		retry, de := smtpFailure(target, err)
		record(ctx, Response{Target: target, Err: oneLine(err.Error(), maxErrorBody)})
		return retry, de
	}
	mode := "STARTTLS"
	if n.cfg.TLS == SMTPImplicitTLS {
		mode = "implicit TLS"
	}
	record(ctx, Response{Target: target, Body: fmt.Sprintf("message accepted for %d recipient(s) over %s", len(n.cfg.To), mode)})
	return false, nil
}

// smtpFailure classifies a failed SMTP exchange: a reply code's first
// digit decides (4: transient, retried; 5: permanent); a failure without
// a reply (network, TLS, a connection lost) is retried; a server that
// lacks STARTTLS or a usable AUTH mechanism is refused for good, since
// retrying changes nothing until its configuration does.
func smtpFailure(target string, err error) (bool, *DeliveryError) {
	msg := fmt.Sprintf("SMTP %s: %s", target, oneLine(err.Error(), maxErrorBody))
	code := 0
	var se *mail.SendError
	if errors.As(err, &se) {
		code = se.ErrorCode()
	}
	var te *textproto.Error
	if code == 0 && errors.As(err, &te) {
		code = te.Code
	}
	var ne net.Error
	var re tls.RecordHeaderError
	var ae tls.AlertError
	var ce *tls.CertificateVerificationError
	switch {
	case code >= 400 && code < 500:
		return true, &DeliveryError{Reason: ReasonSMTP4xx, Msg: msg}
	case code >= 500 && code < 600:
		return false, &DeliveryError{Reason: ReasonSMTP5xx, Msg: msg}
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		return true, &DeliveryError{Reason: ReasonTimeout, Msg: msg}
	case errors.As(err, &ne), errors.Is(err, context.Canceled), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed),
		errors.As(err, &re), errors.As(err, &ae), errors.As(err, &ce), se != nil:
		return true, &DeliveryError{Reason: ReasonNetwork, Msg: msg}
	}
	return false, &DeliveryError{Reason: ReasonRejected, Msg: msg}
}
