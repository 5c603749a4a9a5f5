package yamlstrict

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

type inner struct {
	N   int      `yaml:"n"`
	Pos Position `yaml:"-"`
}

type sample struct {
	Name  string         `yaml:"name"`
	Count int            `yaml:"count"`
	Ratio float64        `yaml:"ratio"`
	On    bool           `yaml:"on"`
	Tags  []string       `yaml:"tags"`
	Inner inner          `yaml:"inner"`
	Ptr   *inner         `yaml:"ptr"`
	M     map[string]int `yaml:"m"`
	Any   any            `yaml:"any"`
	Up    upper          `yaml:"up"`
	UpPtr *upper         `yaml:"up_ptr"`
	Pos   Position       `yaml:"-"`

	hidden string //nolint:unused // unexported fields are not decoded
}

// upper reads itself: a scalar, upper-cased; anything else is an error.
type upper string

func (u *upper) UnmarshalStrict(d *Decoder, n *yaml.Node, path string) {
	if n.Kind != yaml.ScalarNode {
		d.Errorf(n, path, "want a word, got %s", Describe(n))
		return
	}
	*u = upper(strings.ToUpper(n.Value))
}

func parse(t *testing.T, src string) *yaml.Node {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatalf("yaml: %v", err)
	}
	return doc.Content[0]
}

func decode(t *testing.T, src string) (sample, *Decoder) {
	t.Helper()
	d := &Decoder{File: "s.yaml"}
	var v sample
	d.Into(parse(t, src), &v, "")
	return v, d
}

func lines(es Errors) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Error()
	}
	return out
}

