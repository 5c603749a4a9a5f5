package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assay-monitor/assay/checks"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var t0 = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

// passingCheck is a passing check with three steps.
func passingCheck() *checks.Result {
	step := func(name, method, url string, status int, total time.Duration) checks.StepResult {
		return checks.StepResult{
			Name:     name,
			Passed:   true,
			Request:  checks.RequestSummary{Method: method, URL: url, Headers: map[string][]string{"Accept": {"application/json"}}},
			Response: &checks.ResponseSummary{Status: status, Proto: "HTTP/1.1", BodySize: 2},
			Timings:  checks.Timings{FirstByte: total - ms(1), Total: total},
			Assertions: []checks.AssertionResult{
				{Name: "status", Passed: true, Expected: fmt.Sprint(status), Actual: fmt.Sprint(status)},
			},
		}
	}
	steps := []checks.StepResult{
		step("list users", "GET", "http://demo.local/users", 200, ms(41)),
		step("create user", "POST", "http://demo.local/users", 201, ms(52)),
		step("get user", "GET", "http://demo.local/users/7", 200, ms(30)),
	}
	steps[1].Captures = map[string]string{"id": "7"}
	return &checks.Result{
		Check:    "users-crud",
		File:     "checks.d/users.yaml",
		Labels:   map[string]string{"team": "users", "severity": "ticket"},
		Tags:     []string{"smoke"},
		Started:  t0,
		Duration: ms(123),
		Passed:   true,
		Attempts: []checks.Attempt{{Number: 1, Started: t0, Duration: ms(123), Passed: true, Steps: steps}},
	}
}

// failingCheck fails on step 3 (status 204 instead of 412); step 4 is skipped.
func failingCheck() *checks.Result {
	start := t0.Add(time.Second)
	ok := func(name, method string, status int, total time.Duration) checks.StepResult {
		return checks.StepResult{
			Name:     name,
			Passed:   true,
			Request:  checks.RequestSummary{Method: method, URL: "http://demo.local/documents/42"},
			Response: &checks.ResponseSummary{Status: status, Proto: "HTTP/1.1"},
			Timings:  checks.Timings{Total: total},
		}
	}
	stale := checks.StepResult{
		Name:    "stale If-Match is rejected",
		Reason:  checks.ReasonAssertion,
		Message: "status: expected 412, got 204",
		Request: checks.RequestSummary{
			Method: "PATCH",
			URL:    "http://demo.local/documents/42",
			Headers: map[string][]string{
				"If-Match":      {`"v1"`},
				"Content-Type":  {"application/json"},
				"Authorization": {"[redacted]"},
			},
			Body: `{"title":"stale write"}`,
		},
		Response: &checks.ResponseSummary{Status: 204, Proto: "HTTP/1.1", Headers: map[string][]string{"Etag": {`"v3"`}}},
		Timings:  checks.Timings{DNS: ms(1), Connect: ms(2), FirstByte: ms(17), Total: ms(18)},
		Assertions: []checks.AssertionResult{
			{Name: "status", Passed: false, Expected: "412", Actual: "204", Message: "status: expected 412, got 204"},
			{Name: "header ETag", Passed: true, Expected: "exists", Actual: `"v3"`},
		},
		Findings: []checks.Finding{{
			Rule:     "if-match-evaluated",
			Section:  "RFC 9110 §13.1.1",
			Level:    "MUST",
			Expected: "412 Precondition Failed",
			Actual:   "204 No Content",
			Message:  "If-Match did not match the current ETag, but the request was applied",
		}},
	}
	steps := []checks.StepResult{
		ok("read current version", "GET", 200, ms(25)),
		ok("conditional update", "PATCH", 204, ms(31)),
		stale,
		{Name: "read after stale write", Skipped: true, Request: checks.RequestSummary{Method: "GET", URL: "http://demo.local/documents/42"}},
	}
	return &checks.Result{
		Check:    "documents-conditional-update",
		File:     "checks.d/documents.yaml",
		Labels:   map[string]string{"team": "docs", "severity": "page"},
		Started:  start,
		Duration: ms(2100),
		Reason:   checks.ReasonAssertion,
		Message:  `step "stale If-Match is rejected": status: expected 412, got 204`,
		Attempts: []checks.Attempt{{
			Number: 1, Started: start, Duration: ms(2100),
			Reason: checks.ReasonAssertion, Message: "status: expected 412, got 204",
			Steps: steps,
		}},
	}
}

