package yamlstrict

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// maxHintScan bounds the text searched for the cause of a syntax error.
const maxHintScan = 64 << 10

// SyntaxErrorIn is SyntaxError with the document's text at hand: when
// the error is an unquoted ${VAR} inside a flow mapping or list
// ({ password: ${P:-x} }, where YAML reads the "{" of "${" as the start of
// another mapping), the error is at the "${" and says to quote it.
func SyntaxErrorIn(file string, data []byte, err error) *Error {
	e := SyntaxError(file, data, err)
	if e.Pos.Line == 0 || !strings.Contains(e.Msg, "did not find expected ','") {
		return e
	}
	line, col, ref, ok := unquotedRefInFlow(data, e.Pos.Line)
	if !ok {
		return e
	}
	e.Msg = fmt.Sprintf("%s: quote the ${...} inside { } or [ ], as in %s (unquoted, YAML reads its \"{\" as the start of a mapping; the collection starts at line %d)",
		e.Msg, Excerpt(ref), e.Pos.Line)
	e.Pos.Line, e.Pos.Column = line, col
	return e
}

// unquotedRefInFlow finds the first "${" outside quotes and comments
// inside a flow collection that starts on line start (1-based) or later,
// within the collection that is open there. It returns its line and
// column (1-based, in characters) and the reference's text.
func unquotedRefInFlow(data []byte, start int) (line, col int, ref string, ok bool) {
	text := string(data)
	// Skip to the start of the line.
	off := 0
	for l := 1; l < start; l++ {
		i := strings.IndexAny(text[off:], "\n\r")
		if i < 0 {
			return 0, 0, "", false
		}
		off += i + 1
		if text[off-1] == '\r' && off < len(text) && text[off] == '\n' {
			off++ // CR LF is one break
		}
	}
	end := min(len(text), off+maxHintScan)
	line, lineStart := start, off
	depth, opened := 0, false
	var quote byte
	prev := byte('\n') // the last byte that is not a space, for where quotes may start
	for i := off; i < end; i++ {
		c := text[i]
		if c == '\r' && (i+1 >= len(text) || text[i+1] != '\n') {
			c = '\n' // a lone CR breaks the line, as YAML reads it
		}
		if quote != 0 {
			switch {
			case c == '\\' && quote == '"':
				i++
			case c == quote && quote == '\'' && i+1 < end && text[i+1] == '\'':
				i++ // '' in single quotes
			case c == quote:
				quote, prev = 0, c
			case c == '\n':
				line, lineStart = line+1, i+1
			}
			continue
		}
		switch c {
		case '\n':
			line, lineStart = line+1, i+1
			prev = '\n'
			continue
		case ' ', '\t', '\r':
			continue
		case '#':
			if i == lineStart || text[i-1] == ' ' || text[i-1] == '\t' {
				for i < end && text[i] != '\n' && text[i] != '\r' {
					i++
				}
				i--
				continue
			}
		case '"', '\'':
			if strings.IndexByte("{[,:-\n", prev) >= 0 {
				quote = c
				continue
			}
		case '$':
			if depth > 0 && i+1 < end && text[i+1] == '{' {
				return line, utf8.RuneCountInString(text[lineStart:i]) + 1, refText(text[i:end]), true
			}
		case '{', '[':
			depth++
			opened = true
		case '}', ']':
			if depth--; depth <= 0 && opened {
				return 0, 0, "", false
			}
		}
		prev = c
	}
	return 0, 0, "", false
}

// refText is the ${...} reference at the start of s, to its closing brace
// (nested ones included), or as much as is on its line.
func refText(s string) string {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '{':
			depth++
		case '}':
			if depth--; depth == 0 {
				return s[:i+1]
			}
		case '\n':
			return s[:i]
		}
	}
	return s
}
