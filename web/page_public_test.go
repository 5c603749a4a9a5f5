package web_test

import (
	"context"
	"fmt"
	"html"
	"strings"
	"testing"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/history"
)

// TestPublicPageShowsNoEvidence: names, descriptions, status, uptime and
// incidents only. Nothing a check sent or received, no message, label or
// file name reaches the HTML, whatever the query asks for.
func TestPublicPageShowsNoEvidence(t *testing.T) {
	f := newFixture(t)
	srv := f.serve(t, true)
	forbidden := []string{secretURL, "shop.internal.test", secretReqHeader, secretReqBody, secretRespHeader, secretRespBody,
		secretMessage, "expected 200", secretBaseline, secretJSONBefore, "diff-line", secretLabel, "severity", secretFile, "shop.yaml",
		secretAssertion, secretIncident, "timeout after 5s", "Bearer", "[REDACTED]", "get cart", "@every", "cache-control-on-error"}
	pages := map[string]string{}
	for _, path := range []string{"/", "/checks/checkout", "/checks/api-health",
		fmt.Sprintf("/checks/checkout?run=%d", f.failedID), fmt.Sprintf("/checks/checkout?run=%d&status=failed&before=9", f.baselineID)} {
		page := getPage(t, srv.URL+path, 200)
		pages[path] = page
		decoded := html.UnescapeString(page)
		for _, s := range forbidden {
			if strings.Contains(decoded, s) {
				t.Errorf("public %s contains %q", path, s)
			}
		}
	}
	// ?run= (and any other query) shows nothing more than the page without it.
	plain := mainOf(t, pages["/checks/checkout"])
	for _, path := range []string{fmt.Sprintf("/checks/checkout?run=%d", f.failedID), fmt.Sprintf("/checks/checkout?run=%d&status=failed&before=9", f.baselineID)} {
		if got := mainOf(t, pages[path]); got != plain {
			t.Errorf("public %s differs from the page without a query:\n%s\nwant:\n%s", path, got, plain)
		}
	}

	// What the public page does show.
	over := pages["/"]
	want := []string{
		"failing checkout open incident Checkout works end to end 60.0% 60.0% 60.0% 30s ago assertion 30s ago",
		"no result yet never-ran Added a moment ago — — — never none",
		"passing api-health The public API answers 100% 99.50% 96.6% 1m ago timeout 1d 13h ago",
	}
	if got := rows(over, "row-"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("public rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got, want := rows(section(t, over, "open-incidents"), "inc-"),
		[]string{"checkout open 3m 30s ago 2025-06-01 11:56:30 UTC 3m 30s and counting assertion 4 / 4"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("public open incidents = %q, want %q", got, want)
	}
	check := pages["/checks/api-health"]
	if got, want := rows(section(t, check, "incident-list"), "inc-"),
		[]string{"resolved 2d 4h ago 2025-05-30 08:00:00 UTC 2h until 2025-05-30 10:00:00 UTC timeout 2 / 3"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("public incidents of api-health = %q, want %q", got, want)
	}
	if got, want := textOf(section(t, check, "check-head")),
		"passing api-health The public API answers uptime 24h 100% uptime 7d 99.50% uptime 30d 96.6% last run 1m ago"; got != want {
		t.Errorf("public check head = %q\nwant %q", got, want)
	}
	if strings.Contains(over, "JSON API") || strings.Contains(over, "metrics") {
		t.Errorf("the public page links the operators' endpoints")
	}
	// Badges still work.
	resp, _ := get(t, srv.URL+"/badge/checkout/status.svg")
	if resp.StatusCode != 200 {
		t.Errorf("public badge = %d", resp.StatusCode)
	}
}

// TestCheckControlledTextIsEscaped: every string a check author or a
// target controls is shown as text, never run.
func TestCheckControlledTextIsEscaped(t *testing.T) {
	const x = `<script>alert(1)</script>`
	f := newFixture(t)
	name := `evil"<b>name`
	f.status.SetChecks(append(currentChecks(f), &checks.Check{Name: name, Description: "desc " + x,
		Labels: map[string]string{"team" + x: "v" + x}, Tags: []string{"tag" + x}, Schedule: "@every 1m" + x,
		Pos: checks.Position{File: "f" + x + ".yaml"}}))
	at := fixtureNow.Add(-10 * time.Second)
	r := failingCheckout(at, 0)
	r.Check, r.Message = name, "msg "+x
	st := &r.Attempts[0].Steps[1]
	st.Name, st.Message = "step "+x, "step msg "+x
	st.Request.URL = "http://127.0.0.1/" + x
	st.Request.Headers = map[string][]string{"X-Evil" + x: {"hv " + x}}
	st.Request.Body = "body " + x
	st.Response.Headers = map[string][]string{"X-Evil": {"rv " + x}}
	st.Response.Body = `{"k":"` + x + `"}`
	st.Assertions[0].Expected, st.Assertions[0].Actual = "e"+x, "a"+x
	st.Findings[0].Message = "finding " + x
	st.Captures = map[string]string{"c" + x: "cv" + x}
	st.Diff.Headers[0].From, st.Diff.JSON[0].Name, st.Diff.Text = "from"+x, "$."+x, "-"+x+"\n+"+x
	st.TLS = &checks.TLSInfo{Version: "TLS 1.3", Subject: "CN=" + x, Issuer: "CN=" + x}
	f.hist.add(r)
	f.status.Record(context.Background(), r)
	f.hist.incidents = append(f.hist.incidents, newIncident(name, "first "+x))

	for _, public := range []bool{false, true} {
		srv := f.serve(t, public)
		for _, path := range []string{"/", "/checks/evil%22%3Cb%3Ename", "/checks/evil%22%3Cb%3Ename?run=" + fmt.Sprint(r.ID), "/checks/%3Cscript%3E"} {
			resp, page := get(t, srv.URL+path)
			if strings.Contains(page, "<script") || strings.Contains(page, "<b>") || strings.Contains(page, `evil"`) {
				t.Errorf("public=%v %s (%d): unescaped check-controlled text", public, path, resp.StatusCode)
			}
			if resp.StatusCode == 200 && !strings.Contains(page, "evil&#34;&lt;b&gt;name") {
				t.Errorf("public=%v %s: the name is not shown escaped", public, path)
			}
		}
		page := getPage(t, srv.URL+"/checks/evil%22%3Cb%3Ename", 200)
		if n := strings.Count(page, "&lt;script&gt;alert(1)&lt;/script&gt;"); public && n != 1 || !public && n < 20 {
			// public: the description only; private: everything above
			t.Errorf("public=%v: the payload is shown escaped %d times", public, n)
		}
	}
	// The link to the check escapes the name as a path segment.
	page := getPage(t, f.serve(t, false).URL+"/", 200)
	if !strings.Contains(page, `href="./checks/evil%22%3Cb%3Ename"`) {
		t.Errorf("the check link does not escape the name")
	}
}

// mainOf is the <main> of a page: the page less its header and footer.
func mainOf(t *testing.T, page string) string {
	t.Helper()
	i, j := strings.Index(page, "<main>"), strings.Index(page, "</main>")
	if i < 0 || j < i {
		t.Fatalf("no <main> in %s", page)
	}
	return page[i:j]
}

func newIncident(check, msg string) history.Incident {
	return history.Incident{ID: "inc-x", Check: check, Started: fixtureNow.Add(-time.Minute), Opened: fixtureNow.Add(-time.Minute),
		FirstFailure: msg, FirstReason: "assertion", LastFailure: msg, Runs: 1, FailedRuns: 1}
}

func currentChecks(f *fixture) []*checks.Check {
	var out []*checks.Check
	for _, s := range f.status.Summaries() {
		out = append(out, &checks.Check{Name: s.Name, Description: s.Description, Labels: s.Labels, Schedule: s.Schedule,
			Pos: checks.Position{File: s.File}, Steps: make([]*checks.Step, s.Steps)})
	}
	return out
}