// timeoutCheck timed out on both of its two attempts.
func timeoutCheck() *checks.Result {
	start := t0.Add(2 * time.Second)
	attempt := func(n int, at time.Time) checks.Attempt {
		return checks.Attempt{
			Number: n, Started: at, Duration: ms(5003),
			Reason: checks.ReasonTimeout, Message: "search: no response within 5s",
			Steps: []checks.StepResult{
				{
					Name: "search", Reason: checks.ReasonTimeout, Message: "no response within 5s",
					Request: checks.RequestSummary{Method: "GET", URL: "http://demo.local/search?q=probe"},
					Timings: checks.Timings{DNS: ms(1), Connect: ms(1), Total: ms(5000)},
				},
				{Name: "open first hit", Skipped: true},
			},
		}
	}
	return &checks.Result{
		Check:    "search-latency",
		Tags:     []string{"slow", "search"},
		Started:  start,
		Duration: ms(10250),
		Reason:   checks.ReasonTimeout,
		Message:  `step "search": no response within 5s`,
		Attempts: []checks.Attempt{attempt(1, start), attempt(2, start.Add(ms(5200)))},
	}
}

// noStepCheck failed before any step ran.
func noStepCheck() *checks.Result {
	start := t0.Add(3 * time.Second)
	return &checks.Result{
		Check:    "broken-template",
		File:     "checks.d/broken.yaml",
		Started:  start,
		Duration: ms(0),
		Reason:   checks.ReasonTemplate,
		Message:  `checks.d/broken.yaml:7:12: template: no variable "base"`,
		Attempts: []checks.Attempt{{Number: 1, Started: start, Reason: checks.ReasonTemplate, Message: `template: no variable "base"`}},
	}
}

func fixtures() []*checks.Result {
	return []*checks.Result{passingCheck(), failingCheck(), timeoutCheck(), noStepCheck()}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./report -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(gl) || i < len(wl); i++ {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("%s differs at line %d:\n got: %q\nwant: %q\n(run go test ./report -update if the change is intended)", path, i+1, g, w)
			}
		}
		t.Fatalf("%s differs", path)
	}
}

func TestConsoleGolden(t *testing.T) {
	var b bytes.Buffer
	WriteConsole(&b, fixtures(), ConsoleOptions{})
	golden(t, "console", b.Bytes())
}

func TestConsoleVerboseGolden(t *testing.T) {
	var b bytes.Buffer
	WriteConsole(&b, fixtures(), ConsoleOptions{Verbose: true})
	golden(t, "console_verbose", b.Bytes())
}

func TestJUnitGolden(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJUnit(&b, fixtures(), "assay"); err != nil {
		t.Fatal(err)
	}
	golden(t, "junit", b.Bytes())
}

func TestJSONGolden(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, fixtures()); err != nil {
		t.Fatal(err)
	}
	golden(t, "json", b.Bytes())
}

func TestConsoleLinesAndLastLine(t *testing.T) {
	var b bytes.Buffer
	WriteConsole(&b, fixtures(), ConsoleOptions{})
	out := b.String()
	for _, want := range []string{
		"PASS  users-crud  (123ms)\n",
		"FAIL  documents-conditional-update  (2.1s)\n",
		"FAIL  search-latency  (10.2s)  attempts: 2\n",
		"      expected: 412\n",
		"      actual:   204\n",
		"      Authorization: [redacted]\n",
		"    response: HTTP/1.1 204 No Content\n",
		"[MUST] if-match-evaluated",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("console output lacks %q", want)
		}
	}
	if !strings.HasSuffix(out, "\n1 passed, 3 failed\n") {
		t.Errorf("console output does not end with the summary line:\n%s", out)
	}
	if strings.Contains(out, "\x1b[") {
		t.Error("colors without opts.Color")
	}
	// Headers are sorted.
	a, c, i := strings.Index(out, "Authorization:"), strings.Index(out, "Content-Type:"), strings.Index(out, "If-Match:")
	if !(a < c && c < i) {
		t.Errorf("request headers not sorted: %d %d %d", a, c, i)
	}
}

