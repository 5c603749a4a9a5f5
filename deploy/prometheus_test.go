package deploy_test

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const (
	rulesFile     = "prometheus/assay-rules.yaml"
	rulesTestFile = "prometheus/assay-rules.test.yaml"
)

// assayAlerts are the alerts of assay-rules.yaml, as the README lists them.
var assayAlerts = []string{
	"AssayCheckFailing",
	"AssayTLSCertificateExpiringSoon",
	"AssaySLOFastBurn",
	"AssaySLOSlowBurn",
	"AssayErrorBudgetExhausted",
	"AssayConfigReloadFailed",
	"AssayStoreWriteErrors",
	"AssayHistoryResultsDropped",
	"AssayNotificationsFailing",
	"AssayNotificationsDeadLettered",
	"AssayOutboxBacklog",
	"AssayChecksUnowned",
	"AssayClusterMembersLow",
	"AssayClusterConfigMismatch",
	"AssayClusterLeaseRenewFailures",
	"AssayCheckOwnedTwice",
}

type ruleGroups struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []rule `yaml:"rules"`
	} `yaml:"groups"`
}

type rule struct {
	Alert       string            `yaml:"alert"`
	Record      string            `yaml:"record"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

type ruleTests struct {
	RuleFiles []string `yaml:"rule_files"`
	Tests     []struct {
		Name          string `yaml:"name"`
		AlertRuleTest []struct {
			EvalTime  string `yaml:"eval_time"`
			Alertname string `yaml:"alertname"`
			ExpAlerts []any  `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

func alertRules(t *testing.T) map[string]rule {
	t.Helper()
	alerts := map[string]rule{}
	for _, g := range yamlDoc[ruleGroups](t, rulesFile).Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				t.Errorf("group %s: a rule that is no alert (%q)", g.Name, r.Record)
				continue
			}
			if _, dup := alerts[r.Alert]; dup {
				t.Errorf("alert %s twice", r.Alert)
			}
			alerts[r.Alert] = r
		}
	}
	return alerts
}

func TestRulesPromtool(t *testing.T) {
	out := runTool(t, "promtool", "check", "rules", rulesFile)
	if want := fmt.Sprintf("SUCCESS: %d rules found", len(assayAlerts)); !strings.Contains(out, want) {
		t.Errorf("promtool check rules: want %q in\n%s", want, out)
	}
	if strings.Contains(strings.ToLower(out), "warn") || strings.Contains(out, "lint") {
		t.Errorf("promtool check rules is not clean:\n%s", out)
	}
	// promtool resolves rule_files relative to the test file.
	out = runTool(t, "promtool", "test", "rules", rulesTestFile)
	if !strings.Contains(out, "SUCCESS") {
		t.Errorf("promtool test rules:\n%s", out)
	}
}

var templateRef = regexp.MustCompile(`\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)`)

func TestRulesShape(t *testing.T) {
	alerts := alertRules(t)
	if got, want := slices.Sorted(maps.Keys(alerts)), slices.Sorted(slices.Values(assayAlerts)); !slices.Equal(got, want) {
		t.Fatalf("alerts:\n got %q\nwant %q", got, want)
	}
	for name, r := range alerts {
		if s := r.Labels["severity"]; s != "critical" && s != "warning" {
			t.Errorf("%s: severity %q, want critical or warning", name, s)
		}
		if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
			t.Errorf("%s: needs a summary and a description", name)
		}
		names := checkMetricNames(t, name, r.Expr)
		if !slices.ContainsFunc(names, func(n string) bool { return strings.HasPrefix(n, "assay_") }) {
			t.Errorf("%s: uses no assay metric", name)
		}
		// Per-check alerts join the replicas: each exports only the
		// checks it owns.
		if strings.Contains(r.Expr, "assay_check_") && !strings.Contains(r.Expr, "by (check)") {
			t.Errorf("%s: a per-check rule without by (check): %s", name, r.Expr)
		}
		// An annotation may only name labels the expression keeps.
		for _, text := range r.Annotations {
			for _, m := range templateRef.FindAllStringSubmatch(text, -1) {
				if !keepsLabel(r.Expr, m[1]) {
					t.Errorf("%s: the annotation uses $labels.%s, which %q drops", name, m[1], r.Expr)
				}
			}
		}
	}
}

// keepsLabel reports whether an alert expression's result has the label:
// an aggregation keeps only its by (...) labels, a bare selector all.
func keepsLabel(expr, label string) bool {
	by := regexp.MustCompile(`\bby \(([^)]*)\)`).FindAllStringSubmatch(expr, -1)
	if len(by) == 0 {
		return label == "job" || label == "instance"
	}
	for _, m := range by {
		if !slices.Contains(strings.Split(strings.ReplaceAll(m[1], " ", ""), ","), label) {
			return false
		}
	}
	return true
}

// Every alert has a case that fires and one that does not.
func TestRulesTestsCoverEveryAlert(t *testing.T) {
	tests := yamlDoc[ruleTests](t, rulesTestFile)
	if !slices.Equal(tests.RuleFiles, []string{"assay-rules.yaml"}) {
		t.Errorf("rule_files %q, want [assay-rules.yaml]", tests.RuleFiles)
	}
	firing, quiet := map[string]int{}, map[string]int{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if !slices.Contains(assayAlerts, a.Alertname) {
				t.Errorf("test %q: unknown alert %s", tc.Name, a.Alertname)
			}
			if len(a.ExpAlerts) > 0 {
				firing[a.Alertname]++
			} else {
				quiet[a.Alertname]++
			}
		}
	}
	for _, a := range assayAlerts {
		if firing[a] == 0 {
			t.Errorf("%s: no test case where it fires", a)
		}
		if quiet[a] == 0 {
			t.Errorf("%s: no test case where it does not fire", a)
		}
	}
}
