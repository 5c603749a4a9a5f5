package checks

import (
	"slices"
	"testing"
)

func TestResponseDiffLines(t *testing.T) {
	full := &ResponseDiff{
		Status: &FieldChange{Name: "status", Change: ChangeChanged, From: "200", To: "500"},
		Headers: []FieldChange{
			{Name: "Content-Type", Change: ChangeChanged, From: "application/json", To: "text/html"},
			{Name: "X-New", Change: ChangeAdded, To: "v"},
			{Name: "X-Old", Change: ChangeRemoved, From: "v"},
		},
		JSON: []FieldChange{
			{Name: "$.added", Change: ChangeAdded, To: "1"},
			{Name: "$.gone", Change: ChangeRemoved, From: "2"},
			{Name: "$.items[2].price", Change: ChangeChanged, From: "10", To: `"10"`},
		},
	}
	fullLines := []string{
		"status: 200 -> 500",
		`header Content-Type: "application/json" -> "text/html"`,
		`header X-New: (absent) -> "v"`,
		`header X-Old: "v" -> (absent)`,
		"$.added: (absent) -> 1",
		"$.gone: 2 -> (absent)",
		`$.items[2].price: 10 -> "10"`,
	}
	truncated := *full
	truncated.Truncated = true
	text := &ResponseDiff{Text: "failed body was cut at max_body after 9 bytes; only those are compared\n" +
		"--- baseline\n+++ failed\n@@ -1,4 +1,4 @@\n context\n-old line\n+new line\n---- not a header\n+++ not a header\n \\ No newline at end of file"}
	tests := []struct {
		name string
		d    *ResponseDiff
		max  int
		want []string
	}{
		{"nil", nil, 0, nil},
		{"empty", &ResponseDiff{}, 0, nil},
		{"all", full, 0, fullLines},
		{"negative max is all", full, -1, fullLines},
		{"max equals the count", full, 7, fullLines},
		{"over max", full, 4, append(slices.Clone(fullLines[:3]), "... and 4 more changes")},
		{"max 1", full, 1, []string{"... and 7 more changes"}},
		{"truncated, all", &truncated, 0, append(slices.Clone(fullLines), "... (diff truncated)")},
		{"truncated, room left", &truncated, 8, append(slices.Clone(fullLines), "... (diff truncated)")},
		{"truncated, no room left", &truncated, 7, append(slices.Clone(fullLines[:6]), "... and 1 more change (diff truncated)")},
		{"truncated, over max", &truncated, 3, append(slices.Clone(fullLines[:2]), "... and 5 more changes (diff truncated)")},
		{"text notes and changed lines", text, 0, []string{
			"body: failed body was cut at max_body after 9 bytes; only those are compared",
			"body: -old line", "body: +new line", "body: ---- not a header", "body: +++ not a header",
		}},
		{"a stored diff is cleaned again", &ResponseDiff{
			Status:  &FieldChange{Name: "status", Change: ChangeChanged, From: "200\n", To: "500"},
			Headers: []FieldChange{{Name: "X-\x1b[2JBad", Change: ChangeChanged, From: "a\nb", To: "\xff"}},
			JSON:    []FieldChange{{Name: "$.a\u202e", Change: ChangeChanged, From: "1\r", To: "2"}},
			Text:    "note\twith tab\n--- baseline\n+++ failed\n@@ -1 +1 @@\n-\x1b]0;title\x07\n+ok",
		}, 0, []string{
			`status: 200\n -> 500`,
			`header X-\x1b[2JBad: "a\nb" -> "\xff"`,
			`$.a\u202e: 1\r -> 2`,
			`body: note\twith tab`,
			`body: -\x1b]0;title\a`,
			"body: +ok",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.d.Lines(tt.max); !slices.Equal(got, tt.want) {
				t.Errorf("Lines(%d):\n got %q\nwant %q", tt.max, got, tt.want)
			}
		})
	}
}
