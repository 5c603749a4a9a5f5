package checks

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// listResp has a list of three items, an array value and a string.
var listResp = canned{headers: [][2]string{{"Content-Type", "application/json"}}, body: `{
	"items": [{"sku": "x", "qty": 2}, {"sku": "y", "qty": 5}, {"sku": "z", "qty": 9}],
	"tags": ["a", "b"], "none": [], "name": "widget"}`}

const oneNodeHint = " (1 node selected, compared as that node; includes, count, any, all and nth assert on the list)"

var jsonListCases = []assertCase{
	// A non-singular query that selects one node compares like that node.
	{"one-node filter compares like the node", listResp, `{ json: { "$.items[?@.qty > 8].sku": z, "$.items[?@.sku == 'y'].qty": { gt: 4, type: integer } } }`, nil},
	{"one-node filter fails like the node and says so", listResp, `{ json: { "$.items[?@.qty > 8].sku": y } }`,
		fails(`json $.items[?@.qty > 8].sku: expected "y", got "z" (1 node selected)`, `"y"`, `"z"`)},
	{"several nodes compare as the list", listResp, `{ json: { "$.items[?@.qty > 3].sku": y } }`,
		fails(`json $.items[?@.qty > 3].sku: expected "y", got ["y","z"] (2 nodes selected)`, `"y"`, `["y","z"]`)},
	{"no node is absent", listResp, `{ json: { "$.items[?@.qty > 100].sku": y } }`,
		fails(`json $.items[?@.qty > 100].sku: expected "y", got nothing (0 nodes selected)`, `"y"`, "nothing")},
	{"a list-minded predicate on one node gets a hint", listResp, `{ json: { "$.items[?@.qty > 8].qty": { contains: 9 } } }`,
		fails(`json $.items[?@.qty > 8].qty: expected to contain 9, got 9`+oneNodeHint, "to contain 9", "9")},
	{"a singular query says nothing of nodes", listResp, `{ json: { "$.items[0].sku": y } }`,
		fails(`json $.items[0].sku: expected "y", got "x"`, `"y"`, `"x"`)},

	// count: the nodes selected, whatever their number, or an array's elements.
	{"count of many, one, none and an array", listResp, `{ json: { "$.items[*]": { count: 3 }, "$.items[?@.qty > 8]": { count: 1 }, "$.items[?@.qty > 100]": { count: 0 }, "$.tags": { count: 2 }, "$.none": { count: 0 } } }`, nil},
	{"count fail", listResp, `{ json: { "$.items[?@.qty > 3]": { count: { gte: 3 } } } }`,
		fails(`json $.items[?@.qty > 3] count: expected >= 3, got 2 (2 nodes selected)`, ">= 3", "2")},
	{"count of a value that is no list", listResp, `{ json: { "$.name": { count: 1 } } }`,
		fails(`json $.name count: expected a list: the nodes of a non-singular query, or an array, got "widget"`, "a list: the nodes of a non-singular query, or an array", `"widget"`)},

	// includes: some node equals.
	{"includes pass on many nodes, one node and an array", listResp, `{ json: { "$.items[*].sku": { includes: y }, "$.items[?@.qty > 8].sku": { includes: z }, "$.tags": { includes: a } } }`, nil},
	{"includes fail", listResp, `{ json: { "$.items[*].sku": { includes: w } } }`,
		fails(`json $.items[*].sku: expected to include "w", got ["x","y","z"] (3 nodes selected)`, `to include "w"`, `["x","y","z"]`)},
	{"includes is typed", listResp, `{ json: { "$.items[*].qty": { includes: "5" } } }`,
		fails(`json $.items[*].qty: expected to include "5", got [2,5,9] (3 nodes selected)`, `to include "5"`, "[2,5,9]")},

	// any and all: some / every node satisfies the nested predicates.
	{"any pass", listResp, `{ json: { "$.items[*].qty": { any: { gt: 8 } }, "$.items[*]": { any: { equals: { sku: y, qty: 5 } } } } }`, nil},
	{"any fail", listResp, `{ json: { "$.items[*].qty": { any: { gt: 9, lt: 100 } } } }`,
		fails(`json $.items[*].qty any: expected some node > 9 and < 100, got [2,5,9] (3 nodes selected)`, "some node > 9 and < 100", "[2,5,9]")},
	{"all pass", listResp, `{ json: { "$.items[*].qty": { all: { gte: 2, type: integer } }, "$.tags": { all: { matches: '^[a-z]$' } }, "$.items[*]": { all: { length: 2 } } } }`, nil},
	{"all fail names the first node that does not", listResp, `{ json: { "$.items[*].qty": { all: { lt: 9 } } } }`,
		fails(`json $.items[*].qty all: expected every node < 9, got node 2: 9 (3 nodes selected)`, "every node < 9", "node 2: 9")},
	{"all fails on no node", listResp, `{ json: { "$.items[?@.qty > 100].qty": { all: { gt: 0 } } } }`,
		fails(`json $.items[?@.qty > 100].qty all: expected every node > 0, got no node (0 nodes selected)`, "every node > 0", "no node")},
	{"all on an array's elements", listResp, `{ json: { "$.tags": { all: { equals: a } } } }`,
		fails(`json $.tags all: expected every element equal to "a", got element 1: "b"`, `every element equal to "a"`, `element 1: "b"`)},

	// nth: the node at an index, negative from the end.
	{"nth pass", listResp, `{ json: { "$.items[*].sku": { nth: { 0: x, -1: { matches: '^z$' } } }, "$.tags": { nth: { 1: b } } } }`, nil},
	{"nth fail", listResp, `{ json: { "$.items[*].sku": { nth: { 1: x } } } }`,
		fails(`json $.items[*].sku nth 1: expected "x", got "y" (3 nodes selected)`, `"x"`, `"y"`)},
	{"nth out of range", listResp, `{ json: { "$.items[*].sku": { nth: { 5: x } } } }`,
		fails(`json $.items[*].sku nth 5: expected a node at index 5, got 3 nodes (3 nodes selected)`, "a node at index 5", "3 nodes")},

	// A dialect's .length selects a member named length: nothing.
	{"a length member that is not there gets a hint", listResp, `{ json: { "$.tags.length": 2 } }`,
		fails(`json $.tags.length: expected 2, got nothing ($.tags.length selects a member named "length": JSONPath has no length property; use the length or count predicate)`, "2", "nothing")},
}

