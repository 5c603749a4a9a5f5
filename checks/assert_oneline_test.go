package checks

import (
	"strings"
	"testing"

	"github.com/theory/jsonpath"
)

// Rule: an assertion's name is one line in every message, even when its
// JSONPath spans lines (RFC 9535 allows whitespace between selectors):
// a query written over two lines in YAML must not break the console,
// JUnit or a chat message. Found by FuzzJSONPath.
func TestAJSONPathThatSpansLinesNamesItsAssertionOnOneLine(t *testing.T) {
	exists := true
	for _, query := range []string{"$[\n\n'items']", "$.items[?@.price\r\n> 10]", "$[*,\t*]"} {
		jp, err := jsonpath.Parse(query)
		if err != nil {
			t.Fatalf("%q: %v", query, err)
		}
		a := jsonAssertion(query, jp, &Predicate{Exists: &exists})
		for _, res := range a.eval(&response{status: 200, body: []byte(`{"items":[{"price":5}]}`)}, nil) {
			for _, text := range []string{res.Name, res.Message} {
				if strings.ContainsAny(text, "\r\n\t") {
					t.Errorf("%q: %q is not one line", query, text)
				}
			}
		}
	}
}
