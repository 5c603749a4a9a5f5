package checks

import (
	"encoding/json"
	"errors"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/theory/jsonpath"
)

// Rules that the fuzz targets (fuzz_test.go) found broken; the inputs
// they found are also under testdata/fuzz.

// TestLoadErrorsHideSecretsQuotedAsJSONSchemaQuotes: a secret that a
// JSON Schema's compile error quotes (its own way: Go quoting with '"'
// left as is) is hidden like any other; it was shown whole.
func TestLoadErrorsHideSecretsQuotedAsJSONSchemaQuotes(t *testing.T) {
	src := "checks:\n  - name: c1\n    steps:\n      - request: { url: \"http://127.0.0.1:1/\" }\n" +
		"        expect: { json_schema: { type: object, properties: { a: { pattern: \"${API_TOKEN}(\" } } } }\n"
	o := LoadOptions{LookupEnv: func(string) (string, bool) { return `Zq7x"W3\vK'Hm`, true }}
	_, errs := o.parse("c.yaml", []byte(src))
	if len(errs) != 1 || !strings.Contains(errs[0].Msg, "is not valid regex") {
		t.Fatalf("errors: %v", errs)
	}
	for _, part := range []string{"Zq7x", "W3", "vK", "Hm"} {
		if strings.Contains(errs[0].Msg, part) {
			t.Errorf("the error shows %q of the secret: %s", part, errs[0].Msg)
		}
	}
	if !strings.Contains(errs[0].Msg, "'"+Redacted+"(' is not valid regex") {
		t.Errorf("the secret is not replaced where it was: %s", errs[0].Msg)
	}
}

// TestRedactionCoversJSONSchemaQuoting: a validation message of a JSON
// Schema quotes a value the way the compile error does; a secret so
// quoted is redacted.
func TestRedactionCoversJSONSchemaQuoting(t *testing.T) {
	rd := &redactor{}
	rd.add(`tok"en'9f8e`)
	msg := `at /t: 'tok"en\'9f8e' does not match pattern '^x$'`
	if got, want := rd.str(msg), `at /t: '`+Redacted+`' does not match pattern '^x$'`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

// TestNoMappingWhereOneBelongsIsOneErrorAtItsPosition: a check, a step
// or a capture written as a scalar is one error at the scalar; it was
// also reported as an empty check whose errors had no position at all.
func TestNoMappingWhereOneBelongsIsOneErrorAtItsPosition(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"checks:\n- 0", "c.yaml:2:3: checks[0]: expected a mapping, got number 0"},
		{"checks:\n  - name: c1\n    steps: [ x ]\n", `c.yaml:3:14: checks[0].steps[0]: expected a mapping, got string "x"`},
		{"checks:\n  - name: c1\n    contract: [ ]\n", "c.yaml:3:15: checks[0].contract: expected a mapping, got a list"},
		{"checks:\n  - name: c1\n    steps:\n      - request: { url: \"http://127.0.0.1:1/\" }\n        capture: { id: 7 }\n",
			"c.yaml:5:24: checks[0].steps[0].capture.id: expected a mapping, got number 7"},
	} {
		_, errs := LoadOptions{LookupEnv: fuzzLookup}.parse("c.yaml", []byte(tc.src))
		var got []string
		for _, e := range errs {
			got = append(got, e.Error())
		}
		if !slices.Equal(got, []string{tc.want}) {
			t.Errorf("%q:\n%s\nwant %s", tc.src, strings.Join(got, "\n"), tc.want)
		}
	}
}

// TestFormattingAValueEncodesOnlyWhatIsKept: an actual is the first
// actualLimit bytes of a value's JSON and the count of the rest, as
// json.Marshal would give them, made without encoding the rest: the
// node list of $..*..* over a document nested 500 deep (125 MB of JSON)
// took seconds and as many megabytes. Here 300 deep, 27 MB of JSON.
func TestFormattingAValueEncodesOnlyWhatIsKept(t *testing.T) {
	const deep = 300
	body := strings.Repeat(`{"a":`, deep) + "1" + strings.Repeat("}", deep)
	r := &response{body: []byte(body)}
	nodes, err := r.selectJSON(jsonpath.MustParse("$..*..*"))
	if err != nil || len(nodes) != (deep-1)*deep/2 {
		t.Fatalf("%d nodes, %v", len(nodes), err)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	got := r.formatValue([]any(nodes))
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
		t.Errorf("formatting allocated %d MiB", alloc>>20)
	}
	// A node of L levels ({"a": L times, the 1, L braces) is in the list
	// once for each of its deep-1-L ancestors below the root.
	total := 2 + len(nodes) - 1
	for levels := 0; levels <= deep-2; levels++ {
		total += (deep - 1 - levels) * (6*levels + 1)
	}
	want := (`[{"a":{"a":` + strings.Repeat(`{"a":`, 40))[:actualLimit] + moreBytes(total-actualLimit)
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	for _, x := range []any{nil, []any(nil), map[string]any(nil), "a<b>&\u2028\x01\"\\", 1.5e300, -0.0, []any{true, false, map[string]any{"b": 1.0, "a": []any{}}}} {
		n, ok := jsonLen(x)
		b, _ := json.Marshal(x)
		if !ok || n != len(b) || jsonPrefix(x, 1<<20) != string(b) {
			t.Errorf("%#v: jsonLen %d, %v; jsonPrefix %q; json.Marshal %q", x, n, ok, jsonPrefix(x, 1<<20), b)
		}
	}
}

// TestJSONPathUnionsAreBudgeted: each selector of a union can select a
// value again, so $[*,*,*,*] fourteen times over fourteen nested arrays
// (a 29-byte body) selects 268 million nodes; such a query is refused
// before it runs, like one with too many descendant segments, and a
// union that costs little still runs.
func TestJSONPathUnionsAreBudgeted(t *testing.T) {
	body := strings.Repeat("[", 14) + "1" + strings.Repeat("]", 14)
	for _, q := range []string{"$" + strings.Repeat("[*,*,*,*]", 14), "$[?@" + strings.Repeat("[*,*,*,*]", 14) + "]"} {
		r := &response{body: []byte(body)}
		_, err := r.selectJSON(jsonpath.MustParse(q))
		var tooMuch errTooExpensive
		if !errors.As(err, &tooMuch) || !strings.Contains(err.Error(), "unions select each value up to 268435456 times") {
			t.Errorf("%s: %v", q, err)
		}
	}
	r := &response{body: []byte(`{"a": [1, 2], "b": 3}`)}
	if nodes, err := r.selectJSON(jsonpath.MustParse("$['a','b','a'][*,0]")); err != nil || len(nodes) != 6 {
		t.Errorf("a cheap union: %v, %v", nodes, err)
	}
}

// TestTemplateSyntaxErrorsArePrintable: text/template's parse error
// quotes a bad character constant as is, and a double-quoted YAML string
// can hold any character: the error escapes it (found by FuzzTemplate).
func TestTemplateSyntaxErrorsArePrintable(t *testing.T) {
	_, err := NewTemplate("{{'0\x01'")
	if want := `invalid template "{{'0\x01'": malformed character constant: '0\x01'`; err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
	src := "checks:\n  - name: c1\n    steps: [ { request: { url: \"http://127.0.0.1:1/{{'\\e[2J'\" } } ]\n"
	_, errs := LoadOptions{LookupEnv: fuzzLookup}.parse("c.yaml", []byte(src))
	if len(errs) == 0 || strings.Contains(errs.Error(), "\x1b") || !strings.Contains(errs.Error(), `malformed character constant: '\x1b[2J'`) {
		t.Errorf("errors: %q", errs.Error())
	}
}
