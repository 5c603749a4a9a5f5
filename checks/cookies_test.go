package checks

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// cookieLog records the Cookie header of each request a test server got,
// as "path: cookies".
type cookieLog struct {
	mu   sync.Mutex
	seen []string
}

func (l *cookieLog) add(r *http.Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	host := ""
	if r.URL.IsAbs() { // a proxied request
		host = r.URL.Host
	}
	l.seen = append(l.seen, host+r.URL.Path+": "+r.Header.Get("Cookie"))
}

func (l *cookieLog) lines() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.seen, "\n")
}

// TestCookieJarSendsCookiesAsABrowserWould: a cookie one step gets is
// sent by the next ones whose URL it applies to: by host or Domain (not
// another site's, not a public suffix), by path, not when it is Secure and
// the URL is plain http, not once expired or deleted. The requests go to
// example.com names through a proxy on loopback (loopback itself counts
// as a secure origin, as in browsers).
func TestCookieJarSendsCookiesAsABrowserWould(t *testing.T) {
	log := &cookieLog{}
	proxy := serve(t, func(w http.ResponseWriter, r *http.Request) {
		log.add(r)
		switch r.URL.Path {
		case "/login":
			for _, c := range []string{
				"sid=abc123; Path=/; HttpOnly",
				"app=a1; Path=/app",
				"sec=s1; Path=/; Secure",
				"wide=w1; Domain=example.com; Path=/",
				"other=o1; Domain=example.org; Path=/",
				"psl=p1; Domain=com; Path=/",
				"old=x1; Path=/; Expires=Mon, 01 Jan 2001 00:00:00 GMT",
			} {
				w.Header().Add("Set-Cookie", c)
			}
		case "/logout":
			w.Header().Add("Set-Cookie", "sid=; Path=/; Max-Age=0")
		}
	})
	c := loadCheck(t, `
checks:
  - name: browser
    steps:
      - { name: login, request: { url: "http://www.example.com/login", proxy: "${PROXY}" } }
      - { name: app, request: { url: "http://www.example.com/app/page", proxy: "${PROXY}" } }
      - { name: api, request: { url: "http://api.example.com/me", proxy: "${PROXY}" } }
      - { name: me, request: { url: "http://www.example.com/me", proxy: "${PROXY}" } }
      - { name: logout, request: { url: "http://www.example.com/logout", proxy: "${PROXY}" } }
      - { name: after, request: { url: "http://www.example.com/me", proxy: "${PROXY}" } }
`, "PROXY", proxy.URL)
	res := runCheck(t, c)
	if !res.Passed {
		t.Fatalf("%s", dump(res))
	}
	want := strings.Join([]string{
		"www.example.com/login: ",
		"www.example.com/app/page: app=a1; sid=abc123; wide=w1",
		"api.example.com/me: wide=w1",
		"www.example.com/me: sid=abc123; wide=w1",
		"www.example.com/logout: sid=abc123; wide=w1",
		"www.example.com/me: wide=w1",
	}, "\n")
	if got := log.lines(); got != want {
		t.Errorf("cookies sent:\n%s\nwant:\n%s", got, want)
	}
	// The summary says cookies went, never what they were.
	steps := res.Steps()
	if got := steps[1].Request.Headers["Cookie"]; len(got) != 1 || got[0] != Redacted {
		t.Errorf("app request summary Cookie = %q", got)
	}
	if _, ok := steps[0].Request.Headers["Cookie"]; ok {
		t.Errorf("the first request sent no cookie, its summary has one: %v", steps[0].Request.Headers)
	}
	b, _ := json.Marshal(res)
	if strings.Contains(string(b), "abc123") {
		t.Errorf("a cookie value is in the result: %s", b)
	}
}

