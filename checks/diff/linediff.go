package diff

// lineOp is one step of an edit script: keep, delete or insert a line. a
// and b are the lines of each side consumed before it, so a deleted or
// kept line is before[a] and an inserted or kept one after[b].
type lineOp struct {
	kind byte
	a, b int
}

// Edit kinds, as unified diff prefixes them.
const (
	opEqual  = ' '
	opDelete = '-'
	opInsert = '+'
)

// lineDiff returns an edit script from a to b: the common prefix and
// suffix, and between them a shortest script found by Myers' O(ND)
// algorithm as long as it needs at most maxEdits edits. Past that the
// middle is all deleted then all inserted (still correct, not minimal),
// and exact is false. Work is O((N+M)·maxEdits), memory O(maxEdits²).
func lineDiff(a, b []string) (ops []lineOp, exact bool) {
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		suf++
	}
	ops = make([]lineOp, 0, len(a)+len(b)-pre-suf)
	for i := 0; i < pre; i++ {
		ops = append(ops, lineOp{opEqual, i, i})
	}
	ma, mb := a[pre:len(a)-suf], b[pre:len(b)-suf]
	mid, exact := myers(ma, mb, maxEdits)
	if !exact {
		mid = mid[:0]
		for i := range ma {
			mid = append(mid, lineOp{opDelete, i, 0})
		}
		for j := range mb {
			mid = append(mid, lineOp{opInsert, len(ma), j})
		}
	}
	for _, op := range mid {
		ops = append(ops, lineOp{op.kind, op.a + pre, op.b + pre})
	}
	for i := 0; i < suf; i++ {
		ops = append(ops, lineOp{opEqual, len(a) - suf + i, len(b) - suf + i})
	}
	return ops, exact
}

// myers finds a shortest edit script from a to b with at most maxD edits;
// ok is false when there is none.
func myers(a, b []string, maxD int) (ops []lineOp, ok bool) {
	n, m := len(a), len(b)
	if n == 0 && m == 0 {
		return nil, true
	}
	limit := min(n+m, maxD)
	// v[k+off] is the furthest x reached on diagonal k = x - y.
	off := limit + 1
	v := make([]int, 2*off+1)
	// trace[d] holds v over diagonals -d-1..d+1 as it was before step d.
	trace := make([][]int, 0, 16)
	for d := 0; d <= limit; d++ {
		trace = append(trace, append([]int(nil), v[off-d-1:off+d+2]...))
		for k := -d; k <= d; k += 2 {
			var x int
			if k == -d || (k != d && v[off+k-1] < v[off+k+1]) {
				x = v[off+k+1] // down: insert b[y]
			} else {
				x = v[off+k-1] + 1 // right: delete a[x]
			}
			y := x - k
			for x < n && y < m && a[x] == b[y] {
				x++
				y++
			}
			v[off+k] = x
			if x >= n && y >= m {
				return backtrack(trace, n, m), true
			}
		}
	}
	return nil, false
}

// backtrack walks the trace from (n, m) back to (0, 0) and returns the
// edit script in order.
func backtrack(trace [][]int, n, m int) []lineOp {
	var rev []lineOp
	x, y := n, m
	for d := len(trace) - 1; d >= 0; d-- {
		v := trace[d]
		at := func(k int) int { return v[k+d+1] }
		k := x - y
		var pk int
		if k == -d || (k != d && at(k-1) < at(k+1)) {
			pk = k + 1
		} else {
			pk = k - 1
		}
		px := at(pk)
		py := px - pk
		for x > px && y > py {
			x--
			y--
			rev = append(rev, lineOp{opEqual, x, y})
		}
		if d > 0 {
			if x == px {
				y--
				rev = append(rev, lineOp{opInsert, x, y})
			} else {
				x--
				rev = append(rev, lineOp{opDelete, x, y})
			}
		}
		x, y = px, py
	}
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	return rev
}
