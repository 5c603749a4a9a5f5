package checks

import (
	"net/http"
	"reflect"
	"testing"
)

// A captured Location that is a relative reference is resolved against the
// URL of the request whose response gave it (RFC 9110 §10.2.2, RFC 3986
// §5), not against base_url: "things/7" from POST /v1/things is
// /v1/things/7.
func TestCapturedRelativeLocationResolvedAgainstTheRequestThatGaveIt(t *testing.T) {
	rec := &recorder{}
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		rec.add(r)
		switch r.URL.Path {
		case "/v1/things":
			w.Header().Set("Location", "things/7")
			w.WriteHeader(http.StatusCreated)
		case "/v1/things/7":
			w.WriteHeader(http.StatusOK)
		default:
			http.NotFound(w, r)
		}
	})
	c := loadCheck(t, `
checks:
  - name: create-then-read
    request: { base_url: "${BASE}/elsewhere/" }
    steps:
      - name: create
        request: { method: POST, url: /v1/things }
        expect: { status: 201 }
        capture: { location: { header: Location } }
      - name: health
        request: { url: /v2/deep/health }
        expect: { status: 404 }
      - name: read
        request: { url: "{{ .location }}" }
        expect: { status: 200 }
      - name: read through a function
        request: { url: '{{ printf "%s" .location }}' }
        expect: { status: 200 }
`, "BASE", srv.URL)
	res := runCheck(t, c)
	if !res.Passed {
		t.Fatalf("%s", dump(res))
	}
	for _, i := range []int{2, 3} {
		if got := res.Steps()[i].Request.URL; got != srv.URL+"/v1/things/7" {
			t.Errorf("%s: %s, want %s/v1/things/7", res.Steps()[i].Name, got, srv.URL)
		}
	}
}

// A rendered relative reference that no capture gave is resolved against
// base_url, else the previous request's URL (after its redirects).
func TestRelativeReferenceResolvedAgainstThePreviousRequest(t *testing.T) {
	rec := &recorder{}
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		rec.add(r)
		if r.URL.Path == "/old/start" {
			http.Redirect(w, r, "/new/start", http.StatusFound)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	c := loadCheck(t, `
checks:
  - name: a
    vars: { first: "${BASE}/old/start", next: "next?page=2" }
    steps:
      - request: { url: "{{ .vars.first }}" }
      - request: { url: "{{ .vars.next }}" }
`, "BASE", srv.URL)
	res := runCheck(t, c)
	if !res.Passed {
		t.Fatalf("%s", dump(res))
	}
	var paths []string
	for _, r := range rec.got() {
		paths = append(paths, r.URL.RequestURI())
	}
	if want := []string{"/old/start", "/new/start", "/new/next?page=2"}; !reflect.DeepEqual(paths, want) {
		t.Errorf("requests %v, want %v", paths, want)
	}

	c = loadCheck(t, `
checks:
  - name: b
    request: { base_url: "${BASE}/api/" }
    vars: { next: "next?page=2" }
    steps:
      - request: { url: "${BASE}/old/start" }
      - request: { url: "{{ .vars.next }}" }
`, "BASE", srv.URL)
	if res := runCheck(t, c); !res.Passed || res.Steps()[1].Request.URL != srv.URL+"/api/next?page=2" {
		t.Errorf("with a base_url: %s", dump(res))
	}
}

// A URL that is not usable once rendered fails the step with reason
// template, never network; and a relative reference with nothing to
// resolve it against says so.
func TestUnusableRenderedURLFailsWithReasonTemplate(t *testing.T) {
	for _, tc := range []struct{ url, msg string }{
		{"/x", `step "step 1": template: url "{{ .vars.u }}" renders the relative reference "/x", and no earlier request or base_url to resolve it against`},
		{"ftp://127.0.0.1/x", `step "step 1": template: url "{{ .vars.u }}" renders "ftp://127.0.0.1/x", which is not an absolute http or https URL`},
		{"http://", `step "step 1": template: url "{{ .vars.u }}" renders "http://", which is not an absolute http or https URL`},
		{"http://[::1/x", `step "step 1": template: url "{{ .vars.u }}" renders "http://[::1/x", which is not a URL: missing ']' in host`},
	} {
		c := loadCheck(t, "checks:\n  - name: a\n    vars: { u: \""+tc.url+"\" }\n    steps: [{ request: { url: \"{{ .vars.u }}\" } }]\n")
		res := runCheck(t, c)
		if res.Passed || res.Reason != ReasonTemplate || res.Message != tc.msg {
			t.Errorf("%s: %v %s %q\nwant template %q", tc.url, res.Passed, res.Reason, res.Message, tc.msg)
		}
	}
}
