package alerting_test

import (
	"strings"
	"testing"

	"github.com/assay-monitor/assay/alerting"
	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/config"
)

func TestNotifiersConfig(t *testing.T) {
	t.Setenv("PD_KEY", "R0UT1NG")
	t.Setenv("SLACK_URL", "https://hooks.slack.com/services/T0/B0/XX")
	cfg, err := config.Parse("assay.yaml", []byte(`
defaults:
  alert: { notify: [pager], failures: 2 }
notifiers:
  hook:
    type: webhook
    url: https://hooks.example.com/assay
    secret: s3cret
    headers: { X-Team: sre }
  team-slack:
    type: slack
    url: ${SLACK_URL}
  pager:
    type: pagerduty
    routing_key: ${PD_KEY}
  am:
    type: alertmanager
    urls: [http://127.0.0.1:9093, http://127.0.0.1:9094]
    timeout: 3s
`))
	if err != nil {
		t.Fatal(err)
	}
	n := cfg.Notifiers
	if len(n) != 4 || n["hook"].Secret != "s3cret" || n["team-slack"].URL != "https://hooks.slack.com/services/T0/B0/XX" {
		t.Fatalf("notifiers: %+v", n)
	}
	pd := n["pager"]
	if pd.Name != "pager" || pd.RoutingKey != "R0UT1NG" || pd.URL != alerting.DefaultPagerDutyURL || pd.Severity != "critical" || pd.Timeout.D().String() != "10s" {
		t.Errorf("pagerduty defaults: %+v", pd)
	}
	if am := n["am"]; am.Alertname != "AssayCheckFailing" || len(am.URLs) != 2 || am.Timeout.D().String() != "3s" || am.Pos.Line != 17 {
		t.Errorf("alertmanager: %+v", am)
	}
}

func TestNotifiersConfigErrors(t *testing.T) {
	_, err := config.Parse("assay.yaml", []byte(`
defaults:
  alert: { notify: [pager, nobody] }
notifiers:
  hook:
    type: webhook
    routing_key: abc
  nourl:
    type: slack
  typo:
    type: webhook
    url: http://x
    secert: abc
  wrongtype:
    type: sms
  notype:
    url: http://x
  pager:
    type: pagerduty
    routing_key: k
    severity: page
  am:
    type: alertmanager
    urls: [ftp://x]
    labels: { "bad-label": x }
  tmpl:
    type: webhook
    url: http://x
    body: "{{ .Check.Name "
  env:
    type: slack
    url: ${ASSAY_TEST_UNSET_VARIABLE}
`))
	if err == nil {
		t.Fatal("accepted")
	}
	got := err.Error()
	for _, want := range []string{
		`assay.yaml:7:5: notifiers.hook.routing_key: "routing_key" does not apply to a webhook notifier`,
		`notifiers.hook.url: a webhook notifier needs a url`,
		`notifiers.nourl.url: a slack notifier needs a url`,
		`assay.yaml:13:5: notifiers.typo.secert: unknown field "secert" (did you mean "secret"?)`,
		`assay.yaml:15:11: notifiers.wrongtype.type: unknown notifier type "sms" (valid: webhook, slack, pagerduty, alertmanager, email, opsgenie, teams, discord, ntfy)`,
		`notifiers.notype.type: a notifier needs a type`,
		`notifiers.pager.severity: "page" is not a PagerDuty severity`,
		`notifiers.am.urls[0]: must be an absolute http:// or https:// URL`,
		`notifiers.am.labels.bad-label: "bad-label" is not a valid label name`,
		`notifiers.tmpl.body: invalid template`,
		`environment variable ASSAY_TEST_UNSET_VARIABLE is not set`,
		`assay.yaml:3:10: defaults.alert.notify[1]: unknown notifier "nobody"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing error %q in:\n%s", want, got)
		}
	}
	if strings.Contains(got, "defaults.alert.notify[0]") {
		t.Errorf("pager is configured (if invalid):\n%s", got)
	}
}

func TestValidatePolicies(t *testing.T) {
	cs, err := checks.Parse("checks.d/api.yaml", []byte(`checks:
  - name: ok
    alert: { notify: [pager] }
    steps: [{ request: { url: "http://127.0.0.1/" } }]
  - name: bad
    alert:
      notify: [pager, slack-typo]
      failures: -1
    steps: [{ request: { url: "http://127.0.0.1/" } }]
  - name: defaults-only
    steps: [{ request: { url: "http://127.0.0.1/" } }]
`))
	if err != nil {
		t.Fatal(err)
	}
	notifiers := map[string]*alerting.NotifierConfig{"pager": {Type: alerting.TypePagerDuty, RoutingKey: "k"}}
	err = alerting.ValidatePolicies(checks.AlertPolicy{}, notifiers, cs)
	if err == nil {
		t.Fatal("accepted an unknown notifier")
	}
	want := `checks.d/api.yaml:7:7: check "bad".alert.notify[1]: unknown notifier "slack-typo" (configured: pager)
checks.d/api.yaml:7:7: check "bad".alert.failures: must not be negative`
	if err.Error() != want {
		t.Errorf("got:\n%s\nwant:\n%s", err, want)
	}
	if err := alerting.ValidatePolicies(checks.AlertPolicy{}, notifiers, cs[:1]); err != nil {
		t.Errorf("valid policy rejected: %v", err)
	}
}
