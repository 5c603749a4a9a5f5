package yamlstrict

import (
	"errors"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestInvalidTextIsReportedWhereItIs: invalid UTF-8 and control
// characters are reported at the line and column of the first one
// (yaml.v3 says only "invalid leading UTF-8 octet", which read 1:1).
func TestInvalidTextIsReportedWhereItIs(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"a: \xff\n", "f.yaml:1:4: invalid UTF-8 (byte 0xff)"},
		{"a: 1\nb: ok\nc: x\xc3\n", "f.yaml:3:5: invalid UTF-8 (byte 0xc3)"},
		{"a: 1\r\nb: \xe2\x82\n", "f.yaml:2:4: invalid UTF-8 (byte 0xe2)"},
		{"a: é\xed\xa0\x80\n", "f.yaml:1:5: invalid UTF-8 (byte 0xed)"}, // a surrogate; columns count characters
		{"# comment \xfe\n", "f.yaml:1:11: invalid UTF-8 (byte 0xfe)"},
		{"a: b\nc: \x01\n", "f.yaml:2:4: control character U+0001 is not allowed in YAML"},
		{"a: \"\x00\"\n", "f.yaml:1:5: control character U+0000 is not allowed in YAML"},
		{"a: b\rc: \x7f\n", "f.yaml:2:4: control character U+007F is not allowed in YAML"},
	} {
		e := CheckText("f.yaml", []byte(tc.src))
		if e == nil || e.Error() != tc.want {
			t.Errorf("%q: %v, want %s", tc.src, e, tc.want)
		}
		var n yaml.Node
		if yaml.Unmarshal([]byte(tc.src), &n) == nil {
			t.Errorf("%q: yaml.v3 accepts it: the check is stricter than the parser", tc.src)
		}
	}
	for _, ok := range []string{"", "a: é€😀\tb\n", "\ufeffa: 1\n", "\xff\xfea\x00:\x00 \x001\x00\n"} {
		if e := CheckText("f.yaml", []byte(ok)); e != nil {
			t.Errorf("%q: %v", ok, e)
		}
	}
}

