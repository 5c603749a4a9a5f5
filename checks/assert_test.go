package checks

import (
	"crypto/tls"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

// canned is a response an httptest server returns.
type canned struct {
	status  int
	headers [][2]string // in order; a repeated name is a multi-valued header
	body    string
}

func (c canned) serve(t *testing.T) *httptest.Server {
	return serve(t, func(w http.ResponseWriter, r *http.Request) {
		for _, h := range c.headers {
			w.Header().Add(h[0], h[1])
		}
		if c.status != 0 {
			w.WriteHeader(c.status)
		}
		io.WriteString(w, c.body)
	})
}

// failure is what a failing assertion must report.
type failure struct {
	msg, expected, actual string
	// actualRe replaces actual when the value depends on the clock.
	actualRe string
}

func fails(msg, expected, actual string) *failure {
	return &failure{msg: msg, expected: expected, actual: actual}
}

type assertCase struct {
	name   string
	resp   canned
	expect string // the step's expect block, YAML flow style
	want   *failure
}

var (
	headersResp = canned{headers: [][2]string{
		{"X-Request-Id", "abc-123"},
		{"Vary", "Accept"},
		{"Vary", "Origin"},
		{"Content-Type", "application/json"},
	}, body: "hello"}
	helloResp = canned{body: "hello"}
	emptyResp = canned{status: 204}
	docResp   = canned{headers: [][2]string{{"Content-Type", "application/json"}}, body: `{
		"id": 42, "sid": "42", "name": "widget", "price": 9.5, "tags": ["a", "b"],
		"items": [{"id": 1}, {"id": 2}], "none": [], "meta": {"k": "v"}, "nil": null, "ok": true}`}
)

var statusCases = []assertCase{
	{"exact pass", canned{status: 204}, `{ status: 204 }`, nil},
	{"exact fail", canned{status: 200}, `{ status: 204 }`,
		fails("status: expected 204, got 200", "204", "200")},
	{"list pass", canned{status: 201}, `{ status: [200, 201] }`, nil},
	{"list fail", canned{status: 404}, `{ status: [200, 201] }`,
		fails("status: expected one of 200, 201, got 404", "one of 200, 201", "404")},
	{"class pass", canned{status: 204}, `{ status: 2xx }`, nil},
	{"class fail", canned{status: 500}, `{ status: 2xx }`,
		fails("status: expected 2xx, got 500", "2xx", "500")},
	{"range pass", canned{status: 304}, `{ status: "300-399" }`, nil},
	{"range fail", canned{status: 200}, `{ status: "300-399" }`,
		fails("status: expected 300-399, got 200", "300-399", "200")},
	{"list of class and code pass", canned{status: 404}, `{ status: [2xx, 404] }`, nil},
}

var headerCases = []assertCase{
	{"exists pass", headersResp, `{ headers: { X-Request-Id: { exists: true } } }`, nil},
	{"exists fail", headersResp, `{ headers: { X-Missing: { exists: true } } }`,
		fails("header X-Missing: expected to exist, got nothing", "to exist", "nothing")},
	{"absent pass", headersResp, `{ headers: { X-Missing: { absent: true } } }`, nil},
	{"absent fail", headersResp, `{ headers: { X-Request-Id: { absent: true } } }`,
		fails(`header X-Request-Id: expected to be absent, got "abc-123"`, "to be absent", `"abc-123"`)},
	{"exists false fail", headersResp, `{ headers: { X-Request-Id: { exists: false } } }`,
		fails(`header X-Request-Id: expected to be absent, got "abc-123"`, "to be absent", `"abc-123"`)},
	{"equals pass, bare value, lower-case name", headersResp, `{ headers: { x-request-id: abc-123 } }`, nil},
	// Matching is case-insensitive; messages keep the name as written.
	{"equals fail, upper-case name", headersResp, `{ headers: { X-REQUEST-ID: { equals: abc-999 } } }`,
		fails(`header X-REQUEST-ID: expected "abc-999", got "abc-123"`, `"abc-999"`, `"abc-123"`)},
	{"equals number as text", headersResp, `{ headers: { Content-Length: 5 } }`, nil},
	{"equals number as text fail", headersResp, `{ headers: { Content-Length: 6 } }`,
		fails(`header Content-Length: expected "6", got "5"`, `"6"`, `"5"`)},
	{"not_equals pass", headersResp, `{ headers: { X-Request-Id: { not_equals: xyz } } }`, nil},
	{"not_equals fail", headersResp, `{ headers: { X-Request-Id: { not_equals: abc-123 } } }`,
		fails(`header X-Request-Id: expected not "abc-123", got "abc-123"`, `not "abc-123"`, `"abc-123"`)},
	{"not_equals on an absent header fails", headersResp, `{ headers: { X-Missing: { not_equals: abc } } }`,
		fails(`header X-Missing: expected not "abc", got nothing`, `not "abc"`, "nothing")},
	{"contains pass", headersResp, `{ headers: { content-type: { contains: json } } }`, nil},
	{"contains fail", headersResp, `{ headers: { Content-Type: { contains: xml } } }`,
		fails(`header Content-Type: expected to contain "xml", got "application/json"`, `to contain "xml"`, `"application/json"`)},
	{"matches pass", headersResp, `{ headers: { X-Request-Id: { matches: '^abc-\d+$' } } }`, nil},
	{"matches fail", headersResp, `{ headers: { X-Request-Id: { matches: '^xyz' } } }`,
		fails(`header X-Request-Id: expected to match "^xyz", got "abc-123"`, `to match "^xyz"`, `"abc-123"`)},
	{"multi-valued: one field line equals", headersResp, `{ headers: { Vary: Origin } }`, nil},
	{"multi-valued: joined value equals", headersResp, `{ headers: { Vary: "Accept, Origin" } }`, nil},
	{"multi-valued: one line matches", headersResp, `{ headers: { vary: { matches: '^Accept$' } } }`, nil},
	{"multi-valued: contains", headersResp, `{ headers: { Vary: { contains: Orig } } }`, nil},
	{"multi-valued: equals fail", headersResp, `{ headers: { Vary: Cookie } }`,
		fails(`header Vary: expected "Cookie", got "Accept, Origin"`, `"Cookie"`, `"Accept, Origin"`)},
	{"multi-valued: not_contains fails when any line contains", headersResp, `{ headers: { Vary: { not_contains: Origin } } }`,
		fails(`header Vary: expected not to contain "Origin", got "Accept, Origin"`, `not to contain "Origin"`, `"Accept, Origin"`)},
	{"multi-valued: not_equals one line fails", headersResp, `{ headers: { Vary: { not_equals: Origin } } }`,
		fails(`header Vary: expected not "Origin", got "Origin"`, `not "Origin"`, `"Origin"`)},
}

var bodyCases = []assertCase{
	{"equals pass", helloResp, `{ body: { equals: hello } }`, nil},
	{"equals fail", helloResp, `{ body: { equals: goodbye } }`,
		fails(`body: expected "goodbye", got "hello"`, `"goodbye"`, `"hello"`)},
	{"contains pass", helloResp, `{ body: { contains: ell } }`, nil},
	{"contains fail", helloResp, `{ body: { contains: xyz } }`,
		fails(`body: expected to contain "xyz", got "hello"`, `to contain "xyz"`, `"hello"`)},
	{"not_contains pass", helloResp, `{ body: { not_contains: xyz } }`, nil},
	{"not_contains fail", helloResp, `{ body: { not_contains: ell } }`,
		fails(`body: expected not to contain "ell", got "hello"`, `not to contain "ell"`, `"hello"`)},
	{"matches pass", helloResp, `{ body: { matches: '^h\w+o$' } }`, nil},
	{"matches fail", helloResp, `{ body: { matches: '^\d+$' } }`,
		fails(`body: expected to match "^\\d+$", got "hello"`, `to match "^\\d+$"`, `"hello"`)},
	{"empty pass", emptyResp, `{ body: { empty: true } }`, nil},
	{"empty fail", helloResp, `{ body: { empty: true } }`,
		fails(`body: expected empty, got "hello"`, "empty", `"hello"`)},
	{"not empty pass", helloResp, `{ body: { empty: false } }`, nil},
	{"not empty fail", emptyResp, `{ body: { empty: false } }`,
		fails(`body: expected not empty, got empty body`, "not empty", "empty body")},
	{"size pass", helloResp, `{ body: { size: 5 } }`, nil},
	{"size range pass", helloResp, `{ body: { size: { gte: 1, lt: 6 } } }`, nil},
	{"size fail", helloResp, `{ body: { size: 3 } }`,
		fails("body size: expected 3, got 5", "3", "5")},
	{"size gt fail", helloResp, `{ body: { size: { gt: 10 } } }`,
		fails("body size: expected > 10, got 5", "> 10", "5")},
}

var jsonCases = []assertCase{
	// typed equals: "42" and 42 differ
	{"equals number pass", docResp, `{ json: { "$.id": 42 } }`, nil},
	{"equals string pass", docResp, `{ json: { "$.sid": "42" } }`, nil},
	{"equals number vs string fail", docResp, `{ json: { "$.sid": 42 } }`,
		fails(`json $.sid: expected 42, got "42"`, "42", `"42"`)},
	{"equals string vs number fail", docResp, `{ json: { "$.id": { equals: "42" } } }`,
		fails(`json $.id: expected "42", got 42`, `"42"`, "42")},
	{"equals float pass", docResp, `{ json: { "$.price": 9.5 } }`, nil},
	{"equals bool and null pass", docResp, `{ json: { "$.ok": true, "$.nil": null } }`, nil},
	{"equals bool vs string fail", docResp, `{ json: { "$.ok": "true" } }`,
		fails(`json $.ok: expected "true", got true`, `"true"`, "true")},
	{"equals object pass", docResp, `{ json: { "$.meta": { equals: { k: v } }, "$.items[0]": { equals: { id: 1 } } } }`, nil},
	{"equals array pass", docResp, `{ json: { "$.tags": [a, b] } }`, nil},
	{"equals array fail", docResp, `{ json: { "$.tags": [b, a] } }`,
		fails(`json $.tags: expected ["b","a"], got ["a","b"]`, `["b","a"]`, `["a","b"]`)},
	{"not_equals pass: string is not the number", docResp, `{ json: { "$.id": { not_equals: "42" } } }`, nil},
	{"not_equals fail", docResp, `{ json: { "$.id": { not_equals: 42 } } }`,
		fails(`json $.id: expected not 42, got 42`, "not 42", "42")},
	{"exists pass", docResp, `{ json: { "$.nil": { exists: true } } }`, nil},
	{"exists fail", docResp, `{ json: { "$.missing": { exists: true } } }`,
		fails(`json $.missing: expected to exist, got nothing`, "to exist", "nothing")},
	{"absent pass", docResp, `{ json: { "$.missing": { absent: true } } }`, nil},
	{"absent fail", docResp, `{ json: { "$.name": { absent: true } } }`,
		fails(`json $.name: expected to be absent, got "widget"`, "to be absent", `"widget"`)},
	{"type pass", docResp, `{ json: { "$.id": { type: integer }, "$.price": { type: number }, "$.tags": { type: array }, "$.meta": { type: object }, "$.nil": { type: "null" }, "$.ok": { type: boolean }, "$.sid": { type: string } } }`, nil},
	{"type fail", docResp, `{ json: { "$.price": { type: integer } } }`,
		fails(`json $.price: expected type integer, got 9.5`, "type integer", "9.5")},
	{"type of missing fail", docResp, `{ json: { "$.missing": { type: string } } }`,
		fails(`json $.missing: expected type string, got nothing`, "type string", "nothing")},
	{"length pass", docResp, `{ json: { "$.tags": { length: 2 }, "$.name": { length: 6 }, "$.meta": { length: 1 } } }`, nil},
	{"length fail", docResp, `{ json: { "$.tags": { length: { gte: 3 } } } }`,
		fails(`json $.tags length: expected >= 3, got 2`, ">= 3", "2")},
	{"length of a number fail", docResp, `{ json: { "$.id": { length: 2 } } }`,
		fails(`json $.id length: expected a string, array or object, got 42`, "a string, array or object", "42")},
	{"gt gte lt lte pass", docResp, `{ json: { "$.price": { gt: 9, gte: 9.5, lt: 10, lte: 9.5 } } }`, nil},
	{"gt fail", docResp, `{ json: { "$.price": { gt: 10 } } }`,
		fails(`json $.price: expected > 10, got 9.5`, "> 10", "9.5")},
	{"gte fail", docResp, `{ json: { "$.price": { gte: 10 } } }`,
		fails(`json $.price: expected >= 10, got 9.5`, ">= 10", "9.5")},
	{"lt fail", docResp, `{ json: { "$.price": { lt: 9.5 } } }`,
		fails(`json $.price: expected < 9.5, got 9.5`, "< 9.5", "9.5")},
	{"lte fail", docResp, `{ json: { "$.price": { lte: 9 } } }`,
		fails(`json $.price: expected <= 9, got 9.5`, "<= 9", "9.5")},
	{"gt on a non-number fail", docResp, `{ json: { "$.name": { gt: 1 } } }`,
		fails(`json $.name: expected > 1, got "widget"`, "> 1", `"widget"`)},
	{"contains pass (array, string, object key)", docResp, `{ json: { "$.tags": { contains: a }, "$.name": { contains: idg }, "$.meta": { contains: k } } }`, nil},
	{"contains fail", docResp, `{ json: { "$.tags": { contains: z } } }`,
		fails(`json $.tags: expected to contain "z", got ["a","b"]`, `to contain "z"`, `["a","b"]`)},
	{"not_contains pass", docResp, `{ json: { "$.tags": { not_contains: z } } }`, nil},
	{"not_contains fail", docResp, `{ json: { "$.tags": { not_contains: a } } }`,
		fails(`json $.tags: expected not to contain "a", got ["a","b"]`, `not to contain "a"`, `["a","b"]`)},
	{"matches pass", docResp, `{ json: { "$.name": { matches: '^wid' }, "$.id": { matches: '^\d+$' } } }`, nil},
	{"matches fail", docResp, `{ json: { "$.name": { matches: '^x' } } }`,
		fails(`json $.name: expected to match "^x", got "widget"`, `to match "^x"`, `"widget"`)},
	{"in pass", docResp, `{ json: { "$.name": { in: [gadget, widget] }, "$.id": { in: [41, 42] } } }`, nil},
	{"in fail: typed", docResp, `{ json: { "$.id": { in: ["42", 43] } } }`,
		fails(`json $.id: expected one of ["42",43], got 42`, `one of ["42",43]`, "42")},
	{"empty pass", docResp, `{ json: { "$.none": { empty: true }, "$.tags": { empty: false } } }`, nil},
	{"empty fail", docResp, `{ json: { "$.tags": { empty: true } } }`,
		fails(`json $.tags: expected empty, got ["a","b"]`, "empty", `["a","b"]`)},
	{"not empty fail", docResp, `{ json: { "$.none": { empty: false } } }`,
		fails(`json $.none: expected not empty, got []`, "not empty", "[]")},
	// Non-singular paths select a list of nodes.
	{"non-singular equals pass", docResp, `{ json: { "$.items[*].id": [1, 2] } }`, nil},
	{"non-singular contains and length pass", docResp, `{ json: { "$.items[*].id": { contains: 2, length: 2 } } }`, nil},
	{"non-singular contains fail", docResp, `{ json: { "$.items[*].id": { contains: 3 } } }`,
		fails(`json $.items[*].id: expected to contain 3, got [1,2] (2 nodes selected)`, "to contain 3", "[1,2]")},
	// One node compares like that node (jsonpath_list_test.go has more).
	{"non-singular one node is that node", docResp, `{ json: { "$.items[?@.id==1].id": 1 } }`, nil},
	{"non-singular no match fail", docResp, `{ json: { "$.items[*].zzz": { exists: true } } }`,
		fails(`json $.items[*].zzz: expected to exist, got nothing (0 nodes selected)`, "to exist", "nothing")},
	{"non-singular no match absent pass", docResp, `{ json: { "$.items[*].zzz": { absent: true } } }`, nil},
	{"body is not JSON", helloResp, `{ json: { "$.id": 42 } }`,
		fails(`json $.id: expected a JSON body, got response body is not JSON: invalid character 'h' looking for beginning of value`,
			"a JSON body", "response body is not JSON: invalid character 'h' looking for beginning of value")},
	{"empty body is not JSON", emptyResp, `{ json: { "$.id": { absent: true } } }`,
		fails(`json $.id: expected a JSON body, got response body is empty, not JSON`, "a JSON body", "response body is empty, not JSON")},
}

var schemaCases = []assertCase{
	{"inline pass", docResp, `{ json_schema: { type: object, required: [id, name], properties: { id: { type: integer } } } }`, nil},
	{"inline fail", docResp, `{ json_schema: { type: object, required: [id, title], properties: { name: { type: integer } } } }`,
		fails(`json schema: expected valid against inline schema, got at /: missing property 'title'; at /name: got string, want integer`,
			"valid against inline schema", "at /: missing property 'title'; at /name: got string, want integer")},
	{"file pass", docResp, `{ json_schema: "${SCHEMA_DIR}/doc.schema.json" }`, nil},
	{"file fail", canned{body: `{"id": "x"}`}, `{ json_schema: "${SCHEMA_DIR}/doc.schema.json" }`,
		fails(`json schema: expected valid against ${SCHEMA_DIR}/doc.schema.json, got at /id: got string, want integer`,
			"valid against ${SCHEMA_DIR}/doc.schema.json", "at /id: got string, want integer")},
	{"not JSON", helloResp, `{ json_schema: { type: object } }`,
		fails(`json schema: expected valid against inline schema, got response body is not JSON: invalid character 'h' looking for beginning of value`,
			"valid against inline schema", "response body is not JSON: invalid character 'h' looking for beginning of value")},
}

var timeCases = []assertCase{
	{"response_time pass", helloResp, `{ response_time: 10s }`, nil},
	// No real request answers in a nanosecond.
	{"response_time fail", helloResp, `{ response_time: 1ns }`,
		&failure{msg: "response time: expected <= 1ns, got ", expected: "<= 1ns", actualRe: `^[0-9.]+(µs|ms|s)$`}},
	{"tls on plain HTTP fails", helloResp, `{ tls: { days_remaining: { gt: 30 } } }`,
		fails("tls days_remaining: expected a TLS connection, got plain HTTP", "a TLS connection", "plain HTTP")},
}

func TestAssertions(t *testing.T) {
	dir := t.TempDir()
	schema := `{"type": "object", "required": ["id"], "properties": {"id": {"type": "integer"}}}`
	if err := os.WriteFile(filepath.Join(dir, "doc.schema.json"), []byte(schema), 0o600); err != nil {
		t.Fatal(err)
	}
	groups := []struct {
		name  string
		cases []assertCase
	}{
		{"status", statusCases}, {"headers", headerCases}, {"body", bodyCases},
		{"json", jsonCases}, {"json_schema", schemaCases}, {"time", timeCases},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.cases {
				t.Run(tc.name, func(t *testing.T) {
					srv := tc.resp.serve(t)
					c := loadCheck(t, oneStep(tc.expect), "BASE", srv.URL, "SCHEMA_DIR", dir)
					res := runCheck(t, c)
					want := tc.want
					if want != nil {
						w := *want
						for _, s := range []*string{&w.msg, &w.expected, &w.actual} {
							*s = os.Expand(*s, func(string) string { return dir })
						}
						want = &w
					}
					checkOutcome(t, res, "probe", want)
				})
			}
		})
	}
}

