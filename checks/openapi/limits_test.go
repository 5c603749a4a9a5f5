package openapi

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestSpecAliasExpansionIsBounded: kin-openapi expands every YAML alias;
// a spec (or a file it refers to) that would expand past the node limit
// is one error at the alias, before kin-openapi sees it, in small memory.
func TestSpecAliasExpansionIsBounded(t *testing.T) {
	var laughs strings.Builder
	laughs.WriteString("x-l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for i := 1; i <= 9; i++ {
		fmt.Fprintf(&laughs, "x-l%d: &l%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*l%d, ", i-1), 10), ", "))
	}
	spec := "openapi: 3.0.3\ninfo: {title: t, version: \"1\"}\npaths: {}\n" + laughs.String()
	dir := t.TempDir()
	ref := filepath.Join(dir, "ref.yaml")
	if err := os.WriteFile(ref, []byte(laughs.String()+"R: {description: r}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	withRef := "openapi: 3.0.3\ninfo: {title: t, version: \"1\"}\npaths:\n  /x:\n    get:\n      responses:\n        \"200\":\n          $ref: \"ref.yaml#/R\"\n"
	for name, tc := range map[string]struct{ text, file string }{
		"in the spec":        {spec, "spec.yaml"},
		"in a referred file": {withRef, "ref.yaml"},
	} {
		p := filepath.Join(dir, "spec.yaml")
		if err := os.WriteFile(p, []byte(tc.text), 0o644); err != nil {
			t.Fatal(err)
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err := Load(p)
		runtime.ReadMemStats(&after)
		if err == nil || !strings.Contains(err.Error(), tc.file+":") || !strings.HasSuffix(err.Error(), "the document expands to more than 1000000 nodes (YAML aliases)") {
			t.Errorf("%s: %v", name, err)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
			t.Errorf("%s: %d MiB allocated", name, alloc>>20)
		}
	}
}

// TestSpecFilesMustBeRegular: a spec, or a file it refers to, that is a
// device or a directory is an error naming it, never read.
func TestSpecFilesMustBeRegular(t *testing.T) {
	dir := t.TempDir()
	zero := filepath.Join(dir, "zero.yaml")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(zero); err == nil || !strings.HasSuffix(err.Error(), "cannot read the spec: not a regular file (a character device)") {
		t.Errorf("spec: %v", err)
	}
	p := filepath.Join(dir, "spec.yaml")
	if err := os.WriteFile(p, []byte("openapi: 3.0.3\ninfo: {title: t, version: \"1\"}\npaths:\n  /x:\n    get:\n      responses:\n        \"200\":\n          $ref: \"zero.yaml#/R\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p); err == nil || !strings.Contains(err.Error(), "not a regular file (a character device)") {
		t.Errorf("referred file: %v", err)
	}
}
