package yamlstrict

import (
	"bytes"
	"math"
	"regexp"
	"strconv"
	"strings"
)

var yamlErrLine = regexp.MustCompile(`^yaml: (?:line (\d+): )?(.*)$`)

// parserProblems are the messages of yaml.v3's parser errors (as opposed to
// its scanner errors). yaml.v3 turns the 0-based mark of a parser error
// into "line N" without adding 1 (it adds 1 for scanner errors only), so
// for these the real line is N+1.
var parserProblems = map[string]bool{
	"did not find expected <stream-start>":   true,
	"did not find expected <document start>": true,
	"did not find expected node content":     true,
	"did not find expected '-' indicator":    true,
	"did not find expected key":              true,
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"found undefined tag handle":             true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found duplicate %TAG directive":         true,
}

// SyntaxError turns an error of yaml.v3's parser into an Error at the
// 1-based line it names. yaml.v3 gives no column, so the column is 1, and
// the line is where the construct at fault starts (an unclosed '{' is
// reported where it opens). An error without a line is on line 1. data is
// the text parsed (nil: unknown): yaml.v3 puts the end of a text whose
// last line has no line break on a line after it, which is the last line.
func SyntaxError(file string, data []byte, err error) *Error {
	msg := err.Error()
	m := yamlErrLine.FindStringSubmatch(msg)
	if m == nil {
		return &Error{Pos: Position{File: file}, Msg: "invalid YAML: " + quietSyntax(msg)}
	}
	pos := Position{File: file, Line: 1, Column: 1}
	msg = m[2]
	if m[1] != "" {
		pos.Line, _ = strconv.Atoi(m[1])
		if parserProblems[msg] {
			pos.Line++
		}
		if n := lineCount(data); data != nil && pos.Line > n {
			pos.Line = n
		}
	}
	return &Error{Pos: pos, Msg: "invalid YAML: " + quietSyntax(msg)}
}

var quotedInSyntax = regexp.MustCompile(`'[^']*'`)

// quietSyntax keeps what yaml.v3 quotes from the file ("unknown anchor
// 'x' referenced") to a short excerpt, and the message to one short line:
// the file may be anything a path points at.
func quietSyntax(msg string) string {
	msg = quotedInSyntax.ReplaceAllStringFunc(msg, func(q string) string {
		if e := Excerpt(q[1 : len(q)-1]); e != `"`+q[1:len(q)-1]+`"` {
			return e // long, or with characters to escape
		}
		return q
	})
	return truncate(strings.Join(strings.Fields(msg), " "), 160)
}

// lineCount is the number of lines of data as yaml.v3 counts them (a
// line break is \n, \r\n, \r, U+0085, U+2028 or U+2029; the text after
// the last one is a line, even when empty); unbounded for a UTF-16 text,
// which is not counted.
func lineCount(data []byte) int {
	if bytes.HasPrefix(data, []byte{0xFF, 0xFE}) || bytes.HasPrefix(data, []byte{0xFE, 0xFF}) {
		return math.MaxInt
	}
	n := 1 + bytes.Count(data, []byte("\u0085")) + bytes.Count(data, []byte("\u2028")) + bytes.Count(data, []byte("\u2029"))
	for i, c := range data {
		if c == '\n' || c == '\r' && (i+1 == len(data) || data[i+1] != '\n') {
			n++
		}
	}
	return n
}
