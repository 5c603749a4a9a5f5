//go:build linux

package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// historySecret is what the checks send and the target echoes: it must
// be found nowhere assay writes or serves.
const historySecret = "hist-s3cret-Zq81xW"

// flipTarget is an API whose answer the test switches: healthy, a JSON
// document; broken, a 500 with a changed document. Both echo the request's
// credentials in a header and the body, as badly behaved APIs do.
type flipTarget struct {
	broken atomic.Bool
}

func (f *flipTarget) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	auth := r.Header.Get("Authorization")
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Echo-Key", r.Header.Get("X-Api-Key"))
	w.Header().Set("Date", time.Now().UTC().Format(http.TimeFormat))
	price := `10`
	status := http.StatusOK
	if f.broken.Load() {
		price, status = `"10"`, http.StatusInternalServerError
		w.Header().Set("Retry-After", "30")
	}
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"items":[{"sku":"a","price":1},{"sku":"b","price":2},{"sku":"c","price":%s}],"echo":%q}`, price, auth)
}

// hookRecorder answers webhooks with a status the test chooses and keeps
// every body.
type hookRecorder struct {
	mu     sync.Mutex
	status int
	bodies []string
}

func (h *hookRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.bodies = append(h.bodies, string(b))
	w.WriteHeader(h.status)
}

func (h *hookRecorder) set(status int) {
	h.mu.Lock()
	h.status = status
	h.mu.Unlock()
}

func (h *hookRecorder) all() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.bodies...)
}

func getJSON(t *testing.T, url string, out any) string {
	t.Helper()
	code, body := httpDo(t, http.MethodGet, url)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, code, body)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(body), out); err != nil {
			t.Fatalf("GET %s: %v: %s", url, err, body)
		}
	}
	return body
}

// The daemon records every run, diffs a failure against the last good
// run, keeps incidents and notifications, and no secret from the
// environment reaches the database, the API, replay or the webhook.
func TestHistoryDiffIncidentsAndNoSecretAnywhere(t *testing.T) {
	target := &flipTarget{}
	ts := httptest.NewServer(target)
	defer ts.Close()
	hook := &hookRecorder{status: http.StatusOK}
	hs := httptest.NewServer(hook)
	defer hs.Close()

	dir := t.TempDir()
	checksDir := filepath.Join(dir, "checks")
	if err := os.Mkdir(checksDir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, checksDir, "api.yaml", fmt.Sprintf(`checks:
  - name: catalog
    schedule: "@every 1s"
    timeout: 5s
    alert: { notify: [hook], failures: 1, successes: 1 }
    steps:
      - name: list items
        request:
          url: %s/items?key=${API_TOKEN}
          headers: { X-Api-Key: "${API_TOKEN}" }
          auth: { bearer: "${API_TOKEN}" }
        expect:
          status: 200
          json: { "$.items[2].price": 10 }
`, ts.URL))
	db := filepath.Join(dir, "assay.db")
	cfgFile := filepath.Join(dir, "assay.yaml")
	if err := os.WriteFile(cfgFile, []byte(fmt.Sprintf(`storage: { path: %s }
notifiers:
  hook: { type: webhook, url: %s/hook }