// TestExcerptIsShortAndEscaped: what a message quotes of a value is at
// most ExcerptLen characters, quoted and escaped.
func TestExcerptIsShortAndEscaped(t *testing.T) {
	for in, want := range map[string]string{
		"short":                  `"short"`,
		strings.Repeat("a", 40):  `"` + strings.Repeat("a", 40) + `"`,
		strings.Repeat("a", 41):  `"` + strings.Repeat("a", 40) + `"…`,
		strings.Repeat("é", 50):  `"` + strings.Repeat("é", 40) + `"…`,
		"root:*:19000\n\x1b[31m": `"root:*:19000\n\x1b[31m"`,
		"bad \xff byte":          `"bad \xff byte"`,
	} {
		if got := Excerpt(in); got != want {
			t.Errorf("Excerpt(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestForeignDocumentsAreRecognised: a document is ours when it is empty
// or a mapping with one of our keys or a near typo of one.
func TestForeignDocumentsAreRecognised(t *testing.T) {
	for src, foreign := range map[string]bool{
		"checks: []\n":                   false,
		"check: []\n":                    false, // a typo: reported as "did you mean"
		"x: 1\nchecks: []\n":             false,
		"~\n":                            false,
		"{}\n":                           false,
		"root:*:19000:0:99999:7:::\n":    true,
		"root: x\ndaemon: y\n":           true,
		"[1, 2]\n":                       true,
		"services: {web: {image: x}}\n":  true,
		"\"just a string\"\n":            true,
		"apiVersion: v1\nkind: Secret\n": true,
		"? [complex, key]\n: value\n":    true,
		"? " + strings.Repeat("k", 5000) + "\n: 1\n": true,
	} {
		if got := Foreign(parse(t, src), "checks"); got != foreign {
			t.Errorf("Foreign(%q) = %v, want %v", src, got, foreign)
		}
	}
}

// TestNestedDefaultsExpand: a default may hold references, expanded in
// turn; what is not a reference stays as written.
func TestNestedDefaultsExpand(t *testing.T) {
	lookup := env(map[string]string{"A": "a", "B": "b", "E": ""})
	for _, tc := range []struct{ in, want string }{
		{"${A:-${B}}", "a"},
		{"${X:-${B}}", "b"},
		{"${X:-${Y:-z}}", "z"},
		{"${X:-${Y:-${B}}}", "b"},
		{"${E:-${B}}", "b"},
		{"${X:-pre-${B}-post}", "pre-b-post"},
		{"${X:-$${B}}", "${B}"},
		{"${X:-a}b}", "ab}"},
		{"${X:-{x}}", "{x}"},
		{"x${X:-}y", "xy"},
		{"${A:-${B}", "${A:-b"},        // unclosed outer: the inner one expands
		{"${1A} $5 ${", "${1A} $5 ${"}, // not references
		{strings.Repeat("${X:-", 20) + "deep" + strings.Repeat("}", 20), strings.Repeat("${X:-", 12) + "deep" + strings.Repeat("}", 12)},
	} {
		var seen []string
		got, _ := expandRefs(tc.in, 0, lookup, func(n, _ string) { seen = append(seen, n) }, func(n string) { t.Errorf("%q: %s reported missing", tc.in, n) })
		if got != tc.want {
			t.Errorf("%q -> %q, want %q", tc.in, got, tc.want)
		}
	}
	// An unset variable with no default, nested or not, is one error
	// naming it.
	n := parse(t, "a: ${X:-${MISSING}}\n")
	d := &Decoder{File: "e.yaml"}
	d.ExpandEnv(n, lookup, nil)
	wantErrors(t, d, `e.yaml:1:4: a: environment variable MISSING is not set (use ${MISSING:-default} for a default)`)
	// seen hears of a variable used through a default, and of the
	// default the outer variable took.
	seen := map[string]string{}
	d = &Decoder{File: "e.yaml"}
	d.ExpandEnv(parse(t, "a: ${X:-${B}}\n"), lookup, func(k, v string) { seen[k] = v })
	if seen["B"] != "b" || seen["X"] != "b" || len(seen) != 2 {
		t.Errorf("seen %v", seen)
	}
}

// TestSecretValuesAreNotQuoted: a message about a value that holds a
// secret shows it as written (${API_TOKEN}), whatever form the message
// quotes it in.
func TestSecretValuesAreNotQuoted(t *testing.T) {
	secret := strings.Repeat("s3cr3t-", 12)
	n := parse(t, "count: ${API_TOKEN}\nname: [\"${API_TOKEN}\"]\ntags: x-${API_TOKEN}\n")
	d := &Decoder{File: "s.yaml", Secret: func(name string) bool { return strings.Contains(name, "TOKEN") }}
	d.ExpandEnv(n, env(map[string]string{"API_TOKEN": secret}), nil)
	var v sample
	d.Into(n, &v, "")
	for _, e := range d.Errs {
		if strings.Contains(e.Error(), "s3cr3t") {
			t.Errorf("secret in %q", e)
		}
	}
	wantErrors(t, d,
		`s.yaml:1:8: count: expected an integer, got string "${API_TOKEN}"`,
		`s.yaml:2:7: name: expected a string, got a list`,
		`s.yaml:3:7: tags: expected a list, got string "x-${API_TOKEN}"`,
	)
}

// TestHideValuesHidesEveryForm: values are hidden as they are, quoted,
// percent-encoded, and where a message cut them.
func TestHideValuesHidesEveryForm(t *testing.T) {
	const v = `tok"en/with spaces&more-than-forty-characters-long`
	errs := Errors{
		{Msg: "raw " + v},
		{Msg: `quoted "tok\"en/with spaces&more-than-forty-characters-long"`},
		{Msg: "query tok%22en%2Fwith+spaces%26more-than-forty-characters-long"},
		{Msg: "cut " + Excerpt(v)},
		{Msg: `described "tok\"en/with spaces&more-than…`},
		{Msg: "unrelated … text"},
	}
	HideValues(errs, []string{v, "ab"}, "[X]")
	for i, want := range []string{
		"raw [X]",
		`quoted "[X]"`,
		"query [X]",
		`cut "[X]"…`,
		`described "[X]…`,
		"unrelated … text",
	} {
		if errs[i].Msg != want {
			t.Errorf("%d: %q, want %q", i, errs[i].Msg, want)
		}
	}
}

// TestSyntaxErrorsQuoteLittle: yaml.v3 quotes anchor names from the
// file; those are excerpts, and the message one short line.
func TestSyntaxErrorsQuoteLittle(t *testing.T) {
	long := strings.Repeat("x", 200)
	var n yaml.Node
	err := yaml.Unmarshal([]byte("a: *"+long+"\n"), &n)
	if err == nil {
		t.Fatal("parsed")
	}
	got := SyntaxError("s.yaml", nil, err).Error()
	if strings.Contains(got, long) || !strings.Contains(got, `unknown anchor "`+strings.Repeat("x", 40)+`"…`) {
		t.Errorf("got %s", got)
	}
	if got := SyntaxError("s.yaml", nil, errors.New("yaml: "+strings.Repeat("y ", 500))).Error(); len(got) > 200 {
		t.Errorf("%d bytes: %s", len(got), got)
	}
}