// checkOutcome asserts that res passed (want nil) or failed on exactly one
// assertion with the wanted message, expected and actual, and that the
// step and the attempt report the message with the step name.
func checkOutcome(t *testing.T, res *Result, step string, want *failure) {
	t.Helper()
	if len(res.Attempts) != 1 {
		t.Fatalf("want 1 attempt, got %d", len(res.Attempts))
	}
	steps := res.Steps()
	if len(steps) != 1 || len(steps[0].Assertions) == 0 {
		t.Fatalf("want one step with assertions, got %s", dump(res))
	}
	if want == nil {
		if !res.Passed || res.Reason != ReasonNone || res.Message != "" {
			t.Fatalf("want pass, got reason %q: %s", res.Reason, res.Message)
		}
		for _, a := range steps[0].Assertions {
			if !a.Passed || a.Message != "" {
				t.Errorf("assertion %+v", a)
			}
		}
		return
	}
	if res.Passed || res.Reason != ReasonAssertion {
		t.Fatalf("want an assertion failure, got passed=%v reason=%q %s", res.Passed, res.Reason, res.Message)
	}
	fa := failedAssertions(res)
	if len(fa) != 1 {
		t.Fatalf("want 1 failed assertion, got %+v", fa)
	}
	a := fa[0]
	msg := want.msg
	if want.actualRe != "" {
		if !regexp.MustCompile(want.actualRe).MatchString(a.Actual) {
			t.Errorf("actual %q does not match %s", a.Actual, want.actualRe)
		}
		// A failed response time must read as over the limit.
		if got, err := time.ParseDuration(a.Actual); err == nil && got <= 1 {
			t.Errorf("actual %q reads as within the limit", a.Actual)
		}
		msg += a.Actual
	} else if a.Actual != want.actual {
		t.Errorf("actual:\n got  %s\n want %s", a.Actual, want.actual)
	}
	if a.Message != msg {
		t.Errorf("message:\n got  %s\n want %s", a.Message, msg)
	}
	if a.Expected != want.expected {
		t.Errorf("expected:\n got  %s\n want %s", a.Expected, want.expected)
	}
	if s := steps[0]; s.Passed || s.Reason != ReasonAssertion || s.Message != msg {
		t.Errorf("step: passed=%v reason=%q message=%q", s.Passed, s.Reason, s.Message)
	}
	if wantMsg := fmt.Sprintf("step %q: %s", step, msg); res.Message != wantMsg || res.Attempts[0].Message != wantMsg {
		t.Errorf("result message:\n got  %s\n want %s", res.Message, wantMsg)
	}
}

