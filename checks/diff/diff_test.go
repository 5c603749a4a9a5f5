package diff

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/assay-monitor/assay/checks"
)

// resp is a whole response as checks.Run summarizes it.
func resp(status int, headers map[string][]string, body string) *checks.ResponseSummary {
	return &checks.ResponseSummary{Status: status, Proto: "HTTP/1.1", Headers: headers, Body: body, BodySize: int64(len(body))}
}

type h = map[string][]string

func changed(name, from, to string) checks.FieldChange {
	return checks.FieldChange{Name: name, Change: checks.ChangeChanged, From: from, To: to}
}

func added(name, to string) checks.FieldChange {
	return checks.FieldChange{Name: name, Change: checks.ChangeAdded, To: to}
}

func removed(name, from string) checks.FieldChange {
	return checks.FieldChange{Name: name, Change: checks.ChangeRemoved, From: from}
}

func numbered(prefix string, n int) []string {
	s := make([]string, n)
	for i := range s {
		s[i] = fmt.Sprintf("%s %d", prefix, i+1)
	}
	return s
}

func lines(s ...string) string { return strings.Join(s, "\n") + "\n" }

var twenty = lines(numbered("line", 20)...)

func twentyEdited() string {
	l := numbered("line", 20)
	l[4] = "LINE 5"
	l[14] = "LINE 15"
	return lines(slices.Delete(l, 17, 18)...)
}

