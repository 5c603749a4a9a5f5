package report

import (
	"strings"
	"testing"
)

// pathDoc is pretty-printed by layoutJSON as pathDocLines.
const pathDoc = `{"a":{"b":[10,20,[30,40]]},"x-y":1,"ключ":{"ü":true},"it's":"q","a.b":2,"":3,"~/":4,"0":"zero key",` +
	`"list":[{"n":1},{"n":2}],"empty":[]}`

var pathDocLines = []string{
	`{`,                  //  0
	`  "a": {`,           //  1
	`    "b": [`,         //  2
	`      10,`,          //  3
	`      20,`,          //  4
	`      [`,            //  5
	`        30,`,        //  6
	`        40`,         //  7
	`      ]`,            //  8
	`    ]`,              //  9
	`  },`,               // 10
	`  "x-y": 1,`,        // 11
	`  "ключ": {`,        // 12
	`    "ü": true`,      // 13
	`  },`,               // 14
	`  "it's": "q",`,     // 15
	`  "a.b": 2,`,        // 16
	`  "": 3,`,           // 17
	`  "~/": 4,`,         // 18
	`  "0": "zero key",`, // 19
	`  "list": [`,        // 20
	`    {`,              // 21
	`      "n": 1`,       // 22
	`    },`,             // 23
	`    {`,              // 24
	`      "n": 2`,       // 25
	`    }`,              // 26
	`  ],`,               // 27
	`  "empty": []`,      // 28
	`}`,                  // 29
}

func TestLayoutJSONLines(t *testing.T) {
	l, ok := layoutJSON(pathDoc, false)
	if !ok {
		t.Fatal("pathDoc is not JSON")
	}
	if len(l.lines) != len(pathDocLines) {
		t.Fatalf("%d lines, want %d", len(l.lines), len(pathDocLines))
	}
	for i, want := range pathDocLines {
		if got := l.text(i); got != want {
			t.Errorf("line %d = %q, want %q", i, got, want)
		}
	}
}

func TestAssertionPathToLine(t *testing.T) {
	l, ok := layoutJSON(pathDoc, false)
	if !ok {
		t.Fatal("pathDoc is not JSON")
	}
	for _, tc := range []struct {
		name string
		// path says whether the name is a path that can be marked at all.
		path bool
		line int // -1: no such value
	}{
		{"json $", true, 0},
		{"json $.a", true, 1},
		{"json $.a.b", true, 2},
		{"json $.a.b[1]", true, 4},
		{"json $.a.b[2][1]", true, 7},
		{"json $.a.b[-1]", true, 5},
		{"json $.a.b[-1][-2]", true, 6},
		{"json $.a.b[3]", true, -1},
		{"json $.a.b[-4]", true, -1},
		{"json $.a.b.c", true, -1},
		{"json $.a['b'][0]", true, 3},
		{"json $['x-y']", true, 11},
		{`json $["x-y"]`, true, 11},
		{"json $.ключ.ü", true, 13},
		{"json $['ключ']['ü']", true, 13},
		{`json $["\u043a\u043b\u044e\u0447"]`, true, 12},
		{`json $["it's"]`, true, 15},
		{`json $['it\'s']`, true, 15},
		{"json $['a.b']", true, 16},
		{"json $['']", true, 17},
		{"json $['~/']", true, 18},
		{"json $['0']", true, 19},
		{"json $[0]", true, -1}, // the document is an object
		{"json $.list[1].n", true, 25},
		{"json $.list[0]", true, 21},
		{"json $.empty", true, 28},
		{"json $.empty[0]", true, -1},
		{"json $.empty[-1]", true, -1},
		{"json $.missing", true, -1},
		{"json $.a.b length", true, 2},
		{"json $.a.b count", true, 2},
		{"json $.a.b any", true, 2},
		{"json $.a.b all", true, 2},
		{"json $.a.b nth -1", true, 2},
		{"json $.a.* count", false, -1},
		{"json $.a.*", false, -1},
		{"json $..n", false, -1},
		{"json $.list[?@.n==1]", false, -1},
		{"json $.a.b[0:1]", false, -1},
		{"json $['a','x-y']", false, -1},
		{"json not a path", false, -1},
		{"openapi body /", true, 0},
		{"openapi body /a/b/2/0", true, 6},
		{"openapi body /a/b/1", true, 4},
		{"openapi body /x-y", true, 11},
		{"openapi body /~0~1", true, 18},
		{"openapi body /0", true, 19}, // an index-like token names a member of an object
		{"openapi body /ключ/ü", true, 13},
		{"openapi body /list/1/n", true, 25},
		{"openapi body /a/b/01", true, -1}, // not an index, and arrays have no names
		{"openapi body /a~2", false, -1},
		{"openapi body a", false, -1},
		{"openapi status", false, -1},
		{"openapi header ETag", false, -1},
		{"header ETag", false, -1},
		{"status", false, -1},
		{"body", false, -1},
		{"json schema", false, -1},
		{"json " + "$" + strings.Repeat(".a", maxPathSteps+1), false, -1},
	} {
		steps, ok := assertionPath(tc.name)
		if ok != tc.path {
			t.Errorf("assertionPath(%q) ok = %v, want %v", tc.name, ok, tc.path)
			continue
		}
		if !ok {
			continue
		}
		if got := l.lineOf(steps); got != tc.line {
			t.Errorf("%q: line %d, want %d", tc.name, got, tc.line)
		}
	}
}

