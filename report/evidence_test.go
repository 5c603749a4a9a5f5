package report

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/assay-monitor/assay/checks"
)

// evidenceCheck is a check whose one step failed on resp with the given
// (failed) assertions.
func evidenceCheck(resp *checks.ResponseSummary, as ...checks.AssertionResult) *checks.Result {
	for i := range as {
		a := &as[i]
		if a.Message == "" {
			a.Message = fmt.Sprintf("%s: expected %s, got %s", a.Name, a.Expected, a.Actual)
		}
	}
	msg := "assertion failed"
	if len(as) > 0 {
		msg = as[0].Message
	}
	step := checks.StepResult{
		Name:       "read items",
		Reason:     checks.ReasonAssertion,
		Message:    msg,
		Request:    checks.RequestSummary{Method: "GET", URL: "http://demo.local/items"},
		Response:   resp,
		Timings:    checks.Timings{Total: ms(12)},
		Assertions: as,
	}
	return &checks.Result{
		Check:    "items",
		File:     "checks.d/items.yaml",
		Started:  t0,
		Duration: ms(15),
		Reason:   checks.ReasonAssertion,
		Message:  `step "read items": ` + msg,
		Attempts: []checks.Attempt{{Number: 1, Started: t0, Duration: ms(15), Reason: checks.ReasonAssertion, Message: msg, Steps: []checks.StepResult{step}}},
	}
}

// itemsBody is a JSON list of n items, compact as a server sends it.
func itemsBody(n int) string {
	var b strings.Builder
	b.WriteString(`{"status":"ok","count":`)
	fmt.Fprintf(&b, "%d", n)
	b.WriteString(`,"items":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":%d,"name":"item <%d>","price":%d.5,"tags":[]}`, i, i, i)
	}
	b.WriteString(`],"next":null}`)
	return b.String()
}

func jsonResponse(body string) *checks.ResponseSummary {
	return &checks.ResponseSummary{
		Status: 200, Proto: "HTTP/1.1",
		Headers:  map[string][]string{"Content-Type": {"application/json"}, "Date": {"Fri, 14 Mar 2025 09:26:53 GMT"}},
		Body:     body,
		BodySize: int64(len(body)),
	}
}

func failed(name, expected, actual string) checks.AssertionResult {
	return checks.AssertionResult{Name: name, Expected: expected, Actual: actual}
}

// enginePreview cuts body as the engine stores a long one.
func enginePreview(body string, limit int) string {
	return body[:limit] + fmt.Sprintf("…(%d more bytes)", len(body)-limit)
}

func evidenceFixtures() map[string]*checks.Result {
	long := itemsBody(30)
	cutBody := itemsBody(200)
	truncated := jsonResponse(enginePreview(cutBody, 4096))
	truncated.BodySize = int64(len(cutBody))
	truncated.Truncated = true

	text := &checks.ResponseSummary{Status: 502, Proto: "HTTP/1.1", Headers: map[string][]string{"Content-Type": {"text/html"}}}
	var tb strings.Builder
	tb.WriteString("<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n")
	tb.WriteString("<body>\x1b[2Jupstream \"items\" failed\r\n")
	tb.WriteString(strings.Repeat("x", 300) + "\r\n")
	for i := range 25 {
		fmt.Fprintf(&tb, "<p>line %d</p>\r\n", i)
	}
	tb.WriteString("</body></html>\r\n")
	text.Body, text.BodySize = tb.String(), int64(tb.Len())

	many := jsonResponse(`{"ok":false}`)
	for i := range 35 {
		many.Headers[fmt.Sprintf("X-Header-%02d", i)] = []string{fmt.Sprintf("value %d", i)}
	}
	many.Headers["Vary"] = []string{"Accept", "Accept-Encoding"}
	many.Headers["Etag"] = []string{`"v2"`}

	return map[string]*checks.Result{
		"json_marked_middle": evidenceCheck(jsonResponse(long),
			failed("json $.items[12].price", "< 10", "12.5")),
		"json_top_level": evidenceCheck(jsonResponse(long),
			failed("json $.status", `"ready"`, `"ok"`)),
		"json_non_singular": evidenceCheck(jsonResponse(long),
			failed("json $.items[*].price", "< 10", "[0.5,1.5,2.5,...]")),
		"text_body": evidenceCheck(text, failed("status", "200", "502")),
		"binary_body": evidenceCheck(&checks.ResponseSummary{
			Status: 200, Proto: "HTTP/1.1", Headers: map[string][]string{"Content-Type": {"image/png"}},
			Body: "(120 bytes of binary data)", BodySize: 120,
		}, failed("header Content-Type", `"application/json"`, `"image/png"`)),
		"empty_body": evidenceCheck(&checks.ResponseSummary{
			Status: 204, Proto: "HTTP/1.1", Headers: map[string][]string{"Etag": {`"v3"`}},
		}, failed("body", "not empty", "empty body")),
		"many_headers": evidenceCheck(many, failed("header ETag", `"v3"`, `"v2"`)),
		"truncated_body": evidenceCheck(truncated,
			failed("json $.items[150].price", "< 10", "150.5"), // beyond the stored excerpt
			failed("json $.items[20].name", `"x"`, `"item <20>"`)),
		"openapi_pointer": evidenceCheck(jsonResponse(itemsBody(5)),
			checks.AssertionResult{
				Name: "openapi body /items/2/price", Expected: "type integer (spec openapi.yaml:41:17 #/components/schemas/Item/properties/price)",
				Actual: "2.5", Message: "openapi body /items/2/price: value must be an integer (spec openapi.yaml:41:17 #/components/schemas/Item/properties/price)",
			}),
	}
}

