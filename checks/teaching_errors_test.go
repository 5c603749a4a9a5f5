package checks

import (
	"reflect"
	"sort"
	"strings"
	"testing"
)

// loadErrors loads src as checks.yaml and returns its errors, one line each.
func loadErrors(t *testing.T, src string, env ...string) []string {
	t.Helper()
	_, errs := LoadOptions{LookupEnv: envMap(env...)}.parse("checks.yaml", []byte(src))
	// In the order Load reports them.
	sort.SliceStable(errs, func(i, j int) bool {
		a, b := errs[i].Pos, errs[j].Pos
		return a.Line < b.Line || a.Line == b.Line && a.Column < b.Column
	})
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

func wantErrors(t *testing.T, got []string, want ...string) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Errors that teach: the mistakes of someone used to other tools get one
// error that says what to write.
func TestErrorsThatTeach(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		want      []string
	}{
		{"unquoted ${VAR:-x} in a flow mapping", `
checks:
  - name: a
    steps:
      - request: { url: "http://127.0.0.1:1/", auth: { basic: { username: u, password: ${P:-x} } } }
`, []string{`checks.yaml:5:88: invalid YAML: did not find expected ',' or '}': quote the ${...} inside { } or [ ], as in "${P:-x}" (unquoted, YAML reads its "{" as the start of a mapping; the collection starts at line 5)`}},
		{"unquoted ${VAR} in a flow list, on a later line", `
checks:
  - name: a
    tags: [
      smoke,
      ${TAG}
    ]
    steps: [{ request: { url: "http://127.0.0.1:1/" } }]
`, []string{`checks.yaml:6:7: invalid YAML: did not find expected ',' or ']': quote the ${...} inside { } or [ ], as in "${TAG}" (unquoted, YAML reads its "{" as the start of a mapping; the collection starts at line 4)`}},
		{"misspelled predicate", `
checks:
  - name: a
    steps:
      - request: { url: "http://127.0.0.1:1/" }
        expect: { json: { "$.id": { equal: 42 } } }
`, []string{`checks.yaml:6:37: checks[0].steps[0].expect.json.$.id.equal: unknown field "equal" (did you mean "equals"?)`}},
		{"misspelled header predicate", `
checks:
  - name: a
    steps:
      - request: { url: "http://127.0.0.1:1/" }
        expect: { headers: { ETag: { exist: true } } }
`, []string{`checks.yaml:6:38: checks[0].steps[0].expect.headers.ETag.exist: unknown field "exist" (did you mean "exists"?)`}},
		{"misspelled body assertion", `
checks:
  - name: a
    steps:
      - request: { url: "http://127.0.0.1:1/" }
        expect: { body: { contain: ok } }
`, []string{`checks.yaml:6:27: checks[0].steps[0].expect.body.contain: unknown field "contain" (did you mean "contains"?)`}},
		{"misspelled tls assertion", `
checks:
  - name: a
    steps:
      - request: { url: "https://127.0.0.1:1/" }
        expect: { tls: { days_remain: { gte: 14 } } }
`, []string{`checks.yaml:6:26: checks[0].steps[0].expect.tls.days_remain: unknown field "days_remain" (did you mean "days_remaining"?)`}},
		{"Hurl-style template", `
checks:
  - name: a
    steps:
      - request: { url: "http://127.0.0.1:1/", headers: { Authorization: "Bearer {{ token }}" } }
`, []string{`checks.yaml:5:74: checks[0].steps[0].request.headers.Authorization: invalid template "Bearer {{ token }}": function "token" not defined: use {{ .token }} for a capture, {{ .vars.token }} for a var`}},
		{"Hurl-style template in an expected value", `
checks:
  - name: a
    steps:
      - request: { url: "http://127.0.0.1:1/" }
        expect: { json: { $.id: "{{id}}" } }
`, []string{`checks.yaml:6:33: checks[0].steps[0].expect.json.$.id: invalid template "{{id}}": function "id" not defined: use {{ .id }} for a capture, {{ .vars.id }} for a var`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantErrors(t, loadErrors(t, tc.src), tc.want...)
		})
	}
}
