package yamlstrict

import (
	"errors"
	"testing"

	"go.yaml.in/yaml/v3"
)

// An unquoted ${...} inside { } or [ ] is found past quotes, comments
// and apostrophes in plain text; one that is quoted, in block context or
// outside the collection at fault is not.
func TestUnquotedRefInFlow(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		start      int
		line, col  int
		ref        string
	}{
		{"flow mapping", "a: { b: ${B:-x} }\n", 1, 1, 9, "${B:-x}"},
		{"nested default", "a: { b: ${B:-${C:-y}} }\n", 1, 1, 9, "${B:-${C:-y}}"},
		{"after a quoted one", `a: { q: "${A}", r: '${B}', s: ${S} }` + "\n", 1, 1, 31, "${S}"},
		{"escaped quote in double quotes", `a: { q: "x\" ${A}", s: ${S} }` + "\n", 1, 1, 24, "${S}"},
		{"apostrophe in plain text", "a: { q: it's, s: ${S} }\n", 1, 1, 18, "${S}"},
		{"multi-line list", "a: [\n  x,\n  ${X}\n]\n", 1, 3, 3, "${X}"},
		{"non-ASCII column in characters", "a: { é: ${X} }\n", 1, 1, 9, "${X}"},
		{"from the line given", "z: ${NOT_IN_FLOW}\na: { b: ${B} }\n", 2, 2, 9, "${B}"},
		{"unclosed reference", "a: { b: ${B\n", 1, 1, 9, "${B"},
		// YAML breaks a line at a lone CR too (FuzzLoadChecks found "\n{0\r${"
		// reported at 2:4, past the end of YAML's line 2).
		{"lone CR breaks the line", "a: { b: 1,\r  c: ${C} }\n", 1, 2, 6, "${C}"},
		{"lines counted past a lone CR", "x: 1\ry: 2\na: { b: ${B} }\n", 3, 3, 9, "${B}"},
		{"CR LF is one break", "x: 1\r\na: { b: ${B} }\r\n", 2, 2, 9, "${B}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			line, col, ref, ok := unquotedRefInFlow([]byte(tc.text), tc.start)
			if !ok || line != tc.line || col != tc.col || ref != tc.ref {
				t.Errorf("got %d:%d %q %v, want %d:%d %q", line, col, ref, ok, tc.line, tc.col, tc.ref)
			}
		})
	}
	for _, tc := range []struct{ name, text string }{
		{"quoted", `a: { b: "${B}", c: '${C}' }` + "\n"},
		{"block context", "a: ${B}\n"},
		{"comment", "a: { b: c } # ${B}\n"},
		{"after the collection closed", "a: { b: c }\nd: ${D}\n"},
		{"no flow collection", "a: b\n"},
	} {
		t.Run("none: "+tc.name, func(t *testing.T) {
			if line, col, ref, ok := unquotedRefInFlow([]byte(tc.text), 1); ok {
				t.Errorf("found %d:%d %q", line, col, ref)
			}
		})
	}
}

// Other syntax errors are left as they are.
func TestSyntaxErrorInKeepsOtherErrors(t *testing.T) {
	data := []byte("a: [b, c\nd: ${X}\n")
	var n yaml.Node
	err := yaml.Unmarshal(data, &n)
	if err == nil {
		t.Fatal("no error")
	}
	got := SyntaxErrorIn("f.yaml", data, err)
	if want := SyntaxError("f.yaml", data, err); got.Error() != want.Error() {
		t.Errorf("%v, want %v", got, want)
	}
	if got := SyntaxErrorIn("f.yaml", nil, errors.New("yaml: something")); got.Error() != "f.yaml:1:1: invalid YAML: something" {
		t.Errorf("%v", got)
	}
}
