package checks

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/assay-monitor/assay/internal/demoapi"
)

const conditionalUpdate = `
checks:
  - name: contract
    semantics: strict
    vars: { base: "${BASE}" }
    contract:
      type: conditional-update
      url: "{{ .vars.base }}/documents/42"
      json: { title: "synthetic probe" }
      write_etag: required
      require_precondition: true
`

func stepNames(c *Check) []string {
	var out []string
	for _, s := range c.Steps {
		out = append(out, s.Name)
	}
	return out
}

func TestConditionalUpdateExpansion(t *testing.T) {
	c := loadCheck(t, conditionalUpdate, "BASE", "http://127.0.0.1:1")
	want := []string{
		"read: GET returns a strong ETag",
		"conditional write: PATCH with If-Match succeeds with a new ETag",
		"stale write: PATCH with the old If-Match gets 412",
		"unchanged: GET shows the ETag of the successful write",
		"unconditional write: PATCH without If-Match gets 428",
		"revalidate: If-None-Match with the current ETag gets 304",
	}
	if got := stepNames(c); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("steps:\n%s", strings.Join(got, "\n"))
	}
	if len(c.Contract.Steps()) != 6 {
		t.Errorf("Contract.Steps() = %d", len(c.Contract.Steps()))
	}
	methods := []string{}
	for _, s := range c.Steps {
		methods = append(methods, s.Request.Method+" "+s.Request.Headers["If-Match"].Raw+s.Request.Headers["If-None-Match"].Raw)
	}
	if got := strings.Join(methods, "|"); got != "GET |PATCH {{ .etag }}|PATCH {{ .etag }}|GET |PATCH |GET {{ .updated_etag }}" {
		t.Errorf("requests: %s", got)
	}
	if c.Steps[1].Expect.Status.Raw != "204" || c.Steps[1].Expect.Body == nil || c.Steps[0].Expect.ETag != ETagStrong {
		t.Errorf("expectations: %+v", c.Steps[1].Expect)
	}

	// Options: PUT, a 200 write, no 428 step, no 304 step, own steps first.
	c = loadCheck(t, `
checks:
  - name: contract
    steps:
      - name: login
        request: { method: POST, url: "http://127.0.0.1:1/login" }
        capture: { token: { json: "$.token" } }
    contract:
      type: conditional-update
      url: http://127.0.0.1:1/things/1
      method: put
      headers: { Authorization: "Bearer {{ .token }}" }
      body: '{"a":1}'
      expect_status: 200
      not_modified: false
`)
	got := stepNames(c)
	if len(got) != 6 || got[0] != "login" || !strings.Contains(got[2], "PUT with If-Match") || got[3] != "read after write: GET returns a new strong ETag" {
		t.Fatalf("steps: %v", got)
	}
	w := c.Steps[2]
	if w.Request.Method != "PUT" || w.Expect.Status.Raw != "200" || w.Expect.Body != nil || w.Request.Body.Raw != `{"a":1}` ||
		w.Request.Headers["Authorization"].Raw != "Bearer {{ .token }}" {
		t.Errorf("write step: %+v", w.Request)
	}
}

