package semantics

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestREADMEDocumentsEveryRule: the README's rule table has a row per rule
// with its ID, RFC section and level, and no row for a rule that does not
// exist.
func TestREADMEDocumentsEveryRule(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	for _, r := range Rules() {
		row := fmt.Sprintf("| `%s` | %s | %s |", r.ID, r.Section, r.Level)
		if !strings.Contains(readme, row) {
			t.Errorf("README has no row starting %q", row)
		}
	}
	for _, line := range strings.Split(readme, "\n") {
		if !strings.HasPrefix(line, "| `rfc911") {
			continue
		}
		id := strings.Trim(strings.Fields(line)[1], "`")
		if _, ok := Lookup(id); !ok {
			t.Errorf("README documents an unknown rule %s", id)
		}
	}
}
