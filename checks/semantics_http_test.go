package checks

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/assay-monitor/assay/checks/semantics"
	"github.com/assay-monitor/assay/internal/demoapi"
)

// rawResponder answers each request on a fresh connection with the raw
// bytes respond returns (after which the connection is closed), so a test
// can send what net/http's server refuses to: a 204 with Content-Length, a
// body shorter than its Content-Length, ...
func rawResponder(t *testing.T, respond func(r *http.Request) string) string {
	return rawServer(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, req.Body)
		_, _ = io.WriteString(c, respond(req))
	})
}

const httpDate = "Mon, 01 Jan 2024 00:00:00 GMT"

// semanticsBreakers break one rule each, as a Go client can observe it.
// The three rules about content the client never reads (204-no-content,
// 304-no-content, head-no-body) are covered at the Exchange level in
// checks/semantics; here they are shown not to be needed for a 204 body:
// its Content-Length gives it away.
var semanticsBreakers = []struct {
	rule     string
	path     string
	method   string
	header   string // request header line, "Name: value"
	response string // status line and headers; the body follows the blank line
	body     string
}{
	{"rfc9110/204-content-length", "/204", "PATCH", "", "HTTP/1.1 204 No Content\r\nContent-Length: 20\r\n", `{"status":"updated"}`},
	{"rfc9110/content-length-mismatch", "/short", "GET", "", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n", "only this"},
	{"rfc9110/etag-syntax", "/etag", "GET", "", "HTTP/1.1 200 OK\r\nETag: v1-unquoted\r\nContent-Length: 2\r\n", "ok"},
	{"rfc9110/405-allow", "/405", "POST", "", "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n", ""},
	{"rfc9110/401-www-authenticate", "/401", "GET", "", "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n", ""},
	{"rfc9110/3xx-location", "/301", "GET", "", "HTTP/1.1 301 Moved Permanently\r\nContent-Length: 0\r\n", ""},
	{"rfc9110/201-location", "/201", "POST", "", "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n", ""},
	{"rfc9110/206-content-range", "/206", "GET", "Range: bytes=0-1", "HTTP/1.1 206 Partial Content\r\nContent-Length: 2\r\n", "ab"},
	{"rfc9110/416-content-range", "/416", "GET", "Range: bytes=100-", "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Length: 0\r\n", ""},
	{"rfc9110/date-syntax", "/date", "GET", "", "HTTP/1.1 200 OK\r\nLast-Modified: 2024-01-01T00:00:00Z\r\nContent-Length: 0\r\n", ""},
	{"rfc9110/last-modified-future", "/lm", "GET", "", "HTTP/1.1 200 OK\r\nDate: " + httpDate + "\r\nLast-Modified: Tue, 02 Jan 2024 00:00:00 GMT\r\nContent-Length: 0\r\n", ""},
	{"rfc9111/cache-control-syntax", "/cc", "GET", "", "HTTP/1.1 200 OK\r\nCache-Control: max-age=\"60\"\r\nContent-Length: 0\r\n", ""},
	{"rfc9111/expires-syntax", "/expires", "GET", "", "HTTP/1.1 200 OK\r\nExpires: 0\r\nContent-Length: 0\r\n", ""},
}

func breakerServer(t *testing.T) string {
	return rawResponder(t, func(r *http.Request) string {
		for _, b := range semanticsBreakers {
			if b.path == r.URL.Path {
				return b.response + "Connection: close\r\n\r\n" + b.body
			}
		}
		if r.URL.Path == "/cond" {
			if r.Header.Get("If-None-Match") != "" {
				// A 304 that forgets the ETag and Cache-Control of the 200.
				return "HTTP/1.1 304 Not Modified\r\nConnection: close\r\n\r\n"
			}
			return "HTTP/1.1 200 OK\r\nETag: \"a\"\r\nCache-Control: no-cache\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
		}
		return "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
	})
}

func breakerCheck(t *testing.T, base, mode, method, path, header string) *Check {
	t.Helper()
	headers := ""
	if header != "" {
		k, v, _ := strings.Cut(header, ": ")
		headers = fmt.Sprintf("headers: { %q: %q },", k, v)
	}
	sem := ""
	if mode != "" {
		sem = "semantics: " + mode
	}
	return loadCheck(t, fmt.Sprintf(`
checks:
  - name: breaker
    %s
    steps:
      - name: probe
        request: { method: %s, url: "${BASE}%s", %s follow_redirects: false }
        expect: { status: any }
`, sem, method, path, headers), "BASE", base)
}

func ruleIDs(fs []Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Rule)
	}
	return out
}

