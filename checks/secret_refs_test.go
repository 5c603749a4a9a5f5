package checks_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assay-monitor/assay/checks"
)

// The request summary refers to a secret by where it came from: ${NAME}
// for an environment variable, ${name} for a capture, [REDACTED] for a
// literal; the value itself is nowhere in the result.
func TestRequestSummaryRefersToSecrets(t *testing.T) {
	const (
		apiToken  = "tok_live_9f8e7d6c5b4a"
		apiKey    = "key-0a1b2c3d4e"
		mySecret  = `s3cr3t&value<x> "q"`
		adminPass = "hunter2-adm1n"
		dbPass    = "db-pass-4242"
		captured  = "at-CAPTURED-7777abcd"
		session   = "sess-99887766"
		sid       = "sid-31337abc"
		literal   = "literal-token-5150"
		litPass   = "hunter2-literal"
		seed      = "seed-value-777"
		first     = "tok-first-1111"
		second    = "tok-second-2222"
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		// Every response echoes the request, so that responses hold
		// the secrets too (and must show [REDACTED]).
		doc := map[string]any{"headers": r.Header, "url": r.URL.String(), "body": string(body)}
		switch r.URL.Path {
		case "/login":
			doc["token"], doc["sid"] = captured, sid
			w.Header().Set("X-Session", session)
		case "/seed":
			doc["token"] = r.Header.Get("X-Echo-Me")
		case "/first":
			doc["token"] = first
		case "/second":
			doc["token"] = second
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(doc)
	}))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")

	src := `
checks:
  - name: env
    steps:
      - name: query
        request:
          url: "${BASE}/items?api_key=${API_KEY}"
          query: { q: "${MY_SECRET}" }
      - name: headers
        request:
          url: "${BASE}/items"
          headers:
            X-Custom: "${MY_SECRET}"
            X-Api-Key: "${API_KEY}"
            X-Auth-Token: "v1-${API_KEY}"
            Authorization: "Bearer ${API_TOKEN}"
      - name: json body
        request:
          method: PATCH
          url: "${BASE}/items/1"
          headers: { If-Match: '"v1"' }
          json: { user: admin, password: "${MY_SECRET}" }
      - name: form body
        request:
          method: POST
          url: "${BASE}/login-form"
          form: { password: "${MY_SECRET}" }
      - name: userinfo
        request: { url: "http://admin:${DB_PASSWORD}@${HOST}/private" }
      - name: bearer
        request: { url: "${BASE}/me", auth: { bearer: "${API_TOKEN}" } }
      - name: basic
        request: { url: "${BASE}/me", auth: { basic: { username: admin, password: "${ADMIN_PASSWORD}" } } }
  - name: captured
    steps:
      - name: login
        request: { method: POST, url: "${BASE}/login" }
        capture:
          token: { json: $.token }
          sid: { json: $.sid }
          sess: { header: X-Session, secret: true }
      - name: use token
        request:
          url: "${BASE}/me?session={{ .sess }}"
          headers: { X-Token: "{{ .token }}", Cookie: "s={{ .sess }}" }
          auth: { bearer: "{{ .token }}" }
      - name: plain capture as bearer
        request: { url: "${BASE}/me", auth: { bearer: "{{ .sid }}" } }
  - name: literal
    steps:
      - name: bearer
        request:
          method: POST
          url: "${BASE}/x?token=` + literal + `&q=` + literal + `"
          auth: { bearer: ` + literal + ` }
          body: "tok=` + literal + `"
      - name: basic
        request:
          url: "http://admin:plain-pw@${HOST}/y"
          auth: { basic: { username: admin, password: ` + litPass + ` } }
  - name: captured-later
    steps:
      - name: seed
        request: { url: "${BASE}/seed", headers: { X-Echo-Me: ` + seed + ` } }
        capture: { token: { json: $.token } }
      - name: use
        request: { url: "${BASE}/use", headers: { X-Token: "{{ .token }}" } }
  - name: recaptured
    steps:
      - name: first
        request: { url: "${BASE}/first" }
        capture: { token: { json: $.token } }
      - name: second
        request: { url: "${BASE}/second", headers: { X-Token: "{{ .token }}" } }
        capture: { token: { json: $.token } }
      - name: third
        request: { url: "${BASE}/third", headers: { X-Old: ` + first + `, X-Token: "{{ .token }}" } }
`
	file := filepath.Join(t.TempDir(), "refs.yaml")
	if err := os.WriteFile(file, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"BASE": srv.URL, "HOST": host, "API_TOKEN": apiToken, "API_KEY": apiKey,
		"MY_SECRET": mySecret, "ADMIN_PASSWORD": adminPass, "DB_PASSWORD": dbPass,
	}
	cs, err := checks.LoadOptions{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	runner := checks.NewRunner(checks.RunnerOptions{})
	t.Cleanup(runner.Close)

	want := map[string][]string{
		"env": {
			`{"method":"GET","url":"BASE/items?api_key=${API_KEY}\u0026q=${MY_SECRET}"}`,
			`{"method":"GET","url":"BASE/items","headers":{"Authorization":["Bearer ${API_TOKEN}"],"X-Api-Key":["${API_KEY}"],"X-Auth-Token":["[REDACTED]"],"X-Custom":["${MY_SECRET}"]}}`,
			`{"method":"PATCH","url":"BASE/items/1","headers":{"Content-Type":["application/json"],"If-Match":["\"v1\""]},"body":"{\"password\":\"${MY_SECRET}\",\"user\":\"admin\"}"}`,
			`{"method":"POST","url":"BASE/login-form","headers":{"Content-Type":["application/x-www-form-urlencoded"]},"body":"password=${MY_SECRET}"}`,
			`{"method":"GET","url":"http://admin:${DB_PASSWORD}@HOST/private"}`,
			`{"method":"GET","url":"BASE/me","headers":{"Authorization":["[REDACTED]"]},"auth":{"type":"bearer","secret":"${API_TOKEN}"}}`,
			`{"method":"GET","url":"BASE/me","headers":{"Authorization":["[REDACTED]"]},"auth":{"type":"basic","username":"admin","secret":"${ADMIN_PASSWORD}"}}`,
		},
		"captured": {
			`{"method":"POST","url":"BASE/login"}`,
			`{"method":"GET","url":"BASE/me?session=${sess}","headers":{"Authorization":["[REDACTED]"],"Cookie":["[REDACTED]"],"X-Token":["${token}"]},"auth":{"type":"bearer","secret":"${token}"}}`,
			`{"method":"GET","url":"BASE/me","headers":{"Authorization":["[REDACTED]"]},"auth":{"type":"bearer","secret":"${sid}"}}`,
		},
		"literal": {
			`{"method":"POST","url":"BASE/x?token=REDACTED\u0026q=[REDACTED]","headers":{"Authorization":["[REDACTED]"]},"body":"tok=[REDACTED]","auth":{"type":"bearer","secret":"[REDACTED]"}}`,
			`{"method":"GET","url":"http://admin:REDACTED@HOST/y","headers":{"Authorization":["[REDACTED]"]},"auth":{"type":"basic","username":"admin","secret":"[REDACTED]"}}`,
		},
		// The seed was sent before anything held it as token: no
		// reference in the first request, one in the second.
		"captured-later": {
			`{"method":"GET","url":"BASE/seed","headers":{"X-Echo-Me":["[REDACTED]"]}}`,
			`{"method":"GET","url":"BASE/use","headers":{"X-Token":["${token}"]}}`,
		},
		// After the second capture, ${token} is the second value: the
		// first one is no longer referred to by that name.
		"recaptured": {
			`{"method":"GET","url":"BASE/first"}`,
			`{"method":"GET","url":"BASE/second","headers":{"X-Token":["${token}"]}}`,
			`{"method":"GET","url":"BASE/third","headers":{"X-Old":["[REDACTED]"],"X-Token":["${token}"]}}`,
		},
	}
	secrets := map[string]string{
		"API_TOKEN": apiToken, "API_KEY": apiKey, "MY_SECRET": mySecret, "ADMIN_PASSWORD": adminPass,
		"DB_PASSWORD": dbPass, "captured token": captured, "captured sess": session, "sid used as bearer": sid,
		"literal bearer": literal, "literal password": litPass, "seed captured as token": seed,
		"first token": first, "second token": second,
	}
	for _, c := range cs {
		t.Run(c.Name, func(t *testing.T) {
			r := runner.Run(context.Background(), c)
			if !r.Passed {
				t.Fatalf("check failed: %s", r.Message)
			}
			steps := r.Steps()
			if len(steps) != len(want[c.Name]) {
				t.Fatalf("%d steps, want %d", len(steps), len(want[c.Name]))
			}
			for i, s := range steps {
				b, err := json.Marshal(s.Request)
				if err != nil {
					t.Fatal(err)
				}
				got := strings.ReplaceAll(strings.ReplaceAll(string(b), srv.URL, "BASE"), host, "HOST")
				if got != want[c.Name][i] {
					t.Errorf("step %q request:\n got %s\nwant %s", s.Name, got, want[c.Name][i])
				}
				if s.Response == nil || !strings.Contains(s.Response.Body, `"url"`) {
					t.Errorf("step %q: no echoed response: %+v", s.Name, s.Response)
				}
			}
			raw, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			for name, secret := range secrets {
				for form, s := range encodings(secret) {
					if strings.Contains(string(raw), s) {
						t.Errorf("the result contains %s (%s form %q)", name, form, s)
					}
				}
			}
			for _, form := range []string{url.PathEscape(mySecret)} {
				if strings.Contains(string(raw), form) {
					t.Errorf("the result contains MY_SECRET path-escaped (%q)", form)
				}
			}
		})
	}
}