// TestSeveralFailedAssertions: the message names the first failure and
// counts the others; every assertion is in the result.
func TestSeveralFailedAssertions(t *testing.T) {
	srv := docResp.serve(t)
	c := loadCheck(t, oneStep(`{ status: 201, json: { "$.id": 41, "$.name": widget, "$.ok": false } }`), "BASE", srv.URL)
	res := runCheck(t, c)
	want := `step "probe": status: expected 201, got 200 (and 2 more failed assertions)`
	if res.Passed || res.Message != want {
		t.Fatalf("got %q, want %q", res.Message, want)
	}
	if n := len(res.Steps()[0].Assertions); n != 4 {
		t.Errorf("want 4 assertion results, got %d", n)
	}
}

// tlsServer starts an httptest TLS server that logs nothing.
func tlsServer(t *testing.T, h http.HandlerFunc) *httptest.Server {
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// writeCA writes the server's certificate as a PEM CA file.
func writeCA(t *testing.T, srv *httptest.Server) string {
	p := filepath.Join(t.TempDir(), "ca.pem")
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTLSDaysRemaining(t *testing.T) {
	srv := tlsServer(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	ca := writeCA(t, srv)
	cases := []struct {
		name, tls, expect string
		fail              bool
	}{
		{"skip verify pass", `{ insecure_skip_verify: true }`, `{ tls: { days_remaining: { gt: 30 } } }`, false},
		{"ca_file pass", `{ ca_file: "${CA}" }`, `{ status: 200, tls: { days_remaining: { gte: 30 } } }`, false},
		{"fail", `{ ca_file: "${CA}" }`, `{ tls: { days_remaining: { lt: 30 } } }`, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := loadCheck(t, `
checks:
  - name: cert
    steps:
      - name: probe
        request: { url: "${BASE}/", tls: `+tc.tls+` }
        expect: `+tc.expect+`
`, "BASE", srv.URL, "CA", ca)
			res := runCheck(t, c)
			step := res.Steps()[0]
			if step.TLS == nil {
				t.Fatalf("no TLS info: %s", dump(res))
			}
			wantDays := srv.Certificate().NotAfter.Sub(res.Started).Hours() / 24
			if math.Abs(step.TLS.DaysRemaining-wantDays) > 0.01 || step.TLS.Version != tls.VersionName(tls.VersionTLS13) {
				t.Errorf("TLS info %+v, want about %.2f days", step.TLS, wantDays)
			}
			if !tc.fail {
				checkOutcome(t, res, "probe", nil)
				return
			}
			got := (&response{}).formatValue(math.Floor(step.TLS.DaysRemaining*10) / 10)
			checkOutcome(t, res, "probe", fails("tls days_remaining: expected < 30, got "+got, "< 30", got))
		})
	}
}