func TestConsoleColor(t *testing.T) {
	var b bytes.Buffer
	WriteConsole(&b, fixtures(), ConsoleOptions{Color: true})
	out := b.String()
	if !strings.Contains(out, "\x1b[32mPASS\x1b[0m  users-crud") {
		t.Errorf("no green PASS in colored output:\n%q", out)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if last := lines[len(lines)-1]; last != "1 passed, 3 failed" {
		t.Errorf("last line = %q", last)
	}
}

func TestConsoleEmpty(t *testing.T) {
	var b bytes.Buffer
	WriteConsole(&b, nil, ConsoleOptions{})
	if got := b.String(); got != "0 passed, 0 failed\n" {
		t.Errorf("got %q", got)
	}
}

func TestConsoleBodyPreviewAndControlChars(t *testing.T) {
	r := failingCheck()
	s := &r.Attempts[0].Steps[2]
	s.Request.Body = strings.Repeat("é", 600) // 1200 bytes, 2 per rune
	s.Assertions[0].Actual = "20\x1b[2J4\r"
	var b bytes.Buffer
	WriteConsole(&b, []*checks.Result{r}, ConsoleOptions{})
	out := b.String()
	if !strings.Contains(out, strings.Repeat("é", 512)+"... (176 more bytes)") {
		t.Errorf("body not cut to 1 KiB on a rune boundary:\n%s", out)
	}
	if strings.ContainsAny(out, "\x1b\r") {
		t.Errorf("control characters reached the console: %q", out)
	}
	if !strings.Contains(out, `actual:   20\x1b[2J4\x0d`) {
		t.Errorf("control characters not shown escaped:\n%s", out)
	}
}

func TestSummary(t *testing.T) {
	p, f := Summary(append(fixtures(), nil))
	if p != 1 || f != 3 {
		t.Errorf("Summary = %d, %d; want 1, 3", p, f)
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                       "0ms",
		-time.Second:            "0ms",
		400 * time.Microsecond:  "0ms",
		123 * time.Millisecond:  "123ms",
		999 * time.Millisecond:  "999ms",
		2100 * time.Millisecond: "2.1s",
		65 * time.Second:        "1m5s",
	} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

// Parsed JUnit, independent of the writer's own types.
type xSuites struct {
	XMLName  xml.Name `xml:"testsuites"`
	Name     string   `xml:"name,attr"`
	Tests    int      `xml:"tests,attr"`
	Failures int      `xml:"failures,attr"`
	Errors   int      `xml:"errors,attr"`
	Time     string   `xml:"time,attr"`
	Suites   []xSuite `xml:"testsuite"`
}

type xSuite struct {
	Name       string      `xml:"name,attr"`
	Tests      int         `xml:"tests,attr"`
	Failures   int         `xml:"failures,attr"`
	Errors     int         `xml:"errors,attr"`
	Skipped    int         `xml:"skipped,attr"`
	Time       string      `xml:"time,attr"`
	Timestamp  string      `xml:"timestamp,attr"`
	Properties []xProperty `xml:"properties>property"`
	Cases      []xCase     `xml:"testcase"`
	SystemOut  string      `xml:"system-out"`
}

type xProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type xCase struct {
	Name      string `xml:"name,attr"`
	Classname string `xml:"classname,attr"`
	Time      string `xml:"time,attr"`
	Failure   *struct {
		Message string `xml:"message,attr"`
		Type    string `xml:"type,attr"`
		Text    string `xml:",chardata"`
	} `xml:"failure"`
	Skipped *struct {
		Message string `xml:"message,attr"`
	} `xml:"skipped"`
}

// parseJUnit checks that every token is well formed XML 1.0 and decodes it.
func parseJUnit(t *testing.T, data []byte) xSuites {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(data))
	for {
		if _, err := d.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("JUnit output is not well formed: %v\n%s", err, data)
		}
	}
	var doc xSuites
	if err := xml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("unmarshal JUnit: %v", err)
	}
	return doc
}

