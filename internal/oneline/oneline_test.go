package oneline

import "testing"

func TestClean(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain text", "plain text"},
		{`quotes " ' and \ stay`, `quotes " ' and \ stay`},
		{"prix 10 €, 日本", "prix 10 €, 日本"},
		{"a\nb\r\n\tc", `a\nb\r\n\tc`},
		{"\x1b[31mred\x1b[0m", `\x1b[31mred\x1b[0m`},
		{"bidi \u202eevil", `bidi \u202eevil`},
		{"line\u2028sep", `line\u2028sep`},
		{"nbsp\u00a0x", `nbsp\u00a0x`},
		{"bad \xff\xfe utf8", `bad \xff\xfe utf8`},
		{"nul\x00", `nul\x00`},
		{"\U000e0001tag", `\U000e0001tag`},
	}
	for _, tt := range tests {
		if got := Clean(tt.in); got != tt.want {
			t.Errorf("Clean(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got := Clean(Clean(tt.in)); got != tt.want {
			t.Errorf("Clean is not idempotent on %q: %q", tt.in, got)
		}
	}
}