func TestJSONPathListPredicates(t *testing.T) {
	for _, tc := range jsonListCases {
		t.Run(tc.name, func(t *testing.T) {
			srv := tc.resp.serve(t)
			c := loadCheck(t, oneStep(tc.expect), "BASE", srv.URL)
			checkOutcome(t, runCheck(t, c), "probe", tc.want)
		})
	}
}

// TestOneNodeCaptureIsTheNode: a capture of a non-singular query that
// selects one node takes the node, so that it can go into a URL.
func TestOneNodeCaptureIsTheNode(t *testing.T) {
	var got []string
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.URL.Path)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"items": [{"id": 7, "name": "probe"}, {"id": 8, "name": "other"}]}`)
	})
	c := loadCheck(t, `
checks:
  - name: capture
    steps:
      - name: list
        request: { url: "${BASE}/items" }
        capture:
          id: { json: "$.items[?@.name == 'probe'].id" }
          ids: { json: "$.items[*].id" }
      - name: one
        request: { url: "${BASE}/items/{{ .id }}" }
        expect: { status: 200 }
`, "BASE", srv.URL)
	res := runCheck(t, c)
	if !res.Passed {
		t.Fatalf("%s: %s", res.Reason, res.Message)
	}
	if want := "/items,/items/7"; strings.Join(got, ",") != want {
		t.Errorf("paths: got %s, want %s", strings.Join(got, ","), want)
	}
	if caps := res.Steps()[0].Captures; caps["id"] != "7" || caps["ids"] != "[7 8]" {
		t.Errorf("captures: %v", caps)
	}
}

// loadErrorLines loads src as c.yaml and returns its errors, one line
// each, as `assay validate` prints them.
func loadErrorLines(t *testing.T, src string, env ...string) []string {
	t.Helper()
	_, errs := LoadOptions{LookupEnv: envMap(env...)}.parse("c.yaml", []byte(src))
	if len(errs) == 0 {
		t.Fatalf("loaded without errors:\n%s", src)
	}
	var lines []string
	for _, e := range errs {
		lines = append(lines, e.Error())
	}
	return lines
}

func expectLines(t *testing.T, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n got:\n  %s\n want:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// stepWith is a check with one step to http://127.0.0.1:1/ and the given
// lines after the request, indented as step fields.
func stepWith(lines string) string {
	return "checks:\n  - name: c\n    steps:\n      - request: { url: \"http://127.0.0.1:1/\" }\n" + lines
}

func TestJSONPathDialectHints(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string
	}{
		{"=~ becomes match or search", stepWith(`        expect: { json: { "$.items[?@.sku =~ 'x.*']": { count: 1 } } }
`), []string{`c.yaml:5:27: checks[0].steps[0].expect.json: invalid JSONPath "$.items[?@.sku =~ 'x.*']": jsonpath: invalid comparison operator at position 16; RFC 9535 has no =~: write match(@.sku, 'x.*') to match the whole value, or search(@.sku, 'x.*') to find the pattern in it`}},
		{"=~ with a regex literal and a flag", stepWith(`        expect: { json: { "$.items[?(@.name =~ /^wid/i)]": { count: 1 } } }
