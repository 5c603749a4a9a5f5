package checks

import (
	"net/url"
	"strings"
	"testing"
)

func TestRedactorRequestURL(t *testing.T) {
	rd := &redactor{}
	rd.addSecret(secretValue{value: "env-secret-1", ref: "${API_TOKEN}"}, outside)
	rd.addSecret(secretValue{value: "p@ss w&rd", ref: "${DB_PASSWORD}"}, outside)
	rd.addSecret(secretValue{value: "literal-99"}, outside) // unknown source
	rd.add("literal-99")                                    // no duplicate, still unknown
	rd.addSecret(secretValue{value: "cap-value-7", ref: "${token}"}, 1)
	for _, tc := range []struct{ in, want string }{
		{"https://h.example/a/b", "https://h.example/a/b"},
		{"https://h/x?token=env-secret-1&a=1", "https://h/x?token=${API_TOKEN}&a=1"},
		{"https://h/x?a=1&token=abc", "https://h/x?a=1&token=REDACTED"},
		{"https://h/x?api%5Fkey=abc;sig=def&key=&b", "https://h/x?api%5Fkey=REDACTED;sig=REDACTED&key=&b"},
		{"https://h/x?q=" + url.QueryEscape("p@ss w&rd"), "https://h/x?q=${DB_PASSWORD}"},
		{"https://h/" + url.PathEscape("p@ss w&rd") + "/x", "https://h/${DB_PASSWORD}/x"},
		{"https://h/x?q=literal-99", "https://h/x?q=[REDACTED]"},
		{"https://h/x?secret=literal-99", "https://h/x?secret=REDACTED"},
		{"https://u:env-secret-1@h/x", "https://u:${API_TOKEN}@h/x"},
		{"https://u:plain@h/x", "https://u:REDACTED@h/x"},
		{"https://u:@h/x", "https://u:REDACTED@h/x"},
		{"https://u@h/x", "https://u@h/x"},
		{"//u:pw@h/x", "//u:REDACTED@h/x"},
		{"https://h/x#frag?token=abc", "https://h/x#frag?token=abc"},
		{"https://h/x?token=abc#f", "https://h/x?token=REDACTED#f"},
		{"https://h/a@b:c/x", "https://h/a@b:c/x"},
		{"mailto:u:p@h", "mailto:u:p@h"},
		// A capture is referred to in the requests after the one of
		// its step only.
		{"https://h/x?q=cap-value-7", "https://h/x?q=[REDACTED]"},
	} {
		if got := rd.url(tc.in, 1); got != tc.want {
			t.Errorf("url(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got, want := rd.url("https://h/x?q=cap-value-7", 2), "https://h/x?q=${token}"; got != want {
		t.Errorf("in a later step: %q, want %q", got, want)
	}
	if got, want := rd.url("https://u:env-secret-1@h/x?token=env-secret-1", outside), "https://u:REDACTED@h/x?token=REDACTED"; got != want {
		t.Errorf("outside a request: %q, want %q", got, want)
	}
}

func TestRedactorRequestHeaders(t *testing.T) {
	rd := &redactor{}
	rd.addSecret(secretValue{value: "env-secret-1", ref: "${API_KEY}"}, outside)
	rd.add("literal-99")
	h := map[string][]string{
		"X-Api-Key":     {"env-secret-1"},
		"X-Auth-Token":  {"v1-env-secret-1"},
		"Cookie":        {"literal-99"},
		"Authorization": {"Bearer env-secret-1"},
		"X-Custom":      {"a env-secret-1 b literal-99"},
		"accept":        {"text/plain"},
	}
	got := rd.headers(h, 0)
	want := map[string]string{
		"X-Api-Key":     "${API_KEY}",
		"X-Auth-Token":  Redacted,
		"Cookie":        Redacted,
		"Authorization": "Bearer ${API_KEY}",
		"X-Custom":      "a ${API_KEY} b [REDACTED]",
		"Accept":        "text/plain",
	}
	if len(got) != len(want) {
		t.Fatalf("got %q", got)
	}
	for k, v := range want {
		if len(got[k]) != 1 || got[k][0] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}
	if h["X-Api-Key"][0] != "env-secret-1" {
		t.Error("the input map was changed")
	}
	resp := rd.headers(h, outside)
	if v := resp["X-Api-Key"]; len(v) != 1 || v[0] != Redacted {
		t.Errorf("response X-Api-Key %q", v)
	}
	if v := resp["X-Custom"]; len(v) != 1 || v[0] != "a [REDACTED] b [REDACTED]" {
		t.Errorf("response X-Custom %q", v)
	}

	// The engine's own Authorization: [REDACTED] needs no copy.
	own := map[string][]string{"Authorization": {Redacted}, "Accept": {"*/*"}}
	if got := rd.headers(own, 0); &got["Accept"][0] != &own["Accept"][0] {
		t.Error("an unchanged map was copied")
	}
}

// A reference that contains a secret (here a capture named like another
// secret's value) is no reference at all.
func TestRedactorReferenceHidingASecret(t *testing.T) {
	rd := &redactor{}
	rd.addSecret(secretValue{value: "abc-token-value", ref: "${my_tok}"}, outside)
	rd.addSecret(secretValue{value: "my_tok", ref: Redacted}, outside)
	if got, want := rd.replace("x=abc-token-value", 0), "x=[REDACTED]"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := rd.refOf("abc-token-value", 0); got != Redacted {
		t.Errorf("refOf %q", got)
	}
}

// A check without secrets costs the redactor nothing in a request.
func TestRedactorNoSecretsNoAllocs(t *testing.T) {
	rd := &redactor{}
	s := &StepResult{Request: RequestSummary{
		Method: "GET", URL: "https://h.example/documents/42",
		Headers: map[string][]string{"Authorization": {Redacted}, "Accept": {"application/json"}},
		Body:    `{"a":1}`,
	}}
	if n := testing.AllocsPerRun(100, func() { rd.step(s, 0) }); n != 0 {
		t.Errorf("%v allocations", n)
	}
}

// Rule: a cut never leaves part of a secret. Whatever the cut position,
// the value is at most the cut, Redacted and the mark, holds no four
// bytes of a secret it knew, and keeps every byte before the secret; a
// secret it learned later is hidden by the last pass, its beginning
// before a cut mark too.
func TestCutNeverLeavesPartOfASecret(t *testing.T) {
	const secret = "s3cr3t-Zq9xW3vK"
	rd := &redactor{}
	rd.add(secret, "other-Hm7Tp2Lc")
	texts := []string{
		"before " + secret + " after",
		secret + secret,
		"x" + secret,
		strings.Repeat("é", 10) + secret + "é",
		"other-Hm7T" + secret + "p2Lc",
	}
	for _, text := range texts {
		for n := 0; n <= len(text); n++ {
			got := rd.cut(text, n)
			if len(text) <= n {
				if got != text {
					t.Errorf("cut(%q, %d) = %q, want it whole", text, n, got)
				}
				continue
			}
			kept, mark, ok := strings.Cut(got, cutMark)
			if !ok || !strings.HasPrefix(mark, "(") {
				t.Fatalf("cut(%q, %d) = %q: no mark", text, n, got)
			}
			kept = strings.TrimSuffix(kept, Redacted)
			if len(kept) > n || !strings.HasPrefix(text, kept) {
				t.Errorf("cut(%q, %d) = %q: not a prefix of at most %d bytes", text, n, got, n)
			}
			if w := window4(rd.str(got), secret); w != "" {
				t.Errorf("cut(%q, %d) = %q shows %q once redacted", text, n, got, w)
			}
		}
	}
	// Without secrets a cut is the plain cut.
	for _, r := range []*redactor{nil, {}} {
		if got, want := r.cut("abcdef", 3), "abc…(3 more bytes)"; got != want {
			t.Errorf("cut without secrets: %q, want %q", got, want)
		}
	}

	// A secret learned after the cut: its beginning before a mark goes.
	later := &redactor{}
	later.add(secret)
	for _, tc := range []struct{ in, want string }{
		{"abc s3cr3t-Zq…(5 more bytes)", "abc [REDACTED]…(5 more bytes)"},
		{`"abc s3cr3t-Z…(6 more bytes)"`, `"abc [REDACTED]…(6 more bytes)"`},
		{"x s3cr…", "x [REDACTED]…"},                     // a validator's bare mark
		{"x s3c…(9 more bytes)", "x s3c…(9 more bytes)"}, // three bytes are too common to tell
		{"a s3cr3…(1 more bytes) b s3cr3t…(2 more bytes)", "a [REDACTED]…(1 more bytes) b [REDACTED]…(2 more bytes)"},
		{"no cut s3cr3t-Zq", "no cut s3cr3t-Zq"},
		{"…s3cr", "…s3cr"},
	} {
		if got := later.str(tc.in); got != tc.want {
			t.Errorf("str(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// window4 returns four bytes of secret found in s, or "".
func window4(s, secret string) string {
	for i := 0; i+4 <= len(secret); i++ {
		if strings.Contains(s, secret[i:i+4]) {
			return secret[i : i+4]
		}
	}
	return ""
}
