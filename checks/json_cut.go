package checks

import (
	"encoding/json"
	"math"
	"reflect"
	"sort"
	"unicode/utf8"
)

// An assertion's expected and actual keep the first actualLimit bytes of
// a value's JSON, but the value may be huge: the node list of $..*..* over
// a document nested 500 deep encodes to 125 MB, every node holding those
// below it, and json.Marshal took seconds to make what the cut threw away.
// So a value is encoded only as far as the cut needs, and the length of
// the rest (which the cut mark states) is added up without encoding it,
// each distinct array and object once.

// jsonLen is len(json.Marshal(x)) for the values JSON decoding and YAML
// give (nil, bool, float64, string, []any, map[string]any; others are
// marshalled), or false where json.Marshal fails (NaN, infinities).
// Arrays and objects met again (nodes of a JSONPath result inside one
// another) are measured once.
func jsonLen(x any) (int, bool) {
	m := jsonMeasure{sizes: map[containerID]int{}}
	n := m.size(x)
	return n, !m.bad
}

// containerID identifies an array or object by its storage.
type containerID struct {
	p   uintptr
	len int
}

type jsonMeasure struct {
	sizes map[containerID]int
	bad   bool
}

func (m *jsonMeasure) size(x any) int {
	switch t := x.(type) {
	case nil:
		return len("null")
	case bool:
		if t {
			return len("true")
		}
		return len("false")
	case string:
		return jsonStringLen(t)
	case float64:
		if math.IsNaN(t) || math.IsInf(t, 0) {
			m.bad = true
			return 0
		}
	case []any:
		if t == nil {
			return len("null")
		}
		id := containerID{reflect.ValueOf(t).Pointer(), len(t)}
		if n, ok := m.sizes[id]; ok {
			return n
		}
		n := 2 + max(0, len(t)-1) // brackets and commas
		for _, e := range t {
			n += m.size(e)
		}
		m.sizes[id] = n
		return n
	case map[string]any:
		if t == nil {
			return len("null")
		}
		id := containerID{reflect.ValueOf(t).Pointer(), len(t)}
		if n, ok := m.sizes[id]; ok {
			return n
		}
		n := 2 + max(0, len(t)-1) // braces and commas
		for k, e := range t {
			n += jsonStringLen(k) + 1 + m.size(e)
		}
		m.sizes[id] = n
		return n
	}
	b, err := json.Marshal(x)
	if err != nil {
		m.bad = true
	}
	return len(b)
}

// jsonStringLen is the length of s as json.Marshal encodes it: quoted,
// with HTML characters, U+2028 and U+2029 escaped, invalid UTF-8 as
// \ufffd.
func jsonStringLen(s string) int {
	n := 2
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\' || c == '\b' || c == '\f' || c == '\n' || c == '\r' || c == '\t':
				n += 2
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				n += len(`\u0000`)
			default:
				n++
			}
			i++
			continue
		}
		r, w := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && w == 1 || r == '\u2028' || r == '\u2029' {
			n += len(`\u0000`)
		} else {
			n += w
		}
		i += w
	}
	return n
}

// jsonPrefix returns the JSON of x as json.Marshal writes it, stopped
// once it holds at least n bytes.
func jsonPrefix(x any, n int) string {
	var b []byte
	var write func(x any)
	write = func(x any) {
		switch t := x.(type) {
		case []any:
			if t == nil {
				break
			}
			b = append(b, '[')
			for i, e := range t {
				if i > 0 {
					b = append(b, ',')
				}
				if write(e); len(b) >= n {
					return
				}
			}
			b = append(b, ']')
			return
		case map[string]any:
			if t == nil {
				break
			}
			keys := make([]string, 0, len(t))
			for k := range t {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			b = append(b, '{')
			for i, k := range keys {
				if i > 0 {
					b = append(b, ',')
				}
				kb, _ := json.Marshal(k)
				b = append(append(b, kb...), ':')
				if write(t[k]); len(b) >= n {
					return
				}
			}
			b = append(b, '}')
			return
		}
		v, _ := json.Marshal(x)
		b = append(b, v...)
	}
	write(x)
	return string(b)
}
