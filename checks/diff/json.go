package diff

import (
	"encoding/json"
	"io"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/assay-monitor/assay/checks"
)

// maxJSONDepth bounds how deep the structural diff walks; deeper subtrees
// are compared as whole values and, when they differ, listed once at the
// depth reached (with Truncated set, since the change may be smaller).
const maxJSONDepth = 64

// parseJSON decodes s when it is exactly one JSON value. Numbers stay
// json.Number so that they keep their text. encoding/json itself refuses
// nesting deeper than 10000, which bounds the recursion below.
func parseJSON(s string) (any, bool) {
	if len(s) > maxBodyBytes {
		return nil, false
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false
	}
	return v, true
}

// jsonWalker collects the changes between two decoded JSON values, depth
// first, object members in name order and array elements by index.
type jsonWalker struct {
	max       int // changes to list at most
	valueLen  int
	changes   []checks.FieldChange
	truncated bool
	path      []byte // normalized path of the current node
}

// jsonChanges lists the changes from before to after, at most max (then
// truncated is set).
func jsonChanges(before, after any, max, valueLen int, truncated *bool) []checks.FieldChange {
	w := &jsonWalker{max: max, valueLen: valueLen, path: []byte("$")}
	w.walk(before, after, 0)
	if w.truncated {
		*truncated = true
	}
	return w.changes
}

// walk compares a and b at w.path; it returns false once the change
// budget is spent, to stop the whole walk.
func (w *jsonWalker) walk(a, b any, depth int) bool {
	switch av := a.(type) {
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok || depth >= maxJSONDepth {
			break
		}
		return w.object(av, bv, depth)
	case []any:
		bv, ok := b.([]any)
		if !ok || depth >= maxJSONDepth {
			break
		}
		return w.array(av, bv, depth)
	}
	if equal(a, b) {
		return true
	}
	if depth >= maxJSONDepth && isContainer(a) && isContainer(b) {
		w.truncated = true // not looked into: the change may be smaller
	}
	return w.add(checks.ChangeChanged, a, b)
}

func (w *jsonWalker) object(a, b map[string]any, depth int) bool {
	names := make([]string, 0, len(a)+len(b))
	for n := range a {
		names = append(names, n)
	}
	for n := range b {
		if _, ok := a[n]; !ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	mark := len(w.path)
	for _, n := range names {
		w.path = appendMember(w.path, n)
		av, inA := a[n]
		bv, inB := b[n]
		var more bool
		switch {
		case !inA:
			more = w.add(checks.ChangeAdded, nil, bv)
		case !inB:
			more = w.add(checks.ChangeRemoved, av, nil)
		default:
			more = w.walk(av, bv, depth+1)
		}
		w.path = w.path[:mark]
		if !more {
			return false
		}
	}
	return true
}

func (w *jsonWalker) array(a, b []any, depth int) bool {
	mark := len(w.path)
	for i := 0; i < max(len(a), len(b)); i++ {
		w.path = append(w.path, '[')
		w.path = strconv.AppendInt(w.path, int64(i), 10)
		w.path = append(w.path, ']')
		var more bool
		switch {
		case i >= len(a):
			more = w.add(checks.ChangeAdded, nil, b[i])
		case i >= len(b):
			more = w.add(checks.ChangeRemoved, a[i], nil)
		default:
			more = w.walk(a[i], b[i], depth+1)
		}
		w.path = w.path[:mark]
		if !more {
			return false
		}
	}
	return true
}

// add records one change at w.path; from or to is ignored for an added or
// removed value.
func (w *jsonWalker) add(change string, from, to any) bool {
	if len(w.changes) >= w.max {
		w.truncated = true
		return false
	}
	c := checks.FieldChange{Name: string(w.path), Change: change}
	if change != checks.ChangeAdded {
		c.From = compact(from, w.valueLen)
	}
	if change != checks.ChangeRemoved {
		c.To = compact(to, w.valueLen)
	}
	w.changes = append(w.changes, c)
	return true
}

func isContainer(v any) bool {
	switch v.(type) {
	case map[string]any, []any:
		return true
	}
	return false
}

// equal reports whether two decoded JSON values are the same: members in
// any order, numbers by value (1 equals 1.0 and 1e0).
func equal(a, b any) bool {
	switch av := a.(type) {
	case nil:
		return b == nil
	case bool:
		bv, ok := b.(bool)
		return ok && av == bv
	case string:
		bv, ok := b.(string)
		return ok && av == bv
	case json.Number:
		bv, ok := b.(json.Number)
		return ok && (av == bv || numberKey(av) == numberKey(bv))
	case []any:
		bv, ok := b.([]any)
		if !ok || len(av) != len(bv) {
			return false
		}
		for i := range av {
			if !equal(av[i], bv[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok || len(av) != len(bv) {
			return false
		}
		for k, x := range av {
			y, ok := bv[k]
			if !ok || !equal(x, y) {
				return false
			}
		}
		return true
	}
	return false
}

// numberKey is a canonical text of a JSON number's value: sign, significant
// digits and exponent ("-15e-1" for -1.50). It is exact where float64 is
// not, and costs no more than the number is long. An exponent too large
// for int64 keeps the number's own text.
func numberKey(n json.Number) string {
	s := string(n)
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	mant, exp := s, int64(0)
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e, err := strconv.ParseInt(s[i+1:], 10, 64)
		if err != nil || e > 1<<50 || e < -(1<<50) {
			return string(n)
		}
		mant, exp = s[:i], e
	}
	digits := mant
	if i := strings.IndexByte(mant, '.'); i >= 0 {
		digits = mant[:i] + mant[i+1:]
		exp -= int64(len(mant) - i - 1)
	}
	digits = strings.TrimLeft(digits, "0")
	if digits == "" {
		return "0" // -0 and 0.000e5 are zero too
	}
	sig := strings.TrimRight(digits, "0")
	exp += int64(len(digits) - len(sig))
	return sign + sig + "e" + strconv.FormatInt(exp, 10)
}

// appendMember appends a member name to a normalized path: .name when it
// is an ASCII identifier, else ['name'] escaped as RFC 9535 §2.7 says.
// Beyond the RFC, runes that are not printable (bidi controls, line
// separators) are \u-escaped too, which is still a valid JSONPath string,
// so that a path cannot disturb the line it is printed on.
func appendMember(p []byte, name string) []byte {
	if isIdentifier(name) {
		p = append(p, '.')
		return append(p, name...)
	}
	p = append(p, "['"...)
	for _, r := range name {
		switch r {
		case '\'':
			p = append(p, `\'`...)
		case '\\':
			p = append(p, `\\`...)
		default:
			p = appendEscaped(p, r)
		}
	}
	return append(p, "']"...)
}

func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9' {
			continue
		}
		return false
	}
	return true
}

