package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/assay-monitor/assay/web"
	"github.com/prometheus/client_golang/prometheus"
)

// handler is the endpoints with a reload that succeeds.
func handler(a web.Access) http.Handler {
	return web.Handler(web.Options{Gatherer: prometheus.NewRegistry(), Status: web.NewStatus(nil), Access: a,
		Reload: func(context.Context) error { return nil }})
}

type req struct {
	method, path, host, remote string
	body                       string
	header                     map[string]string
}

func (r req) do(h http.Handler) *httptest.ResponseRecorder {
	if r.method == "" {
		r.method = "POST"
	}
	if r.path == "" {
		r.path = "/-/reload"
	}
	q := httptest.NewRequest(r.method, "http://"+orStr(r.host, "127.0.0.1:9464")+r.path, strings.NewReader(r.body))
	q.RemoteAddr = orStr(r.remote, "127.0.0.1:40000")
	if r.body == "" {
		q.ContentLength = 0
	}
	for k, v := range r.header {
		q.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, q)
	return w
}

func orStr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// TestWritesTakeOnlyJSONOrNoBody: an HTML form (or a text/plain fetch)
// cannot send application/json across origins without a preflight, so a
// write with any other body is refused: a CSRF post never reaches it.
func TestWritesTakeOnlyJSONOrNoBody(t *testing.T) {
	h := handler(web.Access{})
	for _, tc := range []struct {
		name, ctype, body string
		want              int
	}{
		{"no body", "", "", 200},
		{"json", "application/json", `{}`, 200},
		{"json with charset", "application/json; charset=utf-8", `{}`, 200},
		{"text/plain", "text/plain", "x", 415},
		{"text/plain without a body", "text/plain", "", 415},
		{"form", "application/x-www-form-urlencoded", "a=b", 415},
		{"multipart", "multipart/form-data; boundary=x", "--x--", 415},
		{"a body without a type", "", "x", 415},
		{"garbage type", ";;", "x", 415},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hdr := map[string]string{}
			if tc.ctype != "" {
				hdr["Content-Type"] = tc.ctype
			}
			w := req{body: tc.body, header: hdr}.do(h)
			if w.Code != tc.want {
				t.Errorf("POST /-/reload with %q %q = %d %s, want %d", tc.ctype, tc.body, w.Code, w.Body, tc.want)
			}
		})
	}
	// The acceptance script's request: a cross-origin text/plain post.
	w := req{body: "x", header: map[string]string{"Content-Type": "text/plain", "Origin": "http://evil.example"}}.do(h)
	if w.Code != 415 {
		t.Errorf("cross-origin text/plain POST = %d, want 415", w.Code)
	}
}

// TestCrossOriginWritesAreRefused: a write from a page of another origin
// is refused, whatever its body; this server's own origin and the
// external URL's may write; reads are not affected.
func TestCrossOriginWritesAreRefused(t *testing.T) {
	h := handler(web.Access{Hosts: []string{"assay.example.com"}, Origins: []string{"https://assay.example.com"}})
	for _, tc := range []struct {
		name   string
		method string
		host   string
		header map[string]string
		want   int
	}{
		{"no origin (curl)", "POST", "", nil, 200},
		{"another origin", "POST", "", map[string]string{"Origin": "http://evil.example"}, 403},
		{"a null origin", "POST", "", map[string]string{"Origin": "null"}, 403},
		{"same origin", "POST", "", map[string]string{"Origin": "http://127.0.0.1:9464"}, 200},
		{"same host, other port", "POST", "", map[string]string{"Origin": "http://127.0.0.1:8080"}, 403},
		{"trusted external origin", "POST", "assay.example.com", map[string]string{"Origin": "https://assay.example.com"}, 200},
		{"cross-site fetch", "POST", "", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"same-origin fetch", "POST", "", map[string]string{"Sec-Fetch-Site": "same-origin"}, 200},
		{"cross-site DELETE", "DELETE", "", map[string]string{"Origin": "http://evil.example"}, 403},
		{"cross-origin read", "GET", "", map[string]string{"Origin": "http://evil.example"}, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := "/-/reload"
			if tc.method == "GET" {
				path = "/api/v1/checks"
			} else if tc.method == "DELETE" {
				path = "/api/v1/notifications/1"
			}
			w := req{method: tc.method, path: path, host: tc.host, header: tc.header}.do(h)
			if w.Code != tc.want {
				t.Errorf("%s %s = %d %s, want %d", tc.method, path, w.Code, w.Body, tc.want)
			}
		})
	}
}