func TestConsoleEvidenceGolden(t *testing.T) {
	for name, r := range evidenceFixtures() {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			WriteConsole(&b, []*checks.Result{r}, ConsoleOptions{})
			golden(t, "evidence_"+name, b.Bytes())
			out := b.String()
			if strings.ContainsAny(out, "\r\x1b") {
				t.Errorf("control characters reached the console: %q", out)
			}
			for i, l := range strings.Split(out, "\n") {
				if n := len([]rune(l)); n > maxLineRunes+2*maxJSONDepth+8 {
					t.Errorf("line %d has %d runes", i+1, n)
				}
			}
		})
	}
}

func TestJUnitEvidenceGolden(t *testing.T) {
	fx := evidenceFixtures()
	results := []*checks.Result{fx["json_marked_middle"], fx["text_body"]}
	var b bytes.Buffer
	if err := WriteJUnit(&b, results, "assay"); err != nil {
		t.Fatal(err)
	}
	golden(t, "junit_evidence", b.Bytes())
	doc := parseJUnit(t, b.Bytes())
	text := doc.Suites[0].Cases[0].Failure.Text
	for _, want := range []string{
		"response: HTTP/1.1 200 OK\n  Content-Type: application/json\n",
		"body: JSON, %d bytes\n  ...\n",
		`>       "price": 12.5,` + "\n",
		"  (167 more lines)\n",
	} {
		if strings.Contains(want, "%d") {
			want = fmt.Sprintf(want, len(itemsBody(30)))
		}
		if !strings.Contains(text, want) {
			t.Errorf("failure text lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "\x1b") {
		t.Error("colour in JUnit")
	}
}

// The marked line is centred in a window of excerptLines lines.
func TestEvidenceWindowCentred(t *testing.T) {
	ev := stepEvidence(evidenceFixtures()["json_marked_middle"].FailedStep())
	if len(ev.excerpt) != excerptLines+2 {
		t.Fatalf("%d excerpt lines, want %d and two %q", len(ev.excerpt), excerptLines, moreMarker)
	}
	if ev.excerpt[0].text != moreMarker || ev.excerpt[len(ev.excerpt)-1].text != moreMarker {
		t.Errorf("excerpt not framed by %q: %q ... %q", moreMarker, ev.excerpt[0].text, ev.excerpt[len(ev.excerpt)-1].text)
	}
	var marked []int
	for i, l := range ev.excerpt {
		if l.marked {
			marked = append(marked, i)
		}
	}
	if len(marked) != 1 || marked[0] != 1+excerptLines/2 || ev.excerpt[marked[0]].text != `      "price": 12.5,` {
		t.Errorf("marked lines %v (%+v)", marked, ev.excerpt)
	}
	if ev.moreLines != 187-excerptLines {
		t.Errorf("moreLines = %d", ev.moreLines)
	}
}

func TestWindow(t *testing.T) {
	for _, tc := range []struct{ total, focus, start, end int }{
		{5, -1, 0, 5},
		{5, 4, 0, 5},
		{100, -1, 0, 20},
		{100, 0, 0, 20},
		{100, 9, 0, 20},
		{100, 50, 40, 60},
		{100, 99, 80, 100},
		{20, 19, 0, 20},
		{0, -1, 0, 0},
	} {
		if s, e := window(tc.total, tc.focus); s != tc.start || e != tc.end {
			t.Errorf("window(%d, %d) = %d, %d; want %d, %d", tc.total, tc.focus, s, e, tc.start, tc.end)
		}
	}
}

func TestConsoleEvidenceColor(t *testing.T) {
	var b bytes.Buffer
	WriteConsole(&b, []*checks.Result{evidenceFixtures()["json_marked_middle"]}, ConsoleOptions{Color: true})
	if want := "\n    " + ansiRed + `>       "price": 12.5,` + ansiReset + "\n"; !strings.Contains(b.String(), want) {
		t.Errorf("marked line not red: want %q in\n%q", want, b.String())
	}
	b.Reset()
	WriteConsole(&b, []*checks.Result{evidenceFixtures()["json_marked_middle"]}, ConsoleOptions{})
	if !strings.Contains(b.String(), "\n    "+`>       "price": 12.5,`+"\n") {
		t.Errorf("marked line without colour missing:\n%s", b.String())
	}
}

// Whatever Lines returns is shown under the diff heading, cleaned; the
// heading names the baseline run.
func TestEvidenceDiff(t *testing.T) {
	r := evidenceCheck(jsonResponse(`{"price":"10"}`), failed("json $.price", "type number", `"10"`))
	s := &r.Attempts[0].Steps[0]
	s.Diff = &checks.ResponseDiff{
		BaselineRunID: 41,
		BaselineTime:  time.Date(2025, 3, 14, 9, 20, 0, 0, time.UTC),
		Status:        &checks.FieldChange{Name: "status", Change: checks.ChangeChanged, From: "200", To: "500"},
		JSON:          []checks.FieldChange{{Name: "$.price", Change: checks.ChangeChanged, From: "10", To: `"10"`}},
	}
	want := []string{"    diff against the last passing run (run 41 at 2025-03-14T09:20:00Z):"}
	lines := s.Diff.Lines(maxDiffLines)
	for _, l := range lines {
		want = append(want, "      "+cutLine(oneLine(l)))
	}
	if len(lines) == 0 {
		want = append(want, "      "+diffNoneListed)
	}
	var b bytes.Buffer
	WriteConsole(&b, []*checks.Result{r}, ConsoleOptions{})
	out := b.String()
	if !strings.Contains(out, strings.Join(want, "\n")+"\n    total:") {
		t.Errorf("console lacks the diff section\n%s\nin\n%s", strings.Join(want, "\n"), out)
	}
	// The diff follows the body excerpt.
	if strings.Index(out, "    body:") > strings.Index(out, "    diff against") {
		t.Errorf("diff before the body:\n%s", out)
	}

	b.Reset()
	if err := WriteJUnit(&b, []*checks.Result{r}, "assay"); err != nil {
		t.Fatal(err)
	}
	text := parseJUnit(t, b.Bytes()).Suites[0].Cases[0].Failure.Text
	for i := range want {
		want[i] = strings.TrimPrefix(want[i], "    ")
	}
	if !strings.Contains(text, strings.Join(want, "\n")+"\n") {
		t.Errorf("JUnit failure lacks the diff section\n%s\nin\n%s", strings.Join(want, "\n"), text)
	}

	// No baseline facts: the heading alone; no diff: no section.
	s.Diff = &checks.ResponseDiff{}
	if ev := stepEvidence(s); ev.diffHead != diffHeading {
		t.Errorf("heading %q", ev.diffHead)
	}
	s.Diff = nil
	if ev := stepEvidence(s); ev.diffHead != "" || ev.diff != nil {
		t.Errorf("a diff section without a diff: %q %q", ev.diffHead, ev.diff)
	}
}

func TestEvidenceBodySummary(t *testing.T) {
	for _, tc := range []struct {
		resp *checks.ResponseSummary
		want string
	}{
		{&checks.ResponseSummary{}, "empty"},
		{&checks.ResponseSummary{BodySize: 10}, "10 bytes, not stored"},
		{&checks.ResponseSummary{BodySize: 1 << 20, Truncated: true}, "1048576 bytes, not stored, reading stopped at max_body"},
		{&checks.ResponseSummary{Body: "(120 bytes of binary data)", BodySize: 120}, "120 bytes of binary data"},
		{&checks.ResponseSummary{Body: "(64 bytes of binary data)", BodySize: 64, Truncated: true}, "64 bytes of binary data, reading stopped at max_body"},
		{&checks.ResponseSummary{Body: "hi", BodySize: 2}, "text, 2 bytes"},
		{&checks.ResponseSummary{Body: "hi"}, "text, 2 bytes"},
		{&checks.ResponseSummary{Body: `{"a":1}`, BodySize: 7}, "JSON, 7 bytes"},
		{&checks.ResponseSummary{Body: `{"a":1,` + "…(5 more bytes)", BodySize: 12}, "JSON, 12 bytes, excerpt of the first 7 bytes"},
		{&checks.ResponseSummary{Body: `{"a":1,"b":`, BodySize: 11, Truncated: true}, "JSON, more than 11 bytes (reading stopped at max_body)"},
		// A cut that is not JSON stays text.
		{&checks.ResponseSummary{Body: `{"a" 1` + "…(5 more bytes)", BodySize: 11}, "text, 11 bytes, excerpt of the first 6 bytes"},
		// The engine's note, but not the engine's numbers: the body's own text.
		{&checks.ResponseSummary{Body: "see …(5 more bytes)", BodySize: 3}, "text, 21 bytes"},
	} {
		ev := &evidence{}
		ev.responseBody(tc.resp, nil)
		if ev.body != tc.want {
			t.Errorf("%+v: body %q, want %q", tc.resp, ev.body, tc.want)
		}
	}
}

func TestEvidenceBounds(t *testing.T) {
	// A huge body on one line, a huge header value, thousands of lines.
	resp := &checks.ResponseSummary{
		Status: 200, Proto: "HTTP/1.1",
		Headers: map[string][]string{"X-Long": {strings.Repeat("v", 10000)}},
		Body:    strings.Repeat("word ", 1000) + "\n" + strings.Repeat("line\n", 20000),
	}
	ev := stepEvidence(&checks.StepResult{Response: resp})
	if ev.headers[0].text != "X-Long: "+strings.Repeat("v", maxLineRunes-len("X-Long: "))+cutMarker {
		t.Errorf("header not cut: %d bytes", len(ev.headers[0].text))
	}
	if len(ev.excerpt) != excerptLines+1 || ev.excerpt[excerptLines].text != moreMarker {
		t.Errorf("%d excerpt lines", len(ev.excerpt))
	}
	for _, l := range ev.excerpt {
		if n := len([]rune(l.text)); n > maxLineRunes+1 {
			t.Errorf("excerpt line of %d runes", n)
		}
	}
	if !strings.HasSuffix(ev.body, fmt.Sprintf(", excerpt of the first %d bytes", maxExcerptIn)) {
		t.Errorf("body %q does not say it was cut", ev.body)
	}
	// The count is of the lines looked at: the long one and the "line"s
	// in the rest of the first maxExcerptIn bytes.
	if looked := 1 + (maxExcerptIn-5001)/len("line\n"); ev.moreLines != looked-excerptLines {
		t.Errorf("moreLines = %d", ev.moreLines)
	}
}

// Body text that would break a terminal or XML is escaped in both.
func TestEvidenceEscaping(t *testing.T) {
	nasty := "a\x00b\x1b[31mc\r\nd\x7f\u0085 & <e>"
	r := evidenceCheck(&checks.ResponseSummary{
		Status: 500, Proto: "HTTP/1.1",
		Headers: map[string][]string{"X-Nasty\x1b": {nasty}},
		Body:    nasty, BodySize: int64(len(nasty)),
	}, failed("status", "200", "500"))
	var b bytes.Buffer
	WriteConsole(&b, []*checks.Result{r}, ConsoleOptions{})
	if strings.ContainsAny(b.String(), "\x00\x1b\r\x7f\u0085") {
		t.Errorf("control characters reached the console: %q", b.String())
	}
	for _, want := range []string{`      a\x00b\x1b[31mc` + "\n", `      d\x7f\u0085 & <e>` + "\n", `      X-Nasty\x1b: a\x00b\x1b[31mc\x0d d`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("console lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	if err := WriteJUnit(&b, []*checks.Result{r}, "assay"); err != nil {
		t.Fatal(err)
	}
	text := parseJUnit(t, b.Bytes()).Suites[0].Cases[0].Failure.Text
	if !strings.Contains(text, `d\x7f\u0085 & <e>`) {
		t.Errorf("failure text %q", text)
	}
}