// TestCookieJarIsPerAttempt: a retry, a second run and cookies: false all
// start without cookies.
func TestCookieJarIsPerAttempt(t *testing.T) {
	log := &cookieLog{}
	var mu sync.Mutex
	failures := 1
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		log.add(r)
		switch r.URL.Path {
		case "/set":
			w.Header().Add("Set-Cookie", "n=1; Path=/")
		case "/flaky":
			mu.Lock()
			defer mu.Unlock()
			if failures > 0 {
				failures--
				w.WriteHeader(http.StatusServiceUnavailable)
			}
		}
	})
	src := func(extra string) string {
		return `
checks:
  - name: jar
    retries: { count: 1, backoff: 1ms, on: any }
` + extra + `    steps:
      - { name: set, request: { url: "${BASE}/set" } }
      - { name: flaky, request: { url: "${BASE}/flaky" }, expect: { status: 200 } }
`
	}
	r := newTestRunner(t)
	c := loadCheck(t, src(""), "BASE", srv.URL)
	if res := r.Run(t.Context(), c); !res.Passed || len(res.Attempts) != 2 {
		t.Fatalf("want a pass on the second attempt: %s", dump(res))
	}
	if res := r.Run(t.Context(), c); !res.Passed {
		t.Fatalf("second run: %s", dump(res))
	}
	off := loadCheck(t, src("    cookies: false\n"), "BASE", srv.URL)
	if res := r.Run(t.Context(), off); !res.Passed {
		t.Fatalf("cookies: false: %s", dump(res))
	}
	want := strings.Join([]string{
		"/set: ", "/flaky: n=1", // attempt 1
		"/set: ", "/flaky: n=1", // attempt 2: an empty jar again
		"/set: ", "/flaky: n=1", // run 2
		"/set: ", "/flaky: ", // cookies: false
	}, "\n")
	if got := log.lines(); got != want {
		t.Errorf("cookies sent:\n%s\nwant:\n%s", got, want)
	}
}

// TestCookieCaptureIsSecret: a capture from a cookie takes the value the
// step's response (or a redirect it followed) sets, is used by later
// steps, and is never printed.
func TestCookieCaptureIsSecret(t *testing.T) {
	var mu sync.Mutex
	var echoed []string
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/login":
			w.Header().Add("Set-Cookie", "sid=s3ss10n-v4lue; Path=/; HttpOnly")
			w.Header().Add("Set-Cookie", "rid=r3d1r3ct-only; Path=/")
			http.Redirect(w, r, "/home", http.StatusSeeOther)
		case "/home":
		case "/echo":
			mu.Lock()
			echoed = append(echoed, r.Header.Get("X-Session"), r.Header.Get("Cookie"))
			mu.Unlock()
			// A server that echoes the session and the cookies in its body.
			io.WriteString(w, `{"session": "`+r.Header.Get("X-Session")+`", "cookies": "`+r.Header.Get("Cookie")+`"}`)
		}
	})
	c := loadCheck(t, `
checks:
  - name: capture
    steps:
      - name: login
        request: { url: "${BASE}/login" }
        expect: { status: 200, cookies: { sid: { exists: true, http_only: true } } }
        capture: { session: { cookie: sid } }
      - name: echo
        request: { url: "${BASE}/echo", headers: { X-Session: "{{ .session }}" } }
        expect: { json: { "$.session": { equals: nope } } }
`, "BASE", srv.URL)
	res := runCheck(t, c)
	if fs := res.FailedStep(); fs == nil || fs.Name != "echo" {
		t.Fatalf("want the echo step to fail: %s", dump(res))
	}
	if strings.Join(echoed, ",") != "s3ss10n-v4lue,sid=s3ss10n-v4lue; rid=r3d1r3ct-only" {
		t.Errorf("the capture sent %q", echoed)
	}
	steps := res.Steps()
	if got := steps[0].Captures["session"]; got != Redacted {
		t.Errorf("capture shown as %q", got)
	}
	if got := steps[1].Request.Headers["X-Session"]; len(got) != 1 || got[0] != "${session}" {
		t.Errorf("the request refers to the capture as %q", got)
	}
	if got := failedAssertions(res)[0].Actual; got != `"`+Redacted+`"` {
		t.Errorf("actual %q", got)
	}
	b, _ := json.Marshal(res)
	// The value of a cookie only a redirect set is hidden too.
	if strings.Contains(string(b), "s3ss10n") || strings.Contains(string(b), "r3d1r3ct") {
		t.Errorf("a cookie value leaked: %s", b)
	}

	// A capture that finds no cookie fails the step.
	c = loadCheck(t, `
checks:
  - name: capture
    steps:
      - { name: home, request: { url: "${BASE}/home" }, capture: { session: { cookie: sid } } }
`, "BASE", srv.URL)
	res = runCheck(t, c)
	if res.Passed || res.Reason != ReasonCapture || res.Message != `step "home": capture session: no Set-Cookie sid in the response` {
		t.Errorf("got %q: %s", res.Reason, res.Message)
	}
}