func TestContractLoadErrors(t *testing.T) {
	cases := []struct{ name, contract, want string }{
		{"no type", "url: http://x/y", "checks.yaml:4:7: checks[0].contract.type: a contract needs a type: conditional-update or method-not-allowed"},
		{"unknown type", "type: conditional-delete\n      url: http://x/y", `checks.yaml:4:13: checks[0].contract.type: unknown contract type "conditional-delete" (valid: conditional-update, method-not-allowed)`},
		{"no url", "type: conditional-update\n      json: {a: 1}", "checks[0].contract.url: a contract needs the url of the resource"},
		{"no content", "type: conditional-update\n      url: http://x/y", "a conditional-update contract needs the content of the write: body or json"},
		{"bad method", "type: conditional-update\n      url: http://x/y\n      method: POST\n      json: {a: 1}", `checks.yaml:6:15: checks[0].contract.method: expected PATCH or PUT, got "POST"`},
		{"own If-Match", "type: conditional-update\n      url: http://x/y\n      json: {a: 1}\n      headers: { If-Match: '*' }", "the contract sets If-Match itself"},
		{"mixed fields", "type: conditional-update\n      url: http://x/y\n      json: {a: 1}\n      allowed: [GET]", "allowed and methods belong to the method-not-allowed contract"},
		{"unknown field", "type: conditional-update\n      url: http://x/y\n      jsn: {a: 1}", `unknown field "jsn" (did you mean "json"?)`},
		{"no methods", "type: method-not-allowed\n      url: http://x/y\n      allowed: [GET]", "checks[0].contract.methods: list the methods to try"},
		{"no allowed", "type: method-not-allowed\n      url: http://x/y\n      methods: [POST]", "checks[0].contract.allowed: list the methods the resource supports"},
		{"allowed and tried", "type: method-not-allowed\n      url: http://x/y\n      allowed: [GET, POST]\n      methods: [POST]", "POST is both allowed and tried for a 405"},
		{"bad url once", "type: conditional-update\n      url: not-a-url\n      json: {a: 1}", `relative URL "not-a-url" and no base_url to resolve it against`},
		{"unknown var", "type: conditional-update\n      url: \"{{ .vars.nope }}/x\"\n      json: {a: 1}", `unknown var "nope"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := "checks:\n  - name: x\n    contract:\n" + "      " + c.contract + "\n"
			_, errs := LoadOptions{LookupEnv: envMap()}.parse("checks.yaml", []byte(src))
			var lines []string
			for _, e := range errs {
				lines = append(lines, e.Error())
			}
			all := strings.Join(lines, "\n")
			if !strings.Contains(all, c.want) {
				t.Fatalf("errors:\n%s\nwant one containing:\n%s", all, c.want)
			}
			if n := strings.Count(all, c.want); n > 1 {
				t.Errorf("reported %d times:\n%s", n, all)
			}
		})
	}
	// A capture name the contract needs is taken by an earlier step.
	_, errs := LoadOptions{LookupEnv: envMap()}.parse("checks.yaml", []byte(`checks:
  - name: x
    steps:
      - { name: a, request: { url: "http://x/" }, capture: { etag: { header: ETag } } }
    contract: { type: conditional-update, url: "http://x/y", json: {a: 1} }
`))
	if !strings.Contains(errs.Error(), `an earlier step captures "etag"`) {
		t.Errorf("errors: %v", errs)
	}
}

// TestConditionalUpdateAgainstDemoAPI: the contract passes against the
// correct demo API with no finding, and each fault fails it at the right
// step, for the right reason.
func TestConditionalUpdateAgainstDemoAPI(t *testing.T) {
	cases := []struct {
		fault          demoapi.Fault
		step           string
		reason         Reason
		messageHasPart string
	}{
		{demoapi.FaultNone, "", "", ""},
		{demoapi.FaultIgnoreIfMatch, "stale write: PATCH with the old If-Match gets 412", ReasonAssertion, "status: expected 412, got 204"},
		{demoapi.FaultNoETag, "read: GET returns a strong ETag", ReasonAssertion, "got no ETag header"},
		{demoapi.FaultBodyOn204, "conditional write: PATCH with If-Match succeeds with a new ETag", ReasonSemantics, "rfc9110/204-content-length (RFC 9110 §8.6, MUST)"},
		{demoapi.FaultError, "conditional write: PATCH with If-Match succeeds with a new ETag", ReasonAssertion, "status: expected 204, got 500"},
	}
	for _, tc := range cases {
		name := string(tc.fault)
		if name == "" {
			name = "none"
		}
		t.Run(name, func(t *testing.T) {
			srv := serve(t, demoapi.New(demoapi.Options{Fault: tc.fault}).ServeHTTP)
			res := runCheck(t, loadCheck(t, conditionalUpdate, "BASE", srv.URL))
			if tc.step == "" {
				if !res.Passed {
					t.Fatalf("%s", dump(res))
				}
				for _, s := range res.Steps() {
					if len(s.Findings) > 0 {
						t.Errorf("%s: findings %+v", s.Name, s.Findings)
					}
				}
				return
			}
			fs := res.FailedStep()
			if res.Passed || fs == nil || fs.Name != tc.step || fs.Reason != tc.reason || !strings.Contains(fs.Message, tc.messageHasPart) {
				t.Fatalf("want failure at %q (%s: %s), got\n%s", tc.step, tc.reason, tc.messageHasPart, dump(res))
			}
		})
	}
}

// TestConditionalUpdateWeakETag: a weak ETag offered for If-Match is
// reported as such.
func TestConditionalUpdateWeakETag(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `W/"v1"`)
		io.WriteString(w, "{}")
	})
	res := runCheck(t, loadCheck(t, conditionalUpdate, "BASE", srv.URL))
	fs := res.FailedStep()
	if fs == nil || fs.Name != "read: GET returns a strong ETag" {
		t.Fatalf("%s", dump(res))
	}
	a := failedAssertions(res)[0]
	if a.Name != "etag" || a.Actual != `weak W/"v1"` || !strings.Contains(a.Message, "a weak tag never matches If-Match") || !strings.Contains(a.Message, "RFC 9110 §13.1.1") {
		t.Errorf("assertion %+v", a)
	}
}

const methodNotAllowed = `
checks:
  - name: mna
    semantics: strict
    contract:
      type: method-not-allowed
      url: "${BASE}/documents/1"
      allowed: [GET, HEAD, PATCH, PUT, DELETE]
      methods: [POST, post]
`

func TestMethodNotAllowedContract(t *testing.T) {
	t.Run("demo API", func(t *testing.T) {
		srv := serve(t, demoapi.New(demoapi.Options{}).ServeHTTP)
		c := loadCheck(t, methodNotAllowed, "BASE", srv.URL)
		if got := stepNames(c); len(got) != 1 || got[0] != "POST is not allowed: 405 with Allow" {
			t.Fatalf("steps %v", got)
		}
		if res := runCheck(t, c); !res.Passed || len(res.Steps()[0].Findings) > 0 {
			t.Fatalf("%s", dump(res))
		}
	})
	for _, tc := range []struct{ name, allow, message string }{
		{"Allow lists the method", "GET, HEAD, PATCH, PUT, DELETE, POST", "(lists POST)"},
		{"Allow misses methods", "GET", "(missing DELETE, HEAD, PATCH, PUT)"},
		{"no Allow", "", "got no Allow header"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
				if tc.allow != "" {
					w.Header().Set("Allow", tc.allow)
				}
				w.WriteHeader(http.StatusMethodNotAllowed)
			})
			res := runCheck(t, loadCheck(t, methodNotAllowed, "BASE", srv.URL))
			fa := failedAssertions(res)
			if res.Passed || len(fa) != 1 || fa[0].Name != "header Allow" || !strings.Contains(fa[0].Message, tc.message) {
				t.Fatalf("%s", dump(res))
			}
			if tc.allow == "" {
				// The semantics rule says it too.
				if f := res.Steps()[0].Findings; len(f) != 1 || f[0].Rule != "rfc9110/405-allow" {
					t.Errorf("findings %+v", f)
				}
			}
		})
	}
}

// TestExplainRoundTrip: explain prints the expanded steps; the output is a
// check file that loads to the same steps and passes against the demo API.
func TestExplainRoundTrip(t *testing.T) {
	srv := serve(t, demoapi.New(demoapi.Options{}).ServeHTTP)
	c := loadCheck(t, conditionalUpdate+`    labels: { team: docs }
    tags: [contract]
    retries: 1
    slo: { objective: 0.9995, window: 4w }
`, "BASE", srv.URL)
	out, err := Explain(c)
	if err != nil {
		t.Fatal(err)
	}
	text := string(out)
	for _, want := range []string{
		"# check contract (checks.yaml:3:5)\n# contract conditional-update expanded into 6 steps\n",
		"      # step 1: from the conditional-update contract (checks.yaml:7:7)\n      - name: 'read: GET returns a strong ETag'\n",
		"          headers: {If-Match: '{{ .etag }}'}\n          json: {title: synthetic probe}\n",
		"          etag: strong\n        capture:\n          etag: {header: ETag}\n",
		"            ETag: '{{ .updated_etag }}'\n",
		"    semantics: strict\n",
		"      base: " + srv.URL + "\n",
		// The objective as a percentage, the window in days.
		"    slo: {objective: 99.95%, window: 28d}\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("explain output lacks\n%s\n--- output:\n%s", want, text)
		}
	}
	if strings.Contains(text, "contract:") {
		t.Errorf("the contract block is still there:\n%s", text)
	}
	again := loadCheck(t, text)
	if strings.Join(stepNames(again), "|") != strings.Join(stepNames(c), "|") || again.Contract != nil {
		t.Fatalf("reloaded steps %v", stepNames(again))
	}
	if res := runCheck(t, again); !res.Passed {
		t.Fatalf("reloaded check: %s", dump(res))
	}
	if again.SLO == nil || again.SLO.Objective != c.SLO.Objective || again.SLO.Window != c.SLO.Window {
		t.Errorf("reloaded slo %+v, want %+v", again.SLO, c.SLO)
	}
	// Explaining the reloaded check gives the same steps.
	out2, err := Explain(again)
	if err != nil {
		t.Fatal(err)
	}
	if strip(string(out2)) != strip(text) {
		t.Errorf("explain is not stable:\n%s\n---\n%s", out2, text)
	}
}

// strip drops comment lines, which name positions.
func strip(s string) string {
	var keep []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

func TestExplainRedactsSecrets(t *testing.T) {
	c := loadCheck(t, `
checks:
  - name: s
    vars: { token: "${API_TOKEN}" }
    steps:
      - name: a
        request:
          url: http://127.0.0.1:1/
          headers: { X-Token: "{{ .vars.token }}" }
          auth: { basic: { username: u, password: hunter2-literal } }
`, "API_TOKEN", "s3cr3t-value")
	out, err := Explain(c)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "s3cr3t-value") || strings.Contains(string(out), "hunter2-literal") {
		t.Fatalf("secret in explain output:\n%s", out)
	}
	if !strings.Contains(string(out), Redacted) {
		t.Errorf("no redaction marker:\n%s", out)
	}
	_ = context.Background
}
