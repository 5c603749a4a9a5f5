package report

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// shellQuote makes s one word for bash or zsh. Text goes in double quotes
// with \ " $ and ` escaped, except references ${NAME}, which stay as they
// are so that the shell expands them. '!' goes in single quotes (an
// interactive shell would expand history in double quotes) and a
// character that is not printable (a newline would end the command,
// an escape would reach the terminal) in $'...' as \n, \t, \r or \xNN
// bytes.
func shellQuote(s string) string {
	const (
		none = iota
		double
		ansi
	)
	var b strings.Builder
	b.Grow(len(s) + 2)
	mode := none
	enter := func(m int) {
		if mode == m {
			return
		}
		switch mode {
		case double:
			b.WriteByte('"')
		case ansi:
			b.WriteByte('\'')
		}
		switch m {
		case double:
			b.WriteByte('"')
		case ansi:
			b.WriteString("$'")
		}
		mode = m
	}
	for i := 0; i < len(s); {
		if n := refLen(s[i:]); n > 0 {
			enter(double)
			b.WriteString(s[i : i+n])
			i += n
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1, !unicode.IsPrint(r):
			enter(ansi)
			switch r {
			case '\n':
				b.WriteString(`\n`)
			case '\t':
				b.WriteString(`\t`)
			case '\r':
				b.WriteString(`\r`)
			default:
				for j := i; j < i+size; j++ {
					fmt.Fprintf(&b, `\x%02x`, s[j])
				}
			}
		case r == '!':
			enter(none)
			b.WriteString(`'!'`)
		case r == '\\' || r == '"' || r == '$' || r == '`':
			enter(double)
			b.WriteByte('\\')
			b.WriteByte(byte(r))
		default:
			enter(double)
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	if b.Len() == 0 {
		return `""`
	}
	enter(none)
	return b.String()
}

// shellWord is s bare when it needs no quotes (PATCH), else shellQuote(s).
func shellWord(s string) string {
	if s == "" {
		return `""`
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("_-./:=,+%@", c) >= 0) {
			return shellQuote(s)
		}
	}
	return s
}

// refLen returns the length of the reference ${NAME} (NAME matching
// [A-Za-z_][A-Za-z0-9_]*) that s starts with, or 0.
func refLen(s string) int {
	if !strings.HasPrefix(s, "${") {
		return 0
	}
	for i := 2; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '}':
			if i == 2 {
				return 0
			}
			return i + 1
		case c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9':
			if i == 2 {
				return 0
			}
		default:
			return 0
		}
	}
	return 0
}

// refs lists the names of the references ${NAME} in s, in order.
func refs(s string) []string {
	var out []string
	for i := 0; i < len(s); i++ {
		if n := refLen(s[i:]); n > 0 {
			out = append(out, s[i+2:i+n-1])
			i += n - 1
		}
	}
	return out
}

// commentText makes s safe on a shell comment line: a character that is
// not printable (a newline would end the comment and start a command)
// becomes a visible \xNN escape.
func commentText(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size <= 1 || !unicode.IsPrint(r) {
			for j := i; j < i+size; j++ {
				fmt.Fprintf(&b, `\x%02x`, s[j])
			}
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}
