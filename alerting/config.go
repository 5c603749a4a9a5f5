package alerting

import (
	"crypto/x509"
	"fmt"
	"maps"
	"net/http"
	"net/mail"
	"net/url"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"text/template"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/internal/safefile"
	"github.com/assay-monitor/assay/internal/yamlstrict"
	"go.yaml.in/yaml/v3"
)

// Notifier types.
const (
	TypeWebhook      = "webhook"
	TypeSlack        = "slack"
	TypePagerDuty    = "pagerduty"
	TypeAlertmanager = "alertmanager"
	TypeEmail        = "email"
	TypeOpsgenie     = "opsgenie"
	TypeTeams        = "teams"
	TypeDiscord      = "discord"
	TypeNtfy         = "ntfy"
)

// The values of an email notifier's tls.
const (
	SMTPStartTLS    = "starttls" // upgrade with STARTTLS, which the server must offer
	SMTPImplicitTLS = "implicit" // TLS from the first byte (port 465)
)

// Types lists the notifier types.
var Types = []string{TypeWebhook, TypeSlack, TypePagerDuty, TypeAlertmanager, TypeEmail, TypeOpsgenie, TypeTeams, TypeDiscord, TypeNtfy}

// Defaults of notifier settings.
const (
	DefaultTimeout            = 10 * time.Second
	DefaultPagerDutyURL       = "https://events.pagerduty.com/v2/enqueue"
	DefaultPagerDutySeverity  = "critical"
	DefaultOpsgenieURL        = "https://api.opsgenie.com"
	DefaultOpsgeniePriority   = "P3"
	DefaultSMTPPort           = 587 // submission, with STARTTLS
	DefaultSMTPSPort          = 465 // submissions, implicit TLS
	DefaultAlertname          = "AssayCheckFailing"
	DefaultFailures           = 3
	DefaultSuccesses          = 2
	maxTemplateBodyBytes      = 1 << 20
	pagerDutySummaryMaxRunes  = 1024
	pagerDutyDedupKeyMaxRunes = 255
)

// NotifierConfig is one entry of `notifiers:` in the global config. Which
// fields apply depends on Type; a field that does not apply to the type is
// a load error, so a routing_key under a webhook is caught, not ignored.
// Secrets (URLs with tokens, routing keys, HMAC secrets) come from the
// environment with ${VAR}.
type NotifierConfig struct {
	// Type is webhook, slack, pagerduty, alertmanager, email, opsgenie,
	// teams, discord or ntfy.
	Type string `yaml:"type"`
	// URL is the receiver: the webhook endpoint, the Slack incoming-webhook
	// URL, (optional) the PagerDuty Events API v2 endpoint, (optional) the
	// Opsgenie API base URL, the Teams Workflows or Discord webhook URL, or
	// the ntfy topic URL.
	URL string `yaml:"url"`
	// URLs are the Alertmanagers (base URLs; /api/v2/alerts is appended).
	URLs []string `yaml:"urls"`
	// Secret signs webhook requests (X-Assay-Signature).
	Secret string `yaml:"secret"`
	// Headers are added to every webhook or Alertmanager request.
	Headers map[string]string `yaml:"headers"`
	// Body is an optional Go text/template for the webhook body; the data
	// is the Event. Without it the body is the Event as JSON.
	Body string `yaml:"body"`
	// RoutingKey is the PagerDuty Events API v2 integration key.
	RoutingKey string `yaml:"routing_key"`
	// Severity is the PagerDuty severity when the check has no label
	// severity with a PagerDuty value (critical, error, warning, info).
	Severity string `yaml:"severity"`
	// Alertname is the Alertmanager alertname label.
	Alertname string `yaml:"alertname"`
	// Labels are extra Alertmanager labels (a check's own labels win).
	Labels map[string]string `yaml:"labels"`
	// APIKey is the Opsgenie API integration key (Authorization: GenieKey).
	APIKey string `yaml:"api_key"`
	// Priority is the Opsgenie priority (P1..P5) when the check has no
	// label priority with such a value.
	Priority string `yaml:"priority"`
	// Token is the ntfy access token (Authorization: Bearer).
	Token string `yaml:"token"`
	// Host is the SMTP server of an email notifier.
	Host string `yaml:"host"`
	// Port is the SMTP port (default 587 with STARTTLS, 465 with implicit TLS).
	Port int `yaml:"port"`
	// TLS is how an email notifier secures SMTP: starttls (default) or
	// implicit. Plain-text SMTP is not offered.
	TLS string `yaml:"tls"`
	// CAFile is a PEM file of the CAs that the SMTP server's certificate
	// is checked against instead of the system's, relative to the config file.
	CAFile string `yaml:"ca_file"`
	// Username and Password authenticate to the SMTP server (AUTH); give
	// the password as ${VAR} (or VAR_FILE).
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// From is the sender address of an email notifier.
	From string `yaml:"from"`
	// To are the recipients of an email notifier.
	To []string `yaml:"to"`
	// Timeout bounds one delivery attempt.
	Timeout checks.Duration `yaml:"timeout"`

	// Name is the key under notifiers.
	Name string `yaml:"-"`
	// Pos is where the entry starts in the config file.
	Pos yamlstrict.Position `yaml:"-"`

	body    *template.Template
	rootCAs *x509.CertPool // from CAFile
}

