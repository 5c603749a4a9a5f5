package deploy_test

import (
	"bytes"
	"slices"
	"testing"
)

// assayMetrics are the metrics assay exports, as the README's tables list
// them ("Metrics", "Alerting metrics", and the cluster's). The rules and
// the dashboard may use nothing else, so a typo in a name fails a test
// instead of drawing an empty panel or never firing.
var assayMetrics = []string{
	"assay_check_success",
	"assay_check_duration_seconds",
	"assay_check_runs_total",
	"assay_check_failures_total",
	"assay_check_last_run_timestamp_seconds",
	"assay_check_last_success_timestamp_seconds",
	"assay_step_status_code",
	"assay_step_phase_duration_seconds",
	"assay_check_tls_cert_expiry_timestamp_seconds",
	"assay_check_skipped_runs_total",
	"assay_semantics_findings_total",
	"assay_scheduler_lateness_seconds",
	"assay_config_last_reload_successful",
	"assay_config_last_reload_success_timestamp_seconds",
	"assay_checks",
	"assay_build_info",
	"assay_check_slo_objective_ratio",
	"assay_check_error_budget_remaining_ratio",
	"assay_check_slo_burn_rate",
	"assay_store_write_errors_total",
	"assay_history_pending_results",
	"assay_history_written_results_total",
	"assay_history_dropped_results_total",
	"assay_history_flush_duration_seconds",
	"assay_notifications_total",
	"assay_notification_failures_total",
	"assay_outbox_events",
	"assay_notification_delivery_seconds",
	"assay_notification_request_duration_seconds",
	"assay_alerts_firing",
	"assay_cluster_members",
	"assay_cluster_owned_checks",
	"assay_cluster_lease_renew_failures_total",
	"assay_cluster_config_mismatch",
}

// assayHistograms also have _bucket, _sum and _count series.
var assayHistograms = []string{
	"assay_check_duration_seconds",
	"assay_scheduler_lateness_seconds",
	"assay_history_flush_duration_seconds",
	"assay_notification_delivery_seconds",
	"assay_notification_request_duration_seconds",
}

// prometheusMetrics are the series Prometheus makes itself for a target.
var prometheusMetrics = []string{"up"}

// knownMetric reports whether name is a series assay or Prometheus exports.
func knownMetric(name string) bool {
	if slices.Contains(assayMetrics, name) || slices.Contains(prometheusMetrics, name) {
		return true
	}
	for _, h := range assayHistograms {
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if name == h+suffix {
				return true
			}
		}
	}
	return false
}

// checkMetricNames fails for every metric of expr that assay does not export.
func checkMetricNames(t *testing.T, where, expr string) []string {
	t.Helper()
	names, err := metricNames(expr)
	if err != nil {
		t.Errorf("%s: %v in %q", where, err, expr)
		return nil
	}
	for _, n := range names {
		if !knownMetric(n) {
			t.Errorf("%s: %q is not a metric assay exports (expr %q)", where, n, expr)
		}
	}
	return names
}

// The list is the README's: each name is documented there.
func TestKnownMetricsAreDocumented(t *testing.T) {
	readme := readFile(t, "../README.md")
	for _, m := range append(slices.Clone(assayMetrics), assayHistograms...) {
		if !bytes.Contains(readme, []byte("`"+m+"`")) {
			t.Errorf("README.md does not document `%s`", m)
		}
	}
	for _, h := range assayHistograms {
		if !slices.Contains(assayMetrics, h) {
			t.Errorf("histogram %s is not in assayMetrics", h)
		}
	}
}

func TestKnownMetric(t *testing.T) {
	for name, want := range map[string]bool{
		"assay_check_success":                 true,
		"assay_check_duration_seconds_bucket": true,
		"assay_check_duration_seconds_count":  true,
		"assay_check_runs_total_bucket":       false,
		"assay_check_sucess":                  false,
		"assay_cluster_members":               true,
		"up":                                  true,
		"go_goroutines":                       false,
	} {
		if got := knownMetric(name); got != want {
			t.Errorf("knownMetric(%q) = %v, want %v", name, got, want)
		}
	}
}
