// Package fuzzprop holds the properties the fuzz targets of several
// packages assert alike (issue 13's rules): a call returns in bounded
// time, a message is one printable line, an error names a position inside
// its file, and no message shows a secret or the content of a file it
// does not own. It is for tests only.
package fuzzprop

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/assay-monitor/assay/internal/yamlstrict"
)

// Within fails t when f does not return within limit. (f goes on in the
// background after a failure; the fuzzer then stops the process.)
func Within(t testing.TB, limit time.Duration, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		t.Fatalf("%s did not return within %v", what, limit)
	}
}

// NotOneLine says why s cannot be printed as one line of a terminal, ""
// when it can: no line break and no control character (an escape
// sequence in a message would drive the terminal), valid UTF-8.
func NotOneLine(s string) string {
	for _, r := range s {
		switch {
		case r == '\n' || r == '\r':
			return "a line break"
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			return fmt.Sprintf("control character %U", r)
		case r == 0x2028 || r == 0x2029:
			return fmt.Sprintf("line separator %U", r)
		}
	}
	if !utf8.ValidString(s) {
		return "invalid UTF-8"
	}
	return ""
}

// Shown returns a piece (5 bytes) of one of hidden that msg shows and
// src does not hold (a file may quote its own text), or "".
func Shown(msg string, src []byte, hidden ...string) string {
	for _, h := range hidden {
		for i := 0; i+5 <= len(h); i++ {
			part := h[i : i+5]
			if strings.Contains(msg, part) && !bytes.Contains(src, []byte(part)) {
				return part
			}
		}
	}
	return ""
}

// lineLengths are the lengths in characters of the lines of data, as
// yamlstrict.CheckText counts lines (\n, \r\n or \r end one).
func lineLengths(data []byte) []int {
	lines := []int{0}
	for i := 0; i < len(data); {
		r, w := utf8.DecodeRune(data[i:])
		switch {
		case r == '\n' || r == '\r' && (i+1 == len(data) || data[i+1] != '\n'):
			lines = append(lines, 0)
		case r == '\r':
		default:
			lines[len(lines)-1]++
		}
		i += w
	}
	return lines
}

// CheckErrors fails t for an error of a file that is not one printable
// line, does not name file, is at a line or column outside data, or shows
// a piece of one of hidden that data does not hold.
func CheckErrors(t testing.TB, file string, data []byte, errs yamlstrict.Errors, hidden ...string) {
	t.Helper()
	utf16 := bytes.HasPrefix(data, []byte{0xFF, 0xFE}) || bytes.HasPrefix(data, []byte{0xFE, 0xFF})
	// yaml.v3 also ends lines at U+0085, U+2028 and U+2029, which editors
	// do not: its positions past one are only bounded.
	yamlBreaks := bytes.Count(data, []byte("\u0085")) + bytes.Count(data, []byte("\u2028")) + bytes.Count(data, []byte("\u2029"))
	lines := lineLengths(data)
	for _, e := range errs {
		msg := e.Error()
		if why := NotOneLine(msg); why != "" {
			t.Errorf("error with %s: %q", why, msg)
		}
		if e.Pos.File != file {
			t.Errorf("error names file %q, want %q: %s", e.Pos.File, file, msg)
		}
		if p := Shown(msg, data, hidden...); p != "" {
			t.Errorf("error shows %q of a secret or of a file it names: %s", p, msg)
		}
		if utf16 || e.Pos.Line == 0 {
			continue
		}
		if e.Pos.Line < 0 || e.Pos.Line > len(lines)+yamlBreaks {
			t.Errorf("error at line %d of a file of %d lines: %s", e.Pos.Line, len(lines), msg)
			continue
		}
		if e.Pos.Column < 1 || yamlBreaks == 0 && e.Pos.Column > lines[e.Pos.Line-1]+1 {
			t.Errorf("error at column %d: %s", e.Pos.Column, msg)
		}
	}
}