func TestResponses(t *testing.T) {
	jsonH := h{"Content-Type": {"application/json"}}
	tests := []struct {
		name          string
		before, after *checks.ResponseSummary
		opts          Options
		want          *checks.ResponseDiff
		lines         []string
	}{
		{
			name:   "nil baseline",
			before: nil, after: resp(500, nil, ""),
		},
		{
			name:   "nil failed",
			before: resp(200, nil, ""), after: nil,
		},
		{
			name:   "identical",
			before: resp(200, jsonH, `{"a":1}`), after: resp(200, jsonH, `{"a":1}`),
		},
		{
			name:   "status only",
			before: resp(200, jsonH, `{"a":1}`), after: resp(500, jsonH, `{"a":1}`),
			want:  &checks.ResponseDiff{Status: &checks.FieldChange{Name: "status", Change: "changed", From: "200", To: "500"}},
			lines: []string{"status: 200 -> 500"},
		},
		{
			name: "headers added, removed, changed; volatile ignored",
			before: resp(200, h{
				"Content-Type": {"application/json"}, "X-Old": {"v"}, "Etag": {`"v1"`}, "Cache-Control": {"no-cache"},
				"Date": {"Mon, 30 Nov 2026 09:00:00 GMT"}, "X-Request-Id": {"a1"}, "Traceparent": {"00-aa-01"},
				"Server-Timing": {"db;dur=53"}, "Age": {"3"}, "X-Cache-Hits": {"1"},
			}, ""),
			after: resp(200, h{
				"Content-Type": {"text/html"}, "X-New": {"v"}, "Etag": {`"v2"`}, "Cache-Control": {"no-cache"},
				"Date": {"Mon, 30 Nov 2026 09:01:00 GMT"}, "X-Request-Id": {"b2"}, "Cf-Ray": {"8a-AMS"},
				"Server-Timing": {"db;dur=9"}, "X-Cache-Hits": {"2"}, "Expires": {"0"},
			}, ""),
			want: &checks.ResponseDiff{Headers: []checks.FieldChange{
				changed("Content-Type", "application/json", "text/html"),
				changed("Etag", `"v1"`, `"v2"`),
				added("X-New", "v"),
				removed("X-Old", "v"),
			}},
			lines: []string{
				`header Content-Type: "application/json" -> "text/html"`,
				`header Etag: "\"v1\"" -> "\"v2\""`,
				`header X-New: (absent) -> "v"`,
				`header X-Old: "v" -> (absent)`,
			},
		},
		{
			name:   "only volatile headers differ",
			before: resp(200, h{"Date": {"a"}, "x-amzn-trace-id": {"Root=1"}, "NEL": {"{}"}, "report-to": {"{}"}}, "ok"),
			after:  resp(200, h{"Date": {"b"}, "X-Amzn-Trace-Id": {"Root=2"}, "X-Runtime": {"0.1"}, "x-response-time": {"3ms"}}, "ok"),
		},
		{
			name:   "non-canonical header keys, several values",
			before: resp(200, h{"content-type": {"application/json"}, "x-multi": {"1", "2"}, "cf-ray": {"a"}, "x-gone": {""}}, ""),
			after:  resp(200, h{"Content-Type": {"application/json"}, "X-MULTI": {"1"}, "x-multi": {"3"}, "CF-RAY": {"b"}, "x-EMPTY": {""}}, ""),
			want: &checks.ResponseDiff{Headers: []checks.FieldChange{
				added("X-Empty", ""),
				removed("X-Gone", ""),
				changed("X-Multi", "1, 2", "1, 3"),
			}},
			lines: []string{
				`header X-Empty: (absent) -> ""`,
				`header X-Gone: "" -> (absent)`,
				`header X-Multi: "1, 2" -> "1, 3"`,
			},
		},
		{
			name:   "header value with control characters",
			before: resp(200, h{"X-Note": {"ok"}}, ""),
			after:  resp(200, h{"X-Note": {"bad\r\nSet-Cookie: x=1\x1b[2J"}}, ""),
			want:   &checks.ResponseDiff{Headers: []checks.FieldChange{changed("X-Note", "ok", "bad\r\nSet-Cookie: x=1\x1b[2J")}},
			lines:  []string{`header X-Note: "ok" -> "bad\r\nSet-Cookie: x=1\x1b[2J"`},
		},
		{
			name:   "nested JSON, changes at several depths",
			before: resp(200, jsonH, `{"id":42,"name":"a","owner":{"id":7,"roles":["admin","dev"],"team":{"name":"docs","size":3}},"gone":2,"tags":[]}`),
			after:  resp(200, jsonH, `{"id":43,"name":"a","owner":{"id":7,"roles":["admin","ops"],"team":{"name":"docs","size":4}},"added":1,"tags":[]}`),
			want: &checks.ResponseDiff{JSON: []checks.FieldChange{
				added("$.added", "1"),
				removed("$.gone", "2"),
				changed("$.id", "42", "43"),
				changed("$.owner.roles[1]", `"dev"`, `"ops"`),
				changed("$.owner.team.size", "3", "4"),
			}},
			lines: []string{
				"$.added: (absent) -> 1",
				"$.gone: 2 -> (absent)",
				"$.id: 42 -> 43",
				`$.owner.roles[1]: "dev" -> "ops"`,
				"$.owner.team.size: 3 -> 4",
			},
		},
		{
			name:   "array grown and shrunk",
			before: resp(200, jsonH, `{"grow":[1,2],"shrink":[1,2,3,{"a":1}],"root":[]}`),
			after:  resp(200, jsonH, `{"grow":[1,2,3,[4]],"shrink":[1],"root":[null]}`),
			want: &checks.ResponseDiff{JSON: []checks.FieldChange{
				added("$.grow[2]", "3"),
				added("$.grow[3]", "[4]"),
				added("$.root[0]", "null"),
				removed("$.shrink[1]", "2"),
				removed("$.shrink[2]", "3"),
				removed("$.shrink[3]", `{"a":1}`),
			}},
			lines: []string{
				"$.grow[2]: (absent) -> 3",
				"$.grow[3]: (absent) -> [4]",
				"$.root[0]: (absent) -> null",
				"$.shrink[1]: 2 -> (absent)",
				"$.shrink[2]: 3 -> (absent)",
				`$.shrink[3]: {"a":1} -> (absent)`,
			},
		},
		{
			name:   "type change",
			before: resp(200, jsonH, `{"items":[{"price":10},{"price":10},{"price":10}],"flag":true,"list":{"a":1}}`),
			after:  resp(200, jsonH, `{"items":[{"price":10},{"price":10.0},{"price":"10"}],"flag":"true","list":[{"a":1}]}`),
			want: &checks.ResponseDiff{JSON: []checks.FieldChange{
				changed("$.flag", "true", `"true"`),
				changed("$.items[2].price", "10", `"10"`),
				changed("$.list", `{"a":1}`, `[{"a":1}]`),
			}},
			lines: []string{
				`$.flag: true -> "true"`,
				`$.items[2].price: 10 -> "10"`,
				`$.list: {"a":1} -> [{"a":1}]`,
			},
		},
		{
			name:   "root type change",
			before: resp(200, jsonH, `{"a":1}`),
			after:  resp(200, jsonH, `[1]`),
			want:   &checks.ResponseDiff{JSON: []checks.FieldChange{changed("$", `{"a":1}`, `[1]`)}},
			lines:  []string{`$: {"a":1} -> [1]`},
		},
		{
			name: "bracket notation for member names",
			before: resp(200, jsonH, `{"content-type":1,"it's":1,"naïve":1,"a\"b":1,"x\u202ey":1,"line\nbreak":1,`+
				`"back\\slash":1,"1abc":1,"":1,"😀":1,"snake_case9":1,"_":1}`),
			after: resp(200, jsonH, `{"content-type":2,"it's":2,"naïve":2,"a\"b":2,"x\u202ey":2,"line\nbreak":2,`+
				`"back\\slash":2,"1abc":2,"":2,"😀":2,"snake_case9":2,"_":2}`),
			want: &checks.ResponseDiff{JSON: []checks.FieldChange{
				changed(`$['']`, "1", "2"),
				changed(`$['1abc']`, "1", "2"),
				changed(`$._`, "1", "2"),
				changed(`$['a"b']`, "1", "2"),
				changed(`$['back\\slash']`, "1", "2"),
				changed(`$['content-type']`, "1", "2"),
				changed(`$['it\'s']`, "1", "2"),
				changed(`$['line\nbreak']`, "1", "2"),
				changed(`$['naïve']`, "1", "2"),
				changed(`$.snake_case9`, "1", "2"),
				changed(`$['x\u202ey']`, "1", "2"),
				changed(`$['😀']`, "1", "2"),
			}},
			lines: []string{
				`$['']: 1 -> 2`,
				`$['1abc']: 1 -> 2`,
				`$._: 1 -> 2`,
				`$['a"b']: 1 -> 2`,
				`$['back\\slash']: 1 -> 2`,
				`$['content-type']: 1 -> 2`,
				`$['it\'s']: 1 -> 2`,
				`$['line\nbreak']: 1 -> 2`,
				`$['naïve']: 1 -> 2`,
				`$.snake_case9: 1 -> 2`,
				`$['x\u202ey']: 1 -> 2`,
				`$['😀']: 1 -> 2`,
			},
		},
		{
			name:   "JSON string values with control characters and HTML",
			before: resp(200, jsonH, `{"msg":"ok"}`),
			after:  resp(200, jsonH, `{"msg":"\u001b[31m<b>a\"b</b>\n\u2028"}`),
			want:   &checks.ResponseDiff{JSON: []checks.FieldChange{changed("$.msg", `"ok"`, `"\u001b[31m<b>a\"b</b>\n\u2028"`)}},
			lines:  []string{`$.msg: "ok" -> "\u001b[31m<b>a\"b</b>\n\u2028"`},
		},
		{
			name:   "whole subtree added and removed at its root",
			before: resp(200, jsonH, `{"a":1,"old":{"deep":{"deeper":[1,2,3]}}}`),
			after:  resp(200, jsonH, `{"a":1,"meta":{"y":{"z":true},"x":[1,2.50]}}`),
			want: &checks.ResponseDiff{JSON: []checks.FieldChange{
				added("$.meta", `{"x":[1,2.50],"y":{"z":true}}`),
				removed("$.old", `{"deep":{"deeper":[1,2,3]}}`),
			}},
			lines: []string{
				`$.meta: (absent) -> {"x":[1,2.50],"y":{"z":true}}`,
				`$.old: {"deep":{"deeper":[1,2,3]}} -> (absent)`,
			},
		},
		{
			name:   "same JSON in another key order and number spelling",
			before: resp(200, jsonH, `{"a":1,"b":[1.0,2e0,0.5,100],"c":{"x":-0,"y":null},"d":"s"}`),
			after:  resp(200, jsonH, "{ \"d\": \"s\", \"c\": {\"y\": null, \"x\": 0.0},\n \"b\": [1, 2, 5e-1, 1E2], \"a\": 1.00 }\n"),
		},
		{
			name:   "JSON against HTML is a text diff",
			before: resp(200, jsonH, `{"ok":true}`+"\n"),
			after:  resp(502, h{"Content-Type": {"text/html"}}, lines("<html>", "<body>bad gateway</body>", "</html>")),
			want: &checks.ResponseDiff{
				Status:  &checks.FieldChange{Name: "status", Change: "changed", From: "200", To: "502"},
				Headers: []checks.FieldChange{changed("Content-Type", "application/json", "text/html")},
				Text: "--- baseline\n+++ failed\n@@ -1 +1,3 @@\n" +
					`-{"ok":true}` + "\n+<html>\n+<body>bad gateway</body>\n+</html>",
			},
			lines: []string{
				"status: 200 -> 502",
				`header Content-Type: "application/json" -> "text/html"`,
				`body: -{"ok":true}`,
				"body: +<html>",
				"body: +<body>bad gateway</body>",
				"body: +</html>",
			},
		},
		{
			name:   "text diff with context",
			before: resp(200, nil, twenty),
			after:  resp(200, nil, twentyEdited()),
			want: &checks.ResponseDiff{Text: strings.Join([]string{
				"--- baseline", "+++ failed",
				"@@ -3,5 +3,5 @@", " line 3", " line 4", "-line 5", "+LINE 5", " line 6", " line 7",
				"@@ -13,8 +13,7 @@", " line 13", " line 14", "-line 15", "+LINE 15", " line 16", " line 17", "-line 18", " line 19", " line 20",
			}, "\n")},
			lines: []string{"body: -line 5", "body: +LINE 5", "body: -line 15", "body: +LINE 15", "body: -line 18"},
		},
		{
			name:   "text diff capped at MaxTextLines",
			before: resp(200, nil, twenty),
			after:  resp(200, nil, twentyEdited()),
			opts:   Options{MaxTextLines: 7},
			want: &checks.ResponseDiff{Truncated: true, Text: strings.Join([]string{
				"--- baseline", "+++ failed",
				"@@ -3,5 +3,5 @@", " line 3", " line 4", "-line 5", "+LINE 5",
			}, "\n")},
			lines: []string{"body: -line 5", "body: +LINE 5", "... (diff truncated)"},
		},
		{
			name:   "missing final newline",
			before: resp(200, nil, "x\ny"),
			after:  resp(200, nil, "x\ny\n"),
			want:   &checks.ResponseDiff{Text: "--- baseline\n+++ failed\n@@ -1,2 +1,2 @@\n x\n-y\n\\ No newline at end of file\n+y"},
			lines:  []string{"body: -y", "body: +y"},
		},
		{
			name:   "empty body to text",
			before: resp(204, nil, ""),
			after:  resp(200, nil, "a\nb\n"),
			want: &checks.ResponseDiff{
				Status: &checks.FieldChange{Name: "status", Change: "changed", From: "204", To: "200"},
				Text:   "--- baseline\n+++ failed\n@@ -0,0 +1,2 @@\n+a\n+b",
			},
			lines: []string{"status: 204 -> 200", "body: +a", "body: +b"},
		},
		{
			name:   "invalid UTF-8 and terminal escapes in text",
			before: resp(200, nil, "ok\n"),
			after:  resp(200, nil, "bad \xff\xfe\x1b[2J\tend\n"),
			want:   &checks.ResponseDiff{Text: "--- baseline\n+++ failed\n@@ -1 +1 @@\n-ok\n+bad \\xff\\xfe\\x1b[2J\\tend"},
			lines:  []string{"body: -ok", `body: +bad \xff\xfe\x1b[2J\tend`},
		},
		{
			name:   "long lines and values are cut on a rune boundary",
			before: resp(200, jsonH, `{"s":"`+strings.Repeat("é", 30)+`"}`),
			after:  resp(200, jsonH, `{"s":"`+strings.Repeat("e", 30)+`"}`),
			opts:   Options{MaxValueLen: 12},
			want:   &checks.ResponseDiff{JSON: []checks.FieldChange{changed("$.s", `"éééé…`, `"eeeeeeee…`)}},
			lines:  []string{`$.s: "éééé… -> "eeeeeeee…`},
		},
		{
			name:   "binary bodies",
			before: &checks.ResponseSummary{Status: 200, Body: "(120 bytes of binary data)", BodySize: 120},
			after:  &checks.ResponseSummary{Status: 200, Body: "(340 bytes of binary data)", BodySize: 340},
			want:   &checks.ResponseDiff{Text: "binary body changed: 120 -> 340 bytes"},
			lines:  []string{"body: binary body changed: 120 -> 340 bytes"},
		},
		{
			name:   "text to binary",
			before: resp(200, nil, "hello\n"),
			after:  &checks.ResponseSummary{Status: 200, Body: "(340 bytes of binary data)", BodySize: 340},
			want:   &checks.ResponseDiff{Text: "binary body changed: 6 -> 340 bytes"},
			lines:  []string{"body: binary body changed: 6 -> 340 bytes"},
		},
		{
			name:   "same-size binary bodies cannot be told apart",
			before: &checks.ResponseSummary{Status: 200, Body: "(120 bytes of binary data)", BodySize: 120},
			after:  &checks.ResponseSummary{Status: 200, Body: "(120 bytes of binary data)", BodySize: 120},
		},
		{
			name:   "a text body that only looks like the binary note is text",
			before: resp(200, nil, "(24 bytes of binary data)"),
			after:  resp(200, nil, "(25 bytes of binary data)"),
			want:   &checks.ResponseDiff{Text: "--- baseline\n+++ failed\n@@ -1 +1 @@\n-(24 bytes of binary data)\n\\ No newline at end of file\n+(25 bytes of binary data)\n\\ No newline at end of file"},
			lines:  []string{"body: -(24 bytes of binary data)", "body: +(25 bytes of binary data)"},
		},
		{
			name:   "bodies cut at max_body are diffed as far as read, and say so",
			before: &checks.ResponseSummary{Status: 200, Body: `{"a":1,"b":[1,`, BodySize: 14, Truncated: true},
			after:  &checks.ResponseSummary{Status: 200, Body: `{"a":2,"b":[1,`, BodySize: 14, Truncated: true},
			want: &checks.ResponseDiff{Truncated: true, Text: "baseline body was cut at max_body after 14 bytes; only those are compared\n" +
				"failed body was cut at max_body after 14 bytes; only those are compared\n" +
				"--- baseline\n+++ failed\n@@ -1 +1 @@\n" + `-{"a":1,"b":[1,` + "\n\\ No newline at end of file\n" + `+{"a":2,"b":[1,` + "\n\\ No newline at end of file"},
			lines: []string{
				"body: baseline body was cut at max_body after 14 bytes; only those are compared",
				"body: failed body was cut at max_body after 14 bytes; only those are compared",
				`body: -{"a":1,"b":[1,`, `body: +{"a":2,"b":[1,`, "... (diff truncated)",
			},
		},
		{
			name:   "a preview-cut body is compared without its cut mark",
			before: resp(200, jsonH, "line 1\nline 2\n"),
			after:  &checks.ResponseSummary{Status: 200, Headers: jsonH, Body: "line 1\nline 2\nline 3…(10 more bytes)", BodySize: 30},
			want: &checks.ResponseDiff{Truncated: true, Text: "failed body is cut to its first 20 of 30 bytes; only those are compared\n" +
				"--- baseline\n+++ failed\n@@ -1,2 +1,3 @@\n line 1\n line 2\n+line 3\n\\ No newline at end of file"},
			lines: []string{
				"body: failed body is cut to its first 20 of 30 bytes; only those are compared",
				"body: +line 3", "... (diff truncated)",
			},
		},
		{
			name:   "cut bodies equal as far as read",
			before: &checks.ResponseSummary{Status: 200, Body: "same start…(10 more bytes)", BodySize: 20},
			after:  &checks.ResponseSummary{Status: 200, Body: "same start…(12 more bytes)", BodySize: 22},
			want: &checks.ResponseDiff{Truncated: true, Text: "baseline body is cut to its first 10 of 20 bytes; only those are compared\n" +
				"failed body is cut to its first 10 of 22 bytes; only those are compared\n" +
				"bodies differ after the compared part: 20 -> 22 bytes"},
			lines: []string{
				"body: baseline body is cut to its first 10 of 20 bytes; only those are compared",
				"body: failed body is cut to its first 10 of 22 bytes; only those are compared",
				"body: bodies differ after the compared part: 20 -> 22 bytes",
				"... (diff truncated)",
			},
		},
		{
			name:   "more lines than a line diff takes",
			before: resp(200, nil, lines(numbered("a", maxLines+1)...)),
			after:  resp(200, nil, lines(numbered("b", 3)...)),
			want:   &checks.ResponseDiff{Truncated: true, Text: fmt.Sprintf("bodies differ: %d -> 12 bytes", len(lines(numbered("a", maxLines+1)...)))},
			lines:  []string{fmt.Sprintf("body: bodies differ: %d -> 12 bytes", len(lines(numbered("a", maxLines+1)...))), "... (diff truncated)"},
		},
		{
			name: "header changes spend the change budget first",
			before: resp(200, h{"A": {"1"}, "B": {"1"}, "C": {"1"}},
				`{"x":1}`),
			after: resp(200, h{"A": {"2"}, "B": {"2"}, "C": {"2"}},
				`{"x":2}`),
			opts:  Options{MaxChanges: 2},
			want:  &checks.ResponseDiff{Truncated: true, Headers: []checks.FieldChange{changed("A", "1", "2"), changed("B", "1", "2")}},
			lines: []string{`header A: "1" -> "2"`, `header B: "1" -> "2"`, "... (diff truncated)"},
		},
		{
			name:   "header and JSON changes share the change budget",
			before: resp(200, h{"Etag": {"1"}}, `{"a":1,"b":1,"c":1}`),
			after:  resp(200, h{"Etag": {"2"}}, `{"a":2,"b":2,"c":2}`),
			opts:   Options{MaxChanges: 3},
			want: &checks.ResponseDiff{Truncated: true,
				Headers: []checks.FieldChange{changed("Etag", "1", "2")},
				JSON:    []checks.FieldChange{changed("$.a", "1", "2"), changed("$.b", "1", "2")}},
			lines: []string{`header Etag: "1" -> "2"`, "$.a: 1 -> 2", "$.b: 1 -> 2", "... (diff truncated)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Responses(tt.before, tt.after, tt.opts)
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Responses:\n got %s\nwant %s", show(got), show(tt.want))
			}
			if gl := got.Lines(0); !slices.Equal(gl, tt.lines) {
				t.Errorf("Lines(0):\n got %q\nwant %q", gl, tt.lines)
			}
		})
	}
}

