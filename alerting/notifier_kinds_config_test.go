package alerting_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/assay-monitor/assay/alerting"
	"github.com/assay-monitor/assay/config"
	"github.com/assay-monitor/assay/internal/smtptest"
)

// Rule: each new kind loads with its defaults; the SMTP password comes
// from ${VAR} or VAR_FILE; ca_file is relative to the config file.
func TestNewNotifierKindsConfig(t *testing.T) {
	dir := t.TempDir()
	s := smtptest.Start(t, smtptest.Options{})
	pem, _ := os.ReadFile(s.CAFile)
	if err := os.WriteFile(filepath.Join(dir, "smtp-ca.pem"), pem, 0o644); err != nil {
		t.Fatal(err)
	}
	pw := filepath.Join(dir, "smtp-password")
	if err := os.WriteFile(pw, []byte("fr0m-a-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ASSAY_TEST_SMTP_PASSWORD_FILE", pw)
	t.Setenv("OPSGENIE_API_KEY", "0psg3nie")
	file := filepath.Join(dir, "assay.yaml")
	cfg, err := config.Parse(file, []byte(`notifiers:
  mail:
    type: email
    host: smtp.example.com
    username: assay
    password: ${ASSAY_TEST_SMTP_PASSWORD}
    from: assay <assay@example.com>
    to: [oncall@example.com]
    ca_file: smtp-ca.pem
  mail465:
    type: email
    host: 127.0.0.1
    tls: implicit
    from: assay@example.com
    to: [a@example.com, b@example.com]
  og:
    type: opsgenie
    api_key: ${OPSGENIE_API_KEY}
  og-eu:
    type: opsgenie
    api_key: k
    url: https://api.eu.opsgenie.com
    priority: P1
  chat:
    type: teams
    url: https://example.webhook.office.com/workflows/1
  dc:
    type: discord
    url: https://discord.com/api/webhooks/1/token
  push:
    type: ntfy
    url: https://ntfy.sh/assay-alerts
    token: tk_abc
`))
	if err != nil {
		t.Fatal(err)
	}
	n := cfg.Notifiers
	m := n["mail"]
	if m.Port != 587 || m.TLS != "starttls" || m.Password != "fr0m-a-file" || m.CAFile != filepath.Join(dir, "smtp-ca.pem") || m.Timeout.D().String() != "10s" {
		t.Errorf("mail: port %d tls %q password %q ca_file %q timeout %v", m.Port, m.TLS, m.Password, m.CAFile, m.Timeout)
	}
	if m := n["mail465"]; m.Port != 465 || m.TLS != "implicit" || !slices.Equal(m.To, []string{"a@example.com", "b@example.com"}) {
		t.Errorf("mail465: %+v", m)
	}
	if og := n["og"]; og.APIKey != "0psg3nie" || og.URL != alerting.DefaultOpsgenieURL || og.Priority != "P3" {
		t.Errorf("og: %+v", og)
	}
	if og := n["og-eu"]; og.URL != "https://api.eu.opsgenie.com" || og.Priority != "P1" {
		t.Errorf("og-eu: %+v", og)
	}
	if n["chat"].Type != "teams" || n["dc"].Type != "discord" || n["push"].Token != "tk_abc" {
		t.Errorf("chat/dc/push: %+v %+v %+v", n["chat"], n["dc"], n["push"])
	}
}

// Rule: every mistake in a new kind's entry is one error at the field's
// file:line:column, naming the field; a field of another kind is refused.
func TestNewNotifierKindsConfigErrors(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := config.Parse(filepath.Join(dir, "assay.yaml"), []byte(`notifiers:
  m1:
    type: email
    to: []
  m2:
    type: email
    host: smtp.example.com:587
    port: 70000
    tls: none
    username: u
    from: not an address
    to: [ok@example.com, "bad@"]
    ca_file: not.pem
  m3:
    type: email
    host: smtp.example.com
    password: p
    from: a@example.com
    to: [b@example.com]
    ca_file: missing.pem
  og:
    type: opsgenie
    priority: P9
    url: api.opsgenie.com
  tm:
    type: teams
    token: x
  dc:
    type: discord
  nt1:
    type: ntfy
    url: https://ntfy.sh/
  nt2:
    type: ntfy
    url: https://ntfy.sh/topic?x=1
  nt3:
    type: ntfy
    url: https://ntfy.sh/bad.topic
`))
	if err == nil {
		t.Fatal("accepted")
	}
	got := strings.Split(err.Error(), "\n")
	file := filepath.Join(dir, "assay.yaml")
	for _, want := range []string{
		file + ":3:5: notifiers.m1.host: an email notifier needs a host (the SMTP server)",
		file + ":3:5: notifiers.m1.from: an email notifier needs a from address",
		file + ":4:9: notifiers.m1.to: an email notifier needs at least one address in to",
		file + `:7:11: notifiers.m2.host: "smtp.example.com:587" is not a host name or IP address (give the port in port, not in host)`,
		file + `:9:10: notifiers.m2.tls: expected starttls or implicit, got "none" (plain-text SMTP is not supported)`,
		file + ":8:11: notifiers.m2.port: must be between 1 and 65535, got 70000",
		file + ":6:5: notifiers.m2.password: a username needs a password (give it as ${VAR} or with VAR_FILE)",
		file + `:11:11: notifiers.m2.from: "not an address" is not an email address`,
		file + `:12:26: notifiers.m2.to[1]: "bad@" is not an email address`,
		file + ":13:14: notifiers.m2.ca_file: " + notPEM + " holds no PEM certificate",
		file + ":15:5: notifiers.m3.username: a password needs a username",
		file + ":22:5: notifiers.og.api_key: an opsgenie notifier needs an api_key (the API integration's key)",
		file + ":24:10: notifiers.og.url: must be an absolute http:// or https:// URL",
		file + `:23:15: notifiers.og.priority: "P9" is not an Opsgenie priority (valid: P1, P2, P3, P4, P5)`,
		file + `:27:5: notifiers.tm.token: "token" does not apply to a teams notifier (its fields: type, timeout, url)`,
		file + ":26:5: notifiers.tm.url: a teams notifier needs a url",
		file + ":29:5: notifiers.dc.url: a discord notifier needs a url",
		file + ":32:10: notifiers.nt1.url: must end with the topic (letters, digits, '-' and '_', at most 64), e.g. https://ntfy.sh/mytopic",
		file + ":35:10: notifiers.nt2.url: must be the topic URL without a query or fragment, e.g. https://ntfy.sh/mytopic",
		file + ":38:10: notifiers.nt3.url: must end with the topic (letters, digits, '-' and '_', at most 64), e.g. https://ntfy.sh/mytopic",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("missing error:\n%s\nin:\n%s", want, err)
		}
	}
	var missing bool
	for _, l := range got {
		missing = missing || strings.HasPrefix(l, file+":20:14: notifiers.m3.ca_file: ") && strings.Contains(l, "missing.pem")
	}
	if !missing {
		t.Errorf("no error for the missing ca_file in:\n%s", err)
	}
}