func TestLayoutJSONKeepsTextAndOrder(t *testing.T) {
	l, ok := layoutJSON(`{"z":"<a&b>","a":1.50e3,"m":"é\u0085\n","z":2}`, false)
	if !ok {
		t.Fatal("not JSON")
	}
	var got []string
	for i := range l.lines {
		got = append(got, l.text(i))
	}
	want := []string{`{`, `  "z": "<a&b>",`, `  "a": 1.50e3,`, "  \"m\": \"é\u0085\\n\",", `  "z": 2`, `}`}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// A repeated name: the last value counts, as it did for the assertion.
	steps, _ := assertionPath("json $.z")
	if line := l.lineOf(steps); line != 4 {
		t.Errorf("$.z on line %d, want 4", line)
	}
}

func TestLayoutJSONDepthBound(t *testing.T) {
	const depth = 40
	doc := strings.Repeat(`{"k":`, depth) + "1" + strings.Repeat("}", depth)
	l, ok := layoutJSON(doc, false)
	if !ok {
		t.Fatal("not JSON")
	}
	if len(l.lines) != 2*maxJSONDepth+1 {
		t.Errorf("%d lines, want %d", len(l.lines), 2*maxJSONDepth+1)
	}
	deepest := l.text(maxJSONDepth)
	want := strings.Repeat("  ", maxJSONDepth) + `"k": {"k": {`
	if !strings.HasPrefix(deepest, want) || !strings.Contains(deepest, `{"k": 1}`) {
		t.Errorf("line %d = %q, want the rest written compactly after %q", maxJSONDepth, deepest, want)
	}
	for i := range l.lines {
		if l.lines[i].depth > maxJSONDepth {
			t.Errorf("line %d indented %d levels", i, l.lines[i].depth)
		}
	}
	// A value below the bound is on the line that holds it.
	steps, _ := assertionPath("json $" + strings.Repeat(".k", depth))
	if line := l.lineOf(steps); line != maxJSONDepth {
		t.Errorf("deepest value on line %d, want %d", line, maxJSONDepth)
	}
}

func TestLayoutJSONRejectsOtherText(t *testing.T) {
	for _, body := range []string{"", "hello", `{"a": 1}x`, `{"a": 1} {"b": 2}`, `1 2`, `{"a": 1`, `[1, 2,`, `{"a" 1}`} {
		if _, ok := layoutJSON(body, false); ok {
			t.Errorf("layoutJSON(%q) accepted it as one JSON document", body)
		}
	}
	for _, body := range []string{`42`, `"s"`, `null`, `[]`, " {} \n"} {
		if _, ok := layoutJSON(body, false); !ok {
			t.Errorf("layoutJSON(%q) rejected it", body)
		}
	}
}

func TestLayoutJSONCutDocument(t *testing.T) {
	body := `{"items": [{"id": 1}, {"id": 2}, {"na`
	l, ok := layoutJSON(body, true)
	if !ok || !l.cut {
		t.Fatalf("a cut document was not accepted as cut: ok=%v", ok)
	}
	if last := l.text(len(l.lines) - 1); last != "    {" {
		t.Errorf("last line %q", last)
	}
	for name, want := range map[string]int{"json $.items[1].id": 6, "json $.items[2].name": -1, "json $.items[-1]": -1} {
		steps, _ := assertionPath(name)
		if got := l.lineOf(steps); got != want {
			t.Errorf("%s on line %d, want %d", name, got, want)
		}
	}
	// A syntax error is not a cut.
	if _, ok := layoutJSON(`{"items": [1, 2 x`, true); ok {
		t.Error("a syntax error was taken for a cut")
	}
}

func TestUnescapePointer(t *testing.T) {
	for in, want := range map[string]string{"a": "a", "~0": "~", "~1": "/", "~01": "~1", "a~1b~0c": "a/b~c"} {
		if got, ok := unescapePointer(in); !ok || got != want {
			t.Errorf("unescapePointer(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"~", "a~", "~2"} {
		if _, ok := unescapePointer(in); ok {
			t.Errorf("unescapePointer(%q) accepted an invalid escape", in)
		}
	}
}