// TestSemanticsRuleBrokenOverHTTP: a server that breaks each rule, one at
// a time; the step asserts nothing (status: any), so only the rule can fail it. In warn
// mode the step passes with the finding; in strict mode a MUST finding
// fails the step with reason "semantics" and a SHOULD finding does not.
func TestSemanticsRuleBrokenOverHTTP(t *testing.T) {
	base := breakerServer(t)
	for _, b := range semanticsBreakers {
		t.Run(b.rule, func(t *testing.T) {
			rule, _ := semantics.Lookup(b.rule)
			for _, mode := range []string{"", "warn", "strict"} {
				res := runCheck(t, breakerCheck(t, base, mode, b.method, b.path, b.header))
				s := res.Steps()[0]
				if got := ruleIDs(s.Findings); len(got) != 1 || got[0] != b.rule {
					t.Fatalf("mode %q: findings %v, want [%s]\n%s", mode, got, b.rule, dump(res))
				}
				f := s.Findings[0]
				if f.Section != rule.Section && !strings.HasPrefix(f.Section, "RFC 9110 §15.4") {
					t.Errorf("section %q", f.Section)
				}
				if f.Level != string(rule.Level) || f.Expected == "" || f.Actual == "" || f.Message == "" {
					t.Errorf("finding %+v", f)
				}
				wantFail := mode == "strict" && rule.Level == semantics.Must
				if b.rule == "rfc9110/content-length-mismatch" {
					// The body ended early: the read fails whatever the mode,
					// and the finding says why.
					if res.Passed || s.Reason != ReasonNetwork || f.Actual != "9 bytes" || f.Expected != "100 bytes" {
						t.Errorf("mode %q: %s %s %+v", mode, s.Reason, s.Message, f)
					}
					continue
				}
				if res.Passed == wantFail || f.Failed != wantFail {
					t.Errorf("mode %q: passed %v, finding failed %v; want failure %v\n%s", mode, res.Passed, f.Failed, wantFail, dump(res))
				}
				if wantFail && (s.Reason != ReasonSemantics || !strings.HasPrefix(s.Message, b.rule+" (")) {
					t.Errorf("mode strict: reason %s, message %q", s.Reason, s.Message)
				}
			}
		})
	}
}

// TestSemanticsOff: no rule is evaluated.
func TestSemanticsOff(t *testing.T) {
	base := breakerServer(t)
	res := runCheck(t, breakerCheck(t, base, "off", "PATCH", "/204", ""))
	if !res.Passed || len(res.Steps()[0].Findings) != 0 {
		t.Fatalf("%s", dump(res))
	}
}

// TestSemanticsRunnerDefault: RunnerOptions.Semantics applies to checks
// that set no mode; a check's own mode wins.
func TestSemanticsRunnerDefault(t *testing.T) {
	base := breakerServer(t)
	r := NewRunner(RunnerOptions{Semantics: SemanticsStrict})
	t.Cleanup(r.Close)
	if res := r.Run(context.Background(), breakerCheck(t, base, "", "PATCH", "/204", "")); res.Passed || res.Reason != ReasonSemantics {
		t.Errorf("default strict: %s", dump(res))
	}
	if res := r.Run(context.Background(), breakerCheck(t, base, "warn", "PATCH", "/204", "")); !res.Passed {
		t.Errorf("check warn over default strict: %s", dump(res))
	}
	r2 := NewRunner(RunnerOptions{Semantics: SemanticsOff})
	t.Cleanup(r2.Close)
	if res := r2.Run(context.Background(), breakerCheck(t, base, "", "PATCH", "/204", "")); len(res.Steps()[0].Findings) != 0 {
		t.Errorf("default off: %s", dump(res))
	}
}

