//go:build linux

package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The schedule of every check here, the scrape interval of Prometheus and
// the reload debounce of the daemon; the new-check bound is their sum.
const (
	checkInterval  = time.Second
	scrapeInterval = time.Second
	reloadDebounce = 100 * time.Millisecond
)

// lookTool finds a binary of the Debian package prometheus. Without it the
// test is skipped on a workstation and fails in CI, where .ci/run installs
// the package.
func lookTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if _, serr := os.Stat("/usr/bin/" + name); serr == nil {
		return "/usr/bin/" + name
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s not found (install the Debian package prometheus): %v", name, err)
	}
	t.Skipf("%s not found (apt-get install -y prometheus); skipping", name)
	return ""
}

func checkFile(name, method, url, expectStatus string) string {
	return fmt.Sprintf(`checks:
  - name: %s
    schedule: "@every %s"
    timeout: 5s
    steps:
      - name: request
        request:
          method: %s
          url: "%s"
          headers: { If-Match: "*" }
        expect:
          status: %s
`, name, checkInterval, method, url, expectStatus)
}

// TestPrometheusScrapesDaemon runs the daemon against a correct and a
// faulty demo API, lets a real Prometheus scrape it, and reads the verdicts
// back through Prometheus's query API; then it adds a check file and
// measures how long the new check takes to show up in Prometheus.
func TestPrometheusScrapesDaemon(t *testing.T) {
	prometheusBin := lookTool(t, "prometheus")
	promtoolBin := lookTool(t, "promtool")

	good := startDemoAPI(t, "")
	bad := startDemoAPI(t, "error")

	dir := t.TempDir()
	checksDir := filepath.Join(dir, "checks.d")
	if err := os.Mkdir(checksDir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, checksDir, "pass.yaml", checkFile("e2e-pass", "GET", good+"/documents/1", "200"))
	// --fault error answers every write with a 500.
	writeFile(t, checksDir, "fail.yaml", checkFile("e2e-fail", "PATCH", bad+"/documents/1", "204"))
	cfg := filepath.Join(dir, "assay.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("checks:\n  reload_debounce: %s\nserver:\n  shutdown_grace: 5s\n", reloadDebounce)), 0o644); err != nil {
		t.Fatal(err)
	}
	_, daemonURL := startDaemon(t, checksDir, cfg)

	promURL := startPrometheus(t, prometheusBin, strings.TrimPrefix(daemonURL, "http://"))

	took := poll(t, 20*time.Second, 200*time.Millisecond, "Prometheus has both verdicts", func() (bool, string) {
		v := querySuccess(t, promURL)
		return v["e2e-pass"] == "1" && v["e2e-fail"] == "0", fmt.Sprintf("assay_check_success by check: %v", v)
	})
	t.Logf("Prometheus reported e2e-pass=1 and e2e-fail=0 %v after it was ready", took.Round(time.Millisecond))

	// The duration histogram reaches Prometheus as a native histogram
	// (protobuf): its count and a quantile without _bucket series.
	poll(t, 10*time.Second, 200*time.Millisecond, "a native duration histogram in Prometheus", func() (bool, string) {
		count := queryValue(t, promURL, `histogram_count(assay_check_duration_seconds{check="e2e-pass"})`)
		p99 := queryValue(t, promURL, `histogram_quantile(0.99, assay_check_duration_seconds{check="e2e-pass"})`)
		buckets := queryValue(t, promURL, `count(assay_check_duration_seconds_bucket) or vector(0)`)
		c, _ := strconv.ParseFloat(count, 64)
		q, _ := strconv.ParseFloat(p99, 64)
		return c >= 1 && q > 0 && q < 10 && buckets == "0", fmt.Sprintf("count %q, p99 %q, classic bucket series %q", count, p99, buckets)
	})

	t.Run("promtool check metrics", func(t *testing.T) {
		code, body := httpDo(t, "GET", daemonURL+"/metrics")
		if code != 200 {
			t.Fatalf("GET /metrics: %d", code)
		}
		for _, name := range []string{"assay_check_success", "assay_check_runs_total", "assay_check_duration_seconds_count",
			"assay_config_last_reload_successful", "assay_build_info", "go_goroutines", "process_cpu_seconds_total"} {
			if !strings.Contains(body, "\n"+name) {
				t.Errorf("/metrics has no %s", name)
			}
		}
		// Native only by default: the text exposition has no classic
		// bucket but +Inf; Prometheus gets the native buckets (below).
		if strings.Contains(body, `assay_check_duration_seconds_bucket{check="e2e-pass",le="0.005"}`) {
			t.Error("classic buckets of assay_check_duration_seconds without metrics.classic_histograms")
		}
		cmd := exec.Command(promtoolBin, "check", "metrics")
		cmd.Stdin = strings.NewReader(body)
		out, err := cmd.CombinedOutput()
		if err != nil || len(strings.TrimSpace(string(out))) > 0 {
			t.Fatalf("promtool check metrics: %v\n%s", err, out)
		}
	})

	// A check added to the directory: the watcher reloads after the
	// debounce, the check first runs within one interval, and the next
	// scrape carries its first result.
	added := time.Now()
	writeFile(t, checksDir, "added.yaml", checkFile("e2e-added", "GET", good+"/documents/2", "200"))
	inDaemon := make(chan time.Duration, 1)
	stopWatch := make(chan struct{})
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopWatch:
				return
			case <-tick.C:
			}
			resp, err := client.Get(daemonURL + "/metrics")
			if err != nil {
				continue
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if _, ok := metricValue(string(b), "assay_check_success", "check", "e2e-added"); ok {
				inDaemon <- time.Since(added)
				return
			}
		}
	}()
	defer func() { close(stopWatch); <-watchDone }()

	poll(t, 15*time.Second, 50*time.Millisecond, "Prometheus has the added check", func() (bool, string) {
		v := querySuccess(t, promURL)
		return v["e2e-added"] == "1", fmt.Sprintf("assay_check_success by check: %v", v)
	})
	inProm := time.Since(added)
	var daemonTook string
	select {
	case d := <-inDaemon:
		daemonTook = d.Round(time.Millisecond).String()
	default:
		daemonTook = "(not seen by the /metrics poller)"
	}
	bound := reloadDebounce + checkInterval + scrapeInterval
	t.Logf("added check: in the daemon's /metrics after %s, in Prometheus after %v (reload debounce %v + interval %v + scrape interval %v = %v, plus run and query time)",
		daemonTook, inProm.Round(time.Millisecond), reloadDebounce, checkInterval, scrapeInterval, bound)
}