`, db, hs.URL)), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startEnv(t, "assay run", []string{"API_TOKEN=" + historySecret}, assayBin, "run", "--checks", checksDir, "--config", cfgFile,
		"--listen", "127.0.0.1:0", "--log-format", "text", "--log-level", "info")
	var base string
	p.awaitLine(t, 10*time.Second, "assay running", func(l string) bool {
		if i := strings.Index(l, "listen="); i >= 0 && strings.Contains(l, "assay running") {
			base = "http://" + strings.Fields(l[i+len("listen="):])[0]
			return true
		}
		return false
	})
	api := base + "/api/v1"

	type page struct {
		Results []struct {
			ID     int64
			Passed bool
		}
	}
	// A passing run first: it becomes the baseline.
	poll(t, 15*time.Second, 100*time.Millisecond, "a passing run in the history", func() (bool, string) {
		var pg page
		body := getJSON(t, api+"/checks/catalog/results?status=passed&limit=1", &pg)
		return len(pg.Results) == 1, body
	})
	target.broken.Store(true)
	var failedID int64
	poll(t, 15*time.Second, 100*time.Millisecond, "a failed run in the history", func() (bool, string) {
		var pg page
		body := getJSON(t, api+"/checks/catalog/results?status=failed&limit=1", &pg)
		if len(pg.Results) == 1 {
			failedID = pg.Results[0].ID
		}
		return failedID != 0, body
	})

	// The stored run has the evidence and the diff against the last good run.
	var run struct {
		ID     int64
		Result struct {
			Attempts []struct {
				Steps []struct {
					Response struct {
						Status  int
						Headers map[string][]string
						Body    string
					}
					Diff struct {
						BaselineRunID int64 `json:"baseline_run_id"`
						Status        struct{ From, To string }
						JSON          []struct{ Name, Change, From, To string }
					}
				}
			}
		}
	}
	runBody := getJSON(t, fmt.Sprintf("%s/results/%d", api, failedID), &run)
	step := run.Result.Attempts[0].Steps[0]
	if step.Response.Status != 500 || !strings.Contains(step.Response.Body, `"price":"10"`) || step.Response.Headers["Retry-After"][0] != "30" {
		t.Fatalf("the failed run lacks its evidence: %s", runBody)
	}
	d := step.Diff
	if d.BaselineRunID == 0 || d.Status.From != "200" || d.Status.To != "500" {
		t.Fatalf("diff = %+v in %s", d, runBody)
	}
	found := false
	for _, c := range d.JSON {
		if c.Name == "$.items[2].price" && c.From == "10" && c.To == `"10"` {
			found = true
		}
	}
	if !found {
		t.Fatalf("the diff does not show $.items[2].price: 10 -> \"10\": %+v", d.JSON)
	}
	// ... and the text console shows it in the "check failed" line.
	p.awaitLine(t, 5*time.Second, "a check failed line with the diff", func(l string) bool {
		return strings.Contains(l, "check failed") && strings.Contains(l, `$.items[2].price: 10 -> \"10\"`)
	})

	// The webhook carried the diff (failure.diff) and the run id.
	var firing struct {
		Kind    string
		Failure struct {
			RunID int64 `json:"run_id"`
			Diff  struct {
				JSON []struct{ Name string }
			}
		}
	}
	poll(t, 10*time.Second, 100*time.Millisecond, "the firing webhook", func() (bool, string) {
		for _, b := range hook.all() {
			if json.Unmarshal([]byte(b), &firing) == nil && firing.Kind == "firing" {
				return true, b
			}
		}
		return false, fmt.Sprint(hook.all())
	})
	if firing.Failure.RunID == 0 || len(firing.Failure.Diff.JSON) == 0 || firing.Failure.Diff.JSON[0].Name != "$.items[2].price" {
		t.Fatalf("firing webhook without the run id or the diff: %+v", firing)
	}

	// An open incident, with its first failure.
	var incidents struct {
		Incidents []struct {
			Check        string
			FirstFailure string `json:"first_failure"`
			Resolved     *time.Time
		}
	}
	getJSON(t, api+"/incidents?open=true", &incidents)
	if len(incidents.Incidents) != 1 || incidents.Incidents[0].Resolved != nil || !strings.Contains(incidents.Incidents[0].FirstFailure, "expected") {
		t.Fatalf("open incidents = %+v", incidents)
	}

	// The resolved notification is refused for good: a dead letter, which
	// the operator retries once the receiver is fixed.
	hook.set(http.StatusBadRequest)
	target.broken.Store(false)
	var dead struct {
		Notifications []struct {
			ID     int64
			Kind   string
			Status string
		}
	}
	poll(t, 15*time.Second, 100*time.Millisecond, "a dead letter", func() (bool, string) {
		body := getJSON(t, api+"/notifications?status=dead", &dead)
		return len(dead.Notifications) == 1, body
	})
	if dead.Notifications[0].Kind != "resolved" {
		t.Fatalf("dead letter = %+v", dead.Notifications)
	}
	list, err := exec.Command(assayBin, "notifications", "list", "--status", "dead", "--server", base).CombinedOutput()
	if err != nil || !bytes.Contains(list, []byte("resolved")) || !bytes.Contains(list, []byte("http_4xx")) {
		t.Fatalf("assay notifications list: %v\n%s", err, list)
	}
	hook.set(http.StatusOK)
	out, err := exec.Command(assayBin, "notifications", "retry", fmt.Sprint(dead.Notifications[0].ID), "--server", base).CombinedOutput()
	if err != nil {
		t.Fatalf("assay notifications retry: %v\n%s", err, out)
	}
	poll(t, 10*time.Second, 100*time.Millisecond, "the retried resolved event delivered", func() (bool, string) {
		n := 0
		for _, b := range hook.all() {
			if strings.Contains(b, `"kind":"resolved"`) {
				n++
			}
		}
		return n == 2, fmt.Sprint(n, " resolved deliveries")
	})
	getJSON(t, api+"/incidents", &incidents)
	if len(incidents.Incidents) != 1 || incidents.Incidents[0].Resolved == nil {
		t.Fatalf("incidents after recovery = %+v", incidents)
	}
	var up struct {
		Runs, Failures int64
		Availability   *float64
		P95            *float64 `json:"p95_seconds"`
	}
	getJSON(t, api+"/checks/catalog/uptime?window=1h", &up)
	if up.Runs < 2 || up.Failures < 1 || up.Availability == nil || *up.Availability >= 1 || up.P95 == nil {
		t.Fatalf("uptime = %+v", up)
	}

	// Replay: curl lines with the secret as a reference, from the store
	// file while the daemon runs, and from the server.
	for _, args := range [][]string{{"--config", cfgFile}, {"--server", base}} {
		out, err := exec.Command(assayBin, append([]string{"replay", fmt.Sprint(failedID), "--curl"}, args...)...).CombinedOutput()
		if err != nil || !bytes.Contains(out, []byte(`-H "Authorization: Bearer ${API_TOKEN}"`)) || bytes.Contains(out, []byte(historySecret)) {
			t.Fatalf("assay replay --curl %v: %v\n%s", args, err, out)
		}
	}

	// Replay without --curl runs the check again now (the target is
	// healthy again) and prints it beside the stored failed run.
	rerun := exec.Command(assayBin, "replay", fmt.Sprint(failedID), "--config", cfgFile, "--checks", checksDir)
	rerun.Env = append(os.Environ(), "API_TOKEN="+historySecret)
	out, err = rerun.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("FAIL (assertion)")) || !bytes.Contains(out, []byte("PASS")) ||
		!bytes.Contains(out, []byte(fmt.Sprintf("stored run %d", failedID))) || bytes.Contains(out, []byte(historySecret)) {
		t.Fatalf("assay replay (run again): %v\n%s", err, out)
	}
	places0 := string(out)

	// Stop the daemon (its last writes flushed), then look everywhere.
	p.signal(t, os.Interrupt)
	if code := p.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("assay run exited %d", code)
	}
	places := map[string]string{"run log": strings.Join(p.out.Lines(), "\n"), "stored run": runBody, "replay": places0}
	for i, b := range hook.all() {
		places[fmt.Sprintf("webhook %d", i)] = b
	}
	for _, f := range []string{db, db + "-wal", db + "-shm"} {
		if b, err := os.ReadFile(f); err == nil {
			places[filepath.Base(f)] = string(b)
		}
	}
	if _, ok := places["assay.db"]; !ok {
		t.Fatal("no database file")
	}
	for where, text := range places {
		for _, form := range []string{historySecret, base64.StdEncoding.EncodeToString([]byte(historySecret))} {
			if strings.Contains(text, form) {
				t.Errorf("the secret (%s) is in the %s", form, where)
			}
		}
	}
}
