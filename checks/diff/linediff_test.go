package diff

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
)

// TestLineDiffMinimal checks on random inputs that the edit script turns a
// into b and is as short as the longest common subsequence allows.
func TestLineDiffMinimal(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	gen := func() []string {
		s := make([]string, rng.IntN(12))
		for i := range s {
			s[i] = strconv.Itoa(rng.IntN(4))
		}
		return s
	}
	for range 2000 {
		a, b := gen(), gen()
		ops, exact := lineDiff(a, b)
		if !exact {
			t.Fatalf("lineDiff(%q, %q) was not exact", a, b)
		}
		var gotA, gotB []string
		edits := 0
		for _, op := range ops {
			switch op.kind {
			case opEqual:
				if a[op.a] != b[op.b] {
					t.Fatalf("lineDiff(%q, %q): equal op %+v joins different lines", a, b, op)
				}
				gotA, gotB = append(gotA, a[op.a]), append(gotB, b[op.b])
			case opDelete:
				gotA = append(gotA, a[op.a])
				edits++
			case opInsert:
				gotB = append(gotB, b[op.b])
				edits++
			}
			if op.a != len(gotA)-boolInt(op.kind != opInsert) || op.b != len(gotB)-boolInt(op.kind != opDelete) {
				t.Fatalf("lineDiff(%q, %q): op %+v has wrong positions", a, b, op)
			}
		}
		if !slices.Equal(gotA, a) || !slices.Equal(gotB, b) {
			t.Fatalf("lineDiff(%q, %q) rebuilds %q, %q", a, b, gotA, gotB)
		}
		if want := len(a) + len(b) - 2*lcs(a, b); edits != want {
			t.Fatalf("lineDiff(%q, %q) has %d edits, want %d", a, b, edits, want)
		}
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func lcs(a, b []string) int {
	dp := make([][]int, len(a)+1)
	for i := range dp {
		dp[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				dp[i][j] = dp[i+1][j+1] + 1
			} else {
				dp[i][j] = max(dp[i+1][j], dp[i][j+1])
			}
		}
	}
	return dp[0][0]
}

// TestLineDiffBounded: past maxEdits the script is coarse but still right.
func TestLineDiffBounded(t *testing.T) {
	var a, b []string
	for i := range 2 * maxEdits {
		a = append(a, "a"+strconv.Itoa(i))
		b = append(b, "b"+strconv.Itoa(i))
	}
	a = append([]string{"same"}, append(a, "end")...)
	b = append([]string{"same"}, append(b, "end")...)
	ops, exact := lineDiff(a, b)
	if exact {
		t.Fatal("lineDiff was exact past maxEdits")
	}
	if len(ops) != 2+4*maxEdits || ops[0] != (lineOp{opEqual, 0, 0}) ||
		ops[1] != (lineOp{opDelete, 1, 1}) || ops[1+2*maxEdits] != (lineOp{opInsert, 1 + 2*maxEdits, 1}) ||
		ops[len(ops)-1] != (lineOp{opEqual, len(a) - 1, len(b) - 1}) {
		t.Fatalf("coarse script is wrong: %d ops, first %+v %+v, last %+v", len(ops), ops[0], ops[1], ops[len(ops)-1])
	}
}
