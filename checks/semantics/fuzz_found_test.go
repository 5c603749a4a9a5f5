package semantics

import (
	"strings"
	"testing"
)

// Rules that FuzzSemantics found broken; its inputs are also under
// testdata/fuzz.

// TestFindingFieldsAreNeverEmpty: a header present with an empty value
// is quoted as "empty", not as nothing ("got " in a report).
func TestFindingFieldsAreNeverEmpty(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"ETag", "empty"},
		{"Cache-Control", "empty"},
		{"Expires", "empty"},
	} {
		fs := Evaluate(&Exchange{Method: "GET", Status: 200, Header: hdr(tc.name, "")})
		if len(fs) != 1 || fs[0].Actual != tc.want || fs[0].Expected == "" || fs[0].Message == "" {
			t.Errorf("%s: %+v", tc.name, fs)
		}
	}
}

// TestCacheControlMessagesAreBounded: a Cache-Control finding lists at
// most three problems, and quotes a directive's argument or name as a
// redacted excerpt: a header of a thousand bad directives, or with a
// long argument, made a message as long, and quoted a secret in it as
// is, uncut.
func TestCacheControlMessagesAreBounded(t *testing.T) {
	long := strings.Repeat("x", 100)
	for _, tc := range []struct{ value, want string }{
		{strings.Repeat("max-age=1h, ", 1000),
			"Cache-Control is invalid: max-age=1h: the argument must be delta-seconds (a non-negative integer); " +
				"max-age=1h: the argument must be delta-seconds (a non-negative integer); " +
				"max-age=1h: the argument must be delta-seconds (a non-negative integer); and 998 more"}, // the last "," is an empty element too
		{`max-age="tok-12345` + long + `"`, `Cache-Control is invalid: max-age="[REDACTED]` + long[:30] + `…": the argument must be in token form, not quoted`},
		{`max-age=tok-12345` + long, `Cache-Control is invalid: max-age=[REDACTED]` + long[:30] + `…: the argument must be delta-seconds (a non-negative integer)`},
		{`TOK-12345` + long + `=,`, `Cache-Control is invalid: [REDACTED]` + long[:30] + `…=: expected a token or a quoted string as the argument`},
	} {
		redact := func(s string) string {
			return strings.ReplaceAll(strings.ReplaceAll(s, "tok-12345", "[REDACTED]"), "TOK-12345", "[REDACTED]")
		}
		fs := Evaluate(&Exchange{Method: "GET", Status: 200, Header: hdr("Cache-Control", tc.value), Redact: redact})
		if len(fs) != 1 || fs[0].Message != tc.want {
			t.Errorf("%.40s: %+v\nwant message %s", tc.value, fs, tc.want)
		}
	}
}