// TestOnlyThisServersHostNamesAreAnswered: against DNS rebinding, a Host
// header must be an IP literal, localhost, or a configured name.
func TestOnlyThisServersHostNamesAreAnswered(t *testing.T) {
	h := handler(web.Access{Hosts: []string{"assay.example.com", "monitor"}})
	for host, want := range map[string]int{
		"127.0.0.1:9464":         200,
		"[::1]:9464":             200,
		"10.1.2.3:9464":          200, // a pod IP: Prometheus and the kubelet use it
		"localhost:9464":         200,
		"localhost":              200,
		"assay.example.com":      200,
		"ASSAY.Example.com.:443": 200,
		"monitor:9464":           200,
		"evil.example":           403,
		"evil.example:9464":      403,
		"assay.example.com.evil": 403,
		"localhost.evil.example": 403,
	} {
		w := req{method: "GET", path: "/metrics", host: host}.do(h)
		if w.Code != want {
			t.Errorf("GET /metrics with Host %q = %d, want %d", host, w.Code, want)
		}
	}
	any := handler(web.Access{Hosts: []string{"*"}})
	if w := (req{method: "GET", path: "/metrics", host: "anything.example"}).do(any); w.Code != 200 {
		t.Errorf("allowed_hosts [*]: %d, want 200", w.Code)
	}
}

// TestWriteEndpointsNeedTheToken: with server.api_token every write
// endpoint wants it (Bearer or X-Assay-Token), compared exactly; reads
// do not.
func TestWriteEndpointsNeedTheToken(t *testing.T) {
	const token = "0123456789abcdef-token"
	h := handler(web.Access{Token: token})
	writes := []struct{ method, path string }{
		{"POST", "/-/reload"},
		{"POST", "/api/v1/notifications/1/retry"},
		{"POST", "/api/v1/notifications/1/drop"},
		{"DELETE", "/api/v1/notifications/1"},
		{"PUT", "/api/v1/checks"}, // a method no endpoint takes is still a write
	}
	for _, wr := range writes {
		for _, tc := range []struct {
			name   string
			header map[string]string
			ok     bool
		}{
			{"none", nil, false},
			{"wrong", map[string]string{"Authorization": "Bearer " + token + "x"}, false},
			{"prefix", map[string]string{"Authorization": "Bearer " + token[:10]}, false},
			{"basic", map[string]string{"Authorization": "Basic " + token}, false},
			{"bearer", map[string]string{"Authorization": "Bearer " + token}, true},
			{"lower-case scheme", map[string]string{"Authorization": "bearer " + token}, true},
			{"x-assay-token", map[string]string{"X-Assay-Token": token}, true},
		} {
			w := req{method: wr.method, path: wr.path, header: tc.header}.do(h)
			if tc.ok && w.Code == 401 {
				t.Errorf("%s %s with %s: 401, want it let through", wr.method, wr.path, tc.name)
			}
			if !tc.ok {
				if w.Code != 401 || !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("%s %s with %s token: %d %q, want 401 with WWW-Authenticate: Bearer", wr.method, wr.path, tc.name, w.Code, w.Header().Get("WWW-Authenticate"))
				}
				if strings.Contains(w.Body.String(), token) {
					t.Errorf("the answer shows the token: %s", w.Body)
				}
			}
		}
	}
	for _, path := range []string{"/api/v1/checks", "/metrics", "/readyz", "/healthz"} {
		if w := (req{method: "GET", path: path}).do(h); w.Code != 200 {
			t.Errorf("GET %s without a token = %d, want 200", path, w.Code)
		}
	}
	// With the token, the remote address does not matter.
	if w := (req{remote: "192.0.2.7:5555", header: map[string]string{"Authorization": "Bearer " + token}}).do(h); w.Code != 200 {
		t.Errorf("remote client with the token: %d, want 200", w.Code)
	}
}

// TestWithoutATokenWritesComeFromLoopbackOnly: with no token, a write is
// taken from a loopback client, or from one the web config's basic auth
// let in; any other client gets 403.
func TestWithoutATokenWritesComeFromLoopbackOnly(t *testing.T) {
	for _, tc := range []struct {
		remote string
		basic  bool
		want   int
	}{
		{"127.0.0.1:5000", false, 200},
		{"127.9.9.9:5000", false, 200},
		{"[::1]:5000", false, 200},
		{"[::ffff:127.0.0.1]:5000", false, 200},
		{"192.0.2.7:5000", false, 403},
		{"[2001:db8::1]:5000", false, 403},
		{"10.0.0.1:5000", false, 403},
		{"192.0.2.7:5000", true, 200},
	} {
		w := req{remote: tc.remote}.do(handler(web.Access{BasicAuth: tc.basic}))
		if w.Code != tc.want {
			t.Errorf("POST /-/reload from %s (basic auth %v) = %d %s, want %d", tc.remote, tc.basic, w.Code, w.Body, tc.want)
		}
	}
}
