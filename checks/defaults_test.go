package checks

import (
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// A check's own field wins over the defaults; vars and labels merge key by
// key; schedule, timeout, semantics and alert apply where a check sets none.
func TestDefaultsApplyToEveryCheckAndTheChecksOwnFieldWins(t *testing.T) {
	cs := loadChecks(t, `
defaults:
  vars: { base: "http://127.0.0.1:1", who: defaults }
  labels: { team: docs, tier: "2" }
  schedule: "@every 10s"
  timeout: 5s
  semantics: strict
  alert: { notify: [ops], failures: 3 }
checks:
  - name: inherits
    steps: [{ request: { url: "{{ .vars.base }}/a" } }]
  - name: overrides
    vars: { who: check }
    labels: { tier: "1" }
    schedule: "@every 1m"
    timeout: 2s
    semantics: "off"
    alert: { notify: [dev] }
    steps: [{ request: { url: "{{ .vars.base }}/b" } }]
`)
	in, own := cs[0], cs[1]
	if !reflect.DeepEqual(in.Vars, map[string]string{"base": "http://127.0.0.1:1", "who": "defaults"}) ||
		!reflect.DeepEqual(in.Labels, map[string]string{"team": "docs", "tier": "2"}) ||
		in.Schedule != "@every 10s" || in.Timeout.D() != 5*time.Second || in.Semantics != SemanticsStrict ||
		in.Alert == nil || in.Alert.Failures != 3 || !reflect.DeepEqual(in.Alert.Notify, []string{"ops"}) {
		t.Errorf("inherits: vars %v labels %v schedule %q timeout %s semantics %q alert %+v", in.Vars, in.Labels, in.Schedule, in.Timeout.D(), in.Semantics, in.Alert)
	}
	if !reflect.DeepEqual(own.Vars, map[string]string{"base": "http://127.0.0.1:1", "who": "check"}) ||
		!reflect.DeepEqual(own.Labels, map[string]string{"team": "docs", "tier": "1"}) ||
		own.Schedule != "@every 1m" || own.Timeout.D() != 2*time.Second || own.Semantics != SemanticsOff ||
		own.Alert == nil || own.Alert.Failures != 0 || !reflect.DeepEqual(own.Alert.Notify, []string{"dev"}) {
		t.Errorf("overrides: vars %v labels %v schedule %q timeout %s semantics %q alert %+v", own.Vars, own.Labels, own.Schedule, own.Timeout.D(), own.Semantics, own.Alert)
	}
}

// A mistake in the defaults is one error at the defaults, not one per check.
func TestDefaultsMistakeIsOneErrorAtTheDefaults(t *testing.T) {
	got := loadErrors(t, `
defaults:
  schedule: every minute
  timeout: 48h
  labels: { check: x }
  base_url: /relative
  auth: { bearer: "${UNSET_TOKEN}" }
checks:
  - name: a
    steps: [{ request: { url: /a } }]
  - name: b
    steps: [{ request: { url: /b } }]
  - name: c
    steps: [{ request: { url: /c } }]
`)
	wantErrors(t, got,
		`checks.yaml:3:13: defaults.schedule: invalid cron spec "every minute": expected 5 to 6 fields, found 2: [every minute]`,
		`checks.yaml:4:12: defaults.timeout: must be at most 24h, got 48h`,
		`checks.yaml:5:13: defaults.labels.check: label name "check" is reserved (assay's metrics use check, instance, job, le, phase, reason, rule, step)`,
		`checks.yaml:6:13: defaults.base_url: expected an absolute http or https URL, got "/relative"`,
		`checks.yaml:7:19: defaults.auth.bearer: environment variable UNSET_TOKEN is not set (use ${UNSET_TOKEN:-default} for a default)`,
		`checks.yaml:10:31: checks[0].steps[0].request.url: relative URL "/a" and no base_url to resolve it against: set base_url in defaults (or in the check's request block), or write an absolute http or https URL`,
		`checks.yaml:12:31: checks[1].steps[0].request.url: relative URL "/b" and no base_url to resolve it against: set base_url in defaults (or in the check's request block), or write an absolute http or https URL`,
		`checks.yaml:14:31: checks[2].steps[0].request.url: relative URL "/c" and no base_url to resolve it against: set base_url in defaults (or in the check's request block), or write an absolute http or https URL`,
	)
}

func TestDefaultsUnknownFieldHasDidYouMean(t *testing.T) {
	got := loadErrors(t, `
defaults:
  base_ulr: http://127.0.0.1:1
checks:
  - name: a
    steps: [{ request: { url: http://127.0.0.1:1/a } }]
`)
	wantErrors(t, got, `checks.yaml:3:3: defaults.base_ulr: unknown field "base_ulr" (did you mean "base_url"?)`)
}

// The defaults are part of each check's definition: changing them changes
// the fingerprint, so that a reload sees the checks as changed.
func TestDefaultsArePartOfTheFingerprint(t *testing.T) {
	src := `
defaults:
  headers: { Accept: %s }
checks:
  - name: a
    steps: [{ request: { url: http://127.0.0.1:1/a } }]
`
	a := loadCheck(t, strings.Replace(src, "%s", "text/plain", 1))
	b := loadCheck(t, strings.Replace(src, "%s", "application/json", 1))
	if a.Fingerprint == b.Fingerprint {
		t.Errorf("same fingerprint %s for different defaults", a.Fingerprint)
	}
}

// Copies of the defaults are bounded like the nodes of the file.
func TestDefaultsCopiesAreBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("defaults:\n  labels: {")
	for i := range 40 {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("l" + string(rune('a'+i%26)) + strings.Repeat("x", i) + ": v")
	}
	b.WriteString("}\nchecks:\n")
	for i := range 20 {
		b.WriteString("  - { name: c" + strings.Repeat("x", i) + ", steps: [{ request: { url: http://127.0.0.1:1/ } }] }\n")
	}
	_, errs := LoadOptions{LookupEnv: envMap(), MaxNodes: 1000}.parse("checks.yaml", []byte(b.String()))
	if len(errs) != 1 || errs[0].Error() != "checks.yaml:1:1: defaults: copied into each of the 20 checks, the defaults expand to more than 1000 nodes: move what is large into the checks that use it" {
		t.Errorf("errors: %v", errs)
	}
}

