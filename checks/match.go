package checks

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"sync"
	"unicode/utf8"

	"github.com/theory/jsonpath"
	"github.com/theory/jsonpath/spec"
)

// CPU-bound work on a response (regular expressions, JSONPath) stops at
// the step's deadline. Go's regexp runs in time linear in the input, but
// the factor is the size of the compiled program: a 3,000-way alternation
// over a 200 KB body is a minute of CPU. A match whose worst case is small
// runs as is; a larger one reads its input through a RuneReader that
// checks the context as it goes and ends the input early when it is done.
// JSONPath cannot be interrupted; a query whose worst case over the
// document is too large is refused before it runs.
//
// The loader could refuse huge regular expressions outright (it compiles
// them); this bounds the time whatever it accepts.

// directMatchWork is the most work (input bytes × program instructions)
// a match may do without looking at the deadline: about 20 ms at worst
// (the race detector makes it some 50 times more). A small expression
// over a body of up to some hundreds of KiB, or any expression over a
// header, stays direct, with the literal-prefix search a RuneReader
// cannot use.
const directMatchWork = 1 << 22

// checkWork is about how much work a stoppable match does between two
// looks at the deadline: a millisecond or so.
const checkWork = 1 << 18

// errStopped says that evaluation stopped because the step's context
// ended; the step then fails with timeout (or interrupted).
var errStopped = errors.New("stopped at the deadline")

// regexSizes caches the instruction count of compiled expressions. It is
// emptied when full, which bounds it whatever templated expressions are
// compiled per run.
var regexSizes struct {
	sync.Mutex
	m map[*regexp.Regexp]int
}

const maxRegexSizes = 1024

// regexSize is the number of instructions of re's program, the factor of
// its cost per input byte in the worst case.
func regexSize(re *regexp.Regexp) int {
	regexSizes.Lock()
	n, ok := regexSizes.m[re]
	regexSizes.Unlock()
	if ok {
		return n
	}
	n = 1 << 22 // larger than any program syntax accepts: never direct
	if p, err := syntax.Parse(re.String(), syntax.Perl); err == nil {
		if prog, err := syntax.Compile(p.Simplify()); err == nil {
			n = len(prog.Inst)
		}
	}
	regexSizes.Lock()
	if regexSizes.m == nil || len(regexSizes.m) >= maxRegexSizes {
		regexSizes.m = make(map[*regexp.Regexp]int)
	}
	regexSizes.m[re] = n
	regexSizes.Unlock()
	return n
}

// direct reports whether matching re over n bytes is cheap enough to run
// without looking at the deadline.
func direct(re *regexp.Regexp, n int) bool {
	return int64(n+1)*int64(regexSize(re)) <= directMatchWork
}

// stoppingReader reads runes from a string or a byte slice (one of them)
// and reports the end of input once ctx is done, so that a match ends.
type stoppingReader struct {
	s       string
	b       []byte // read instead of s when not nil
	i       int
	done    <-chan struct{}
	every   int // runes between two looks at done
	left    int
	stopped bool
}

func newStoppingReader(ctx context.Context, re *regexp.Regexp, s string, b []byte) *stoppingReader {
	every := max(1, checkWork/regexSize(re))
	return &stoppingReader{s: s, b: b, done: ctx.Done(), every: every, left: every}
}

// errEnd ends a stoppingReader's input (regexp looks only at the size 0).
var errEnd = errors.New("end of input")

// ReadRune returns the next rune, or the end of input once ctx is done.
func (r *stoppingReader) ReadRune() (rune, int, error) {
	if r.left--; r.left <= 0 {
		r.left = r.every
		select {
		case <-r.done:
			r.stopped = true
		default:
		}
	}
	if r.stopped {
		return 0, 0, errEnd
	}
	if r.b != nil {
		if r.i >= len(r.b) {
			return 0, 0, errEnd
		}
		c, n := rune(r.b[r.i]), 1
		if c >= utf8.RuneSelf {
			c, n = utf8.DecodeRune(r.b[r.i:])
		}
		r.i += n
		return c, n, nil
	}
	if r.i >= len(r.s) {
		return 0, 0, errEnd
	}
	c, n := rune(r.s[r.i]), 1
	if c >= utf8.RuneSelf {
		c, n = utf8.DecodeRuneInString(r.s[r.i:])
	}
	r.i += n
	return c, n, nil
}

// stopped is the error of work that found the step's context done.
func stopped(ctx context.Context) error {
	if ctx.Err() != nil {
		return errStopped
	}
	return nil
}

// matchString reports whether re matches s, or errStopped.
func (r *response) matchString(re *regexp.Regexp, s string) (bool, error) {
	ctx := r.context()
	if err := stopped(ctx); err != nil {
		return false, err
	}
	if direct(re, len(s)) {
		return re.MatchString(s), nil
	}
	idx, err := stoppableIndex(ctx, re, s, nil, false)
	return idx != nil, err
}

// matchBytes reports whether re matches b, or errStopped.
func (r *response) matchBytes(re *regexp.Regexp, b []byte) (bool, error) {
	ctx := r.context()
	if err := stopped(ctx); err != nil {
		return false, err
	}
	if direct(re, len(b)) {
		return re.Match(b), nil
	}
	idx, err := stoppableIndex(ctx, re, "", b, false)
	return idx != nil, err
}

// findSubmatch is re.FindSubmatch(b), or errStopped.
func (r *response) findSubmatch(re *regexp.Regexp, b []byte) ([][]byte, error) {
	ctx := r.context()
	if err := stopped(ctx); err != nil {
		return nil, err
	}
	if direct(re, len(b)) {
		return re.FindSubmatch(b), nil
	}
	idx, err := stoppableIndex(ctx, re, "", b, true)
	if idx == nil || err != nil {
		return nil, err
	}
	m := make([][]byte, len(idx)/2)
	for i := range m {
		if idx[2*i] >= 0 {
			m[i] = b[idx[2*i]:idx[2*i+1]:idx[2*i+1]]
		}
	}
	return m, nil
}

