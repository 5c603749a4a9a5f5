package checks_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestDurationsAreBounded: every duration of a check has a ceiling
// (timeout 2562047h overflowed the run deadline), named in the error with
// its field; the ceilings themselves load.
func TestDurationsAreBounded(t *testing.T) {
	src := `checks:
  - name: c1
    timeout: 2562047h
    retries: { count: 3, backoff: 2h, max_backoff: 1000h }
    steps:
      - request: { url: "http://127.0.0.1:1/", timeout: 24h1s }
        expect: { response_time: 25h }
  - name: c2
    timeout: 24h
    retries: { count: 10, backoff: 1h, max_backoff: 1h }
    steps:
      - request: { url: "http://127.0.0.1:1/", timeout: 24h }
        expect: { response_time: 24h }
  - name: c3
    contract: { type: method-not-allowed, url: "http://127.0.0.1:1/", allowed: [GET], methods: [DELETE], timeout: 48h }
`
	writeTree(t, map[string]string{"c.yaml": src})
	want := []string{
		"c.yaml:3:14: checks[0].timeout: must be at most 24h, got 2562047h",
		"c.yaml:4:35: checks[0].retries.backoff: must be at most 1h, got 2h",
		"c.yaml:4:52: checks[0].retries.max_backoff: must be at most 1h, got 1000h",
		"c.yaml:6:57: checks[0].steps[0].request.timeout: must be at most 24h, got 24h0m1s",
		"c.yaml:7:34: checks[0].steps[0].expect.response_time: must be at most 24h, got 25h",
		"c.yaml:15:115: checks[2].contract.timeout: must be at most 24h, got 48h",
	}
	if got := errorLines(t, "c.yaml"); !slices.Equal(got, want) {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestRetriesAreBounded: retries.count is at most 10, in either form.
func TestRetriesAreBounded(t *testing.T) {
	for _, tc := range []struct{ retries, want string }{
		{"11", "c.yaml:3:14: checks[0].retries.count: must be at most 10, got 11"},
		{"{ count: 1000000 }", "c.yaml:3:23: checks[0].retries.count: must be at most 10, got 1000000"},
		{"9223372036854775807", "c.yaml:3:14: checks[0].retries.count: must be at most 10, got 9223372036854775807"},
		{"-1", "c.yaml:3:14: checks[0].retries: count must be 0 or more, got -1"},
	} {
		writeTree(t, map[string]string{"c.yaml": oneCheck("    retries: " + tc.retries + "\n")})
		if got := errorLines(t, "c.yaml"); !slices.Equal(got, []string{tc.want}) {
			t.Errorf("retries %s: %q, want %q", tc.retries, got, tc.want)
		}
	}
	writeTree(t, map[string]string{"c.yaml": oneCheck("    retries: 10\n")})
	if cs := loadOK(t, "c.yaml"); cs[0].Retries.Count != 10 {
		t.Errorf("count %d", cs[0].Retries.Count)
	}
}

// TestComparisonsNeedNumbers: gt, gte, lt and lte, and the values of a
// predicate on a length, a body size or days remaining, are numbers,
// numeric strings or templates; anything else is an error at the value,
// not an assertion that can never pass.
func TestComparisonsNeedNumbers(t *testing.T) {
	writeTree(t, map[string]string{"c.yaml": `checks:
  - name: c1
    vars: { n: "3" }
    steps:
      - request: { url: "http://127.0.0.1:1/" }
        expect:
          headers: { X-Count: { gt: abc, gte: "5", lt: "{{ .vars.n }}", lte: [1, 2] } }
          json:
            $.a: { gt: true, lt: ~, gte: { x: 1 }, lte: 1e3 }
            $.b: { length: { gt: x, lte: 9 } }
            $.c: { length: abc }
            $.d: { length: { in: [1, two] } }
            $.e: { length: { length: { equals: yes } } }
            $.f: { gt: .nan }
          body: { size: { not_equals: big, lt: 10 } }
          tls: { days_remaining: { gte: soon } }
`})
	want := []string{
		`c.yaml:7:37: checks[0].steps[0].expect.headers.X-Count.gt: expected a number (or a template), got string "abc"`,
		`c.yaml:7:78: checks[0].steps[0].expect.headers.X-Count.lte: expected a number (or a template), got a list`,
		`c.yaml:9:24: checks[0].steps[0].expect.json.$.a.gt: expected a number (or a template), got boolean true`,
		`c.yaml:9:34: checks[0].steps[0].expect.json.$.a.lt: expected a number (or a template), got nothing (null)`,
		`c.yaml:9:42: checks[0].steps[0].expect.json.$.a.gte: expected a number (or a template), got a mapping`,
		`c.yaml:10:34: checks[0].steps[0].expect.json.$.b.length.gt: expected a number (or a template), got string "x"`,
		`c.yaml:11:28: checks[0].steps[0].expect.json.$.c.length: expected a number (or a template), got string "abc"`,
		`c.yaml:12:38: checks[0].steps[0].expect.json.$.d.length.in[1]: expected a number (or a template), got string "two"`,
		`c.yaml:13:48: checks[0].steps[0].expect.json.$.e.length.length.equals: expected a number (or a template), got string "yes"`,
		`c.yaml:14:24: checks[0].steps[0].expect.json.$.f.gt: expected a number, got NaN`,
		`c.yaml:15:39: checks[0].steps[0].expect.body.size.not_equals: expected a number (or a template), got string "big"`,
		`c.yaml:16:41: checks[0].steps[0].expect.tls.days_remaining.gte: expected a number (or a template), got string "soon"`,
	}
	if got := errorLines(t, "c.yaml"); !slices.Equal(got, want) {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// What the README allows loads: numbers, numeric strings, templates.
	writeTree(t, map[string]string{"c.yaml": `checks:
  - name: c1
    vars: { n: "3" }
    steps:
      - request: { url: "http://127.0.0.1:1/" }
        expect:
          headers: { X-Count: { gt: 1, gte: " 5 ", lt: "{{ .vars.n }}", lte: 1.5e3 } }
          json: { $.a: { length: 3 }, $.b: { length: { gte: 1, in: [1, "2"] } } }
          body: { size: { lte: 65536 } }
          tls: { days_remaining: 14 }
`})
	loadOK(t, "c.yaml")
}

// TestInvalidUTF8IsReportedWhereItIs: the position is that of the first
// invalid byte, wherever it is, not 1:1.
func TestInvalidUTF8IsReportedWhereItIs(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"checks:\n  - name: c1\n    description: \"caf\xe9\"\n", "c.yaml:3:22: invalid UTF-8 (byte 0xe9)"},
		{"\xff", "c.yaml:1:1: invalid UTF-8 (byte 0xff)"},
		{"checks: []\n# comment\n# \xc0\xaf\n", "c.yaml:3:3: invalid UTF-8 (byte 0xc0)"},
		{"checks:\n  - name: \"a\x1bb\"\n", "c.yaml:2:13: control character U+001B is not allowed in YAML"},
	} {
		writeTree(t, map[string]string{"c.yaml": tc.src})
		if got := errorLines(t, "c.yaml"); !slices.Equal(got, []string{tc.want}) {
			t.Errorf("%q: %q, want %q", tc.src, got, tc.want)
		}
	}
}

// TestNestedDefaultsWork: ${A:-${B}} is A, else B (it silently became the
// text "${B}"), at any depth; an unset innermost variable is an error.
func TestNestedDefaultsWork(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"${HOST:-${PORT}}", "api.example.com"},
		{"${NOPE:-${HOST}}", "api.example.com"},
		{"${NOPE:-${EMPTY:-${HOST}}}:${PORT}", "api.example.com:8080"},
		{"${NOPE:-${ALSO_NOPE:-fallback.example}}", "fallback.example"},
	} {
		writeTree(t, map[string]string{"c.yaml": oneCheck("    vars: { h: \"" + tc.url + "\" }\n")})
		if cs := loadOK(t, "c.yaml"); cs[0].Vars["h"] != tc.want {
			t.Errorf("%s = %q, want %q", tc.url, cs[0].Vars["h"], tc.want)
		}
	}
	writeTree(t, map[string]string{"c.yaml": oneCheck("    vars: { h: \"${NOPE:-${MISSING}}\" }\n")})
	want := "c.yaml:3:16: checks[0].vars.h: environment variable MISSING is not set (use ${MISSING:-default} for a default)"
	if got := errorLines(t, "c.yaml"); !slices.Equal(got, []string{want}) {
		t.Errorf("%q, want %q", got, want)
	}
}

