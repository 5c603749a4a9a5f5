package checks_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/report"
)

// Secrets from the environment and captured credentials never appear in a
// Result nor in the console, JUnit or JSON reports: not when the server
// echoes them back in its body or headers, not when an assertion on them
// fails, not in any escaped form.
func TestSecretsNeverInOutput(t *testing.T) {
	const (
		apiToken    = "tok_live_9f8e7d6c5b4a"
		adminPass   = `hunter2<&>"q\x`
		customValue = `s3cr3t&value<x>`
		apiKey      = "key-0a1b2c3d4e"
		accessToken = "at-CAPTURED-7777abcd"
		session     = "sess-99887766"
	)
	basicCreds := base64.StdEncoding.EncodeToString([]byte("admin:" + adminPass))

	var (
		mu   sync.Mutex
		sent = map[string]string{} // what the server received, by name
	)
	echo := func(w http.ResponseWriter, r *http.Request) map[string]any {
		mu.Lock()
		defer mu.Unlock()
		for _, h := range []string{"Authorization", "X-Custom", "X-Access", "X-Session"} {
			if v := r.Header.Get(h); v != "" {
				sent[h] = v
				// Echo every credential back in a response header.
				w.Header().Set("X-Echo-"+h, v)
			}
		}
		if q := r.URL.Query().Get("api_key"); q != "" {
			sent["api_key"] = q
		}
		return map[string]any{"headers": r.Header, "url": r.URL.String()}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		doc := echo(w, r)
		switch r.URL.Path {
		case "/login":
			if u, p, ok := r.BasicAuth(); !ok || u != "admin" || p != adminPass {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			doc["access_token"] = accessToken
			w.Header().Set("X-Session", session)
		case "/echo":
			doc["session"] = r.Header.Get("X-Session")
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(doc)
	}))
	t.Cleanup(srv.Close)

	dir := t.TempDir()
	file := filepath.Join(dir, "secrets.yaml")
	src := `
checks:
  - name: token-flow
    vars:
      token: "${API_TOKEN}"
    steps:
      - name: login
        request:
          method: POST
          url: "${BASE}/login"
          auth: { basic: { username: admin, password: "${ADMIN_PASSWORD}" } }
          headers: { X-Custom: "${MY_SECRET}" }
        expect: { status: 200 }
        capture:
          access_token: { json: "$.access_token" }
          sess: { header: X-Session, secret: true }
      - name: use token
        request:
          url: "${BASE}/echo?api_key=${API_KEY}"
          auth: { bearer: "{{ .vars.token }}" }
          headers: { X-Access: "{{ .access_token }}", X-Session: "{{ .sess }}" }
        expect:
          status: 200
          body: { not_contains: "{{ .access_token }}" }
          headers:
            X-Echo-Authorization: { equals: "Bearer ${API_TOKEN}-old" }
            X-Echo-X-Session: "{{ .sess }}"
          json:
            "$.session": "{{ .sess }}-old"
      - name: never runs
        request: { url: "${BASE}/next?token=${API_TOKEN}", headers: { X-Access: "{{ .access_token }}" } }
  - name: echoed-credentials
    steps:
      - name: login
        request:
          method: POST
          url: "${BASE}/echo"
          auth: { basic: { username: admin, password: "${ADMIN_PASSWORD}" } }
          headers: { X-Custom: "${MY_SECRET}" }
        expect:
          body: { equals: nope }
          json:
            "$.headers['X-Custom'][0]": other
            "$.headers.Authorization[0]": { matches: "^Bearer" }
          headers:
            X-Echo-X-Custom: { not_equals: "${MY_SECRET}" }
  - name: bearer-from-env
    steps:
      - name: call
        request:
          url: "${BASE}/echo"
          auth: { bearer: "${API_TOKEN}" }
        expect:
          status: 201
          body: { contains: "${API_TOKEN}!" }
`
	if err := os.WriteFile(file, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"BASE": srv.URL, "API_TOKEN": apiToken, "ADMIN_PASSWORD": adminPass,
		"MY_SECRET": customValue, "API_KEY": apiKey,
	}
	cs, err := checks.LoadOptions{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	runner := checks.NewRunner(checks.RunnerOptions{})
	t.Cleanup(runner.Close)
	var results []*checks.Result
	for _, c := range cs {
		results = append(results, runner.Run(context.Background(), c))
	}

	// The checks ran as intended: credentials were sent, and each check
	// failed on an assertion that involves a secret.
	mu.Lock()
	if sent["Authorization"] != "Bearer "+apiToken || sent["X-Access"] != accessToken ||
		sent["X-Session"] != session || sent["X-Custom"] != customValue || sent["api_key"] != apiKey {
		t.Errorf("the server did not receive the credentials: %q", sent)
	}
	mu.Unlock()
	wantMsgs := []string{
		`step "use token": header X-Echo-Authorization: expected "Bearer [REDACTED]-old", got "Bearer [REDACTED]" (and 2 more failed assertions)`,
		`step "login": header X-Echo-X-Custom: expected not "[REDACTED]", got "[REDACTED]" (and 3 more failed assertions)`,
		`step "call": status: expected 201, got 200 (and 1 more failed assertions)`,
	}
	for i, r := range results {
		if r.Passed || r.Reason != checks.ReasonAssertion || !strings.HasPrefix(r.Message, wantMsgs[i]) {
			t.Errorf("check %s: passed=%v reason=%q message=%q, want prefix %q", r.Check, r.Passed, r.Reason, r.Message, wantMsgs[i])
		}
	}
	use := results[0].Steps()[1]
	if got := use.Request.Headers["Authorization"]; len(got) != 1 || got[0] != checks.Redacted {
		t.Errorf("Authorization in the request summary: %q", got)
	}
	if got := results[0].Steps()[0].Captures; got["access_token"] != checks.Redacted || got["sess"] != checks.Redacted {
		t.Errorf("secret captures: %q", got)
	}
	if n := len(use.Assertions); n != 5 {
		t.Errorf("want 5 assertion results in step %q, got %d", use.Name, n)
	}

	var console, consoleVerbose, junit, jsonOut bytes.Buffer
	report.WriteConsole(&console, results, report.ConsoleOptions{})
	report.WriteConsole(&consoleVerbose, results, report.ConsoleOptions{Verbose: true, Color: true})
	if err := report.WriteJUnit(&junit, results, "assay"); err != nil {
		t.Fatal(err)
	}
	if err := report.WriteJSON(&jsonOut, results); err != nil {
		t.Fatal(err)
	}
	var curl bytes.Buffer
	for _, r := range results {
		if err := report.Curl(&curl, r); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{`-H "Authorization: Bearer ${API_TOKEN}"`, `-u "admin:${ADMIN_PASSWORD}"`, `-H "X-Session: ${sess}"`} {
		if !strings.Contains(curl.String(), want) {
			t.Errorf("curl output lacks %s:\n%s", want, curl.String())
		}
	}
	raw, err := json.Marshal(results)
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{
		"Result":          string(raw) + fmt.Sprintf("%+v", results),
		"console":         console.String(),
		"console verbose": consoleVerbose.String(),
		"JUnit":           junit.String(),
		"JSON":            jsonOut.String(),
		"curl":            curl.String(),
	}
	secrets := map[string]string{
		"API_TOKEN": apiToken, "ADMIN_PASSWORD": adminPass, "MY_SECRET": customValue,
		"API_KEY": apiKey, "captured access_token": accessToken, "captured sess": session,
		"basic credentials": basicCreds,
	}
	for oname, out := range outputs {
		// Request summaries, and so curl, refer to the secrets instead.
		if !strings.Contains(out, "REDACTED") && !strings.Contains(out, "${API_TOKEN}") {
			t.Errorf("%s: nothing was redacted, the test is not testing", oname)
		}
		for sname, secret := range secrets {
			for form, s := range encodings(secret) {
				if strings.Contains(out, s) {
					t.Errorf("%s contains %s (%s form %q)", oname, sname, form, s)
				}
			}
		}
	}
	if t.Failed() {
		t.Logf("console output:\n%s", consoleVerbose.String())
	}
}

// encodings lists the forms in which a secret could show up in output.
func encodings(s string) map[string]string {
	out := map[string]string{"raw": s}
	j, _ := json.Marshal(s)
	out["JSON"] = strings.Trim(string(j), `"`)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.Encode(s)
	out["JSON without HTML escapes"] = strings.Trim(strings.TrimSpace(buf.String()), `"`)
	out["Go quoted"] = strings.Trim(strconv.Quote(s), `"`)
	var x bytes.Buffer
	xml.EscapeText(&x, []byte(s))
	out["XML"] = x.String()
	out["URL query"] = url.QueryEscape(s)
	return out
}
