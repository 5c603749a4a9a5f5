package alerting

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/internal/smtptest"
	"github.com/emersion/go-smtp"
)

func emailConfig(s *smtptest.Server) *NotifierConfig {
	return &NotifierConfig{Name: "mail", Type: TypeEmail, Host: s.Host, Port: s.Port, CAFile: s.CAFile,
		Username: "assay", Password: "pa55word", From: "assay <assay@example.com>", To: []string{"oncall@example.com", "Team <team@example.com>"}}
}

// parts reads a message: its header and its text/plain and text/html
// parts (decoded).
func parts(t *testing.T, data []byte) (mail.Header, map[string]string) {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("not a message: %v\n%s", err, data)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q (%v), want multipart/alternative", m.Header.Get("Content-Type"), err)
	}
	out := map[string]string{}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := mr.NextPart() // decodes quoted-printable
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		b, _ := io.ReadAll(p)
		out[ct] = strings.ReplaceAll(string(b), "\r\n", "\n")
	}
	return m.Header, out
}

// Rule: the email notifier sends one message per event over STARTTLS
// (negotiated, with the certificate checked against ca_file), AUTH with
// the configured credentials, From and To as configured, a subject with
// the state and the summary, and a plain-text and an HTML part carrying
// the event.
func TestEmailMessage(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{Username: "assay", Password: "pa55word"})
	n := notifierFor(t, emailConfig(s))
	ev := sampleEvent(KindFiring)
	ev.Check.Description = `<script>alert(1)</script>`
	ev.Failure.RunURL = "https://assay.example.com/api/v1/results/77"
	ev.Failure.Diff = &checks.ResponseDiff{Status: &checks.FieldChange{Name: "status", Change: "changed", From: "204", To: "500"}}
	notify(t, n, ev)
	notify(t, n, sampleEvent(KindResolved))
	msgs := s.Messages()
	if len(msgs) != 2 {
		t.Fatalf("%d messages, want one per event", len(msgs))
	}
	m := msgs[0]
	if !m.TLS || m.Version < 0x0303 || m.AuthUser != "assay" || !slices.Equal(s.AuthMechanisms(), []string{"PLAIN", "PLAIN"}) {
		t.Errorf("session: TLS %v (version %x), auth %q, mechanisms %v", m.TLS, m.Version, m.AuthUser, s.AuthMechanisms())
	}
	if m.From != "assay@example.com" || !slices.Equal(m.To, []string{"oncall@example.com", "team@example.com"}) {
		t.Errorf("envelope: from %q to %v", m.From, m.To)
	}
	h, body := parts(t, m.Data)
	subject, _ := new(mime.WordDecoder).DecodeHeader(h.Get("Subject"))
	if subject != `[FIRING] documents-conditional-update is failing: step "conditional update": status: expected 204, got 500` {
		t.Errorf("Subject %q", subject)
	}
	if h.Get("Message-Id") != "<"+ev.ID+"@assay>" || h.Get("X-Assay-Event") != "firing" || h.Get("X-Assay-Incident") != ev.Incident.ID ||
		!strings.Contains(h.Get("From"), "assay@example.com") || !strings.Contains(h.Get("To"), "oncall@example.com") ||
		!strings.Contains(h.Get("To"), "team@example.com") || h.Get("Date") == "" {
		t.Errorf("headers: %v", h)
	}
	text, html := body["text/plain"], body["text/html"]
	for _, want := range []string{"Step:          conditional update", "Failed runs:   3 of 3", "status: expected 204, got 500",
		"Changed since the last passing run:\n  status: 204 -> 500", "Open the failed run: https://assay.example.com/api/v1/results/77",
		"Open the check in assay: " + ev.Check.URL, ev.Incident.ID} {
		if !strings.Contains(text, want) {
			t.Errorf("text part lacks %q:\n%s", want, text)
		}
	}
	for _, want := range []string{"<h2", "[FIRING] documents-conditional-update", "&lt;script&gt;alert(1)&lt;/script&gt;",
		"status: expected 204, got 500", `href="https://assay.example.com/api/v1/results/77"`, "status: 204 -&gt; 500"} {
		if !strings.Contains(html, want) {
			t.Errorf("HTML part lacks %q:\n%s", want, html)
		}
	}
	if strings.Contains(html, "<script>") {
		t.Error("the HTML part does not escape the check's text")
	}
	h, body = parts(t, msgs[1].Data)
	if subject, _ := new(mime.WordDecoder).DecodeHeader(h.Get("Subject")); !strings.HasPrefix(subject, "[RESOLVED] documents-conditional-update recovered") ||
		!strings.Contains(body["text/plain"], "Resolved:") {
		t.Errorf("resolved: subject %q\n%s", subject, body["text/plain"])
	}
}

// Rule: implicit TLS (port 465 style) speaks TLS from the first byte.
func TestEmailImplicitTLS(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{Implicit: true, Username: "assay", Password: "pa55word"})
	cfg := emailConfig(s)
	cfg.TLS = SMTPImplicitTLS
	notify(t, notifierFor(t, cfg), sampleEvent(KindFiring))
	if msgs := s.Messages(); len(msgs) != 1 || !msgs[0].TLS || msgs[0].AuthUser != "assay" {
		t.Fatalf("messages %+v", msgs)
	}
	// Without credentials there is no AUTH, and the server needing it
	// refuses the message for good (5yz).
	cfg.Username, cfg.Password = "", ""
	retry, err := notifierFor(t, cfg).Notify(context.Background(), sampleEvent(KindFiring))
	if retry || reasonOf(err) != ReasonSMTP5xx {
		t.Errorf("no credentials: retry=%v err=%v", retry, err)
	}
}

