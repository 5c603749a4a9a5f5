package checks

import (
	"net/http"
	"strings"
	"testing"
)

// A step that says nothing about the status expects 2xx: a 404 fails it,
// and the message says the expectation is the default.
func TestStepWithoutStatusExpects2xx(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/missing":
			http.NotFound(w, r)
		case "/moved":
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	})
	for _, tc := range []struct {
		step string
		pass bool
		msg  string
	}{
		{`{ request: { url: "${BASE}/ok" } }`, true, ""},
		{`{ request: { url: "${BASE}/ok" }, expect: { body: { empty: true } } }`, true, ""},
		{`{ request: { url: "${BASE}/missing" } }`, false, `step "step 1": status: expected 2xx (default), got 404`},
		{`{ request: { url: "${BASE}/missing" }, expect: { headers: { Content-Type: { contains: text } } } }`, false, `step "step 1": status: expected 2xx (default), got 404`},
		{`{ request: { url: "${BASE}/moved", follow_redirects: false } }`, false, `step "step 1": status: expected 2xx (default), got 302`},
	} {
		c := loadCheck(t, "checks:\n  - name: a\n    steps: ["+tc.step+"]\n", "BASE", srv.URL)
		res := runCheck(t, c)
		if res.Passed != tc.pass || res.Message != tc.msg {
			t.Errorf("%s: passed %v %q, want %v %q", tc.step, res.Passed, res.Message, tc.pass, tc.msg)
		}
		if !tc.pass && res.Reason != ReasonAssertion {
			t.Errorf("%s: reason %s", tc.step, res.Reason)
		}
	}
}

// status: any opts out: no status assertion at all.
func TestStatusAnyAcceptsEveryStatus(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	c := loadCheck(t, `
checks:
  - name: a
    steps:
      - request: { url: "${BASE}/missing" }
        expect: { status: any, body: { contains: "not found" } }
`, "BASE", srv.URL)
	res := runCheck(t, c)
	if !res.Passed {
		t.Fatalf("%s", dump(res))
	}
	for _, a := range res.Steps()[0].Assertions {
		if a.Name == "status" {
			t.Errorf("status: any asserted %+v", a)
		}
	}
}

func TestStatusAnyStandsAlone(t *testing.T) {
	got := loadErrors(t, `
checks:
  - name: a
    steps:
      - request: { url: http://127.0.0.1:1/ }
        expect: { status: [200, any] }
`)
	wantErrors(t, got, `checks.yaml:6:33: checks[0].steps[0].expect.status: any stands alone: status: any accepts every status`)
}

// assay explain shows the default, and status: any as written; both load
// back to the same expectations.
func TestExplainShowsTheDefaultStatus(t *testing.T) {
	c := loadCheck(t, `
checks:
  - name: a
    steps:
      - { name: quiet, request: { url: http://127.0.0.1:1/a } }
      - { name: anything, request: { url: http://127.0.0.1:1/b }, expect: { status: any } }
`)
	out, err := Explain(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"        expect:\n          status: 2xx # default: the step sets no status\n",
		"        expect:\n          status: any\n",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("explain does not show %q:\n%s", want, out)
		}
	}
	again := loadCheck(t, string(out))
	if n := len(again.Steps[0].assertions); n != 1 || again.Steps[0].Expect.Status == nil || again.Steps[0].Expect.Status.Raw != "2xx" {
		t.Errorf("explained default loads as %+v (%d assertions)", again.Steps[0].Expect.Status, n)
	}
	if n := len(again.Steps[1].assertions); n != 0 {
		t.Errorf("explained status: any has %d assertions", n)
	}
}

// Contract steps set their statuses: a contract's 412 and 304 are not
// held to the 2xx default.
func TestContractStepsKeepTheirStatuses(t *testing.T) {
	c := loadCheck(t, `
checks:
  - name: a
    contract:
      type: conditional-update
      url: http://127.0.0.1:1/doc
      json: { a: 1 }
      require_precondition: true
`)
	for _, s := range c.Steps {
		if s.Expect.Status == nil || strings.Contains(s.Expect.Status.Raw, "default") {
			t.Errorf("contract step %q has no status of its own: %+v", s.Name, s.Expect.Status)
		}
	}
}