// A secret the defaults read is a secret of every check that uses it.
func TestDefaultsSecretIsRedactedInEveryCheck(t *testing.T) {
	const token = "tok-defaults-0123456789"
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Echo", r.Header.Get("Authorization"))
		w.Write([]byte(`{"echo":"` + r.Header.Get("Authorization") + `"}`))
	})
	cs := loadChecks(t, `
defaults:
  base_url: ${BASE}
  auth: { bearer: "${API_TOKEN}" }
checks:
  - name: a
    steps: [{ request: { url: /a } }]
  - name: b
    steps: [{ request: { url: /b }, expect: { body: { contains: nothing-like-this } } }]
`, "BASE", srv.URL, "API_TOKEN", token)
	for _, c := range cs {
		res := runCheck(t, c)
		if got := res.Steps()[0].Request.Auth; got == nil || got.Secret != "${API_TOKEN}" {
			t.Errorf("%s: auth %+v", c.Name, got)
		}
		raw, _ := json.Marshal(res)
		if strings.Contains(string(raw), token) {
			t.Errorf("%s: the token leaked: %s", c.Name, raw)
		}
	}
}

// recorder is a server that remembers the requests it got.
type recorder struct {
	mu   sync.Mutex
	reqs []*http.Request
}

func (rc *recorder) add(r *http.Request) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.reqs = append(rc.reqs, r)
}

func (rc *recorder) got() []*http.Request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]*http.Request(nil), rc.reqs...)
}

