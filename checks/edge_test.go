package checks

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestSilentNoOpsAreErrors: fields that would assert nothing, or could
// never pass, are load-time errors rather than surprises at 3am.
func TestSilentNoOpsAreErrors(t *testing.T) {
	step := func(body string) string {
		return "checks:\n  - name: c\n    steps:\n      - name: s\n        request: { url: \"http://127.0.0.1:1/\" }\n" + body
	}
	for _, tc := range []struct{ name, yaml, want string }{
		{"max_body overflow", "checks:\n  - name: c\n    steps:\n      - request: { url: \"http://127.0.0.1:1/\", max_body: 99999999999GiB }\n", "expected a size"},
		{"sub-second every", "checks:\n  - name: c\n    schedule: \"@every 500ms\"\n    steps:\n      - request: { url: \"http://127.0.0.1:1/\" }\n", "@every takes a whole number of seconds"},
		{"negative every", "checks:\n  - name: c\n    schedule: \"@every -5s\"\n    steps:\n      - request: { url: \"http://127.0.0.1:1/\" }\n", "invalid cron spec"},
		{"dashed var", "checks:\n  - name: c\n    vars: { a-b: x }\n    steps:\n      - request: { url: \"http://127.0.0.1:1/\" }\n", `invalid var name "a-b"`},
		{"empty in", step("        expect: { json: { $.x: { in: [] } } }\n"), "in needs at least one value"},
		{"group without regex", step("        capture: { x: { header: X, group: 1 } }\n"), "group applies to a regex capture only"},
		{"empty body expectation", step("        expect: { body: {} }\n"), "body needs at least one of"},
		{"empty tls expectation", step("        expect: { tls: {} }\n"), "tls needs at least one of days_remaining, version, issuer, sans"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestNullIsAnExpectedValue: `"$.x": null` asserts that x is null.
func TestNullIsAnExpectedValue(t *testing.T) {
	body := `{"x":null,"y":1}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(body))
	}))
	defer srv.Close()
	cs, err := Parse("c.yaml", []byte(`checks:
  - name: c
    steps:
      - request: { url: "`+srv.URL+`" }
        expect:
          json:
            $.x: null
            $.y: { not_equals: null }
`))
	if err != nil {
		t.Fatal(err)
	}
	r := NewRunner(RunnerOptions{})
	defer r.Close()
	if res := r.Run(context.Background(), cs[0]); !res.Passed {
		t.Fatalf("null assertions failed: %s", res.Message)
	}
	body = `{"x":1,"y":null}`
	res := r.Run(context.Background(), cs[0])
	if res.Passed || !strings.Contains(res.Message, "json $.x: expected null, got 1") {
		t.Errorf("message = %q, want json $.x: expected null, got 1", res.Message)
	}
}