func wantErrors(t *testing.T, d *Decoder, want ...string) {
	t.Helper()
	if got := lines(d.Errs); !slices.Equal(got, want) {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestDecodeAllKinds(t *testing.T) {
	v, d := decode(t, `name: probe
count: 3
ratio: 2
on: true
tags: [a, b]
inner:
  n: 7
ptr: { n: 8 }
m: { x: 1, y: 2 }
any: { a: 1, b: [2, x, {c: 3}] }
up: shout
up_ptr: whisper
`)
	wantErrors(t, d)
	if v.Name != "probe" || v.Count != 3 || v.Ratio != 2 || !v.On || !slices.Equal(v.Tags, []string{"a", "b"}) {
		t.Errorf("scalars and list: %+v", v)
	}
	if v.Inner.N != 7 || v.Ptr == nil || v.Ptr.N != 8 {
		t.Errorf("nested: inner %+v ptr %+v", v.Inner, v.Ptr)
	}
	if !reflect.DeepEqual(v.M, map[string]int{"x": 1, "y": 2}) {
		t.Errorf("map: %v", v.M)
	}
	// Numbers become float64 and mappings map[string]any, as encoding/json
	// would decode them, so expected values compare with JSON values.
	wantAny := map[string]any{"a": 1.0, "b": []any{2.0, "x", map[string]any{"c": 3.0}}}
	if !reflect.DeepEqual(v.Any, wantAny) {
		t.Errorf("any: %#v, want %#v", v.Any, wantAny)
	}
	if v.Up != "SHOUT" || v.UpPtr == nil || *v.UpPtr != "WHISPER" {
		t.Errorf("Unmarshaler: up %q up_ptr %v", v.Up, v.UpPtr)
	}
	if got := v.Pos.String(); got != "s.yaml:1:1" {
		t.Errorf("Pos = %s, want s.yaml:1:1", got)
	}
	if got := v.Inner.Pos.String(); got != "s.yaml:7:3" {
		t.Errorf("inner.Pos = %s, want s.yaml:7:3", got)
	}
	if got := v.Ptr.Pos.String(); got != "s.yaml:8:6" {
		t.Errorf("ptr.Pos = %s, want s.yaml:8:6", got)
	}
	if got := d.ValuePos("inner.n", Position{}); got.String() != "s.yaml:7:6" {
		t.Errorf("ValuePos(inner.n) = %s", got)
	}
	if got := d.KeyPos("m.y", Position{}); got.String() != "s.yaml:9:12" {
		t.Errorf("KeyPos(m.y) = %s", got)
	}
	fallback := Position{File: "s.yaml", Line: 99, Column: 1}
	if got := d.ValuePos("nope", fallback); got != fallback {
		t.Errorf("ValuePos of a missing path = %s, want the fallback", got)
	}
}

func TestDecodeNullsLeaveZeroValues(t *testing.T) {
	v, d := decode(t, `ptr: null
tags: ~
m:
inner:
`)
	wantErrors(t, d)
	if v.Ptr != nil || v.Tags != nil || v.M != nil || v.Inner.N != 0 {
		t.Errorf("nulls: %+v", v)
	}
}

func TestUnknownFields(t *testing.T) {
	_, d := decode(t, `nmae: x
inner: { m: 1 }
zzzzzzzzzz: 1
`)
	wantErrors(t, d,
		`s.yaml:1:1: nmae: unknown field "nmae" (did you mean "name"?)`,
		`s.yaml:2:10: inner.m: unknown field "m" (did you mean "n"?)`,
		`s.yaml:3:1: zzzzzzzzzz: unknown field "zzzzzzzzzz" (valid: name, count, ratio, on, tags, inner, ptr, m, any, up, up_ptr)`,
	)
}

func TestUnexportedAndDashFieldsAreNotKeys(t *testing.T) {
	_, d := decode(t, `hidden: x
Pos: y
`)
	if len(d.Errs) != 2 || !strings.Contains(d.Errs[0].Msg, `unknown field "hidden"`) || !strings.Contains(d.Errs[1].Msg, `unknown field "Pos"`) {
		t.Errorf("errors: %v", d.Errs)
	}
}

func TestDuplicateKeys(t *testing.T) {
	v, d := decode(t, `name: first
m: { a: 1, a: 2 }
name: second
`)
	wantErrors(t, d,
		`s.yaml:2:12: m.a: duplicate key "a"`,
		`s.yaml:3:1: name: duplicate key "name"`,
	)
	if v.Name != "first" || v.M["a"] != 1 {
		t.Errorf("the first of duplicate keys wins: name %q m %v", v.Name, v.M)
	}
}

func TestWrongTypes(t *testing.T) {
	// Decoding goes on after an error: one pass reports every problem.
	_, d := decode(t, `name: [a]
count: "3"
ratio: fast
on: yes
tags: { a: b }
inner: 5
m: [1]
up: [x]
`)
	wantErrors(t, d,
		`s.yaml:1:7: name: expected a string, got a list`,
		`s.yaml:2:8: count: expected an integer, got string "3"`,
		`s.yaml:3:8: ratio: expected a number, got string "fast"`,
		`s.yaml:4:5: on: expected true or false, got string "yes"`,
		`s.yaml:5:7: tags: expected a list, got a mapping`,
		`s.yaml:6:8: inner: expected a mapping, got number 5`,
		`s.yaml:7:4: m: expected a mapping, got a list`,
		`s.yaml:8:5: up: want a word, got a list`,
	)
}

func TestWrongTypesInListsAndMaps(t *testing.T) {
	_, d := decode(t, `tags: [a, {b: c}, ~]
count: 1.5
m: { x: one }
name: ~
`)
	wantErrors(t, d,
		`s.yaml:1:11: tags[1]: expected a string, got a mapping`,
		`s.yaml:1:19: tags[2]: expected a string, got nothing (null)`,
		`s.yaml:2:8: count: expected an integer, got number 1.5`,
		`s.yaml:3:9: m.x: expected an integer, got string "one"`,
		`s.yaml:4:7: name: expected a string, got nothing (null)`,
	)
}

func TestAliases(t *testing.T) {
	v, d := decode(t, `inner: &shared { n: 4 }
ptr: *shared
tags: &list [x, y]
any: *list
name: &nm probe
up: *nm
`)
	wantErrors(t, d)
	if v.Ptr == nil || v.Ptr.N != 4 || v.Inner.N != 4 {
		t.Fatalf("aliased mapping: inner %+v ptr %+v", v.Inner, v.Ptr)
	}
	// An alias has the position of what it refers to (yaml.v3 places an
	// anchored node at its anchor).
	if v.Ptr.Pos != v.Inner.Pos || v.Ptr.Pos.String() != "s.yaml:1:8" {
		t.Errorf("alias position %s, anchor %s", v.Ptr.Pos, v.Inner.Pos)
	}
	if !reflect.DeepEqual(v.Any, []any{"x", "y"}) || v.Up != "PROBE" {
		t.Errorf("aliased list and scalar: any %v up %q", v.Any, v.Up)
	}
}

func TestAliasToWrongType(t *testing.T) {
	_, d := decode(t, `name: &m { a: 1 }
count: *m
`)
	wantErrors(t, d,
		`s.yaml:1:7: name: expected a string, got a mapping`,
		`s.yaml:1:7: count: expected an integer, got a mapping`,
	)
}

func TestDidYouMean(t *testing.T) {
	names := []string{"name", "steps", "expect", "capture", "schedule"}
	for in, want := range map[string]string{
		"stepz":    "steps",
		"expcet":   "expect",
		"captur":   "capture",
		"shedule":  "schedule",
		"Name":     "name",
		"x":        "",
		"timeouts": "",
	} {
		if got := closest(in, names); got != want {
			t.Errorf("closest(%q) = %q, want %q", in, got, want)
		}
	}
}

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func TestExpandEnv(t *testing.T) {
	n := parse(t, `name: "${HOST}:${PORT:-80}/${UNSET:-x}/${EMPTY:-e}/${EMPTY}/$$HOME"
count: ${PORT}
tags:
  - "${PORT}"
  - ${PORT}
m:
  ${HOST}: 1
`)
	d := &Decoder{File: "s.yaml"}
	seen := map[string]string{}
	d.ExpandEnv(n, env(map[string]string{"HOST": "h", "PORT": "8080", "EMPTY": ""}), func(k, v string) { seen[k] = v })
	var v sample
	d.Into(n, &v, "")
	// Keys are not expanded, so the map key stays literal and valid.
	wantErrors(t, d)
	if want := "h:8080/x/e//$HOME"; v.Name != want {
		t.Errorf("name = %q, want %q", v.Name, want)
	}
	// An unquoted ${PORT} is re-typed: it is an integer where one is needed,
	// and a quoted one stays a string.
	if v.Count != 8080 {
		t.Errorf("count = %d, want 8080", v.Count)
	}
	if !slices.Equal(v.Tags, []string{"8080", "8080"}) {
		t.Errorf("tags = %q", v.Tags)
	}
	if _, ok := v.M["${HOST}"]; !ok {
		t.Errorf("map keys must not be expanded: %v", v.M)
	}
	// seen hears of the variables whose values were used, and of the
	// default a variable took (so that a secret variable's default is
	// secret too).
	if want := map[string]string{"HOST": "h", "PORT": "8080", "EMPTY": "", "UNSET": "x"}; !reflect.DeepEqual(seen, want) {
		t.Errorf("seen = %v, want %v", seen, want)
	}
}

func TestExpandEnvMissingIsOneErrorWithThePath(t *testing.T) {
	n := parse(t, `name: ${NAME}
count: ${COUNT}
inner: { n: "${A}-${B}" }
`)
	d := &Decoder{File: "s.yaml"}
	d.ExpandEnvAt(n, "cfg", env(nil), nil)
	var v sample
	d.Into(n, &v, "cfg")
	// The unset variable is the only error: the value it left empty is not
	// decoded (no "expected an integer, got nothing").
	wantErrors(t, d,
		`s.yaml:1:7: cfg.name: environment variable NAME is not set (use ${NAME:-default} for a default)`,
		`s.yaml:2:8: cfg.count: environment variable COUNT is not set (use ${COUNT:-default} for a default)`,
		`s.yaml:3:13: cfg.inner.n: environment variable A is not set (use ${A:-default} for a default)`,
		`s.yaml:3:13: cfg.inner.n: environment variable B is not set (use ${B:-default} for a default)`,
	)
	var es error = d.Errs
	var target Errors
	if !errors.As(es, &target) || len(target) != 4 {
		t.Errorf("Errors is an error listing every problem: %v", es)
	}
}

func TestExpandEnvWithoutPath(t *testing.T) {
	n := parse(t, "tags:\n  - ok\n  - ${MISSING}\n")
	d := &Decoder{File: "s.yaml"}
	d.ExpandEnv(n, env(nil), nil)
	wantErrors(t, d, `s.yaml:3:5: tags[1]: environment variable MISSING is not set (use ${MISSING:-default} for a default)`)
}

func TestErrorsFormat(t *testing.T) {
	es := Errors{
		{Pos: Position{File: "a.yaml", Line: 3, Column: 7}, Field: "x.y", Msg: "bad"},
		{Pos: Position{File: "b.yaml"}, Msg: "cannot read: no such file or directory"},
	}
	want := "a.yaml:3:7: x.y: bad\nb.yaml: cannot read: no such file or directory"
	if got := es.Error(); got != want {
		t.Errorf("Errors.Error() = %q, want %q", got, want)
	}
}

func TestDescribe(t *testing.T) {
	for src, want := range map[string]string{
		"x: 1":                          "number 1",
		"x: 1.5":                        "number 1.5",
		"x: true":                       "boolean true",
		"x: ~":                          "nothing (null)",
		"x: [1]":                        "a list",
		"x: {a: 1}":                     "a mapping",
		`x: "1"`:                        `string "1"`,
		"x: " + strings.Repeat("a", 80): `string "` + strings.Repeat("a", 59) + "…",
	} {
		n := parse(t, src)
		if got := Describe(n.Content[1]); got != want {
			t.Errorf("Describe(%s) = %q, want %q", src, got, want)
		}
	}
}

func TestSyntaxError(t *testing.T) {
	for _, tt := range []struct {
		src, want string
	}{
		// A parser error: yaml.v3 says "line 2" (0-based); the '{' that
		// is never closed opens on line 3.
		{"a: 1\nb: 2\nc: { d: 1\ne: 2\n", `s.yaml:3:1: invalid YAML: did not find expected ',' or '}'`},
		{"a: 1\nb: [1, 2\n", `s.yaml:2:1: invalid YAML: did not find expected ',' or ']'`},
		{"a:\n  - 1\n  b: 2\n", `s.yaml:2:1: invalid YAML: did not find expected '-' indicator`},
		// A scanner error: yaml.v3's line is already 1-based.
		{"a: 1\nb: c: d\n", `s.yaml:2:1: invalid YAML: mapping values are not allowed in this context`},
		{"a: 1\nb: \"open\n", `s.yaml:2:1: invalid YAML: found unexpected end of stream`},
	} {
		var n yaml.Node
		err := yaml.Unmarshal([]byte(tt.src), &n)
		if err == nil {
			t.Errorf("%q parsed", tt.src)
			continue
		}
		if got := SyntaxError("s.yaml", []byte(tt.src), err).Error(); got != tt.want {
			t.Errorf("%q: %s\nwant %s\n(yaml.v3: %v)", tt.src, got, tt.want, err)
		}
	}
	if got := SyntaxError("s.yaml", nil, errors.New("read: boom")).Error(); got != "s.yaml: invalid YAML: read: boom" {
		t.Errorf("an error that is not yaml's: %s", got)
	}
}

// TestSyntaxErrorsAreOnALineOfTheFile: yaml.v3 puts the end of a text
// whose last line has no line break on a line after it; an error there
// (found by fuzzing) is on the last line, not past it.
func TestSyntaxErrorsAreOnALineOfTheFile(t *testing.T) {
	for _, tt := range []struct{ src, want string }{
		{"a:\n  b: 0\nc:d: {", `s.yaml:3:1: invalid YAML: did not find expected node content`},
		{"a: {", `s.yaml:1:1: invalid YAML: did not find expected node content`},
		{"a: 1\r\nb: [", `s.yaml:2:1: invalid YAML: did not find expected node content`},
	} {
		var n yaml.Node
		err := yaml.Unmarshal([]byte(tt.src), &n)
		if err == nil {
			t.Fatalf("%q parsed", tt.src)
		}
		if got := SyntaxError("s.yaml", []byte(tt.src), err).Error(); got != tt.want {
			t.Errorf("%q: %s\nwant %s\n(yaml.v3: %v)", tt.src, got, tt.want, err)
		}
	}
}

// TestErrorsArePrintable: an error's file name, field path (keys as
// written: "\e[2J" in a quoted key, a tab) and message (what a library
// quotes as is) may hold any text; the error shows it escaped, so that it
// stays one line that drives no terminal (found by fuzzing the global
// config and templates).
func TestErrorsArePrintable(t *testing.T) {
	for _, tt := range []struct {
		file, field, msg, want string
	}{
		{"s.yaml", "sto0\t0", "unknown field", `s.yaml:1:1: sto0\t0: unknown field`},
		{"s.yaml", "a.\x1b[2J.b", "unknown field", `s.yaml:1:1: a.\x1b[2J.b: unknown field`},
		{"s.yaml", "a\u2028b\u0085c\xffé d", "unknown field", `s.yaml:1:1: a\u2028b\u0085c\xffé d: unknown field`},
		{"s.yaml", "checks[0].url", "malformed character constant: '0\x01'", `s.yaml:1:1: checks[0].url: malformed character constant: '0\x01'`},
		{"x\x1b]0;pwned\a.yaml", "", "not a check file", `x\x1b]0;pwned\a.yaml:1:1: not a check file`},
		{"s.yaml", "checks[0].name", `invalid name "a\"b"`, `s.yaml:1:1: checks[0].name: invalid name "a\"b"`},
	} {
		e := &Error{Pos: Position{File: tt.file, Line: 1, Column: 1}, Field: tt.field, Msg: tt.msg}
		if got := e.Error(); got != tt.want {
			t.Errorf("%q %q: %s, want %s", tt.field, tt.msg, got, tt.want)
		}
	}
}
