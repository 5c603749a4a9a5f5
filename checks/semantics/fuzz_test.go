package semantics

import (
	"net/http"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/assay-monitor/assay/internal/fuzzprop"
)

// headerText writes h as "Name: value" lines, the form FuzzSemantics
// reads header sections in.
func headerText(h http.Header) string {
	var lines []string
	for k, vs := range h {
		for _, v := range vs {
			lines = append(lines, k+": "+v)
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// parseHeader reads "Name: value" lines into a header, keeping only the
// fields a Go client can receive: a token name, a value without control
// characters (HTAB aside) nor surrounding white space.
func parseHeader(s string) http.Header {
	h := http.Header{}
	for _, line := range strings.Split(s, "\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok || !isToken(name) {
			continue
		}
		value = strings.Trim(value, " \t")
		if strings.ContainsFunc(value, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }) {
			continue
		}
		h.Add(name, value)
	}
	return h
}

// maxFindingField bounds a finding's Expected and Actual: a quoted value
// (120 bytes and the cut mark) in a short sentence.
const maxFindingField = 300

// maxFindingMessage bounds a finding's Message.
const maxFindingMessage = 1000

// FuzzSemantics evaluates every rule on exchanges made of a fuzzed
// method, status, header sections and body, with a secret the Redact
// function hides. Properties: Evaluate returns in bounded time and is
// deterministic; each finding names a rule of the table with its level
// and a section; its fields are one line, Expected and Actual at most
// maxFindingField bytes and Message maxFindingMessage; and once
// redacted again (as the engine does), no finding shows the secret, nor
// its beginning before a cut mark.
func FuzzSemantics(f *testing.F) {
	for _, c := range breaking {
		f.Add(c.ex.Method, uint16(c.ex.Status), headerText(c.ex.Header), c.ex.Body, headerText(c.ex.RequestHeader), headerText(c.ex.Previous), "sekrit-token-1")
	}
	for _, c := range wellBehaved {
		f.Add(c.ex.Method, uint16(c.ex.Status), headerText(c.ex.Header), c.ex.Body, headerText(c.ex.RequestHeader), headerText(c.ex.Previous), "")
	}
	long := strings.Repeat("x", 200)
	f.Add("GET", uint16(200), "Cache-Control: "+strings.Repeat("max-age=1h, ", 40), []byte(nil), "", "", "")
	f.Add("GET", uint16(200), "Cache-Control: max-age=\""+long+long+long+"sekrit-token-1"+long+long+long+"\"", []byte(nil), "", "", "sekrit-token-1")
	f.Add("GET", uint16(200), "Cache-Control: max-age=\"sekrit-token-1\", "+strings.Repeat("a=,", 100), []byte(nil), "", "", "sekrit-token-1")
	f.Add("GET", uint16(304), "ETag: \""+long+"sekrit-token-1\"", []byte(nil), "If-None-Match: \"a\"", "ETag: \"sekrit-token-1"+long+"\"", "sekrit-token-1")
	f.Add("GET", uint16(206), "Content-Range: bytes "+long+"sekrit-token-1", []byte("ab"), "Range: bytes=0-1", "", "sekrit-token-1")
	f.Fuzz(func(t *testing.T, method string, status uint16, header string, body []byte, reqHeader, previous, secret string) {
		ex := Exchange{Method: method, Status: int(status), Header: parseHeader(header), Body: body, RequestHeader: parseHeader(reqHeader)}
		if previous != "" {
			ex.Previous = parseHeader(previous)
		}
		checked := len(secret) >= 4 && !strings.ContainsAny(secret, "[]REDACT…") && !strings.Contains(fuzzRedacted, secret)
		hide := func(s string) string {
			if !checked {
				return s
			}
			return strings.ReplaceAll(s, secret, fuzzRedacted)
		}
		ex.Redact = hide
		var fs []Finding
		fuzzprop.Within(t, 10*time.Second, "Evaluate", func() { fs = Evaluate(&ex) })
		if again := Evaluate(&ex); !reflect.DeepEqual(again, fs) {
			t.Errorf("Evaluate is not deterministic: %+v, then %+v", fs, again)
		}
		for _, fd := range fs {
			r, ok := Lookup(fd.Rule)
			if !ok || fd.Level != r.Level || !strings.HasPrefix(fd.Section, "RFC 911") {
				t.Errorf("finding of no rule of the table, or with another level: %+v", fd)
			}
			for what, s := range map[string]string{"expected": fd.Expected, "actual": fd.Actual, "message": fd.Message} {
				limit := maxFindingField
				if what == "message" {
					limit = maxFindingMessage
				}
				if strings.ContainsAny(s, "\n\r") || s == "" || len(s) > limit {
					t.Errorf("%s %s is empty, longer than %d bytes or not one line: %.400q", fd.Rule, what, limit, s)
				}
				if checked {
					checkHidden(t, fd.Rule+" "+what, hide(s), secret, header+reqHeader+previous+string(body))
				}
			}
		}
	})
}

// checkHidden fails t when s shows secret, or its beginning (4 bytes or
// more) right before a cut mark where every occurrence of that beginning
// in input, the exchange, begins the secret (else it may be other text).
func checkHidden(t *testing.T, what, s, secret, input string) {
	t.Helper()
	if strings.Contains(s, secret) {
		t.Errorf("%s shows the secret: %q", what, s)
	}
	for rest := s; ; {
		i := strings.Index(rest, "…")
		if i < 0 {
			return
		}
		for l := len(secret) - 1; l >= 4; l-- {
			if strings.HasSuffix(rest[:i], secret[:l]) && occurrences(input, secret[:l]) == occurrences(input, secret) {
				t.Errorf("%s shows %q of the secret before a cut: %q", what, secret[:l], s)
				break
			}
		}
		rest = rest[i+len("…"):]
	}
}

// occurrences counts the occurrences of sub in s, overlapping ones too.
func occurrences(s, sub string) int {
	n := 0
	for i := strings.Index(s, sub); i >= 0; {
		n++
		j := strings.Index(s[i+1:], sub)
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return n
}

// fuzzRedacted is what the engine's Redact puts for a secret.
const fuzzRedacted = "[REDACTED]"