// cookieResp sets two cookies, with a Date that Expires is measured from.
var cookieResp = canned{headers: [][2]string{
	{"Date", "Mon, 01 Jan 2024 00:00:00 GMT"},
	{"Set-Cookie", "session=abc123; Path=/; Max-Age=7200; HttpOnly; Secure; SameSite=Lax"},
	{"Set-Cookie", "theme=dark; Path=/ui; Domain=127.0.0.1; Expires=Mon, 01 Jan 2024 01:00:00 GMT"},
	{"Set-Cookie", `bad=a\b`},
}}

var cookieCases = []assertCase{
	{"every attribute pass", cookieResp, `{ cookies: {
		session: { exists: true, http_only: true, secure: true, same_site: Lax, max_age: { gte: 3600 }, path: "/", value: { matches: '^abc' } },
		theme: { expires: 3600, http_only: false, secure: false, domain: 127.0.0.1, path: { contains: ui } },
		missing: { exists: false } } }`, nil},
	{"http_only fail", cookieResp, `{ cookies: { theme: { http_only: true } } }`,
		fails("cookie theme http_only: expected HttpOnly, got no HttpOnly attribute", "HttpOnly", "no HttpOnly attribute")},
	{"secure unexpected", cookieResp, `{ cookies: { session: { secure: false } } }`,
		fails("cookie session secure: expected no Secure attribute, got Secure", "no Secure attribute", "Secure")},
	{"same_site fail", cookieResp, `{ cookies: { theme: { same_site: strict } } }`,
		fails("cookie theme same_site: expected SameSite=Strict, got no SameSite attribute", "SameSite=Strict", "no SameSite attribute")},
	{"max_age fail", cookieResp, `{ cookies: { session: { max_age: { gte: 86400 } } } }`,
		fails("cookie session max_age: expected >= 86400, got 7200", ">= 86400", "7200")},
	{"max_age absent", cookieResp, `{ cookies: { theme: { max_age: { gte: 1 } } } }`,
		fails("cookie theme max_age: expected >= 1, got nothing", ">= 1", "nothing")},
	{"expires from the Date", cookieResp, `{ cookies: { theme: { expires: { gte: 86400 } } } }`,
		fails("cookie theme expires: expected >= 86400, got 3600", ">= 86400", "3600")},
	{"a cookie that is not set", cookieResp, `{ cookies: { nope: { secure: true } } }`,
		fails("cookie nope: expected to be set, got no Set-Cookie nope", "to be set", "no Set-Cookie nope")},
	{"exists false fail", cookieResp, `{ cookies: { session: { exists: false } } }`,
		fails("cookie session: expected not to be set, got set", "not to be set", "set")},
	// The value of a cookie is a secret: shown redacted, even when it fails.
	{"value fail shows no value", cookieResp, `{ cookies: { theme: { value: light } } }`,
		fails(`cookie theme value: expected "light", got "[REDACTED]"`, `"light"`, `"[REDACTED]"`)},
	{"an invalid Set-Cookie", cookieResp, `{ cookies: { bad: { exists: true } } }`,
		fails("cookie bad: expected a valid Set-Cookie, got invalid Set-Cookie bad: invalid cookie value", "a valid Set-Cookie", "invalid Set-Cookie bad: invalid cookie value")},
}

func TestCookieAssertions(t *testing.T) {
	for _, tc := range cookieCases {
		t.Run(tc.name, func(t *testing.T) {
			srv := tc.resp.serve(t)
			c := loadCheck(t, oneStep(tc.expect), "BASE", srv.URL)
			checkOutcome(t, runCheck(t, c), "probe", tc.want)
		})
	}
}

