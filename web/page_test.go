package web_test

import (
	"context"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/web"
	"github.com/prometheus/client_golang/prometheus"
)

func TestOverviewListsChecksFailingFirstWithUptime(t *testing.T) {
	f := newFixture(t)
	srv := f.serve(t, false)
	page := getPage(t, srv.URL+"/", 200)

	if got, want := textOf(section(t, page, "summary")), "3 checks 1 failing 1 no result yet 1 open incidents"; got != want {
		t.Errorf("summary = %q, want %q", got, want)
	}
	want := []string{
		"failing checkout open incident severity=page team=team-payments Checkout works end to end 60.0% 60.0% 60.0% " +
			"last 10 runs: max 250ms, 4 failed 30s ago 250ms assertion 30s ago step get cart: status: expected 200, got 500",
		"no result yet never-ran Added a moment ago — — — — never none",
		"passing api-health team=core The public API answers 100% 99.50% 96.6% " +
			"last 50 runs: max 94ms, 0 failed 1m ago 40ms timeout 1d 13h ago step health: timeout after 5s",
	}
	if got := rows(page, "row-"); !slices.Equal(got, want) {
		t.Errorf("check rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The sparkline marks the failed runs of checkout in red: 4 of its 10.
	if n := strings.Count(section(t, page, "check-list"), `class="spark-fail"`); n != 4+0 {
		t.Errorf("sparklines mark %d failed runs, want 4 (checkout's; api-health's failures are older than its last 50 runs)", n)
	}
	// Open incidents come first, and only the open one is there.
	inc, list := strings.Index(page, "Open incidents"), strings.Index(page, `class="check-list"`)
	if inc < 0 || inc > list {
		t.Errorf("the open incidents are not above the checks")
	}
	if got, want := rows(section(t, page, "open-incidents"), "inc-"),
		[]string{"checkout open 3m 30s ago 2025-06-01 11:56:30 UTC 3m 30s and counting assertion 4 / 4 " + secretIncident + " latest: " + secretMessage}; !slices.Equal(got, want) {
		t.Errorf("open incidents = %q, want %q", got, want)
	}
	// Uptime figures carry their counts for a hover.
	if !strings.Contains(page, `title="200 runs, 1 failed">99.50%`) {
		t.Errorf("the 7d uptime of api-health lacks its counts")
	}
}

func TestOverviewWithoutHistoryShowsLatestResults(t *testing.T) {
	f := newFixture(t)
	srv := httptest.NewServer(web.Handler(web.Options{Gatherer: prometheus.NewRegistry(), Status: f.status,
		Now: func() time.Time { return fixtureNow }}))
	defer srv.Close()
	page := getPage(t, srv.URL+"/", 200)
	want := []string{
		// no uptime and no sparkline columns
		"failing checkout severity=page team=team-payments Checkout works end to end 30s ago 250ms assertion 30s ago step get cart: status: expected 200, got 500",
		"no result yet never-ran Added a moment ago never none",
		"passing api-health team=core The public API answers 1m ago 40ms none",
	}
	if got := rows(page, "row-"); !slices.Equal(got, want) {
		t.Errorf("check rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if strings.Contains(page, "Open incidents") || !strings.Contains(page, "No history is kept") {
		t.Errorf("without history the page must say so and show no incident section")
	}
	// The check page works too, with the evidence of the in-memory result.
	check := getPage(t, srv.URL+"/checks/checkout", 200)
	for _, want := range []string{secretAssertion, secretRespBody, "Evidence of run"} {
		if !strings.Contains(check, want) {
			t.Errorf("check page without history lacks %q", want)
		}
	}
}

func TestCheckPageShowsTheEvidenceOfTheFailure(t *testing.T) {
	f := newFixture(t)
	srv := f.serve(t, false)
	page := getPage(t, srv.URL+"/checks/checkout", 200)
	ev := section(t, page, "evidence")

	if got, want := textOf(ev[:strings.Index(ev, "<details")]), fmt.Sprintf(
		"Evidence of run #%d the latest run, which failed failed assertion started 2025-06-01 11:59:30 UTC · took 250ms step get cart: %s",
		f.failedID, secretMessage); got != want {
		t.Errorf("evidence head = %q\nwant %q", got, want)
	}
	if got, want := rows(ev, "a-"), []string{
		"✗ status 200 500 " + secretMessage,
		`✗ ` + secretAssertion + ` "A-1" absent json $.items[0].sku: expected "A-1", got nothing`,
		"✓ header Content-Type application/json application/json",
	}; !slices.Equal(got, want) {
		t.Errorf("assertions:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got, want := rows(ev, "f-warn"), []string{"cache-control-on-error RFC 9111 §3 SHOULD no-store absent a 500 should not be cached"}; !slices.Equal(got, want) {
		t.Errorf("findings = %q, want %q", got, want)
	}
	if got, want := rows(ev, "ch-"), []string{
		"X-Backend changed " + secretBaseline + " " + secretRespHeader,
		"$.items[0].in_stock removed " + secretJSONBefore + " —",
		`$.error added — "` + secretRespBody + `"`,
	}; !slices.Equal(got, want) {
		t.Errorf("diff rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// html/template writes + as &#43;: compare the decoded text.
	decoded := html.UnescapeString(ev)
	for _, want := range []string{
		// the diff: baseline link, status change, the unified text diff by line
		fmt.Sprintf(`Diff against the last good run <a href="./checkout?run=%d#evidence">#%d</a>`, f.baselineID, f.baselineID),
		`status <del>200</del> → <ins>500</ins>`,
		`<span class="d-hunk">@@ -1 +1 @@</span>`,
		`<span class="d-del">` + secretDiffText + `</span>`,
		`<span class="d-add">+diff-line-after</span>`,
		// the request, as sent
		`<pre class="http reqline"><span class="method">POST</span> ` + secretURL + `</pre>`,
		`<tr><th>Authorization</th><td>Bearer [REDACTED]</td></tr><tr><th>X-Trace</th><td>` + secretReqHeader + `</td></tr>`,
		"{\n  \"item\": \"" + secretReqBody + "\"\n}",
		// the response, JSON pretty-printed
		`<pre class="http statusline status-bad">HTTP/1.1 500 Internal Server Error</pre>`,
		`<tr><th>Content-Type</th><td>application/json</td></tr><tr><th>X-Backend</th><td>` + secretRespHeader + `</td></tr>`,
		"<pre class=\"body json\">{\n  \"error\": \"" + secretRespBody + "\",\n  \"items\": []\n}</pre>",
		// timings, in order of the phases
		`<td class="phase">waiting</td><td class="num">166ms</td>`,
	} {
		if !strings.Contains(decoded, want) {
			t.Errorf("evidence lacks %s", want)
		}
	}
	// The failed step is open, the passed and the skipped are folded.
	if got := strings.Count(ev, `<details class="step step-failed" open>`); got != 1 {
		t.Errorf("%d failed steps unfolded, want 1", got)
	}
	if !strings.Contains(ev, `<details class="step step-passed">`) || !strings.Contains(ev, `<details class="step step-skipped">`) {
		t.Errorf("passed and skipped steps should be folded")
	}
	// Facts of the check, and its uptime from Counts.
	if got, want := textOf(section(t, page, "check-head")),
		"failing checkout Checkout works end to end severity=page team=team-payments uptime 24h 60.0% uptime 7d 60.0% uptime 30d 60.0% "+
			"p50 / p95, 24h 120ms / 250ms last run 30s ago schedule @every 1m next run in 20s steps 2 file "+secretFile; got != want {
		t.Errorf("check head = %q\nwant %q", got, want)
	}
	// The chart marks the 4 failed runs, each a link to its evidence.
	chart := section(t, page, "latency-section")
	for id := f.failedID - 3; id <= f.failedID; id++ {
		if !strings.Contains(chart, fmt.Sprintf(`<a href="./checkout?run=%d#evidence"><circle class="lat-fail"`, id)) {
			t.Errorf("chart does not link failed run %d", id)
		}
	}
	if strings.Count(chart, `class="lat-fail"`) != 4 {
		t.Errorf("chart marks %d failed runs, want 4", strings.Count(chart, `class="lat-fail"`))
	}
	// The selected run is highlighted in the history table.
	if !strings.Contains(page, fmt.Sprintf(`<tr class="selected run-bad">
<td><a href="./checkout?run=%d#evidence">#%d</a></td>`, f.failedID, f.failedID)) {
		t.Errorf("the run shown is not highlighted in the table")
	}
}

func TestCheckPageSelectsARun(t *testing.T) {
	f := newFixture(t)
	srv := f.serve(t, false)

	page := getPage(t, fmt.Sprintf("%s/checks/checkout?run=%d", srv.URL, f.baselineID), 200)
	ev := section(t, page, "evidence")
	if got, want := textOf(ev[:strings.Index(ev, "<details")]), fmt.Sprintf(
		"Evidence of run #%d passed started 2025-06-01 11:55:30 UTC · took 120ms", f.baselineID); got != want {
		t.Errorf("evidence head = %q, want %q", got, want)
	}
	if strings.Contains(ev, "Diff against") {
		t.Errorf("a passing run has no diff")
	}

	// A passing latest run shows no evidence unless one is asked for.
	if page := getPage(t, srv.URL+"/checks/api-health", 200); strings.Contains(page, `id="evidence"`) {
		t.Errorf("a passing check shows evidence by default")
	}

	for _, tc := range []struct {
		query string
		code  int
		says  string
	}{
		{"?run=1", 404, "Check checkout has no run 1."}, // run 1 is api-health's
		{"?run=99999", 404, "Check checkout has no run 99999."},
		{"?run=abc", 400, "run must be a run id (a positive integer)"},
		{"?run=-4", 400, "run must be a run id (a positive integer)"},
		{"?before=x", 400, "before must be a run id (a positive integer)"},
		{"?status=broken", 400, "status must be failed or passed"},
	} {
		page := getPage(t, srv.URL+"/checks/checkout"+tc.query, tc.code)
		if got := textOf(section(t, page, "error-page")); !strings.Contains(got, tc.says) {
			t.Errorf("%s: page says %q, want %q", tc.query, got, tc.says)
		}
	}
}

func TestRunHistoryPaginatesAndFilters(t *testing.T) {
	f := newFixture(t)
	srv := f.serve(t, false)
	ids := func(from, to int) []string { // from down to to, inclusive
		var out []string
		for i := from; i >= to; i-- {
			out = append(out, fmt.Sprint(i))
		}
		return out
	}

	first := getPage(t, srv.URL+"/checks/api-health", 200)
	if got := runIDs(first); !slices.Equal(got, ids(300, 251)) {
		t.Errorf("first page = %v, want 300..251", got)
	}
	if !strings.Contains(first, `<a href="./api-health?before=251#runs">older »</a>`) || strings.Contains(first, "« newest") {
		t.Errorf("first page pager is wrong:\n%s", textOf(section(t, first, "run-list")))
	}
	second := getPage(t, srv.URL+"/checks/api-health?before=251", 200)
	if got := runIDs(second); !slices.Equal(got, ids(250, 201)) {
		t.Errorf("second page = %v, want 250..201", got)
	}
	if !strings.Contains(second, `<a href="./api-health#runs">« newest</a>`) || !strings.Contains(second, "?before=201#runs") {
		t.Errorf("second page pager is wrong")
	}
	last := getPage(t, srv.URL+"/checks/api-health?before=51", 200)
	if got := runIDs(last); !slices.Equal(got, ids(50, 1)) || strings.Contains(last, "older »") {
		t.Errorf("last page = %v (an older link: %v), want 50..1 and none", got, strings.Contains(last, "older »"))
	}

	failed := getPage(t, srv.URL+"/checks/api-health?status=failed", 200)
	want := []string{"150", "100", "90", "80", "70", "60", "50", "40", "30", "20"}
	if got := runIDs(failed); !slices.Equal(got, want) {
		t.Errorf("failed runs = %v, want %v", got, want)
	}
	if !strings.Contains(failed, `<a href="./api-health?status=failed#runs" class="active" aria-current="page">failed</a>`) {
		t.Errorf("the failed filter is not marked active")
	}
	// Paging keeps the filter, and the run links keep both.
	paged := getPage(t, srv.URL+"/checks/api-health?status=failed&before=95", 200)
	if got := runIDs(paged); !slices.Equal(got, want[2:]) {
		t.Errorf("failed before 95 = %v, want %v", got, want[2:])
	}
	if !strings.Contains(paged, `<a href="./api-health?before=95&amp;run=90&amp;status=failed#evidence">#90</a>`) {
		t.Errorf("run links do not keep the page and the filter")
	}
	passed := getPage(t, srv.URL+"/checks/checkout?status=passed", 200)
	if got := runIDs(passed); !slices.Equal(got, ids(int(f.baselineID), int(f.baselineID)-5)) {
		t.Errorf("passed runs of checkout = %v", got)
	}
}

func TestUnknownCheckIs404(t *testing.T) {
	f := newFixture(t)
	srv := f.serve(t, false)
	page := getPage(t, srv.URL+"/checks/nope%3Cscript%3E", 404)
	if got := textOf(section(t, page, "error-page")); got != "404 Not Found No check named nope<script> is configured. Back to all checks" {
		t.Errorf("404 page says %q", got)
	}
	if strings.Contains(page, "<script") {
		t.Errorf("the name is echoed unescaped")
	}
}

func TestPagesSetSecurityHeadersAndAnswerHEAD(t *testing.T) {
	f := newFixture(t)
	srv := f.serve(t, false)
	for _, path := range []string{"/", "/checks/checkout", "/checks/nope"} {
		req, _ := http.NewRequest(http.MethodHead, srv.URL+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		h := resp.Header
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Content-Type") != "text/html; charset=utf-8" ||
			!strings.HasPrefix(h.Get("Content-Security-Policy"), "default-src 'none'; style-src 'self'; img-src 'self' data:;") {
			t.Errorf("HEAD %s: headers %v", path, h)
		}
		if strings.Contains(h.Get("Content-Security-Policy"), "script-src") {
			t.Errorf("HEAD %s: the policy allows scripts", path)
		}
		if path != "/checks/nope" && resp.StatusCode != 200 {
			t.Errorf("HEAD %s = %d", path, resp.StatusCode)
		}
	}
	resp, css := get(t, srv.URL+"/assets/style.css")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/css; charset=utf-8" ||
		resp.Header.Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(css, "prefers-color-scheme: dark") {
		t.Errorf("stylesheet: %d %v", resp.StatusCode, resp.Header)
	}
	if resp, _ := get(t, srv.URL+"/assets/nothing.js"); resp.StatusCode != 404 {
		t.Errorf("unknown asset = %d", resp.StatusCode)
	}
}

func TestAutoRefreshCanBeTurnedOff(t *testing.T) {
	f := newFixture(t)
	srv := f.serve(t, false)
	on := getPage(t, srv.URL+"/", 200)
	if !strings.Contains(on, `<meta http-equiv="refresh" content="30">`) || !strings.Contains(on, `<a class="refresh" href="./?refresh=0">`) {
		t.Errorf("the overview does not refresh itself, or offers no way to stop it")
	}
	off := getPage(t, srv.URL+"/?refresh=0", 200)
	if strings.Contains(off, `http-equiv="refresh"`) {
		t.Errorf("refresh=0 still refreshes")
	}
	if !strings.Contains(off, `<a href="./checks/checkout?refresh=0">checkout</a>`) || !strings.Contains(off, `<a class="refresh" href="./">`) {
		t.Errorf("links do not keep refresh=0")
	}
	check := getPage(t, srv.URL+"/checks/api-health?refresh=0&before=251", 200)
	if !strings.Contains(check, `href="./api-health?before=201&amp;refresh=0#runs"`) || !strings.Contains(check, `<a href="../?refresh=0">all checks</a>`) {
		t.Errorf("check page links do not keep refresh=0")
	}
}

// TestPagesMakeNoExternalReferences: every href and src is relative to the
// daemon; nothing is fetched from elsewhere, even when a check's URL is.
func TestPagesMakeNoExternalReferences(t *testing.T) {
	f := newFixture(t)
	for _, public := range []bool{false, true} {
		srv := f.serve(t, public)
		for _, path := range []string{"/", "/checks/checkout", "/checks/api-health", fmt.Sprintf("/checks/checkout?run=%d", f.baselineID), "/checks/nope"} {
			resp, page := get(t, srv.URL+path)
			refs := hrefs(page)
			if len(refs) < 3 {
				t.Errorf("%s: found only %v", path, refs)
			}
			for _, ref := range refs {
				low := strings.ToLower(ref)
				if strings.HasPrefix(low, "http:") || strings.HasPrefix(low, "https:") || strings.HasPrefix(low, "//") || strings.Contains(low, "javascript:") {
					t.Errorf("public=%v %s (%d): external reference %q", public, path, resp.StatusCode, ref)
				}
			}
			if strings.Contains(strings.ToLower(page), "<script") {
				t.Errorf("public=%v %s: a script element", public, path)
			}
		}
	}
	_, css := get(t, f.serve(t, false).URL+"/assets/style.css")
	if strings.Contains(css, "url(") || strings.Contains(css, "@import") {
		t.Errorf("the stylesheet loads something")
	}
}

func TestHistoryErrorsLeaveAPage(t *testing.T) {
	f := newFixture(t)
	f.hist.err = errors.New("database is locked")
	srv := f.serve(t, false)
	page := getPage(t, srv.URL+"/", 200)
	if !strings.Contains(page, "Could not read uptime from the history: database is locked") {
		t.Errorf("the overview hides the history error")
	}
	// The latest results still decide the status.
	if got := rows(page, "row-failing"); len(got) != 1 || !strings.HasPrefix(got[0], "failing checkout") {
		t.Errorf("failing rows = %q", got)
	}
	getPage(t, srv.URL+"/checks/checkout", 200)
	pub := f.serve(t, true)
	if page := getPage(t, pub.URL+"/", 200); strings.Contains(page, "database is locked") || !strings.Contains(page, "History is unavailable right now") {
		t.Errorf("the public page shows the error text or no note")
	}
}

// TestPagesBoundWhatTheyRender: a huge body is cut at 64 KiB, and many
// assertions at the bound.
func TestPagesBoundWhatTheyRender(t *testing.T) {
	f := newFixture(t)
	big := strings.Repeat("x", 200<<10)
	r := failingCheckout(fixtureNow.Add(-5*time.Second), f.baselineID)
	step := &r.Attempts[0].Steps[1]
	step.Response.Body = big
	for i := range 300 {
		step.Assertions = append(step.Assertions, checks.AssertionResult{Name: fmt.Sprintf("a%d", i), Expected: "1", Actual: "2"})
	}
	id := f.hist.add(r)
	f.status.Record(context.Background(), r)
	srv := f.serve(t, false)
	page := getPage(t, fmt.Sprintf("%s/checks/checkout?run=%d", srv.URL, id), 200)
	if n := strings.Count(page, "x"); n > 64<<10+2000 || n < 64<<10 {
		t.Errorf("the page has %d x's of a 200 KiB body; want it cut at 64 KiB", n)
	}
	if !strings.Contains(page, "The body is cut at 64 KiB here.") || !strings.Contains(page, "103 more assertions are not shown.") {
		t.Errorf("the page does not say what it left out")
	}
	if len(page) > 400<<10 {
		t.Errorf("page of %d bytes", len(page))
	}
}

// TestOverviewRowsStayRows: a long description or failure message is cut
// in its row, whole in its tooltip.
func TestOverviewRowsStayRows(t *testing.T) {
	f := newFixture(t)
	long := strings.Repeat("word ", 99) + "word"
	cs := currentChecks(f)
	cs[0].Description = long // api-health, by name order
	f.status.SetChecks(cs)
	r := failingCheckout(fixtureNow.Add(-time.Second), f.baselineID)
	r.Message = "step get cart: " + long
	f.status.Record(context.Background(), r)
	page := getPage(t, f.serve(t, false).URL+"/", 200)
	if !strings.Contains(page, `<div class="desc" title="`+long+`">`+long[:160]+"…</div>") {
		t.Errorf("the long description is not cut with its tooltip")
	}
	if !strings.Contains(page, `title="step get cart: `+long+`"`) || !strings.Contains(page, ("step get cart: " + long)[:160]+"…") {
		t.Errorf("the long message is not cut with its tooltip")
	}
}
