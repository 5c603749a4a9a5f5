package alerting_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/assay-monitor/assay/alerting"
	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/internal/demoapi"
	"github.com/assay-monitor/assay/store"
	"github.com/prometheus/client_golang/prometheus"
)

// alertmanagerBinary finds a real Alertmanager (Debian package
// prometheus-alertmanager). Missing, the test fails under CI and is
// skipped elsewhere.
func alertmanagerBinary(t *testing.T) string {
	for _, name := range []string{"prometheus-alertmanager", "alertmanager"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "no Alertmanager binary: apt-get install -y prometheus-alertmanager"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// amClient keeps no idle connection that could outlive a test.
var amClient = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// syncBuffer collects a process's output.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startAlertmanager runs Alertmanager on a free loopback port with a
// minimal config and a temporary storage dir, clustering off, and
// returns its base URL once it is ready.
func startAlertmanager(t *testing.T, bin string) string {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfg, []byte("route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var out syncBuffer
	cmd := exec.Command(bin, "--config.file="+cfg, "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--cluster.listen-address=", "--log.level=warn")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("alertmanager output:\n%s", out.String())
		}
	})
	base := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("alertmanager exited: %v\n%s", err, out.String())
		default:
		}
		resp, err := amClient.Get(base + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return base
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("alertmanager not ready within 30s\n%s", out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type gettableAlert struct {
	Labels   map[string]string `json:"labels"`
	StartsAt time.Time         `json:"startsAt"`
	EndsAt   time.Time         `json:"endsAt"`
	Status   struct {
		State string `json:"state"`
	} `json:"status"`
}

// alertsFor lists Alertmanager's alerts of a check via GET /api/v2/alerts.
func alertsFor(t *testing.T, base, check string) []gettableAlert {
	t.Helper()
	q := url.Values{"filter": {fmt.Sprintf("check=%q", check)}}
	resp, err := amClient.Get(base + "/api/v2/alerts?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var alerts []gettableAlert
	if resp.StatusCode != 200 {
		t.Fatalf("GET /api/v2/alerts: HTTP %d", resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&alerts); err != nil {
		t.Fatal(err)
	}
	return alerts
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestAlertmanagerEndToEnd: a check against the demo API with the error
// fault fires an alert that a real Alertmanager lists with the configured
// labels; once the fault is gone the alert resolves.
func TestAlertmanagerEndToEnd(t *testing.T) {
	bin := alertmanagerBinary(t)
	am := startAlertmanager(t, bin)

	api := demoapi.New(demoapi.Options{Fault: demoapi.FaultError})
	apiURL, stopAPI, err := api.Start("")
	if err != nil {
		t.Fatal(err)
	}
	defer stopAPI()

	cs, err := checks.Parse("checks.d/e2e.yaml", []byte(fmt.Sprintf(`checks:
  - name: e2e-documents-create
    schedule: "@every 10s"
    labels: { team: docs, severity: page }
    alert: { notify: [am], failures: 2, successes: 1 }
    steps:
      - name: create document
        request:
          method: POST
          url: %s/documents
          json: { title: "e2e probe", body: "written by the alerting e2e test" }
        expect:
          status: 201
`, apiURL)))
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(filepath.Join(t.TempDir(), "assay.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	m, err := alerting.New(alerting.Options{
		Notifiers:   map[string]*alerting.NotifierConfig{"am": {Type: alerting.TypeAlertmanager, URLs: []string{am}}},
		Store:       st,
		ExternalURL: "http://assay.test:9464",
		Registerer:  prometheus.NewRegistry(),
		Delivery:    alerting.DeliveryOptions{RetryBase: 100 * time.Millisecond, RetryMax: time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	m.SetChecks(cs)
	ctx, cancel := context.WithCancel(context.Background())
	runDone := make(chan struct{})
	go func() {
		defer close(runDone)
		_ = m.Run(ctx)
	}()
	defer func() {
		cancel()
		<-runDone
	}()
	runner := checks.NewRunner(checks.RunnerOptions{})
	defer runner.Close()
	check := func(wantPass bool) {
		t.Helper()
		r := runner.Run(ctx, cs[0])
		if r.Passed != wantPass {
			t.Fatalf("check passed=%v, want %v: %s", r.Passed, wantPass, r.Message)
		}
		m.Record(ctx, r)
	}

	check(false)
	check(false) // the second failure crosses failures: 2
	var firing gettableAlert
	eventually(t, 30*time.Second, "the alert in Alertmanager's /api/v2/alerts", func() bool {
		alerts := alertsFor(t, am, "e2e-documents-create")
		if len(alerts) == 1 && alerts[0].Status.State == "active" {
			firing = alerts[0]
			return true
		}
		return false
	})
	want := map[string]string{"alertname": "AssayCheckFailing", "check": "e2e-documents-create", "team": "docs", "severity": "page",
		"incident": firing.Labels["incident"]}
	if fmt.Sprint(firing.Labels) != fmt.Sprint(want) || len(firing.Labels["incident"]) != 32 {
		t.Fatalf("labels %v, want %v", firing.Labels, want)
	}
	if !firing.EndsAt.After(time.Now().Add(3 * time.Minute)) {
		t.Errorf("a firing alert should end well ahead of now, endsAt %v", firing.EndsAt)
	}
	if st, _ := m.State("e2e-documents-create"); st != alerting.StateFailing {
		t.Fatalf("state %s", st)
	}

	api.SetFault(demoapi.FaultNone)
	check(true) // successes: 1 resolves
	eventually(t, 30*time.Second, "the alert resolved in Alertmanager", func() bool {
		return len(alertsFor(t, am, "e2e-documents-create")) == 0
	})
}