// The check's request block applies to every step: headers merge key by
// key (in any case, the step's own wins), auth is written once, and a
// header or auth that uses a capture is sent from the step after the one
// that captures it (the login step does not send the token it gets).
func TestCheckRequestBlockAppliesToEveryStepAfterItsCaptures(t *testing.T) {
	rec := &recorder{}
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		rec.add(r)
		if r.URL.Path == "/login" {
			w.Write([]byte(`{"token":"t-123"}`))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	c := loadCheck(t, `
checks:
  - name: flow
    request:
      base_url: ${BASE}
      headers: { Accept: application/json, X-Client: assay }
      query: { v: "2" }
      auth: { bearer: "{{ .session_id }}" }
      timeout: 3s
    steps:
      - name: login
        request: { method: POST, url: /login, headers: { x-client: login-step } }
        capture: { session_id: { json: $.token } }
      - name: use
        request: { url: /things }
      - name: own auth wins
        request: { url: /other, auth: { basic: { username: u, password: p } } }
`, "BASE", srv.URL)
	for _, s := range c.Steps {
		if s.Request.Timeout.D() != 3*time.Second {
			t.Errorf("step %s: timeout %s", s.Name, s.Request.Timeout.D())
		}
	}
	res := runCheck(t, c)
	if !res.Passed {
		t.Fatalf("%s", dump(res))
	}
	reqs := rec.got()
	if len(reqs) != 3 {
		t.Fatalf("%d requests", len(reqs))
	}
	type seen struct{ path, query, accept, client, auth string }
	var got []seen
	for _, r := range reqs {
		got = append(got, seen{r.URL.Path, r.URL.RawQuery, r.Header.Get("Accept"), r.Header.Get("X-Client"), r.Header.Get("Authorization")})
	}
	want := []seen{
		{"/login", "v=2", "application/json", "login-step", ""},
		{"/things", "v=2", "application/json", "assay", "Bearer t-123"},
		{"/other", "v=2", "application/json", "assay", "Basic dTpw"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("requests:\n%+v\nwant:\n%+v", got, want)
	}
}

// A shared template that reads a capture no step makes would never be
// sent: a load error, at the template.
func TestSharedTemplateReadingNoCaptureIsALoadError(t *testing.T) {
	got := loadErrors(t, `
checks:
  - name: a
    request:
      base_url: http://127.0.0.1:1
      headers: { X-Token: "{{ .tokn }}" }
    steps:
      - request: { url: /login }
        capture: { token: { json: $.token } }
`)
	wantErrors(t, got, `checks.yaml:6:27: checks[0].request.headers.X-Token: template "{{ .tokn }}": no step of the check captures "tokn" (captures: token)`)

	got = loadErrors(t, `
defaults:
  base_url: http://127.0.0.1:1
  auth: { bearer: "{{ .tokn }}" }
checks:
  - name: a
    steps: [{ request: { url: /login }, capture: { token: { json: $.token } } }]
  - name: b
    steps: [{ request: { url: /health } }]
`)
	wantErrors(t, got, `checks.yaml:4:19: defaults.auth.bearer: template "{{ .tokn }}": no check of the file captures "tokn" (captures: token)`)
}

// auth and an Authorization header are one field: the more specific one
// wins, whichever form it takes.
func TestAuthAndAuthorizationHeaderAreOneField(t *testing.T) {
	cs := loadChecks(t, `
defaults:
  base_url: http://127.0.0.1:1
  auth: { bearer: from-defaults }
  headers: { Authorization: Basic ZGVmYXVsdHM= }
checks:
  - name: own-header
    request: { headers: { authorization: Token mine } }
    steps: [{ request: { url: /a } }]
  - name: own-auth
    request: { auth: { bearer: mine } }
    steps: [{ request: { url: /a } }]
  - name: step-header
    steps: [{ request: { url: /a, headers: { AUTHORIZATION: Token step } } }]
`)
	for _, tc := range []struct {
		check, header, bearer string
	}{
		{"own-header", "Token mine", ""},
		{"own-auth", "", "mine"},
		{"step-header", "Token step", ""},
	} {
		var c *Check
		for _, x := range cs {
			if x.Name == tc.check {
				c = x
			}
		}
		r := c.Steps[0].Request
		header := ""
		for k, v := range r.Headers {
			if http.CanonicalHeaderKey(k) == "Authorization" {
				header = v.Raw
			}
		}
		bearer := ""
		if r.Auth != nil && r.Auth.Bearer != nil {
			bearer = r.Auth.Bearer.Raw
		}
		if header != tc.header || bearer != tc.bearer {
			t.Errorf("%s: Authorization %q, bearer %q; want %q, %q", tc.check, header, bearer, tc.header, tc.bearer)
		}
	}
}

// Relative URLs are resolved against base_url as RFC 3986 §5 says.
func TestRelativeURLResolvedAgainstBaseURL(t *testing.T) {
	for _, tc := range []struct{ base, ref, want string }{
		{"http://h.test/a/b", "/x", "http://h.test/x"},
		{"http://h.test/a/b", "x", "http://h.test/a/x"},
		{"http://h.test/a/b/", "x", "http://h.test/a/b/x"},
		{"http://h.test/a/b/c", "../x?q=1", "http://h.test/a/x?q=1"},
		{"http://h.test/a/b?old=1", "?q=2", "http://h.test/a/b?q=2"},
		{"http://h.test/a/b", "//other.test/x", "http://other.test/x"},
		{"https://h.test/a/", "https://abs.test/y", "https://abs.test/y"},
	} {
		c := loadCheck(t, "checks:\n  - name: a\n    request: { base_url: \""+tc.base+"\" }\n    steps: [{ request: { url: \""+tc.ref+"\" } }]\n")
		if got := c.Steps[0].Request.URL.Raw; got != tc.want {
			t.Errorf("%s against %s: %s, want %s", tc.ref, tc.base, got, tc.want)
		}
	}
}

// A URL whose text starts relative needs a base_url, template or not: the
// error names the file, line, column and field.
func TestRelativeURLWithoutBaseURLIsALoadError(t *testing.T) {
	got := loadErrors(t, `
checks:
  - name: a
    vars: { id: "1" }
    steps:
      - request: { url: /documents/42 }
      - request: { url: "documents/{{ .vars.id }}" }
  - name: b
    contract: { type: method-not-allowed, url: /documents/1, allowed: [GET], methods: [POST] }
`)
	wantErrors(t, got,
		`checks.yaml:6:25: checks[0].steps[0].request.url: relative URL "/documents/42" and no base_url to resolve it against: set base_url in defaults (or in the check's request block), or write an absolute http or https URL`,
		`checks.yaml:7:25: checks[0].steps[1].request.url: relative URL "documents/{{ .vars.id }}" and no base_url to resolve it against: set base_url in defaults (or in the check's request block), or write an absolute http or https URL`,
		`checks.yaml:9:48: checks[1].contract.request.url: relative URL "/documents/1" and no base_url to resolve it against: set base_url in defaults (or in the check's request block), or write an absolute http or https URL`,
	)
}

// assay explain prints what the steps inherited, with base_url kept for
// the URLs that stay relative; the output loads back to the same requests
// and redacts the shared credential.
func TestExplainOfSharedSettingsLoadsBack(t *testing.T) {
	c := loadCheck(t, `
defaults:
  base_url: http://127.0.0.1:1/api/
  headers: { Accept: application/json }
  auth: { bearer: literal-shared-token }
checks:
  - name: a
    request: { headers: { If-Match: "{{ .etag }}" } }
    steps:
      - { name: read, request: { url: doc }, capture: { etag: { header: ETag } } }
      - { name: write, request: { method: PUT, url: "doc/{{ .etag }}" } }
`)
	out, err := Explain(c)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "literal-shared-token") {
		t.Errorf("explain shows the token:\n%s", out)
	}
	again := loadCheck(t, string(out))
	for i, s := range again.Steps {
		orig := c.Steps[i].Request
		if s.Request.URL.Raw != orig.URL.Raw || len(s.Request.Headers) != len(orig.Headers) || s.Request.Auth == nil {
			t.Errorf("step %s: %q %v, want %q %v\n%s", s.Name, s.Request.URL.Raw, s.Request.Headers, orig.URL.Raw, orig.Headers, out)
		}
	}
	if got := again.Steps[0].Request.URL.Raw; got != "http://127.0.0.1:1/api/doc" {
		t.Errorf("read URL %s", got)
	}
	if _, ok := again.Steps[0].Request.Headers["If-Match"]; ok {
		t.Errorf("the read step sends If-Match before the capture:\n%s", out)
	}
}