func TestJUnitStructure(t *testing.T) {
	results := fixtures()
	var b bytes.Buffer
	if err := WriteJUnit(&b, results, "assay"); err != nil {
		t.Fatal(err)
	}
	doc := parseJUnit(t, b.Bytes())
	if doc.Name != "assay" || len(doc.Suites) != len(results) {
		t.Fatalf("root name %q with %d suites", doc.Name, len(doc.Suites))
	}
	if doc.Tests != 3+4+2+1 || doc.Failures != 3 || doc.Errors != 0 || doc.Time != "12.473" {
		t.Errorf("root counts: tests=%d failures=%d errors=%d time=%s", doc.Tests, doc.Failures, doc.Errors, doc.Time)
	}
	for i, s := range doc.Suites {
		r := results[i]
		if s.Name != r.Check {
			t.Errorf("suite %d named %q, want %q", i, s.Name, r.Check)
		}
		want := len(r.Steps())
		if want == 0 {
			want = 1
		}
		if len(s.Cases) != want || s.Tests != want {
			t.Errorf("suite %s: %d testcases, tests=%d; want %d", s.Name, len(s.Cases), s.Tests, want)
		}
		failures, skipped := 0, 0
		for _, c := range s.Cases {
			if c.Classname != r.Check {
				t.Errorf("testcase %q classname %q", c.Name, c.Classname)
			}
			if c.Failure != nil {
				failures++
			}
			if c.Skipped != nil {
				skipped++
			}
		}
		if s.Failures != failures || s.Skipped != skipped || s.Errors != 0 {
			t.Errorf("suite %s: failures=%d skipped=%d errors=%d, counted %d %d", s.Name, s.Failures, s.Skipped, s.Errors, failures, skipped)
		}
	}

	users := doc.Suites[0]
	if users.Timestamp != "2025-03-14T09:26:53" || users.Time != "0.123" || users.Cases[1].Time != "0.052" {
		t.Errorf("users timestamp %q time %q step time %q", users.Timestamp, users.Time, users.Cases[1].Time)
	}
	props := map[string]string{}
	for _, p := range users.Properties {
		props[p.Name] = p.Value
	}
	if props["label.team"] != "users" || props["tag"] != "smoke" || props["file"] != "checks.d/users.yaml" {
		t.Errorf("properties %v", props)
	}

	docs := doc.Suites[1]
	f := docs.Cases[2].Failure
	if docs.Cases[2].Name != "stale If-Match is rejected" || f == nil {
		t.Fatalf("step 3 of %s is not a failure: %+v", docs.Name, docs.Cases[2])
	}
	if f.Message != "status: expected 412, got 204" || f.Type != "assertion" {
		t.Errorf("failure message %q type %q", f.Message, f.Type)
	}
	for _, want := range []string{"expected: 412", "actual:   204", "request: PATCH http://demo.local/documents/42", "response: HTTP/1.1 204 No Content"} {
		if !strings.Contains(f.Text, want) {
			t.Errorf("failure body lacks %q:\n%s", want, f.Text)
		}
	}
	if sk := docs.Cases[3].Skipped; sk == nil || sk.Message != "not run: an earlier step failed" {
		t.Errorf("step 4 not skipped: %+v", docs.Cases[3])
	}

	search := doc.Suites[2]
	if f := search.Cases[0].Failure; f == nil || f.Type != "timeout" {
		t.Errorf("search step 1: %+v", search.Cases[0])
	}
	if !strings.Contains(search.SystemOut, "attempts: 2") || !strings.Contains(search.SystemOut, "attempt 2: FAIL (timeout)") {
		t.Errorf("system-out %q", search.SystemOut)
	}

	broken := doc.Suites[3]
	if c := broken.Cases[0]; c.Name != "broken-template" || c.Failure == nil || c.Failure.Type != "template" {
		t.Errorf("check-level testcase: %+v", c)
	}
}