// TestSchemaSizeAndDepthAreBounded: a JSON Schema nested 4,000 deep took
// minutes to compile; deeper than 64, larger than 1 MiB, or referring to
// more than 64 files is an error at once, in a file or inline.
func TestSchemaSizeAndDepthAreBounded(t *testing.T) {
	nested := func(depth int) string {
		return strings.Repeat(`{"items":`, depth) + `{"type":"string"}` + strings.Repeat("}", depth)
	}
	files := map[string]string{
		"deep.json":   nested(4000),
		"deep65.json": nested(64), // 65 levels: the innermost object counts
		"ok64.json":   nested(63),
		"big.json":    `{"type":"object","description":"` + strings.Repeat("x", 1<<20) + `"}`,
	}
	// A chain of 70 files, each referring to the next.
	for i := range 70 {
		files[fmt.Sprintf("r%d.json", i)] = fmt.Sprintf(`{"$ref": "r%d.json"}`, i+1)
	}
	files["r70.json"] = `{"type": "integer"}`
	for _, tc := range []struct{ schema, want string }{
		{"deep.json", "/deep.json: nested more than 64 levels deep at line 1"},
		{"deep65.json", "/deep65.json: nested more than 64 levels deep at line 1"},
		{"big.json", "/big.json: cannot read: larger than 1 MiB"},
		{"r0.json", "the schema refers to more than 64 files"},
		{yamlFlow(65), "checks[0].steps[0].expect.json_schema: invalid JSON Schema: nested more than 64 levels deep"},
	} {
		fs := map[string]string{"c.yaml": "checks:\n  - name: c1\n    steps:\n      - request: { url: \"http://127.0.0.1:1/\" }\n        expect: { json_schema: " + tc.schema + " }\n"}
		for k, v := range files {
			fs[k] = v
		}
		writeTree(t, fs)
		start := time.Now()
		got := errorLines(t, "c.yaml")
		if len(got) != 1 || !strings.HasSuffix(got[0], tc.want) {
			t.Errorf("%.40s: %q\nwant one error ending %q", tc.schema, got, tc.want)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("%.40s: %v", tc.schema, d)
		}
	}
	for _, ok := range []string{"ok64.json", yamlFlow(64)} {
		fs := map[string]string{"c.yaml": "checks:\n  - name: c1\n    steps:\n      - request: { url: \"http://127.0.0.1:1/\" }\n        expect: { json_schema: " + ok + " }\n"}
		for k, v := range files {
			fs[k] = v
		}
		writeTree(t, fs)
		loadOK(t, "c.yaml")
	}
}

// yamlFlow is an inline schema nested depth mappings deep.
func yamlFlow(depth int) string {
	return strings.Repeat("{ items: ", depth-1) + "{ type: string }" + strings.Repeat(" }", depth-1)
}
