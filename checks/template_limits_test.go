package checks_test

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/assay-monitor/assay/checks"
)

func renderWith(t *testing.T, ctx context.Context, src string, data map[string]any) (string, error) {
	t.Helper()
	tm, err := checks.NewTemplate(src)
	if err != nil {
		t.Fatalf("%s: %v", src, err)
	}
	return tm.RenderContext(ctx, data)
}

// TestTemplateRenderingIsBounded: loops and calls take at most
// MaxTemplateSteps steps, output (and every printf and friends) at most
// MaxTemplateOutput bytes, found before the work is done, in small
// memory; ordinary templates render as before.
func TestTemplateRenderingIsBounded(t *testing.T) {
	steps := "the template takes more than 10000 steps (range iterations and template calls)"
	output := "the template renders more than 1 MiB"
	for _, tc := range []struct{ src, want string }{
		{`{{ range 100000000 }}x{{ end }}`, steps},
		{`{{ range 100000000 }}{{ end }}`, steps},
		{`{{ range 1000 }}{{ range 1000 }}{{ end }}{{ end }}`, steps},
		{`{{ range $i, $e := .list }}{{ range $.list }}{{ range $.list }}{{ end }}{{ end }}{{ end }}`, steps},
		{`{{ define "a" }}{{ template "a" }}{{ end }}{{ template "a" }}`, steps},
		{`{{ define "a" }}{{ template "b" }}{{ template "b" }}{{ end }}{{ define "b" }}{{ template "c" }}{{ template "c" }}{{ end }}` +
			`{{ define "c" }}{{ range 3000 }}{{ end }}{{ end }}{{ template "a" }}`, steps},
		{`{{ printf "%01000000d%01000000d" 1 2 }}`, output},
		{`{{ printf "%*d" 2000000 1 }}x{{ printf "%*d%*d" 900000 1 900000 2 }}`, output},
		{`{{ range 5000 }}{{ printf "%0300d" 1 }}{{ end }}`, output},
		{`{{ $x := "0123456789" }}{{ range 30 }}{{ $x = printf "%s%s" $x $x }}{{ end }}{{ len $x }}`, output},
		{`{{ $x := "0123456789" }}{{ range 30 }}{{ $x = print $x $x }}{{ end }}{{ len $x }}`, output},
		{`{{ $x := "<<<<<<<<<<" }}{{ range 30 }}{{ $x = html $x $x }}{{ end }}{{ len $x }}`, output},
	} {
		var err error
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err = renderWith(t, context.Background(), tc.src, map[string]any{"list": make([]any, 100)})
		runtime.ReadMemStats(&after)
		if err == nil || !strings.HasSuffix(err.Error(), ": "+tc.want) || !strings.HasPrefix(err.Error(), "cannot render ") {
			t.Errorf("%s: %v\nwant ...: %s", tc.src, err, tc.want)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
			t.Errorf("%s: %d MiB allocated", tc.src, alloc>>20)
		}
	}
	for src, want := range map[string]string{
		`{{ range .list }}{{ . }},{{ end }}`:                         "a,b,c,",
		`{{ range 3 }}{{ . }}{{ end }}`:                              "012",
		`{{ printf "%s/v2" .base }}`:                                 "http://x/v2",
		`{{ define "t" }}[{{ . }}]{{ end }}{{ template "t" .base }}`: "[http://x]",
		`{{ .base }}/documents`:                                      "http://x/documents",
		`{{ range 9999 }}{{ end }}ok`:                                "ok",
		`{{ printf "%01000d" 7 | len }}`:                             "1000",
	} {
		got, err := renderWith(t, context.Background(), src, map[string]any{"list": []any{"a", "b", "c"}, "base": "http://x"})
		if err != nil || got != want {
			t.Errorf("%s = %q, %v; want %q", src, got, err, want)
		}
	}
}

// TestTemplateRenderingStopsAtTheDeadline: a template that loops stops
// when its context is done, before or while it runs.
func TestTemplateRenderingStopsAtTheDeadline(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := renderWith(t, cancelled, `{{ range 10 }}x{{ end }}`, nil); err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Errorf("cancelled: %v", err)
	}
	// 9,000 iterations of a 100 KB printf are far more than a millisecond
	// of work: rendering cannot finish before the deadline.
	ctx, cancel2 := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel2()
	if _, err := renderWith(t, ctx, `{{ range 9000 }}{{ $x := printf "%0100000d" 1 }}{{ end }}`, nil); err == nil || !strings.Contains(err.Error(), "context deadline exceeded") {
		t.Errorf("deadline: %v", err)
	}
	// Render is RenderContext without a deadline; the step budget holds.
	tm, _ := checks.NewTemplate(`{{ range 100000000 }}{{ end }}`)
	if _, err := tm.Render(nil); err == nil || !strings.Contains(err.Error(), "10000 steps") {
		t.Errorf("Render: %v", err)
	}
}

// TestTemplateMessagesHaveOnePrefix: a template that fails when the step
// runs reads "template: cannot render ...", not "template: template ...";
// the run stops at the budget, at once.
func TestTemplateMessagesHaveOnePrefix(t *testing.T) {
	writeTree(t, map[string]string{"c.yaml": `checks:
  - name: c1
    timeout: 1s
    steps:
      - request: { method: POST, url: "http://127.0.0.1:1/", body: "{{ range 100000000 }}x{{ end }}" }
  - name: c2
    vars: { n: "7" }
    steps:
      - request: { url: "http://127.0.0.1:1/{{ index .vars.n 5 }}" }
`})
	cs := loadOK(t, "c.yaml")
	r := checks.NewRunner(checks.RunnerOptions{})
	defer r.Close()
	for i, want := range []string{
		`template: cannot render "{{ range 100000000 }}x{{ end }}": the template takes more than 10000 steps (range iterations and template calls)`,
		`template: cannot render "http://127.0.0.1:1/{{ index .vars.n 5 }}": error calling index: index out of range: 5`,
	} {
		res := r.Run(context.Background(), cs[i])
		steps := res.Steps()
		if res.Passed || res.Reason != checks.ReasonTemplate || len(steps) == 0 || !strings.HasPrefix(steps[0].Message, want) || strings.Contains(steps[0].Message, "template: template") {
			t.Errorf("%s: %s %q; want %q", cs[i].Name, res.Reason, steps[0].Message, want)
		}
	}
}