func TestCookieLoadErrors(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string
	}{
		{"same_site value", stepWith(`        expect: { cookies: { sid: { same_site: sometimes } } }
`), []string{`c.yaml:5:48: checks[0].steps[0].expect.cookies.sid.same_site: expected Strict, Lax or None, got "sometimes"`}},
		{"an empty cookie assertion", stepWith(`        expect: { cookies: { sid: {} } }
`), []string{`c.yaml:5:35: checks[0].steps[0].expect.cookies.sid: a cookie assertion needs at least one of exists, value, domain, path, secure, http_only, same_site, max_age, expires`}},
		{"max_age is a number", stepWith(`        expect: { cookies: { sid: { max_age: { gte: an hour } } } }
`), []string{`c.yaml:5:53: checks[0].steps[0].expect.cookies.sid.max_age.gte: expected a number (or a template), got string "an hour"`}},
		{"no list predicate on a cookie", stepWith(`        expect: { cookies: { sid: { value: { count: 1 } } } }
`), []string{`c.yaml:5:46: checks[0].steps[0].expect.cookies.sid.value.count: count applies to a list (the nodes of a json query, or an array), not to a cookie attribute`}},
		{"a cookie capture is secret", stepWith(`        capture: { sid: { cookie: sid, secret: false } }
`), []string{`c.yaml:5:48: checks[0].steps[0].capture.sid.secret: a capture from a cookie is always secret: the cookies a response sets are redacted, and so is what is taken from them`}},
		{"one source", stepWith(`        capture: { sid: { cookie: sid, header: X-Sid } }
`), []string{`c.yaml:5:25: checks[0].steps[0].capture.sid: set exactly one of header, json, regex, cookie and status`}},
		{"cookies is a boolean", "checks:\n  - name: c\n    cookies: off\n    steps: [{ request: { url: \"http://127.0.0.1:1/\" } }]\n",
			[]string{`c.yaml:3:14: checks[0].cookies: expected true or false, got string "off"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			expectLines(t, loadErrorLines(t, tc.src), tc.want)
		})
	}
}

// TestExplainPrintsCookies: explain prints cookies: false, cookie
// assertions and captures in a form that loads back.
func TestExplainPrintsCookies(t *testing.T) {
	c := loadCheck(t, `
checks:
  - name: c
    cookies: false
    steps:
      - request: { url: "http://127.0.0.1:1/" }
        expect: { cookies: { sid: { exists: true, http_only: true, same_site: Lax, max_age: { gte: 3600 } } } }
        capture: { sid: { cookie: sid } }
`)
	out, err := Explain(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"    cookies: false\n",
		"          cookies:\n            sid: {exists: true, http_only: true, same_site: Lax, max_age: {gte: 3600}}\n",
		"          sid: {cookie: sid}\n",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("explain lacks %q:\n%s", want, out)
		}
	}
	again := loadCheck(t, string(out))
	if again.cookiesOn() || again.Steps[0].Expect.Cookies["sid"] == nil || again.Steps[0].Capture["sid"].Cookie != "sid" {
		t.Errorf("explain output does not load back the same")
	}
}

// TestCookieJarIsBounded: the jar stores at most MaxJarCookies cookies,
// each of at most MaxCookieSize bytes; what is over is dropped.
func TestCookieJarIsBounded(t *testing.T) {
	var mu sync.Mutex
	got, big := -1, false
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/many":
			// The big one first: were it kept, it would take a place.
			w.Header().Add("Set-Cookie", "big="+strings.Repeat("x", MaxCookieSize)+"; Path=/")
			for i := range MaxJarCookies + 200 {
				w.Header().Add("Set-Cookie", "c"+strconv.Itoa(i)+"=v; Path=/")
			}
		case "/count":
			mu.Lock()
			got = len(r.Cookies())
			_, err := r.Cookie("big")
			big = err == nil
			mu.Unlock()
		}
	})
	c := loadCheck(t, `
checks:
  - name: many
    steps:
      - { name: many, request: { url: "${BASE}/many" } }
      - { name: again, request: { url: "${BASE}/many" } }
      - { name: count, request: { url: "${BASE}/count" } }
`, "BASE", srv.URL)
	if res := runCheck(t, c); !res.Passed {
		t.Fatalf("%s", dump(res))
	}
	if got != MaxJarCookies || big {
		t.Errorf("the jar sent %d cookies (the big one: %v), want %d (not the big one)", got, big, MaxJarCookies)
	}
}
