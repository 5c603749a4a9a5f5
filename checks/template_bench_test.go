package checks

import (
	"strings"
	"testing"
)

// The fast template path must render exactly what text/template renders,
// and fail exactly when it fails (it then falls back to it).
func TestFastTemplateMatchesTextTemplate(t *testing.T) {
	data := map[string]any{
		"vars": map[string]any{"base": "http://127.0.0.1:8080", "n": "7"},
		"etag": `"v2-abc"`, "id": 42.0, "big": 1e21, "small": 0.000001, "neg": -3.5, "ok": true,
		"none": nil, "obj": map[string]any{"a": map[string]any{"b": "deep"}}, "list": []any{1.0},
	}
	for _, src := range []string{
		"{{ .vars.base }}/documents/{{ .id }}", "{{.etag}}", "x{{ .big }}y{{ .small }}{{ .neg }}{{ .ok }}",
		"{{ .obj.a.b }}", "{{- .vars.n -}} ", "{{ .missing }}", "{{ .vars.missing }}", "{{ .none }}",
		"{{ .list }}", "{{ .obj }}", "{{ .etag.x }}", "{{ printf \"%s\" .etag }}", "{{ .id | printf \"%v\" }}",
		"{{ if .ok }}yes{{ end }}", "plain {{ \"lit\" }}",
	} {
		tm, err := NewTemplate(src)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		got, gotErr := tm.Render(data)
		var b strings.Builder
		pt, _ := parseTemplate(src)
		wantErr := pt.Execute(&b, data)
		if (gotErr != nil) != (wantErr != nil) || (gotErr == nil && got != b.String()) {
			t.Errorf("%s: got %q, %v; text/template %q, %v", src, got, gotErr, b.String(), wantErr)
		}
		if refs, want := tm.refs(), (Template{Raw: src, t: pt}).refs(); len(refs) != len(want) {
			t.Errorf("%s: refs %v, want %v", src, refs, want)
		}
	}
}

func BenchmarkTemplateRender(b *testing.B) {
	tm, _ := NewTemplate("{{ .vars.base }}/documents/{{ .id }}")
	data := map[string]any{"vars": map[string]any{"base": "http://127.0.0.1:8080"}, "id": 42.0}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := tm.Render(data); err != nil {
			b.Fatal(err)
		}
	}
}
