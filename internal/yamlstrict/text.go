package yamlstrict

import (
	"bytes"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// ExcerptLen is how many characters of a value a message quotes at most.
const ExcerptLen = 40

// Excerpt quotes at most ExcerptLen characters of s, escaped (control
// characters, quotes, invalid UTF-8), marking a cut with "…": what a
// message shows of text from a file, however long or strange it is.
func Excerpt(s string) string {
	n, cut := 0, len(s)
	for i := range s {
		if n == ExcerptLen {
			cut = i
			break
		}
		n++
	}
	if cut < len(s) {
		return strconv.Quote(s[:cut]) + "…"
	}
	return strconv.Quote(s)
}

// CheckText returns an error at the line and column of the first
// character of data that YAML cannot hold (invalid UTF-8 or a control
// character), or nil. yaml.v3 reports those without a position. Input
// starting with a UTF-16 byte order mark is left to yaml.v3, which decodes
// it.
func CheckText(file string, data []byte) *Error {
	if bytes.HasPrefix(data, []byte{0xFF, 0xFE}) || bytes.HasPrefix(data, []byte{0xFE, 0xFF}) {
		return nil
	}
	line, col := 1, 1
	for i := 0; i < len(data); {
		r, w := utf8.DecodeRune(data[i:])
		pos := Position{File: file, Line: line, Column: col}
		switch {
		case r == utf8.RuneError && w <= 1:
			return &Error{Pos: pos, Msg: fmt.Sprintf("invalid UTF-8 (byte 0x%02x)", data[i])}
		case !printable(r):
			return &Error{Pos: pos, Msg: fmt.Sprintf("control character %U is not allowed in YAML", r)}
		}
		switch {
		case r == '\n' || r == '\r' && (i+1 == len(data) || data[i+1] != '\n'):
			line, col = line+1, 1
		case r == '\r':
		default:
			col++
		}
		i += w
	}
	return nil
}

// printable is YAML's set of characters a stream may hold.
func printable(r rune) bool {
	switch {
	case r == 0x09 || r == 0x0A || r == 0x0D || r == 0x85:
		return true
	case r >= 0x20 && r <= 0x7E, r >= 0xA0 && r <= 0xD7FF, r >= 0xE000 && r <= 0xFFFD, r >= 0x10000 && r <= 0x10FFFF:
		return true
	}
	return false
}

// Foreign reports whether the document root n is not a file of ours: not
// a mapping (nor empty), or a mapping none of whose keys is one of keys or
// close enough to one to be a typo of it. Such a file (a symlink to
// /etc/shadow, another tool's YAML) is reported as one error, without
// quoting its content.
func Foreign(n *yaml.Node, keys ...string) bool {
	n = Resolve(n)
	if n == nil || IsNull(n) {
		return false
	}
	if n.Kind != yaml.MappingNode {
		return true
	}
	if len(n.Content) == 0 {
		return false
	}
	for i := 0; i < len(n.Content); i += 2 {
		k := Resolve(n.Content[i])
		if k == nil || k.Kind != yaml.ScalarNode {
			continue
		}
		for _, want := range keys {
			if k.Value == want {
				return false
			}
		}
		if closest(k.Value, keys) != "" {
			return false
		}
	}
	return true
}

// SingleQuotedInner is s as libraries that quote with single quotes
// write it between them: santhosh-tekuri/jsonschema's messages (a bad
// pattern, a value that does not match one) Go-quote it, then leave '"'
// as is and put a backslash before each single quote.
func SingleQuotedInner(s string) string {
	q := strconv.Quote(s)
	q = strings.ReplaceAll(q[1:len(q)-1], `\"`, `"`)
	return strings.ReplaceAll(q, `'`, `\'`)
}

// HideValues replaces, in the messages of errs, each value (of at least 3
// bytes) as it is, Go-quoted (with double or single quotes) and
// percent-encoded, and also the start of it
// where a message cut it ("…"), with mask: the last line of defence of
// secrets that a message quoted.
func HideValues(errs Errors, values []string, mask string) {
	var forms []string
	for _, v := range values {
		if len(v) < 3 {
			continue
		}
		q := strconv.Quote(v)
		forms = append(forms, v, q[1:len(q)-1], SingleQuotedInner(v), url.QueryEscape(v), url.PathEscape(v))
	}
	if len(forms) == 0 {
		return
	}
	sort.Slice(forms, func(i, j int) bool { return len(forms[i]) > len(forms[j]) })
	for _, e := range errs {
		for _, f := range forms {
			e.Msg = strings.ReplaceAll(e.Msg, f, mask)
		}
		e.Msg = hideCutPrefixes(e.Msg, forms, mask)
	}
}

// hideCutPrefixes replaces text just before a "…" (or a quote before it)
// that is the start of one of forms: a value cut by a message.
func hideCutPrefixes(msg string, forms []string, mask string) string {
	for from := 0; ; {
		i := strings.Index(msg[from:], "…")
		if i < 0 {
			return msg
		}
		i += from
		j := i
		if j > 0 && msg[j-1] == '"' {
			j--
		}
		best := 0
		for _, f := range forms {
			for k := min(len(f), j); k >= 3; k-- {
				if msg[j-k:j] == f[:k] {
					best = max(best, k)
					break
				}
			}
		}
		if best > 0 {
			msg = msg[:j-best] + mask + msg[j:]
			i += len(mask) - best
		}
		from = i + len("…")
	}
}