// Outside the request (response, captures, assertions, messages) a secret
// shows [REDACTED] whatever its source.
func TestSecretReferencesOnlyInRequests(t *testing.T) {
	const apiToken = "tok_live_0123456789"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Echo", r.Header.Get("Authorization"))
		w.Header().Set("Set-Cookie", "s="+apiToken)
		io.WriteString(w, `{"token":"`+apiToken+`"}`)
	}))
	t.Cleanup(srv.Close)
	src := `
checks:
  - name: echo
    steps:
      - request: { url: "${BASE}/", auth: { bearer: "${API_TOKEN}" } }
        expect: { body: { equals: "${API_TOKEN}" } }
        capture: { echoed: { header: X-Echo } }
`
	env := map[string]string{"BASE": srv.URL, "API_TOKEN": apiToken}
	cs, err := checks.LoadOptions{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}.Load(writeFile(t, src))
	if err != nil {
		t.Fatal(err)
	}
	runner := checks.NewRunner(checks.RunnerOptions{})
	t.Cleanup(runner.Close)
	r := runner.Run(context.Background(), cs[0])
	s := r.Steps()[0]
	if got, want := s.Request.Auth, (checks.AuthSummary{Type: "bearer", Secret: "${API_TOKEN}"}); got == nil || *got != want {
		t.Errorf("auth summary %+v, want %+v", got, want)
	}
	if got := s.Response.Body; got != `{"token":"[REDACTED]"}` {
		t.Errorf("response body %q", got)
	}
	if got := s.Response.Headers["X-Echo"]; len(got) != 1 || got[0] != "Bearer [REDACTED]" {
		t.Errorf("response X-Echo %q", got)
	}
	if got := s.Response.Headers["Set-Cookie"]; len(got) != 1 || got[0] != checks.Redacted {
		t.Errorf("response Set-Cookie %q", got)
	}
	// The first assertion is the default status (2xx), the last the body's.
	if got := s.Assertions[len(s.Assertions)-1].Expected; got != `"[REDACTED]"` {
		t.Errorf("assertion expected %q", got)
	}
	if !strings.Contains(r.Message, "[REDACTED]") || strings.Contains(r.Message, "${") {
		t.Errorf("message %q", r.Message)
	}
	raw, _ := json.Marshal(r)
	if strings.Contains(string(raw), apiToken) {
		t.Errorf("the token is in the result: %s", raw)
	}
	if n := strings.Count(string(raw), "${API_TOKEN}"); n != 1 {
		t.Errorf("${API_TOKEN} appears %d times, want once (the auth summary): %s", n, raw)
	}
}

func writeFile(t *testing.T, src string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "check.yaml")
	if err := os.WriteFile(file, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}
