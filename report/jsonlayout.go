package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
)

// maxJSONDepth bounds the indentation of a pretty-printed body: members
// nested deeper are written on their ancestor's line, compactly.
const maxJSONDepth = 16

// jsonLayout is a JSON body pretty-printed with two-space indentation,
// members in the order the server sent them, and where every value
// starts, so that a path can be turned into the line that holds it.
type jsonLayout struct {
	lines []jsonLine
	// nodes[0] is the document; kids finds a node's members and elements.
	nodes []jsonNode
	kids  map[childKey]int
	// cut is set when the input ended inside the document (a stored body
	// that was cut): lines hold what came before.
	cut bool
}

type jsonLine struct {
	depth int
	text  []byte
}

// jsonNode is one value: the line it starts on, its kind ('{', '[' or 0
// for a scalar) and, for a container, how many members it has.
type jsonNode struct {
	line   int
	kind   byte
	length int
}

// childKey names a member (index -1) or an element (name "") of a parent.
type childKey struct {
	parent int
	name   string
	index  int
}

// layoutFrame is an open object or array.
type layoutFrame struct {
	node      int
	kind      byte
	count     int
	key       string
	expectKey bool
	// inline frames write their members on the current line.
	inline bool
}

// layoutJSON pretty-prints body. ok is false when body is not one JSON
// value; when cut is true (the body was stored cut short) a document that
// ends early is accepted and marked cut.
func layoutJSON(body string, cut bool) (l *jsonLayout, ok bool) {
	dec := json.NewDecoder(strings.NewReader(body))
	dec.UseNumber()
	l = &jsonLayout{kids: map[childKey]int{}}
	var stack []layoutFrame
	done := false
	for {
		tok, err := dec.Token()
		if err != nil {
			switch {
			case done && err == io.EOF:
				return l, true
			case !done && cut && len(l.lines) > 0 && endedEarly(err):
				l.cut = true
				return l, true
			}
			return nil, false
		}
		if done {
			return nil, false // a second value: not one JSON document
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				inline := len(stack)+1 > maxJSONDepth || (len(stack) > 0 && stack[len(stack)-1].inline)
				id := l.value(stack, string(t), byte(t))
				stack = append(stack, layoutFrame{node: id, kind: byte(t), expectKey: t == '{', inline: inline})
			default:
				f := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				l.nodes[f.node].length = f.count
				if f.count == 0 || f.inline {
					l.appendText(string(t))
				} else {
					l.newLine(len(stack), string(t))
				}
				done = len(stack) == 0
			}
		case string:
			if n := len(stack); n > 0 && stack[n-1].expectKey {
				stack[n-1].key, stack[n-1].expectKey = t, false
				continue
			}
			l.value(stack, quoteJSON(t), 0)
			done = len(stack) == 0
		case json.Number:
			l.value(stack, t.String(), 0)
			done = len(stack) == 0
		case bool:
			lit := "false"
			if t {
				lit = "true"
			}
			l.value(stack, lit, 0)
			done = len(stack) == 0
		case nil:
			l.value(stack, "null", 0)
			done = len(stack) == 0
		}
	}
}

// endedEarly reports whether a decoding error is the input running out,
// not a syntax error inside it.
func endedEarly(err error) bool {
	return err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF)
}

// value writes the start of a value (text) as the next member of the top
// frame, or as the document when the stack is empty, and returns its node.
func (l *jsonLayout) value(stack []layoutFrame, text string, kind byte) int {
	if len(stack) == 0 {
		l.newLine(0, text)
		l.nodes = append(l.nodes, jsonNode{line: 0, kind: kind})
		return 0
	}
	f := &stack[len(stack)-1]
	key := childKey{parent: f.node, index: f.count}
	prefix := ""
	if f.kind == '{' {
		key.name, key.index = f.key, -1
		prefix = quoteJSON(f.key) + ": "
		f.expectKey = true
	}
	switch {
	case f.inline && f.count > 0:
		l.appendText(", " + prefix + text)
	case f.inline:
		l.appendText(prefix + text)
	default:
		if f.count > 0 {
			l.appendText(",")
		}
		l.newLine(len(stack), prefix+text)
	}
	f.count++
	id := len(l.nodes)
	l.nodes = append(l.nodes, jsonNode{line: len(l.lines) - 1, kind: kind})
	l.kids[key] = id // a repeated name: the last one counts, as when decoding
	return id
}

func (l *jsonLayout) newLine(depth int, text string) {
	l.lines = append(l.lines, jsonLine{depth: depth, text: []byte(text)})
}

func (l *jsonLayout) appendText(text string) {
	last := &l.lines[len(l.lines)-1]
	last.text = append(last.text, text...)
}

// lineOf returns the line that holds the value at steps, or -1 when the
// document has no such value.
func (l *jsonLayout) lineOf(steps []pathStep) int {
	if len(l.nodes) == 0 {
		return -1
	}
	cur := 0
	for _, st := range steps {
		n := l.nodes[cur]
		var key childKey
		switch {
		case n.kind == '[' && (st.isIndex || st.either):
			i := st.index
			if i < 0 {
				i += n.length
			}
			if i < 0 {
				return -1
			}
			key = childKey{parent: cur, index: i}
		case n.kind == '{' && !st.isIndex:
			key = childKey{parent: cur, name: st.name, index: -1}
		default:
			return -1
		}
		next, ok := l.kids[key]
		if !ok {
			return -1
		}
		cur = next
	}
	return l.nodes[cur].line
}

// text renders line i with its indentation.
func (l *jsonLayout) text(i int) string {
	ln := l.lines[i]
	return strings.Repeat("  ", ln.depth) + string(ln.text)
}

// quoteJSON writes s as a JSON string without the HTML escapes of
// json.Marshal, so that <, > and & read as sent.
func quoteJSON(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}