// fieldsByType lists the keys each type accepts besides type and timeout.
var fieldsByType = map[string][]string{
	TypeWebhook:      {"url", "secret", "headers", "body"},
	TypeSlack:        {"url"},
	TypePagerDuty:    {"routing_key", "url", "severity"},
	TypeAlertmanager: {"urls", "headers", "alertname", "labels"},
	TypeEmail:        {"host", "port", "tls", "ca_file", "username", "password", "from", "to"},
	TypeOpsgenie:     {"api_key", "url", "priority"},
	TypeTeams:        {"url"},
	TypeDiscord:      {"url"},
	TypeNtfy:         {"url", "token"},
}

var (
	notifierNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	labelNameRe    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	headerNameRe   = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
	pdSeverities   = []string{"critical", "error", "warning", "info"}
	ogPriorities   = []string{"P1", "P2", "P3", "P4", "P5"}
	ntfyTopicRe    = regexp.MustCompile(`^[-_A-Za-z0-9]{1,64}$`)
	smtpHostRe     = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$|^\[[0-9A-Fa-f:.]+\]$`)
)

// plainNotifierConfig has NotifierConfig's fields without its methods, so
// that the strict decoder fills it field by field.
type plainNotifierConfig NotifierConfig

// UnmarshalStrict decodes and validates a notifier entry: the type first,
// then only the fields of that type, each checked.
func (c *NotifierConfig) UnmarshalStrict(d *yamlstrict.Decoder, n *yaml.Node, path string) {
	if n.Kind != yaml.MappingNode {
		d.Errorf(n, path, "expected a mapping with a type (%s), got %s", strings.Join(Types, ", "), yamlstrict.Describe(n))
		return
	}
	name, ok := strings.CutPrefix(path, "notifiers.")
	if !ok {
		name = path
	}
	c.Name = name
	if !notifierNameRe.MatchString(name) {
		d.Errorf(n, path, "notifier name %q: use letters, digits, '.', '_' and '-' (at most 64)", name)
	}
	var typeNode *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		if yamlstrict.Resolve(n.Content[i]).Value == "type" {
			typeNode = yamlstrict.Resolve(n.Content[i+1])
		}
	}
	if typeNode == nil {
		d.Errorf(n, path+".type", "a notifier needs a type: %s", strings.Join(Types, ", "))
		return
	}
	allowed, ok := fieldsByType[typeNode.Value]
	if !ok {
		d.Errorf(typeNode, path+".type", "unknown notifier type %q (valid: %s)", typeNode.Value, strings.Join(Types, ", "))
		return
	}
	// Keys of another type are reported here; unknown keys are left to
	// the decoder, which suggests the nearest field name.
	known := map[string]bool{}
	for _, fs := range fieldsByType {
		for _, f := range fs {
			known[f] = true
		}
	}
	kept := &yaml.Node{Kind: yaml.MappingNode, Line: n.Line, Column: n.Column}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := yamlstrict.Resolve(n.Content[i])
		if known[k.Value] && !slices.Contains(allowed, k.Value) {
			d.Errorf(k, yamlstrict.JoinPath(path, k.Value), "%q does not apply to a %s notifier (its fields: type, timeout, %s)",
				k.Value, typeNode.Value, strings.Join(allowed, ", "))
			continue
		}
		kept.Content = append(kept.Content, n.Content[i], n.Content[i+1])
	}
	before := len(d.Errs)
	d.Decode(kept, reflect.ValueOf((*plainNotifierConfig)(c)).Elem(), path)
	c.Name = name
	if len(d.Errs) > before || d.FailedUnder(kept) {
		return
	}
	// ca_file is relative to the config file, like every path in it.
	if c.CAFile != "" && !filepath.IsAbs(c.CAFile) && d.File != "" {
		c.CAFile = filepath.Join(filepath.Dir(d.File), c.CAFile)
	}
	for _, e := range c.validate() {
		// At the field's value when the entry has it, else at the entry.
		field := yamlstrict.JoinPath(path, e.field)
		d.ErrAt(d.ValuePos(field, c.Pos), field, "%s", e.msg)
	}
}

type fieldError struct{ field, msg string }

// validate checks a decoded entry, fills defaults and compiles the body
// template. It is idempotent.
func (c *NotifierConfig) validate() []fieldError {
	var errs []fieldError
	bad := func(field, format string, args ...any) {
		errs = append(errs, fieldError{field, fmt.Sprintf(format, args...)})
	}
	if c.Timeout < 0 {
		bad("timeout", "must not be negative")
	}
	if c.Timeout == 0 {
		c.Timeout = checks.Duration(DefaultTimeout)
	}
	checkURL := func(field, u string, required bool) {
		if u == "" {
			if required {
				bad(field, "a %s notifier needs a %s", c.Type, field)
			}
			return
		}
		p, err := url.Parse(u)
		// The URL may hold a token: name the problem, never echo it.
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			bad(field, "must be an absolute http:// or https:// URL")
		}
	}
	for k, v := range c.Headers {
		if !headerNameRe.MatchString(k) {
			bad("headers."+k, "%q is not a valid header name", k)
		}
		if strings.ContainsAny(v, "\r\n") {
			bad("headers."+k, "a header value cannot contain a line break")
		}
	}
	switch c.Type {
	case TypeWebhook:
		checkURL("url", c.URL, true)
		if c.Body != "" {
			t, err := template.New(c.Name).Option("missingkey=error").Funcs(templateFuncs).Parse(c.Body)
			if err != nil {
				bad("body", "invalid template: %v", err)
			}
			c.body = t
		}
	case TypeSlack:
		checkURL("url", c.URL, true)
	case TypePagerDuty:
		if c.RoutingKey == "" {
			bad("routing_key", "a pagerduty notifier needs a routing_key (the Events API v2 integration key)")
		}
		if c.URL == "" {
			c.URL = DefaultPagerDutyURL
		}
		checkURL("url", c.URL, true)
		if c.Severity == "" {
			c.Severity = DefaultPagerDutySeverity
		}
		if !slices.Contains(pdSeverities, c.Severity) {
			bad("severity", "%q is not a PagerDuty severity (valid: %s)", c.Severity, strings.Join(pdSeverities, ", "))
		}
	case TypeAlertmanager:
		if len(c.URLs) == 0 {
			bad("urls", "an alertmanager notifier needs at least one URL in urls")
		}
		for i, u := range c.URLs {
			checkURL(fmt.Sprintf("urls[%d]", i), u, true)
		}
		if c.Alertname == "" {
			c.Alertname = DefaultAlertname
		}
		for _, k := range slices.Sorted(maps.Keys(c.Labels)) {
			if !labelNameRe.MatchString(k) || strings.HasPrefix(k, "__") {
				bad("labels."+k, "%q is not a valid label name", k)
			}
		}
	case TypeEmail:
		c.validateEmail(bad)
	case TypeOpsgenie:
		if c.APIKey == "" {
			bad("api_key", "an opsgenie notifier needs an api_key (the API integration's key)")
		}
		if c.URL == "" {
			c.URL = DefaultOpsgenieURL
		}
		checkURL("url", c.URL, true)
		if c.Priority == "" {
			c.Priority = DefaultOpsgeniePriority
		}
		if !slices.Contains(ogPriorities, c.Priority) {
			bad("priority", "%q is not an Opsgenie priority (valid: %s)", c.Priority, strings.Join(ogPriorities, ", "))
		}
	case TypeTeams, TypeDiscord:
		checkURL("url", c.URL, true)
	case TypeNtfy:
		checkURL("url", c.URL, true)
		if p, err := url.Parse(c.URL); c.URL != "" && err == nil {
			_, seg := ntfyRootAndTopic(c.URL)
			switch {
			case p.RawQuery != "" || p.Fragment != "":
				bad("url", "must be the topic URL without a query or fragment, e.g. https://ntfy.sh/mytopic")
			case !ntfyTopicRe.MatchString(seg):
				bad("url", "must end with the topic (letters, digits, '-' and '_', at most 64), e.g. https://ntfy.sh/mytopic")
			}
		}
		if strings.ContainsAny(c.Token, "\r\n") {
			bad("token", "must be one line")
		}
	default:
		bad("type", "unknown notifier type %q (valid: %s)", c.Type, strings.Join(Types, ", "))
	}
	return errs
}

// maxCAFile bounds the ca_file read.
const maxCAFile = 1 << 20

// validateEmail checks an email entry and fills its port.
func (c *NotifierConfig) validateEmail(bad func(field, format string, args ...any)) {
	switch {
	case c.Host == "":
		bad("host", "an email notifier needs a host (the SMTP server)")
	case !smtpHostRe.MatchString(c.Host) || len(c.Host) > 253:
		bad("host", "%q is not a host name or IP address (give the port in port, not in host)", c.Host)
	}
	switch c.TLS {
	case "":
		c.TLS = SMTPStartTLS
	case SMTPStartTLS, SMTPImplicitTLS:
	default:
		bad("tls", "expected starttls or implicit, got %q (plain-text SMTP is not supported)", c.TLS)
	}
	switch {
	case c.Port < 0 || c.Port > 65535:
		bad("port", "must be between 1 and 65535, got %d", c.Port)
	case c.Port == 0 && c.TLS == SMTPImplicitTLS:
		c.Port = DefaultSMTPSPort
	case c.Port == 0:
		c.Port = DefaultSMTPPort
	}
	if (c.Username == "") != (c.Password == "") {
		if c.Username == "" {
			bad("username", "a password needs a username")
		} else {
			bad("password", "a username needs a password (give it as ${VAR} or with VAR_FILE)")
		}
	}
	if strings.ContainsAny(c.Username+c.Password, "\r\n") {
		bad("username", "username and password must be one line")
	}
	if c.From == "" {
		bad("from", "an email notifier needs a from address")
	} else if _, err := mail.ParseAddress(c.From); err != nil || strings.ContainsAny(c.From, "\r\n") {
		bad("from", "%q is not an email address", c.From)
	}
	if len(c.To) == 0 {
		bad("to", "an email notifier needs at least one address in to")
	}
	for i, a := range c.To {
		if _, err := mail.ParseAddress(a); err != nil || strings.ContainsAny(a, "\r\n") {
			bad(fmt.Sprintf("to[%d]", i), "%q is not an email address", a)
		}
	}
	if c.CAFile != "" && c.rootCAs == nil {
		pem, err := safefile.Read(c.CAFile, maxCAFile)
		if err != nil {
			bad("ca_file", "%v", err)
			return
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			bad("ca_file", "%s holds no PEM certificate", c.CAFile)
			return
		}
		c.rootCAs = pool
	}
}

// Validate checks a notifier entry built in code (the config loader does
// the same on load) and fills its defaults.
func (c *NotifierConfig) Validate() error {
	errs := c.validate()
	if len(errs) == 0 {
		return nil
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.field + ": " + e.msg
	}
	return fmt.Errorf("notifier %q: %s", c.Name, strings.Join(msgs, "; "))
}

func (c *NotifierConfig) headers(h http.Header) {
	for k, v := range c.Headers {
		h.Set(k, v)
	}
}

// policy is a check's effective alert policy.
type policy struct {
	Notify    []string
	Failures  int
	Successes int
	Repeat    time.Duration
}

// effectivePolicy merges a check's alert block over the defaults; zero
// fields take the default. An explicit empty notify list (notify: [])
// turns notifications off for the check.
func effectivePolicy(c *checks.Check, d checks.AlertPolicy) policy {
	p := policy{Notify: d.Notify, Failures: d.Failures, Successes: d.Successes, Repeat: d.Repeat.D()}
	if a := c.Alert; a != nil {
		if a.Notify != nil {
			p.Notify = a.Notify
		}
		if a.Failures != 0 {
			p.Failures = a.Failures
		}
		if a.Successes != 0 {
			p.Successes = a.Successes
		}
		if a.Repeat != 0 {
			p.Repeat = a.Repeat.D()
		}
	}
	if p.Failures <= 0 {
		p.Failures = DefaultFailures
	}
	if p.Successes <= 0 {
		p.Successes = DefaultSuccesses
	}
	return p
}

// ValidatePolicies checks the alert policies of the defaults and of every
// check against the configured notifiers: each name in notify must be a
// notifier, thresholds and repeat must not be negative. Problems are
// yamlstrict.Errors at the alert block's file:line:column.
func ValidatePolicies(defaults checks.AlertPolicy, notifiers map[string]*NotifierConfig, cs []*checks.Check) error {
	var errs yamlstrict.Errors
	check := func(a *checks.AlertPolicy, pos yamlstrict.Position, path string) {
		for i, n := range a.Notify {
			if _, ok := notifiers[n]; !ok {
				errs = append(errs, &yamlstrict.Error{Pos: pos, Field: fmt.Sprintf("%s.notify[%d]", path, i),
					Msg: fmt.Sprintf("unknown notifier %q (%s)", n, configured(notifiers))})
			}
		}
		if a.Failures < 0 {
			errs = append(errs, &yamlstrict.Error{Pos: pos, Field: path + ".failures", Msg: "must not be negative"})
		}
		if a.Successes < 0 {
			errs = append(errs, &yamlstrict.Error{Pos: pos, Field: path + ".successes", Msg: "must not be negative"})
		}
		if a.Repeat < 0 {
			errs = append(errs, &yamlstrict.Error{Pos: pos, Field: path + ".repeat", Msg: "must not be negative"})
		}
	}
	check(&defaults, defaults.Pos, "defaults.alert")
	for _, c := range cs {
		if c.Alert == nil {
			continue
		}
		pos := c.Alert.Pos
		if pos.File == "" {
			pos = c.Pos
		}
		check(c.Alert, pos, fmt.Sprintf("check %q.alert", c.Name))
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

func configured(notifiers map[string]*NotifierConfig) string {
	if len(notifiers) == 0 {
		return "no notifiers are configured in the global config"
	}
	return "configured: " + strings.Join(slices.Sorted(maps.Keys(notifiers)), ", ")
}