// TestSemantics304ComparedWithThe200: within one attempt, a 304 is held to
// the validators of the last 200 to the same URL.
func TestSemantics304ComparedWithThe200(t *testing.T) {
	base := breakerServer(t)
	c := loadCheck(t, `
checks:
  - name: cond
    semantics: strict
    steps:
      - name: read
        request: { url: "${BASE}/cond" }
        capture: { etag: { header: ETag } }
      - name: revalidate
        request: { url: "${BASE}/cond", headers: { If-None-Match: "{{ .etag }}" } }
        expect: { status: 304 }
`, "BASE", base)
	res := runCheck(t, c)
	s := res.Steps()[1]
	if res.Passed || s.Reason != ReasonSemantics || len(s.Findings) != 2 {
		t.Fatalf("%s", dump(res))
	}
	for i, want := range []string{`ETag: "a" (as in the 200)`, `Cache-Control: no-cache (as in the 200)`} {
		if f := s.Findings[i]; f.Rule != "rfc9110/304-validators" || f.Expected != want || f.Actual != "absent" {
			t.Errorf("finding %d: %+v", i, f)
		}
	}
	if !strings.Contains(s.Message, "(and 1 more MUST violations)") {
		t.Errorf("message %q", s.Message)
	}
}

// TestSemanticsWellBehavedServer: a correct server answering many kinds of
// responses gives no finding (no false positives).
func TestSemanticsWellBehavedServer(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		switch r.URL.Path {
		case "/doc":
			h.Set("ETag", `"v1"`)
			h.Set("Last-Modified", httpDate)
			h.Set("Cache-Control", "no-cache, max-age=0")
			h.Set("Vary", "Accept")
			if r.Header.Get("If-None-Match") == `"v1"` {
				w.WriteHeader(http.StatusNotModified)
				return
			}
			h.Set("Content-Type", "application/json")
			io.WriteString(w, `{"id":1}`)
		case "/create":
			h.Set("Location", "/doc")
			w.WriteHeader(http.StatusCreated)
		case "/update":
			h.Set("ETag", `W/"v2"`)
			w.WriteHeader(http.StatusNoContent)
		case "/only-get":
			h.Set("Allow", "GET, HEAD")
			w.WriteHeader(http.StatusMethodNotAllowed)
		case "/secret":
			h.Set("WWW-Authenticate", `Bearer realm="demo"`)
			w.WriteHeader(http.StatusUnauthorized)
		case "/moved":
			http.Redirect(w, r, "/doc", http.StatusMovedPermanently)
		case "/range":
			http.ServeContent(w, r, "x.txt", mustTime(httpDate), strings.NewReader("0123456789"))
		case "/later":
			h.Set("Retry-After", "120")
			h.Set("Expires", httpDate)
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	c := loadCheck(t, `
checks:
  - name: good
    semantics: strict
    vars: { b: "${BASE}" }
    steps:
      - { name: get, request: { url: "{{ .vars.b }}/doc" }, capture: { etag: { header: ETag } } }
      - { name: head, request: { method: HEAD, url: "{{ .vars.b }}/doc" } }
      - { name: revalidate, request: { url: "{{ .vars.b }}/doc", headers: { If-None-Match: "{{ .etag }}" } }, expect: { status: 304 } }
      - { name: create, request: { method: POST, url: "{{ .vars.b }}/create", json: { a: 1 } }, expect: { status: 201 } }
      - { name: update, request: { method: PUT, url: "{{ .vars.b }}/update", json: { a: 1 } }, expect: { status: 204 } }
      - { name: not-allowed, request: { method: DELETE, url: "{{ .vars.b }}/only-get" }, expect: { status: 405 } }
      - { name: unauthorized, request: { url: "{{ .vars.b }}/secret" }, expect: { status: 401 } }
      - { name: redirect, request: { url: "{{ .vars.b }}/moved", follow_redirects: false }, expect: { status: 301 } }
      - { name: followed, request: { url: "{{ .vars.b }}/moved" }, expect: { status: 200 } }
      - { name: partial, request: { url: "{{ .vars.b }}/range", headers: { Range: "bytes=0-3" } }, expect: { status: 206 } }
      - { name: unsatisfiable, request: { url: "{{ .vars.b }}/range", headers: { Range: "bytes=100-" } }, expect: { status: 416 } }
      - { name: unavailable, request: { url: "{{ .vars.b }}/later" }, expect: { status: 503 } }
`, "BASE", srv.URL)
	res := runCheck(t, c)
	if !res.Passed {
		t.Fatalf("%s", dump(res))
	}
	for _, s := range res.Steps() {
		if len(s.Findings) > 0 {
			t.Errorf("step %s: findings %+v", s.Name, s.Findings)
		}
	}
}

// TestSemanticsDemoAPINoFindings runs every example check against the
// demo API without a fault: all pass and no response has a finding.
func TestSemanticsDemoAPINoFindings(t *testing.T) {
	srv := serve(t, demoapi.New(demoapi.Options{}).ServeHTTP)
	cs, err := LoadOptions{LookupEnv: envMap("DEMO_API_URL", srv.URL)}.Load("../checks.d")
	if err != nil {
		t.Fatal(err)
	}
	r := NewRunner(RunnerOptions{Semantics: SemanticsStrict})
	t.Cleanup(r.Close)
	for _, c := range cs {
		res := r.Run(context.Background(), c)
		if !res.Passed {
			t.Errorf("%s failed: %s", c.Name, dump(res))
		}
		for _, s := range res.Steps() {
			if len(s.Findings) > 0 {
				t.Errorf("%s / %s: findings %+v", c.Name, s.Name, s.Findings)
			}
		}
	}
}

func mustTime(s string) time.Time {
	t, err := http.ParseTime(s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestSemanticsAndHTTPExpectLoadErrors(t *testing.T) {
	for _, c := range []struct{ field, want string }{
		{"semantics: loud", `checks.yaml:3:16: checks[0].semantics: expected strict, warn or off, got string "loud"`},
		{"steps: [ { name: a, request: { url: 'http://x/' }, expect: { etag: weak } } ]", `checks[0].steps[0].expect.etag: expected strong or valid, got string "weak"`},
		{"steps: [ { name: a, request: { url: 'http://x/' }, expect: { allow: {} } } ]", "checks[0].steps[0].expect.allow: set includes, excludes or both"},
		{"steps: [ { name: a, request: { url: 'http://x/' }, expect: { allow: { includes: [get] } } } ]", `invalid method "get"`},
	} {
		src := "checks:\n  - name: x\n    " + c.field + "\n"
		if !strings.HasPrefix(c.field, "steps") {
			src += "    steps: [ { name: a, request: { url: 'http://x/' } } ]\n"
		}
		_, errs := LoadOptions{LookupEnv: envMap()}.parse("checks.yaml", []byte(src))
		if len(errs) == 0 || !strings.Contains(errs.Error(), c.want) {
			t.Errorf("%s: errors %v, want %q", c.field, errs, c.want)
		}
	}
	if m, err := ParseSemanticsMode(" Strict "); err != nil || m != SemanticsStrict {
		t.Errorf("ParseSemanticsMode: %v %v", m, err)
	}
	if ids := SemanticRuleIDs(); len(ids) != len(semantics.Rules()) || ids[0] != "rfc9110/201-location" {
		t.Errorf("SemanticRuleIDs() = %v", ids)
	}
}