`), []string{`c.yaml:5:27: checks[0].steps[0].expect.json: invalid JSONPath "$.items[?(@.name =~ /^wid/i)]": jsonpath: invalid comparison operator at position 18; RFC 9535 has no =~: write match(@.name, '(?i)^wid') to match the whole value, or search(@.name, '(?i)^wid') to find the pattern in it`}},
		{".length() is a predicate", stepWith(`        expect: { json: { "$.items.length()": 3 } }
`), []string{`c.yaml:5:27: checks[0].steps[0].expect.json: invalid JSONPath "$.items.length()": jsonpath: unexpected '(' at position 15; JSONPath has no .length(): select the value and use the length predicate ({ length: 3 }), or count for the nodes a query selects ({ count: 3 })`}},
		{"a path without $", stepWith(`        capture: { first: { json: "items[0].id" } }
`), []string{`c.yaml:5:35: checks[0].steps[0].capture.first.json: invalid JSONPath "items[0].id": jsonpath: unexpected identifier at position 1; a JSONPath starts with $, the root: write "$.items[0].id"`}},
		{"a path starting with a dot or @", stepWith(`        expect: { json: { ".id": 1, "@.name": x } }
`), []string{
			`c.yaml:5:27: checks[0].steps[0].expect.json: invalid JSONPath ".id": jsonpath: unexpected '.' at position 1; a JSONPath starts with $, the root: write "$.id"`,
			`c.yaml:5:37: checks[0].steps[0].expect.json: invalid JSONPath "@.name": jsonpath: unexpected '@' at position 1; a JSONPath starts with $, the root: write "$.name"`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			expectLines(t, loadErrorLines(t, tc.src), tc.want)
		})
	}
}

func TestListPredicateLoadErrors(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string
	}{
		{"count on a header", stepWith(`        expect: { headers: { Vary: { count: 2 } } }
`), []string{`c.yaml:5:38: checks[0].steps[0].expect.headers.Vary.count: count applies to a list (the nodes of a json query, or an array), not to a header`}},
		{"includes in a length", stepWith(`        expect: { json: { "$.a": { length: { includes: 2 } } } }
`), []string{`c.yaml:5:46: checks[0].steps[0].expect.json.$.a.length.includes: includes applies to a list (the nodes of a json query, or an array), not to a length`}},
		{"count is a number", stepWith(`        expect: { json: { "$.a[*]": { count: many } } }
`), []string{`c.yaml:5:46: checks[0].steps[0].expect.json.$.a[*].count: expected a number (or a template), got string "many"`}},
		{"nth takes indexes", stepWith(`        expect: { json: { "$.a[*]": { nth: { first: x } } } }
`), []string{`c.yaml:5:46: checks[0].steps[0].expect.json.$.a[*].nth.first: expected an index (0 is the first node, -1 the last), got string "first"`}},
		{"nth is a mapping", stepWith(`        expect: { json: { "$.a[*]": { nth: 1 } } }
`), []string{`c.yaml:5:44: checks[0].steps[0].expect.json.$.a[*].nth: expected a mapping from index to predicate, like { 0: x, -1: { matches: '^z' } }, got number 1`}},
		{"any needs a predicate", stepWith(`        expect: { json: { "$.a[*]": { any: {} } } }
`), []string{`c.yaml:5:44: checks[0].steps[0].expect.json.$.a[*].any: an assertion needs at least one of equals, not_equals, exists, absent, type, length, gt, gte, lt, lte, contains, not_contains, matches, in, empty, count, includes, any, all, nth`}},
		{"a template in a nested predicate needs its capture", stepWith(`        expect: { json: { "$.a[*]": { any: { equals: "{{ .nope }}" } } } }
`), []string{`c.yaml:5:54: checks[0].steps[0].expect.json.$.a[*].any.equals: template "{{ .nope }}": "nope" is not captured by an earlier step (captured so far: none)`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			expectLines(t, loadErrorLines(t, tc.src), tc.want)
		})
	}
}

// TestExplainPrintsListPredicates: explain writes the list predicates
// back in a form that loads to the same assertions.
func TestExplainPrintsListPredicates(t *testing.T) {
	c := loadCheck(t, stepWith(`        expect:
          json:
            "$.items[*].sku": { includes: y, count: { gte: 1 }, nth: { 0: x, -1: { matches: '^z' } } }
            "$.items[*].qty": { any: { gt: 8 }, all: { type: integer } }
`))
	out, err := Explain(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`$.items[*].qty: {any: {gt: 8}, all: {type: integer}}`,
		`$.items[*].sku: {count: {gte: 1}, includes: "y", nth: {0: x, -1: {matches: ^z}}}`,
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("explain lacks %s:\n%s", want, out)
		}
	}
	again := loadCheck(t, string(out))
	p := again.Steps[0].Expect.JSON["$.items[*].sku"]
	if p == nil || len(p.Nth) != 2 || p.Nth[1].Index != -1 || p.Includes == nil || p.Count == nil {
		t.Errorf("explain output does not load back: %+v", p)
	}
}
