package diff

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/assay-monitor/assay/checks"
)

// The cases here would take long or list thousands of changes without the
// bounds; they assert what the bounds make of them.

func nested(open, close, leaf string, depth int) string {
	return strings.Repeat(open, depth) + leaf + strings.Repeat(close, depth)
}

func TestDeepNestingIsComparedWholeBelowTheDepthBound(t *testing.T) {
	before := resp(200, nil, nested(`{"a":`, "}", "1", 10000))
	after := resp(200, nil, nested(`{"a":`, "}", "2", 10000))
	got := Responses(before, after, Options{})
	value := strings.Repeat(`{"a":`, 40)[:DefaultMaxValueLen-len("…")] + "…"
	path := "$" + strings.Repeat(".a", maxJSONDepth)
	want := &checks.ResponseDiff{Truncated: true, JSON: []checks.FieldChange{changed(path, value, value)}}
	if !sameDiff(got, want) {
		t.Fatalf("got %s\nwant %s", show(got), show(want))
	}
	if l := got.Lines(0); len(l) != 2 || l[0] != path+": "+value+" -> "+value || l[1] != "... (diff truncated)" {
		t.Errorf("Lines(0) = %q", l)
	}
}

func TestDeepNestingEqualBelowTheDepthBound(t *testing.T) {
	// Equal below the bound, by value: nothing differs.
	before := resp(200, nil, nested("[", "]", "1.0", 10000))
	after := resp(200, nil, nested("[ ", " ]", "1", 10000))
	if got := Responses(before, after, Options{}); got != nil {
		t.Fatalf("got %s, want nil", show(got))
	}
}

func TestNestingTooDeepForJSONIsText(t *testing.T) {
	// encoding/json refuses more than 10000 levels: the bodies are then
	// text, one long line each, cut to MaxValueLen.
	before := resp(200, nil, nested("[", "]", "1", 20000))
	after := resp(200, nil, nested("[", "]", "2", 20000))
	got := Responses(before, after, Options{})
	want := &checks.ResponseDiff{Text: "--- baseline\n+++ failed\n@@ -1 +1 @@\n" +
		"-" + strings.Repeat("[", 197) + "…\n\\ No newline at end of file\n" +
		"+" + strings.Repeat("[", 197) + "…\n\\ No newline at end of file"}
	if !sameDiff(got, want) {
		t.Fatalf("got %s\nwant %s", show(got), show(want))
	}
}

func TestShiftedLargeArrayIsCapped(t *testing.T) {
	var nums []string
	for i := range 10000 {
		nums = append(nums, strconv.Itoa(i))
	}
	before := resp(200, nil, "["+strings.Join(nums, ",")+"]")
	after := resp(200, nil, "["+strings.Join(nums[1:], ",")+"]")
	got := Responses(before, after, Options{})
	want := &checks.ResponseDiff{Truncated: true}
	for i := range DefaultMaxChanges {
		want.JSON = append(want.JSON, changed(fmt.Sprintf("$[%d]", i), strconv.Itoa(i), strconv.Itoa(i+1)))
	}
	if !sameDiff(got, want) {
		t.Fatalf("got %s\nwant %s", show(got), show(want))
	}
	l := got.Lines(5)
	wantLines := []string{"$[0]: 0 -> 1", "$[1]: 1 -> 2", "$[2]: 2 -> 3", "$[3]: 3 -> 4", "... and 46 more changes (diff truncated)"}
	if !slices.Equal(l, wantLines) {
		t.Errorf("Lines(5) = %q, want %q", l, wantLines)
	}
}

func TestShiftedObjectsAreCapped(t *testing.T) {
	items := make([]string, 1300)
	for i := range items {
		items[i] = fmt.Sprintf(`{"id":%d,"name":"item %d","tags":["a","b"]}`, i, i)
	}
	before := resp(200, nil, `{"items":[`+strings.Join(items, ",")+`]}`)
	after := resp(200, nil, `{"items":[`+strings.Join(items[1:], ",")+`]}`)
	if len(before.Body) > 64<<10 {
		t.Fatalf("body is %d bytes, want at most 64 KiB", len(before.Body))
	}
	got := Responses(before, after, Options{MaxChanges: 4})
	want := &checks.ResponseDiff{Truncated: true, JSON: []checks.FieldChange{
		changed("$.items[0].id", "0", "1"), changed("$.items[0].name", `"item 0"`, `"item 1"`),
		changed("$.items[1].id", "1", "2"), changed("$.items[1].name", `"item 1"`, `"item 2"`),
	}}
	if !sameDiff(got, want) {
		t.Fatalf("got %s\nwant %s", show(got), show(want))
	}
}

func TestManyChangedLinesFallBackToACoarseCappedDiff(t *testing.T) {
	// 3000 lines that all differ: more edits than the line diff searches.
	before := resp(200, nil, lines(numbered("old", 3000)...))
	after := resp(200, nil, lines(numbered("new", 3000)...))
	got := Responses(before, after, Options{})
	if got == nil || !got.Truncated || len(got.JSON) != 0 {
		t.Fatalf("got %s, want a truncated text diff", show(got))
	}
	text := strings.Split(got.Text, "\n")
	want := append([]string{"--- baseline", "+++ failed", "@@ -1,3000 +1,3000 @@"},
		numbered("-old", DefaultMaxTextLines-3)...)
	if !slices.Equal(text, want) {
		t.Fatalf("text = %q\nwant %q", text, want)
	}
}

func sameDiff(got, want *checks.ResponseDiff) bool {
	return reflect.DeepEqual(got, want)
}
