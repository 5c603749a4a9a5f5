package yamlstrict

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// laughs is the "billion laughs" document: levels anchors, each a list of
// width aliases to the one before, so that it expands to about
// width^levels nodes from a few hundred bytes.
func laughs(levels, width int) string {
	var b strings.Builder
	b.WriteString("l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n")
	for i := 1; i <= levels; i++ {
		fmt.Fprintf(&b, "l%d: &l%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*l%d, ", i-1), width), ", "))
	}
	return b.String()
}

// heapAllocated is how many bytes f allocates on the heap.
func heapAllocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestAliasExpansionIsBounded: a document that expands past the node
// limit with its aliases is one error, at the alias that crosses it,
// found with work in proportion to the file (a few hundred KB allocated,
// not the gigabytes of the expansion); one under the limit passes, and
// then decoding it (which follows aliases) stays within the limit.
func TestAliasExpansionIsBounded(t *testing.T) {
	for _, tc := range []struct {
		levels, width, max int
		ok                 bool
	}{
		{levels: 3, width: 10, max: 0, ok: true},        // 11,111 nodes
		{levels: 4, width: 10, max: 0, ok: true},        // 111,111 nodes
		{levels: 6, width: 10, max: 0, ok: false},       // 11 million
		{levels: 9, width: 10, max: 0, ok: false},       // 11 billion: the 2 KB file of the issue
		{levels: 30, width: 30, max: 0, ok: false},      // more than an int holds
		{levels: 3, width: 10, max: 10_000, ok: false},  // a smaller limit
		{levels: 2, width: 10, max: 10_000, ok: true},   // within it
		{levels: 12, width: 2, max: 100_000, ok: true},  // 8,191 x 10 + anchors
		{levels: 20, width: 2, max: 100_000, ok: false}, // 2^20 x 10
	} {
		name := fmt.Sprintf("%d levels of %d, limit %d", tc.levels, tc.width, tc.max)
		t.Run(name, func(t *testing.T) {
			src := laughs(tc.levels, tc.width)
			n := parse(t, src)
			d := &Decoder{File: "bomb.yaml"}
			var ok bool
			alloc := heapAllocated(func() { ok = d.LimitNodes(n, "", tc.max) })
			if ok != tc.ok {
				t.Fatalf("LimitNodes = %v, want %v; errors: %v", ok, tc.ok, d.Errs)
			}
			if alloc > 1<<20 {
				t.Errorf("LimitNodes allocated %d bytes for a %d-byte file", alloc, len(src))
			}
			if tc.ok {
				if len(d.Errs) != 0 {
					t.Errorf("errors: %v", d.Errs)
				}
				var v map[string]any
				d.Into(n, &v, "") // follows every alias: bounded by the limit
				return
			}
			limit := tc.max
			if limit == 0 {
				limit = DefaultMaxNodes
			}
			if len(d.Errs) != 1 {
				t.Fatalf("want one error, got %v", d.Errs)
			}
			e := d.Errs[0]
			want := fmt.Sprintf(": the document expands to more than %d nodes (YAML aliases)", limit)
			if !strings.HasSuffix(e.Error(), want) || e.Pos.Line < 2 || e.Pos.Column < 1 || !strings.HasPrefix(e.Error(), "bomb.yaml:") {
				t.Errorf("error %q; want bomb.yaml:line:col: ...%s", e, want)
			}
		})
	}
}

// TestAliasCycleIsOneError: an alias inside the node it names (which
// yaml.v3 accepts into a node tree) would make every walk endless.
func TestAliasCycleIsOneError(t *testing.T) {
	for _, src := range []string{
		"a: &x [*x]\n",
		"a: &x {b: [1, {c: *x}]}\n",
		"top:\n  - &x [1, 2, [3, *x]]\n",
	} {
		n := parse(t, src)
		d := &Decoder{File: "c.yaml"}
		if d.LimitNodes(n, "", 0) || len(d.Errs) != 1 || !strings.Contains(d.Errs[0].Msg, "the alias *x refers to a node that contains it") {
			t.Errorf("%q: errors %v", src, d.Errs)
		}
	}
}

// TestRealNodesAreCountedToo: a file with more nodes than the limit and
// no alias at all is refused as well.
func TestRealNodesAreCountedToo(t *testing.T) {
	n := parse(t, "xs: ["+strings.TrimSuffix(strings.Repeat("1, ", 2000), ", ")+"]\n")
	d := &Decoder{File: "big.yaml"}
	if d.LimitNodes(n, "", 1000) || len(d.Errs) != 1 || !strings.Contains(d.Errs[0].Error(), "xs[997]: the document has more than 1000 nodes") {
		t.Errorf("errors %v", d.Errs)
	}
	d = &Decoder{File: "big.yaml"}
	if !d.LimitNodes(n, "", 0) {
		t.Errorf("2,003 nodes within the default limit: %v", d.Errs)
	}
}

// TestMergedAliasesStayUsable: ordinary use of anchors (shared defaults)
// is far from the limit.
func TestMergedAliasesStayUsable(t *testing.T) {
	n := parse(t, "base: &b {n: 1}\nuse: [*b, *b, *b]\n")
	d := &Decoder{File: "ok.yaml"}
	if !d.LimitNodes(n, "", 0) {
		t.Fatal(d.Errs)
	}
	var v struct {
		Use  []map[string]int `yaml:"use"`
		Base map[string]int   `yaml:"base"`
	}
	d.Into(n, &v, "")
	if len(d.Errs) != 0 || len(v.Use) != 3 || v.Use[2]["n"] != 1 {
		t.Errorf("decoded %+v, errors %v", v, d.Errs)
	}
}