// stoppableIndex matches re over s or b (b when not nil) through a
// stoppingReader: the index pairs of the leftmost match and its
// submatches (with submatches; else only whether there is one, as a
// non-nil slice), nil for no match, or errStopped.
func stoppableIndex(ctx context.Context, re *regexp.Regexp, s string, b []byte, submatches bool) ([]int, error) {
	rr := newStoppingReader(ctx, re, s, b)
	var idx []int
	if submatches {
		idx = re.FindReaderSubmatchIndex(rr)
	} else if re.MatchReader(rr) {
		idx = []int{}
	}
	if rr.stopped {
		return nil, errStopped
	}
	return idx, nil
}

// jsonWorkBudget bounds the worst case of a JSONPath query over a
// document, in units of values × depth^descendant segments (about 1 to 15
// ns each with theory/jsonpath): a few seconds at most.
const jsonWorkBudget = 1 << 28

// errTooExpensive says that a JSONPath query was not run.
type errTooExpensive struct {
	values, depth, descendants int
	// fan is fanOut of the query.
	fan float64
}

func (e errTooExpensive) Error() string {
	if e.fan > 1 {
		return fmt.Sprintf("not evaluated: a query whose unions select each value up to %.0f times, with %d descendant segments (..), over a document of %d values nested %d deep is too expensive; select a narrower part of the document", e.fan, e.descendants, e.values, e.depth)
	}
	return fmt.Sprintf("not evaluated: a query with %d descendant segments (..) over a document of %d values nested %d deep is too expensive; select a narrower part of the document", e.descendants, e.values, e.depth)
}

// selectJSON runs jp over the body's JSON document, unless the step's
// context is done (errStopped) or the query's worst case over this
// document is beyond jsonWorkBudget (errTooExpensive). Each descendant
// segment can visit every value below each value it starts from, and
// each selector of a union select a value again, so the worst case is
// values × depth^descendants × fanOut.
func (r *response) selectJSON(jp *jsonpath.Path) ([]any, error) {
	doc, err := r.JSON()
	if err != nil {
		return nil, err
	}
	if err := stopped(r.context()); err != nil {
		return nil, err
	}
	if k, fan := descendants(jp), fanOut(jp.Query()); k > 0 || fan > 1 {
		if !r.measured {
			r.measured = true
			r.values, r.depth = measureJSON(doc, 1)
		}
		work := float64(r.values) * fan
		for range k {
			work *= float64(r.depth)
		}
		if work > jsonWorkBudget {
			return nil, errTooExpensive{values: r.values, depth: r.depth, descendants: k, fan: fan}
		}
	}
	return jp.Select(doc), nil
}

// fanOut is the product of the number of selectors of each segment of q
// and of the existence tests in its filters: a value can be selected
// once by each selector of a segment, so that $[*,*][*,*][*,*] selects
// each value of a document nested three deep eight times, and twenty such
// segments select it a million times, from a body of a few bytes.
func fanOut(q *spec.PathQuery) float64 {
	f := 1.0
	for _, seg := range q.Segments() {
		f *= float64(max(1, len(seg.Selectors())))
		for _, sel := range seg.Selectors() {
			if fs, ok := sel.(*spec.FilterSelector); ok {
				f *= filterFanOut(fs.LogicalOr)
			}
		}
	}
	return f
}

// filterFanOut is fanOut of the queries a filter tests for existence.
func filterFanOut(or spec.LogicalOr) float64 {
	f := 1.0
	for _, and := range or {
		for _, e := range and {
			switch x := e.(type) {
			case *spec.ExistExpr:
				f *= fanOut(x.PathQuery)
			case *spec.NonExistExpr:
				f *= fanOut(x.PathQuery)
			case *spec.ParenExpr:
				f *= filterFanOut(x.LogicalOr)
			case *spec.NotParenExpr:
				f *= filterFanOut(x.LogicalOr)
			}
		}
	}
	return f
}

// descendants counts the descendant segments of a query, those inside
// filters included. A query without filters is counted without a string.
func descendants(jp *jsonpath.Path) int {
	n := 0
	for _, seg := range jp.Query().Segments() {
		for _, sel := range seg.Selectors() {
			if _, ok := sel.(*spec.FilterSelector); ok {
				return descendantSegments(jp.String())
			}
		}
		if seg.IsDescendant() {
			n++
		}
	}
	return n
}

// descendantSegments counts the ".." of a query outside its quoted names.
func descendantSegments(q string) int {
	n := 0
	var quote byte
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case quote != 0 && c == '\\':
			i++
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '.' && i+1 < len(q) && q[i+1] == '.':
			n++
			i++
		}
	}
	return n
}

// measureJSON returns the number of values in v and its depth.
func measureJSON(v any, depth int) (values, maxDepth int) {
	values, maxDepth = 1, depth
	switch t := v.(type) {
	case []any:
		for _, e := range t {
			n, d := measureJSON(e, depth+1)
			values += n
			maxDepth = max(maxDepth, d)
		}
	case map[string]any:
		for _, e := range t {
			n, d := measureJSON(e, depth+1)
			values += n
			maxDepth = max(maxDepth, d)
		}
	}
	return values, maxDepth
}

// context is the step's context, or a background one for a response
// evaluated outside a run.
func (r *response) context() context.Context {
	if r.ctx == nil {
		return context.Background()
	}
	return r.ctx
}