// appendEscaped appends r, escaped the way JSON and RFC 9535 strings both
// read when it is a control or not printable.
func appendEscaped(p []byte, r rune) []byte {
	switch r {
	case '\b':
		return append(p, `\b`...)
	case '\f':
		return append(p, `\f`...)
	case '\n':
		return append(p, `\n`...)
	case '\r':
		return append(p, `\r`...)
	case '\t':
		return append(p, `\t`...)
	}
	if r == ' ' || (r >= 0x20 && unicode.IsPrint(r)) {
		return utf8.AppendRune(p, r)
	}
	if r > 0xFFFF {
		r1, r2 := utf16.EncodeRune(r)
		return appendU(appendU(p, r1), r2)
	}
	return appendU(p, r)
}

func appendU(p []byte, r rune) []byte {
	const hex = "0123456789abcdef"
	return append(p, '\\', 'u', hex[r>>12&0xF], hex[r>>8&0xF], hex[r>>4&0xF], hex[r&0xF])
}

// compact renders v as compact JSON with members sorted, at most n bytes
// (cut with "…"). It stops writing soon after n, so a large subtree costs
// no more than a small one.
func compact(v any, n int) string {
	w := &limitWriter{limit: n + 1}
	w.value(v)
	return cut(string(w.buf), n)
}

type limitWriter struct {
	buf   []byte
	limit int
}

func (w *limitWriter) full() bool { return len(w.buf) >= w.limit }

func (w *limitWriter) value(v any) {
	if w.full() {
		return
	}
	switch x := v.(type) {
	case nil:
		w.buf = append(w.buf, "null"...)
	case bool:
		w.buf = strconv.AppendBool(w.buf, x)
	case json.Number:
		w.buf = append(w.buf, x...)
	case string:
		w.str(x)
	case []any:
		w.buf = append(w.buf, '[')
		for i, e := range x {
			if w.full() {
				return
			}
			if i > 0 {
				w.buf = append(w.buf, ',')
			}
			w.value(e)
		}
		w.buf = append(w.buf, ']')
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		w.buf = append(w.buf, '{')
		for i, k := range keys {
			if w.full() {
				return
			}
			if i > 0 {
				w.buf = append(w.buf, ',')
			}
			w.str(k)
			w.buf = append(w.buf, ':')
			w.value(x[k])
		}
		w.buf = append(w.buf, '}')
	}
}

// str writes s as a JSON string; runes that are not printable are
// \u-escaped (valid JSON, and safe on a log line).
func (w *limitWriter) str(s string) {
	w.buf = append(w.buf, '"')
	for i, r := range s {
		if w.full() {
			return
		}
		switch r {
		case '"':
			w.buf = append(w.buf, `\"`...)
		case '\\':
			w.buf = append(w.buf, `\\`...)
		default:
			if r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD") {
				w.buf = append(w.buf, `\ufffd`...)
				continue
			}
			w.buf = appendEscaped(w.buf, r)
		}
	}
	w.buf = append(w.buf, '"')
}
