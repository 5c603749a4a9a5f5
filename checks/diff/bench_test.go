package diff

import (
	"fmt"
	"strings"
	"testing"

	"github.com/assay-monitor/assay/checks"
)

// orders is a realistic JSON list body of about 4 KiB; changed alters a
// few fields the way a failing deploy might.
func orders(changed bool) string {
	var b strings.Builder
	b.WriteString(`{"page":1,"per_page":12,"total":12,"items":[`)
	for i := range 12 {
		status, price := "shipped", fmt.Sprintf("%d.50", 10+i)
		if changed && i == 7 {
			status, price = "pending", fmt.Sprintf(`"%d.50"`, 10+i)
		}
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":%d,"customer":{"id":%d,"name":"Customer %d","email":"c%d@example.com"},`+
			`"status":%q,"total":%s,"currency":"EUR","lines":[{"sku":"SKU-%04d","qty":%d,"price":%s}],`+
			`"created_at":"2026-11-30T09:%02d:00Z"}`, 1000+i, 500+i, i, i, status, price, i, 1+i%3, price, i)
	}
	b.WriteString(`]}`)
	return b.String()
}

func BenchmarkResponsesJSON4KiB(b *testing.B) {
	hdr := map[string][]string{"Content-Type": {"application/json"}, "Date": {"x"}, "Etag": {`"1"`}}
	before := &checks.ResponseSummary{Status: 200, Headers: hdr, Body: orders(false)}
	after := &checks.ResponseSummary{Status: 200, Headers: hdr, Body: orders(true)}
	before.BodySize, after.BodySize = int64(len(before.Body)), int64(len(after.Body))
	if d := Responses(before, after, Options{}); d == nil || len(d.JSON) != 3 {
		b.Fatalf("want 3 JSON changes, got %s", show(d))
	}
	b.SetBytes(before.BodySize + after.BodySize)
	b.ReportAllocs()
	for b.Loop() {
		Responses(before, after, Options{})
	}
}

func BenchmarkResponsesText4KiB(b *testing.B) {
	before := orders(false)
	after := strings.Replace(before, "Customer 7", "Customer seven", 1)
	before = strings.ReplaceAll(before, "},{", "},\n{")
	after = strings.ReplaceAll(after, "},{", "},\n{")
	bs := &checks.ResponseSummary{Status: 200, Body: before + "<", BodySize: int64(len(before) + 1)}
	as := &checks.ResponseSummary{Status: 200, Body: after + "<", BodySize: int64(len(after) + 1)}
	b.SetBytes(bs.BodySize + as.BodySize)
	b.ReportAllocs()
	for b.Loop() {
		Responses(bs, as, Options{})
	}
}