// startPrometheus runs a real Prometheus that scrapes target every second
// and returns its base URL once it is ready.
func startPrometheus(t *testing.T, bin, target string) string {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	conf := fmt.Sprintf(`global:
  scrape_interval: %[1]s
  scrape_timeout: %[1]s
  evaluation_interval: %[1]s
scrape_configs:
  - job_name: assay
    static_configs:
      - targets: ["%[2]s"]
`, scrapeInterval, target)
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	// Prometheus cannot report a port it picked, so it gets one that was
	// free a moment ago.
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	start(t, "prometheus", bin,
		"--config.file="+cfg,
		// Protobuf scrapes and native histograms (Prometheus 2.40 to 2.x;
		// 3.x: scrape_native_histograms in the scrape config).
		"--enable-feature=native-histograms",
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--log.level=warn",
	)
	u := "http://" + addr
	took := poll(t, 20*time.Second, 100*time.Millisecond, "Prometheus ready", func() (bool, string) {
		resp, err := client.Get(u + "/-/ready")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status
	})
	t.Logf("Prometheus ready after %v on %s", took.Round(time.Millisecond), addr)
	return u
}

// queryValue asks Prometheus for an instant vector expected to hold one
// sample and returns its value ("" when it holds none).
func queryValue(t *testing.T, promURL, query string) string {
	t.Helper()
	code, body := httpDo(t, "GET", promURL+"/api/v1/query?query="+url.QueryEscape(query))
	if code != 200 {
		t.Fatalf("Prometheus query %s: %d %s", query, code, body)
	}
	var r struct {
		Status string
		Data   struct {
			Result []struct {
				Value [2]any
			}
		}
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil || r.Status != "success" {
		t.Fatalf("Prometheus query %s: %v %s", query, err, body)
	}
	if len(r.Data.Result) != 1 {
		return ""
	}
	v, _ := r.Data.Result[0].Value[1].(string)
	return v
}

// querySuccess asks Prometheus for assay_check_success and returns the
// value of each check ("1", "0").
func querySuccess(t *testing.T, promURL string) map[string]string {
	t.Helper()
	code, body := httpDo(t, "GET", promURL+"/api/v1/query?query="+url.QueryEscape("assay_check_success"))
	if code != 200 {
		t.Fatalf("Prometheus query: %d %s", code, body)
	}
	var r struct {
		Status string
		Data   struct {
			ResultType string
			Result     []struct {
				Metric map[string]string
				Value  [2]any
			}
		}
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil || r.Status != "success" {
		t.Fatalf("Prometheus query: %v %s", err, body)
	}
	v := map[string]string{}
	for _, s := range r.Data.Result {
		if s.Metric["job"] != "assay" {
			t.Errorf("sample from job %q", s.Metric["job"])
		}
		str, _ := s.Value[1].(string)
		if _, err := strconv.ParseFloat(str, 64); err != nil {
			t.Fatalf("Prometheus query: value %v", s.Value)
		}
		v[s.Metric["check"]] = str
	}
	return v
}
