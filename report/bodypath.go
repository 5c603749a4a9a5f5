package report

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/theory/jsonpath"
	"github.com/theory/jsonpath/spec"
)

// Bounds on the paths read from assertion names: a longer name is not
// worth parsing to place a marker.
const (
	maxPathLen   = 1024
	maxPathSteps = 64
)

// pathStep is one step into a JSON document: an object member by name or
// an array element by index (negative counts from the end, as in RFC
// 9535). A JSON pointer token that reads as an index (RFC 6901: "0", "12")
// is either, decided by the container it meets.
type pathStep struct {
	name    string
	index   int
	isIndex bool
	either  bool
}

// assertionPath returns the steps to the body value a failed assertion
// names: "json $.items[2].price" (a singular JSONPath) or "openapi body
// /items/2/price" (a JSON pointer). ok is false for other assertions and
// for paths that may select several values (wildcards, filters, slices,
// descendants): those mark nothing rather than a guess.
// predicateSuffix ends the name of an assertion by a predicate on the
// value of the path before it (checks' jsonpath_list.go names them).
var predicateSuffix = regexp.MustCompile(` (length|count|any|all|nth -?[0-9]+)$`)

func assertionPath(name string) (steps []pathStep, ok bool) {
	if len(name) > maxPathLen {
		return nil, false
	}
	if p, found := strings.CutPrefix(name, "json "); found {
		if steps, ok := jsonPathSteps(p); ok {
			return steps, true
		}
		// "json $.items length" is the length predicate of $.items, and
		// count, any, all and "nth 2" its list predicates.
		if m := predicateSuffix.FindStringIndex(p); m != nil {
			return jsonPathSteps(p[:m[0]])
		}
		return nil, false
	}
	if p, found := strings.CutPrefix(name, "openapi body "); found {
		return pointerSteps(p)
	}
	return nil, false
}

// jsonPathSteps parses an RFC 9535 JSONPath and returns its steps when it
// is a singular query ($, $.a.b[3], $['x-y']).
func jsonPathSteps(path string) ([]pathStep, bool) {
	p, err := jsonpath.Parse(path)
	if err != nil {
		return nil, false
	}
	q := p.Query()
	if q.Singular() == nil {
		return nil, false
	}
	segs := q.Segments()
	if len(segs) > maxPathSteps {
		return nil, false
	}
	steps := make([]pathStep, 0, len(segs))
	for _, seg := range segs {
		sels := seg.Selectors()
		if len(sels) != 1 {
			return nil, false
		}
		switch s := sels[0].(type) {
		case spec.Name:
			steps = append(steps, pathStep{name: string(s)})
		case spec.Index:
			steps = append(steps, pathStep{index: int(s), isIndex: true})
		default:
			return nil, false
		}
	}
	return steps, true
}

// pointerSteps parses an RFC 6901 JSON pointer as the OpenAPI validation
// names it: "/" (or "") is the whole body.
func pointerSteps(ptr string) ([]pathStep, bool) {
	if ptr == "" || ptr == "/" {
		return []pathStep{}, true
	}
	if ptr[0] != '/' {
		return nil, false
	}
	tokens := strings.Split(ptr[1:], "/")
	if len(tokens) > maxPathSteps {
		return nil, false
	}
	steps := make([]pathStep, 0, len(tokens))
	for _, t := range tokens {
		name, ok := unescapePointer(t)
		if !ok {
			return nil, false
		}
		st := pathStep{name: name}
		if i, ok := arrayIndex(name); ok {
			st.index, st.either = i, true
		}
		steps = append(steps, st)
	}
	return steps, true
}

// unescapePointer turns ~1 into / and ~0 into ~; any other ~ is invalid.
func unescapePointer(t string) (string, bool) {
	if !strings.Contains(t, "~") {
		return t, true
	}
	var b strings.Builder
	for i := 0; i < len(t); i++ {
		if t[i] != '~' {
			b.WriteByte(t[i])
			continue
		}
		if i+1 >= len(t) {
			return "", false
		}
		switch t[i+1] {
		case '0':
			b.WriteByte('~')
		case '1':
			b.WriteByte('/')
		default:
			return "", false
		}
		i++
	}
	return b.String(), true
}

// arrayIndex reads an RFC 6901 array index: digits without a leading zero.
func arrayIndex(t string) (int, bool) {
	if t == "" || len(t) > 9 || (len(t) > 1 && t[0] == '0') {
		return 0, false
	}
	for i := 0; i < len(t); i++ {
		if t[i] < '0' || t[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(t)
	return n, err == nil
}