func show(d *checks.ResponseDiff) string {
	b, _ := json.MarshalIndent(d, "", "  ")
	return string(b)
}

// The headers a diff leaves out are the ones IgnoredHeader names, in any
// spelling, so that the history's baseline dedup agrees with the diff.
func TestIgnoredHeaderMatchesTheDiff(t *testing.T) {
	for _, name := range []string{"Date", "date", "X-REQUEST-ID", "Traceparent"} {
		if !IgnoredHeader(name) {
			t.Errorf("IgnoredHeader(%q) = false", name)
		}
		before := &checks.ResponseSummary{Status: 200, Headers: map[string][]string{name: {"a"}}}
		after := &checks.ResponseSummary{Status: 200, Headers: map[string][]string{name: {"b"}}}
		if d := Responses(before, after, Options{}); d != nil {
			t.Errorf("%s changed: diff %+v, want none", name, d)
		}
	}
	for _, name := range []string{"ETag", "Content-Type", "Content-Length"} {
		if IgnoredHeader(name) {
			t.Errorf("IgnoredHeader(%q) = true", name)
		}
	}
}

// A redacted body is shorter (or longer) than the bytes read: that alone
// does not make it cut, so it is still diffed as whole JSON.
func TestRedactedBodyIsNotCut(t *testing.T) {
	before := &checks.ResponseSummary{Status: 200, Body: `{"price":10,"echo":"[REDACTED]"}`, BodySize: 50}
	after := &checks.ResponseSummary{Status: 200, Body: `{"price":"10","echo":"[REDACTED]"}`, BodySize: 52}
	d := Responses(before, after, Options{})
	if d == nil || len(d.JSON) != 1 || d.JSON[0].Name != "$.price" || d.Text != "" || d.Truncated {
		t.Fatalf("diff = %+v", d)
	}
}

// IgnoredHeader lowers the case in a buffer of maxVolatileLen bytes: every
// volatile name must fit, or it would never be ignored.
func TestVolatileHeadersFitTheBuffer(t *testing.T) {
	for name := range volatileHeaders {
		if len(name) > maxVolatileLen {
			t.Errorf("%s is longer than maxVolatileLen (%d)", name, maxVolatileLen)
		}
		if !IgnoredHeader(strings.ToUpper(name)) {
			t.Errorf("IgnoredHeader(%q) = false", strings.ToUpper(name))
		}
	}
	if IgnoredHeader("Date-And-A-Name-Longer-Than-The-Buffer") {
		t.Error("a long name that is not volatile is ignored")
	}
	if n := testing.AllocsPerRun(100, func() { IgnoredHeader("X-Request-Id") }); n != 0 {
		t.Errorf("IgnoredHeader allocates %v times", n)
	}
}
