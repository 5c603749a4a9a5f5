package config

import (
	"strings"
	"testing"

	"github.com/assay-monitor/assay/checks"
)

func TestDefaultsSemantics(t *testing.T) {
	c, err := Parse("assay.yaml", []byte("defaults:\n  semantics: strict\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Defaults.Semantics != checks.SemanticsStrict {
		t.Errorf("semantics = %q", c.Defaults.Semantics)
	}
	if c := Default(); c.Defaults.Semantics != "" {
		t.Errorf("default semantics = %q, want empty (the runner's warn)", c.Defaults.Semantics)
	}
	_, err = Parse("assay.yaml", []byte("defaults:\n  semantics: loud\n"))
	if err == nil || !strings.Contains(err.Error(), `assay.yaml:2:14: defaults.semantics: expected strict, warn or off, got string "loud"`) {
		t.Errorf("err = %v", err)
	}
}