func TestJUnitEscaping(t *testing.T) {
	nasty := "a < b && c > \"d\" 'e' \x00\x01\x08\x0b\x0c\x1b[31m\x7f \xff\xfe \ufffe end\r\nsecond line"
	r := failingCheck()
	r.Check = `weird <check> & "name"`
	r.Labels["x&y"] = "<v>"
	s := &r.Attempts[0].Steps[2]
	s.Name = "step ]]> <![CDATA["
	s.Message = nasty
	s.Assertions[0].Actual = nasty
	s.Request.URL = "http://demo.local/?a=1&b=<2>"

	var b bytes.Buffer
	if err := WriteJUnit(&b, []*checks.Result{r, noStepCheck()}, "suite & <co>"); err != nil {
		t.Fatal(err)
	}
	doc := parseJUnit(t, b.Bytes())
	if doc.Name != "suite & <co>" {
		t.Errorf("suite name %q", doc.Name)
	}
	suite := doc.Suites[0]
	if suite.Name != `weird <check> & "name"` || suite.Cases[2].Classname != suite.Name {
		t.Errorf("suite name %q", suite.Name)
	}
	c := suite.Cases[2]
	if c.Name != "step ]]> <![CDATA[" || c.Failure == nil {
		t.Fatalf("case %+v", c)
	}
	msg := c.Failure.Message
	if strings.ContainsAny(msg, "\n\r") {
		t.Errorf("message is not one line: %q", msg)
	}
	if !strings.HasPrefix(msg, `a < b && c > "d" 'e' `) || !strings.HasSuffix(msg, "end\\x0d second line") {
		t.Errorf("message = %q", msg)
	}
	if !strings.Contains(c.Failure.Text, `a < b && c > "d"`) || !strings.Contains(c.Failure.Text, "request: PATCH http://demo.local/?a=1&b=<2>") {
		t.Errorf("failure body = %q", c.Failure.Text)
	}
	for _, text := range []string{msg, c.Failure.Text, string(b.Bytes())} {
		for _, r := range text {
			if (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f || r == 0xfffe {
				t.Errorf("forbidden character %U survived in %q", r, text)
			}
		}
	}
	if !strings.Contains(b.String(), "&lt;") || !strings.Contains(b.String(), "&amp;") {
		t.Error("no entity escaping in output")
	}
}

func TestJSONShape(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, append(fixtures(), nil)); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Version int              `json:"version"`
		Passed  int              `json:"passed"`
		Failed  int              `json:"failed"`
		Results []*checks.Result `json:"results"`
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Version != 1 || doc.Passed != 1 || doc.Failed != 3 || len(doc.Results) != 4 {
		t.Errorf("version=%d passed=%d failed=%d results=%d", doc.Version, doc.Passed, doc.Failed, len(doc.Results))
	}
	if got := doc.Results[1].FailedStep(); got == nil || got.Name != "stale If-Match is rejected" || got.Assertions[0].Expected != "412" {
		t.Errorf("failed step did not round-trip: %+v", got)
	}

	b.Reset()
	if err := WriteJSON(&b, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `"results": []`) {
		t.Errorf("empty results not []: %s", b.String())
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }

func TestWriteErrors(t *testing.T) {
	if err := WriteJUnit(failWriter{}, fixtures(), "assay"); err == nil {
		t.Error("WriteJUnit ignored a write error")
	}
	if err := WriteJSON(failWriter{}, fixtures()); err == nil {
		t.Error("WriteJSON ignored a write error")
	}
}
