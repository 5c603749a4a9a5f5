package alerting

import (
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"text/template"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/internal/yamlstrict"
	"go.yaml.in/yaml/v3"
)

// Notifier types.
const (
	TypeWebhook      = "webhook"
	TypeSlack        = "slack"
	TypePagerDuty    = "pagerduty"
	TypeAlertmanager = "alertmanager"
)

// Types lists the notifier types.
var Types = []string{TypeWebhook, TypeSlack, TypePagerDuty, TypeAlertmanager}

// Defaults of notifier settings.
const (
	DefaultTimeout            = 10 * time.Second
	DefaultPagerDutyURL       = "https://events.pagerduty.com/v2/enqueue"
	DefaultPagerDutySeverity  = "critical"
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
	// Type is webhook, slack, pagerduty or alertmanager.
	Type string `yaml:"type"`
	// URL is the receiver: the webhook endpoint, the Slack incoming-webhook
	// URL, or (optional) the PagerDuty Events API v2 endpoint.
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
	// Timeout bounds one delivery attempt.
	Timeout checks.Duration `yaml:"timeout"`

	// Name is the key under notifiers.
	Name string `yaml:"-"`
	// Pos is where the entry starts in the config file.
	Pos yamlstrict.Position `yaml:"-"`

	body *template.Template
}

// fieldsByType lists the keys each type accepts besides type and timeout.
var fieldsByType = map[string][]string{
	TypeWebhook:      {"url", "secret", "headers", "body"},
	TypeSlack:        {"url"},
	TypePagerDuty:    {"routing_key", "url", "severity"},
	TypeAlertmanager: {"urls", "headers", "alertname", "labels"},
}

var (
	notifierNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	labelNameRe    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	headerNameRe   = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
	pdSeverities   = []string{"critical", "error", "warning", "info"}
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
	for _, e := range c.validate() {
		d.ErrAt(c.Pos, yamlstrict.JoinPath(path, e.field), "%s", e.msg)
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
	default:
		bad("type", "unknown notifier type %q (valid: %s)", c.Type, strings.Join(Types, ", "))
	}
	return errs
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
