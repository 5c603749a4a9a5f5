//go:build linux

package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assay-monitor/assay/internal/browsertest"
)

// startRun starts assay run with a text log and returns its base URL.
func startRun(t *testing.T, name string, env []string, args ...string) (*proc, string) {
	t.Helper()
	p := startEnv(t, name, env, assayBin, append([]string{"run", "--listen", "127.0.0.1:0", "--log-format", "text"}, args...)...)
	var base string
	p.awaitLine(t, 10*time.Second, "assay running", func(l string) bool {
		if i := strings.Index(l, "listen="); i >= 0 && strings.Contains(l, "assay running") {
			base = "http://" + strings.Fields(l[i+len("listen="):])[0]
			return true
		}
		return false
	})
	return p, base
}

// The status page of a real daemon, read in headless Chromium: the
// overview names a passing and a failing check with their status; the
// failing check's page shows the expected and actual values and the diff
// against the last good run; the public page (web.public) shows none of
// the request or the response. Screenshots go to the test's temp dir and
// to $ASSAY_SCREENSHOT_DIR when set.
func TestStatusPageInChromium(t *testing.T) {
	b := browsertest.New(t)
	target := &flipTarget{}
	ts := httptest.NewServer(target)
	defer ts.Close()
	healthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"status":"ok"}`)
	}))
	defer healthy.Close()

	dir := t.TempDir()
	checksDir := filepath.Join(dir, "checks")
	if err := os.Mkdir(checksDir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, checksDir, "api.yaml", fmt.Sprintf(`checks:
  - name: healthy-api
    description: The health endpoint answers.
    schedule: "@every 1s"
    steps:
      - name: health
        request: { url: "%s/healthz" }
        expect: { status: 200, json: { $.status: ok } }
  - name: catalog
    description: The catalog lists items with numeric prices.
    schedule: "@every 1s"
    labels: { team: shop }
    alert: { failures: 1 }
    steps:
      - name: list items
        request:
          url: %s/items
          headers: { X-Api-Key: "${API_TOKEN}" }
        expect:
          status: 200
          json: { "$.items[2].price": 10 }
`, healthy.URL, ts.URL))
	db := filepath.Join(dir, "assay.db")
	cfg := func(name string, public bool) string {
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, []byte(fmt.Sprintf("storage: { path: %s }\nweb: { public: %v }\n", db, public)), 0o644); err != nil {
			t.Fatal(err)
		}
		return f
	}
	env := []string{"API_TOKEN=" + historySecret}
	p, base := startRun(t, "assay run", env, "--checks", checksDir, "--config", cfg("private.yaml", false))
	api := base + "/api/v1"
	poll(t, 15*time.Second, 100*time.Millisecond, "a passing run of catalog", func() (bool, string) {
		body := getJSON(t, api+"/checks/catalog/results?status=passed&limit=1", nil)
		return strings.Contains(body, `"id"`), body
	})
	target.broken.Store(true)
	poll(t, 15*time.Second, 100*time.Millisecond, "a failed run of catalog, stored", func() (bool, string) {
		body := getJSON(t, api+"/checks/catalog/results?status=failed&limit=1", nil)
		return strings.Contains(body, `"id"`), body
	})

	shots := t.TempDir()
	shot := func(name, url string) *browsertest.Page {
		t.Helper()
		return b.Screenshot(t, url, filepath.Join(shots, name+".png"))
	}
	ov := shot("e2e-overview", base+"/?refresh=0")
	lineWith(t, ov.Text, "catalog", "failing")
	lineWith(t, ov.Text, "healthy-api", "passing")
	if !strings.Contains(ov.Text, "Open incidents") {
		t.Errorf("the overview shows no open incident:\n%s", ov.Text)
	}
	cp := shot("e2e-check-failing", base+"/checks/catalog?refresh=0")
	for _, want := range []string{
		"$.items[2].price", // the failed assertion, and the diff's path
		`"10"`,             // the actual value (a string) and the diff's new value
		"Diff against the last good run",
		"status: expected 200, got 500",
		"HTTP/1.1 500",
		"X-Api-Key",
	} {
		if !strings.Contains(cp.Text, want) {
			t.Errorf("the failing check's page lacks %q:\n%s", want, cp.Text)
		}
	}
	for where, text := range map[string]string{"overview": ov.Text, "check page": cp.Text} {
		if strings.Contains(text, historySecret) {
			t.Errorf("the %s shows the secret", where)
		}
	}
	shot("e2e-check-passing", base+"/checks/healthy-api?refresh=0")
	p.signal(t, os.Interrupt)
	if code := p.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("assay run exited %d", code)
	}

	// The same store behind a public status page.
	_, pub := startRun(t, "assay run (public)", env, "--checks", checksDir, "--config", cfg("public.yaml", true))
	poll(t, 15*time.Second, 100*time.Millisecond, "catalog failing on the public page", func() (bool, string) {
		_, body := httpDo(t, http.MethodGet, pub+"/?refresh=0")
		return strings.Contains(body, "failing"), body
	})
	for _, u := range []string{"/?refresh=0", "/checks/catalog?refresh=0"} {
		pp := shot("e2e-public"+strings.NewReplacer("/", "-", "?refresh=0", "").Replace(u), pub+u)
		if !strings.Contains(pp.Text, "catalog") {
			t.Errorf("public %s does not name catalog:\n%s", u, pp.Text)
		}
		for _, leak := range []string{ts.URL, "/items", "X-Api-Key", "HTTP/1.1", "$.items", "expected", "Request", "Response", "Diff", historySecret} {
			if strings.Contains(pp.Text, leak) {
				t.Errorf("public %s shows %q:\n%s", u, leak, pp.Text)
			}
		}
	}
	if code, body := httpDo(t, http.MethodGet, pub+"/api/v1/checks/catalog"); code != http.StatusOK || strings.Contains(body, "/items") || strings.Contains(body, "HTTP/1.1") {
		t.Errorf("the public API shows the request or response: %d %s", code, body)
	}
	if code, _ := httpDo(t, http.MethodGet, pub+"/api/v1/results/1"); code != http.StatusForbidden {
		t.Errorf("a stored run on a public daemon: %d, want 403", code)
	}
}

// lineWith wants a line of text (a table row) holding both strings.
func lineWith(t *testing.T, text, a, b string) {
	t.Helper()
	for _, line := range strings.Split(text, "\n") {
		if strings.Contains(line, a) && strings.Contains(line, b) {
			return
		}
	}
	t.Errorf("no line has both %q and %q:\n%s", a, b, text)
}