// Rule: SMTP replies are classified by their first digit (4: retried,
// 5: dead letter); a failure without a reply (refused, untrusted
// certificate, silence past the timeout) is retried; a server without
// STARTTLS is refused and never gets the password.
func TestEmailFailures(t *testing.T) {
	reject := func(stage string, code int) func(string, string) error {
		return func(s, _ string) error {
			if s == stage {
				return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCodeNotSet, Message: "no"}
			}
			return nil
		}
	}
	for _, tc := range []struct {
		name   string
		opts   smtptest.Options
		edit   func(*NotifierConfig)
		retry  bool
		reason string
	}{
		{"rcpt 450", smtptest.Options{Reject: reject("rcpt", 450)}, nil, true, ReasonSMTP4xx},
		{"rcpt 550", smtptest.Options{Reject: reject("rcpt", 550)}, nil, false, ReasonSMTP5xx},
		{"mail 421", smtptest.Options{Reject: reject("mail", 421)}, nil, true, ReasonSMTP4xx},
		{"data 554", smtptest.Options{Reject: reject("data", 554)}, nil, false, ReasonSMTP5xx},
		{"data 451", smtptest.Options{Reject: reject("data", 451)}, nil, true, ReasonSMTP4xx},
		{"wrong password 535", smtptest.Options{Username: "assay", Password: "other"}, nil, false, ReasonSMTP5xx},
		{"untrusted certificate", smtptest.Options{}, func(c *NotifierConfig) { c.CAFile, c.rootCAs = "", nil }, true, ReasonNetwork},
		{"no STARTTLS", smtptest.Options{NoTLS: true, Username: "assay", Password: "pa55word"}, nil, false, ReasonRejected},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := smtptest.Start(t, tc.opts)
			cfg := emailConfig(s)
			if tc.opts.Username == "" {
				cfg.Username, cfg.Password = "", ""
			}
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			if tc.edit != nil {
				tc.edit(cfg)
			}
			retry, err := notifierFor(t, cfg).Notify(context.Background(), sampleEvent(KindFiring))
			if err == nil || retry != tc.retry || reasonOf(err) != tc.reason {
				t.Errorf("retry=%v reason=%q err=%v, want retry=%v reason %s", retry, reasonOf(err), err, tc.retry, tc.reason)
			}
			if err != nil && strings.Contains(err.Error(), "pa55word") {
				t.Errorf("the error shows the password: %v", err)
			}
			if len(s.Messages()) != 0 {
				t.Error("a message was accepted")
			}
			if tc.opts.NoTLS && len(s.AuthMechanisms()) != 0 {
				t.Error("AUTH was tried without TLS")
			}
		})
	}
}

// Rule: one attempt is bounded by the notifier's timeout as a whole,
// however slowly the server answers; the failure is a retried timeout.
func TestEmailTimeout(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		if c, err := l.Accept(); err == nil {
			accepted <- c // holds the connection open and says nothing
		}
	}()
	cfg := &NotifierConfig{Name: "slow", Type: TypeEmail, Host: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port,
		From: "a@example.com", To: []string{"b@example.com"}, Timeout: checks.Duration(300 * time.Millisecond)}
	n := notifierFor(t, cfg)
	start := time.Now()
	retry, err := n.Notify(context.Background(), sampleEvent(KindFiring))
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the attempt took %v with a 300ms timeout", took)
	}
	if !retry || reasonOf(err) != ReasonTimeout {
		t.Errorf("retry=%v reason=%q err=%v", retry, reasonOf(err), err)
	}
	select {
	case c := <-accepted:
		c.Close()
	default:
	}
	// A server that answers each command, and each phase (connect and
	// AUTH; MAIL, RCPT, DATA), within the timeout, but not the whole
	// exchange: the attempt still ends at the timeout.
	s := smtptest.Start(t, smtptest.Options{Delay: 200 * time.Millisecond, Username: "assay", Password: "pa55word"})
	slow := emailConfig(s)
	slow.To, slow.Timeout = slow.To[:1], checks.Duration(700*time.Millisecond)
	start = time.Now()
	retry, err = notifierFor(t, slow).Notify(context.Background(), sampleEvent(KindFiring))
	if took := time.Since(start); !retry || reasonOf(err) != ReasonTimeout || took > 3*time.Second {
		t.Errorf("slow server (4 answers of 200ms, timeout 700ms): retry=%v reason=%q after %v: %v", retry, reasonOf(err), took, err)
	}
	// Nothing listening: a network failure, retried.
	l.Close()
	if retry, err := n.Notify(context.Background(), sampleEvent(KindFiring)); !retry || reasonOf(err) != ReasonNetwork {
		t.Errorf("refused: retry=%v err=%v", retry, err)
	}
}

// Rule: assay notify test sends the test message and shows the outcome.
func TestEmailSendTest(t *testing.T) {
	s := smtptest.Start(t, smtptest.Options{Username: "assay", Password: "pa55word"})
	responses, retry, err := SendTest(context.Background(), emailConfig(s), "", nil)
	if err != nil || retry || len(responses) != 1 || responses[0].Target != s.Addr() || responses[0].Status != 0 ||
		responses[0].Body != "message accepted for 2 recipient(s) over STARTTLS" {
		t.Fatalf("err=%v retry=%v responses=%+v", err, retry, responses)
	}
	h, _ := parts(t, s.Messages()[0].Data)
	if subject, _ := new(mime.WordDecoder).DecodeHeader(h.Get("Subject")); subject != "[TEST] assay test notification (assay-notify-test)" {
		t.Errorf("Subject %q", subject)
	}
}
