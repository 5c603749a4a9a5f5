package checks

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/assay-monitor/assay/internal/yamlstrict"
)

// keyOf is the longest run of v's bytes that no encoding of escapedForms
// changes (letters, digits, "-", ".", "_", "~"), "" when shorter than 3.
func keyOf(v string) string {
	key, start := "", -1
	for i := 0; i <= len(v); i++ {
		if i < len(v) && isUnreserved(v[i]) {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 && i-start > len(key) {
			key = v[start:i]
		}
		start = -1
	}
	if len(key) < 3 {
		return ""
	}
	return key
}

// isUnreserved reports whether c is an RFC 3986 unreserved character,
// which percent-encoding, JSON and Go quoting leave as is.
func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

// formCache keeps the forms of recent secrets: a check's secrets are the
// same on every run. It is emptied when full.
var formCache struct {
	sync.Mutex
	m map[string][]string
}

const maxFormCache = 1024

// maxEscapedSecret is the longest secret written in every encoding of
// escapedForms (and cached): a longer one, a captured document, would cost
// dozens of copies of itself. It is hidden as written, JSON-escaped and
// Go-quoted.
const maxEscapedSecret = 4 << 10

// formsOf is escapedForms(v), cached; the slice must not be changed.
func formsOf(v string) []string {
	if len(v) > maxEscapedSecret {
		return slices.Compact([]string{v, jsonEscape(v, goJSON), quoteInner(v)})
	}
	formCache.Lock()
	f, ok := formCache.m[v]
	formCache.Unlock()
	if ok {
		return f
	}
	f = escapedForms(v)
	formCache.Lock()
	if formCache.m == nil || len(formCache.m) >= maxFormCache {
		formCache.m = make(map[string][]string)
	}
	formCache.m[v] = f
	formCache.Unlock()
	return f
}

// escapedForms lists v as written and in every encoding in which output
// may show it, so that no escaping reveals it: v and its percent-encodings
// (as a query or form value, with Go's "+" or RFC 3986's "%20" for a
// space, and as a path segment), each as written, inside a JSON string as
// the encoders of common languages write it (see jsonForms), each of those
// inside a Go-quoted string (a body assertion's actual) and inside a JSON
// string again (JSON text in a JSON value), Go-quoted, and single-quoted
// as JSON Schema messages quote it. A value of plain letters and digits
// has one form.
func escapedForms(v string) []string {
	forms := []string{v}
	add := func(f string) {
		if f != "" && !slices.Contains(forms, f) {
			forms = append(forms, f)
		}
	}
	q := url.QueryEscape(v)
	for _, base := range []string{v, q, strings.ReplaceAll(q, "+", "%20"), url.PathEscape(v)} {
		add(base)
		for _, j := range jsonForms(base) {
			add(j)
			add(quoteInner(j))
			add(jsonEscape(j, goJSON))
		}
		add(quoteInner(base))
	}
	// As a JSON Schema validation message quotes a value.
	add(yamlstrict.SingleQuotedInner(v))
	return forms
}

// jsonForms lists the ways JSON encoders write v inside a string; the
// first is encoding/json's.
func jsonForms(v string) []string {
	var out []string
	for i := range 16 {
		o := jsonOpts{html: i&1 == 0, slash: i&2 != 0, ascii: i&4 != 0, upper: i&8 != 0}
		if f := jsonEscape(v, o); !slices.Contains(out, f) {
			out = append(out, f)
		}
	}
	return out
}

// jsonOpts say how an encoder escapes what JSON lets it write as is.
type jsonOpts struct {
	html  bool // <, >, &, U+2028 and U+2029 as \u00xx (encoding/json, Rails)
	slash bool // "/" as "\/" (PHP)
	ascii bool // everything outside ASCII as \uxxxx (Python, PHP)
	upper bool // hex digits in upper case
}

// goJSON is how encoding/json escapes.
var goJSON = jsonOpts{html: true}

// jsonEscape writes s as the inside of a JSON string.
func jsonEscape(s string, o jsonOpts) string {
	hex := "0123456789abcdef"
	if o.upper {
		hex = "0123456789ABCDEF"
	}
	var b strings.Builder
	u := func(r rune) {
		b.WriteString(`\u`)
		for shift := 12; shift >= 0; shift -= 4 {
			b.WriteByte(hex[r>>shift&0xF])
		}
	}
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '/' && o.slash:
			b.WriteString(`\/`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r < 0x20:
			u(r)
		case o.html && (r == '<' || r == '>' || r == '&' || r == 0x2028 || r == 0x2029):
			u(r)
		case o.ascii && r >= utf8.RuneSelf:
			if r > 0xFFFF { // a surrogate pair
				r -= 0x10000
				u(0xD800 + r>>10)
				u(0xDC00 + r&0x3FF)
			} else {
				u(r)
			}
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func quoteInner(s string) string {
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}
