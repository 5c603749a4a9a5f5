package checks_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/assay-monitor/assay/checks"
)

// testEnv is the fake environment every loader test reads ${VAR} from.
var testEnv = map[string]string{
	"HOST":  "api.example.com",
	"PORT":  "8080",
	"EMPTY": "",
}

func lookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}
}

// writeTree writes files (relative names, "/" separated) under a fresh
// temporary directory and makes it the working directory, so that error
// positions carry the short relative names the test spells out.
func writeTree(t *testing.T, files map[string]string) {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(dir)
}

// errorLines loads paths and returns one line per load error, as
// `assay validate` prints them.
func errorLines(t *testing.T, paths ...string) []string {
	t.Helper()
	cs, err := checks.LoadOptions{LookupEnv: lookup(testEnv)}.Load(paths...)
	if err == nil {
		t.Fatalf("Load succeeded with %d checks; want errors", len(cs))
	}
	if cs != nil {
		t.Errorf("Load returned checks along with errors")
	}
	var les checks.LoadErrors
	if !errors.As(err, &les) {
		t.Fatalf("Load error is %T, want checks.LoadErrors: %v", err, err)
	}
	lines := make([]string, len(les))
	for i, e := range les {
		lines[i] = e.Error()
	}
	if got := strings.Join(lines, "\n"); got != err.Error() {
		t.Errorf("LoadErrors.Error() is not one line per error:\n%s", err)
	}
	return lines
}

func loadOK(t *testing.T, paths ...string) []*checks.Check {
	t.Helper()
	cs, err := checks.LoadOptions{LookupEnv: lookup(testEnv)}.Load(paths...)
	if err != nil {
		t.Fatalf("Load: unexpected errors:\n%v", err)
	}
	return cs
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		// Unknown fields: the closest valid name, or every valid name.
		{
			name: "unknown check field close to steps",
			src: `checks:
  - name: c1
    stepz:
      - request: { url: "http://example.com/" }
`,
			want: []string{
				`c.yaml:2:5: checks[0].steps: a check needs at least one step`,
				`c.yaml:3:5: checks[0].stepz: unknown field "stepz" (did you mean "steps"?)`,
			},
		},
		{
			name: "unknown step fields close to expect and capture",
			src: `checks:
  - name: c1
    steps:
      - request: { url: "http://example.com/" }
        expcet: { status: 200 }
        captur: { id: { status: true } }
`,
			want: []string{
				`c.yaml:5:9: checks[0].steps[0].expcet: unknown field "expcet" (did you mean "expect"?)`,
				`c.yaml:6:9: checks[0].steps[0].captur: unknown field "captur" (did you mean "capture"?)`,
			},
		},
		{
			name: "unknown field in a nested flow mapping",
			src: `checks:
  - name: c1
    steps:
      - request: { url: "http://example.com/", metod: POST }
`,
			want: []string{
				`c.yaml:4:48: checks[0].steps[0].request.metod: unknown field "metod" (did you mean "method"?)`,
			},
		},
		{
			name: "unknown field far from every name lists the valid ones",
			src: `checks:
  - name: c1
    steps:
      - request:
          url: "http://example.com/"
          auth: { digest: x }
`,
			want: []string{
				`c.yaml:6:17: checks[0].steps[0].request.auth: set exactly one of basic and bearer`,
				`c.yaml:6:19: checks[0].steps[0].request.auth.digest: unknown field "digest" (valid: basic, bearer)`,
			},
		},
		{
			name: "unknown top-level field",
			src: `check:
  - name: c1
`,
			want: []string{
				`c.yaml:1:1: check: unknown field "check" (did you mean "checks"?)`,
			},
		},

		// Wrong types.
		{
			name: "wrong types",
			src: `checks:
  - name: c1
    description: [a, b]
    tags: { a: b }
    retries: { count: three }
    steps:
      - request:
          url: "http://example.com/"
          max_redirects: "5"
          follow_redirects: yes-please
`,
			want: []string{
				`c.yaml:3:18: checks[0].description: expected a string, got a list`,
				`c.yaml:4:11: checks[0].tags: expected a list, got a mapping`,
				`c.yaml:5:23: checks[0].retries.count: expected an integer, got string "three"`,
				`c.yaml:9:26: checks[0].steps[0].request.max_redirects: expected an integer, got string "5"`,
				`c.yaml:10:29: checks[0].steps[0].request.follow_redirects: expected true or false, got string "yes-please"`,
			},
		},
		{
			name: "mapping where the steps list belongs is one error",
			src: `checks:
  - name: c1
    steps: { request: { url: "http://example.com/" } }
`,
			want: []string{
				`c.yaml:3:12: checks[0].steps: expected a list, got a mapping`,
			},
		},
		{
			name: "checks is not a list",
			src: `checks: c1
`,
			want: []string{
				`c.yaml:1:9: checks: expected a list, got string "c1"`,
			},
		},

		// Duplicates.
		{
			name: "duplicate step name",
			src: `checks:
  - name: c1
    steps:
      - name: read
        request: { url: "http://example.com/" }
      - name: read
        request: { url: "http://example.com/" }
`,
			want: []string{
				`c.yaml:6:15: checks[0].steps[1].name: duplicate step name "read"`,
			},
		},
		{
			name: "duplicate YAML key",
			src: `checks:
  - name: c1
    steps:
      - request: { url: "http://example.com/" }
    name: c2
`,
			want: []string{
				`c.yaml:5:5: checks[0].name: duplicate key "name"`,
			},
		},
		{
			name: "duplicate check name in one file",
			src: `checks:
  - name: c1
    steps:
      - request: { url: "http://example.com/" }
  - name: c1
    steps:
      - request: { url: "http://example.com/" }
`,
			want: []string{
				`c.yaml:5:5: name: duplicate check name "c1" (first defined at c.yaml:2:5)`,
			},
		},

		// Schedules.
		{
			name: "invalid cron spec",
			src: `checks:
  - name: c1
    schedule: "61 * * * *"
    steps:
      - request: { url: "http://example.com/" }
  - name: c2
    schedule: "@every soon"
    steps:
      - request: { url: "http://example.com/" }
`,
			want: []string{
				`c.yaml:3:15: checks[0].schedule: invalid cron spec "61 * * * *": end of range (61) above maximum (59): 61`,
				`c.yaml:7:15: checks[1].schedule: invalid cron spec "@every soon": failed to parse duration @every soon: time: invalid duration "soon"`,
			},
		},

		// Regular expressions, compiled at load.
		{
			name: "invalid regex in headers.matches, body.matches and capture.regex",
			src: `checks:
  - name: c1
    steps:
      - request: { url: "http://example.com/" }
        expect:
          headers:
            ETag: { matches: "(" }
          body:
            matches: "[a-"
        capture:
          id: { regex: "id=(?P<" }
`,
			want: []string{
				"c.yaml:7:30: checks[0].steps[0].expect.headers.ETag.matches: invalid regular expression: missing closing ): `(`",
				"c.yaml:9:22: checks[0].steps[0].expect.body.matches: invalid regular expression: missing closing ]: `[a-`",
				"c.yaml:11:24: checks[0].steps[0].capture.id.regex: invalid regular expression: invalid or unsupported Perl syntax: `(?P`",
			},
		},

		// JSONPath, parsed at load; the key's position for an assertion.
		{
			name: "invalid JSONPath in a json assertion key and in a capture",
			src: `checks:
  - name: c1
    steps:
      - request: { url: "http://example.com/" }
        expect:
          json:
            $.id: 42
            $.items[: { length: 1 }
        capture:
          id: { json: "$.." }
`,
			want: []string{
				`c.yaml:8:13: checks[0].steps[0].expect.json: invalid JSONPath "$.items[": jsonpath: unexpected eof at position 9`,
				`c.yaml:10:23: checks[0].steps[0].capture.id.json: invalid JSONPath "$..": jsonpath: unexpected eof at position 4`,
			},
		},

		// Environment.
		{
			name: "missing environment variable",
			src: `checks:
  - name: c1
    vars:
      base: ${BASE_URL}
    steps:
      - request:
          url: "{{ .vars.base }}/"
          timeout: ${STEP_TIMEOUT}
`,
			want: []string{
				`c.yaml:4:13: checks[0].vars.base: environment variable BASE_URL is not set (use ${BASE_URL:-default} for a default)`,
				`c.yaml:8:20: checks[0].steps[0].request.timeout: environment variable STEP_TIMEOUT is not set (use ${STEP_TIMEOUT:-default} for a default)`,
			},
		},
		{
			name: "missing environment variable in the url is one error",
			src: `checks:
  - name: c1
    steps:
      - request: { url: "${BASE_URL}" }
`,
			want: []string{
				`c.yaml:4:25: checks[0].steps[0].request.url: environment variable BASE_URL is not set (use ${BASE_URL:-default} for a default)`,
			},
		},
		{
			name: "quoted expansion stays a string where an int is needed",
			src: `checks:
  - name: c1
    steps:
      - request: { url: "http://example.com/", max_redirects: "${PORT}" }
`,
			want: []string{
				`c.yaml:4:63: checks[0].steps[0].request.max_redirects: expected an integer, got string "8080"`,
			},
		},

		// Templates and captures.
		{
			name: "capture that no step defines",
			src: `checks:
  - name: c1
    steps:
      - name: read
        request: { url: "http://example.com/" }
        capture: { etag: { header: ETag } }
      - name: write
        request:
          url: "http://example.com/"
          headers: { If-Match: "{{ .etga }}" }
`,
			want: []string{
				`c.yaml:10:32: checks[0].steps[1].request.headers.If-Match: template "{{ .etga }}": "etga" is not captured by an earlier step (captured so far: etag)`,
			},
		},
		{
			name: "capture defined by a later step",
			src: `checks:
  - name: c1
    steps:
      - name: write
        request:
          url: "http://example.com/"
          headers: { If-Match: "{{ .etag }}" }
      - name: read
        request: { url: "http://example.com/" }
        capture: { etag: { header: ETag } }
`,
			want: []string{
				`c.yaml:7:32: checks[0].steps[0].request.headers.If-Match: template "{{ .etag }}": "etag" is captured by step "read", which does not run before this one (captured so far: none)`,
			},
		},
		{
			name: "capture used in an expected value of the step that captures it",
			src: `checks:
  - name: c1
    steps:
      - name: read
        request: { url: "http://example.com/" }
        expect: { json: { $.etag: "{{ .etag }}" } }
        capture: { etag: { header: ETag } }
`,
			want: []string{
				`c.yaml:6:35: checks[0].steps[0].expect.json.$.etag: template "{{ .etag }}": "etag" is captured by step "read", which does not run before this one (captured so far: none)`,
			},
		},
		{
			name: "unknown var",
			src: `checks:
  - name: c1
    vars: { base: "http://example.com" }
    steps:
      - request: { url: "{{ .vars.bsae }}/x" }
`,
			want: []string{
				`c.yaml:5:25: checks[0].steps[0].request.url: template "{{ .vars.bsae }}/x": unknown var "bsae" (defined: base)`,
			},
		},
		{
			name: "invalid template syntax",
			src: `checks:
  - name: c1
    steps:
      - request: { url: "http://example.com/{{ .id" }
`,
			want: []string{
				`c.yaml:4:25: checks[0].steps[0].request.url: invalid template "http://example.com/{{ .id": unclosed action`,
			},
		},

		// Status, durations, sizes, retries.
		{
			name: "bad status",
			src: `checks:
  - name: c1
    steps:
      - request: { url: "http://example.com/" }
        expect: { status: 6xx }
      - request: { url: "http://example.com/" }
        expect: { status: abc }
      - request: { url: "http://example.com/" }
        expect: { status: 99 }
      - request: { url: "http://example.com/" }
        expect: { status: [200, 600] }
`,
			want: []string{
				`c.yaml:5:27: checks[0].steps[0].expect.status: expected a status like 200, "2xx" or "200-299", got string "6xx"`,
				`c.yaml:7:27: checks[0].steps[1].expect.status: expected a status like 200, "2xx" or "200-299", got string "abc"`,
				`c.yaml:9:27: checks[0].steps[2].expect.status: expected a status like 200, "2xx" or "200-299", got number 99`,
				`c.yaml:11:33: checks[0].steps[3].expect.status: expected a status like 200, "2xx" or "200-299", got number 600`,
			},
		},
		{
			name: "bad durations, max_body and retries.on",
			src: `checks:
  - name: c1
    timeout: 10 seconds
    retries: { count: 2, on: sometimes, backoff: -1s }
    steps:
      - request: { url: "http://example.com/", max_body: 10 parsecs }
        expect: { response_time: fast }
`,
			want: []string{
				`c.yaml:3:14: checks[0].timeout: expected a duration like 10s or 1m30s, got string "10 seconds"`,
				`c.yaml:4:30: checks[0].retries.on: expected "network" or "any", got string "sometimes"`,
				`c.yaml:4:50: checks[0].retries.backoff: expected a duration like 10s or 1m30s, got string "-1s"`,
				`c.yaml:6:58: checks[0].steps[0].request.max_body: expected a size like 1048576, 512KiB or 10MiB, got string "10 parsecs"`,
				`c.yaml:7:34: checks[0].steps[0].expect.response_time: expected a duration like 10s or 1m30s, got string "fast"`,
			},
		},

		// Names and labels.
		{
			name: "reserved and invalid label names",
			src: `checks:
  - name: c1
    labels:
      team: docs
      check: other
      1st: x
      __meta: y
    steps:
      - request: { url: "http://example.com/" }
`,
			want: []string{
				`c.yaml:5:7: checks[0].labels.check: label name "check" is reserved (assay's metrics use check, instance, job, le, phase, reason, rule, step)`,
				`c.yaml:6:7: checks[0].labels.1st: invalid label name "1st": use letters, digits and '_', not starting with a digit or "__"`,
				`c.yaml:7:7: checks[0].labels.__meta: invalid label name "__meta": use letters, digits and '_', not starting with a digit or "__"`,
			},
		},
		{
			name: "invalid and missing check names",
			src: `checks:
  - name: "bad name!"
    steps:
      - request: { url: "http://example.com/" }
  - description: no name
    steps:
      - request: { url: "http://example.com/" }
`,
			want: []string{
				`c.yaml:2:11: checks[0].name: invalid check name "bad name!": use letters, digits, '.', '_' and '-' (at most 128)`,
				`c.yaml:5:5: checks[1].name: a check needs a name`,
			},
		},
		{
			name: "no steps",
			src: `checks:
  - name: c1
  - name: c2
    steps: []
`,
			want: []string{
				`c.yaml:2:5: checks[0].steps: a check needs at least one step`,
				`c.yaml:4:12: checks[1].steps: a check needs at least one step`,
			},
		},

		// Conflicting settings.
		{
			name: "both body and json",
			src: `checks:
  - name: c1
    steps:
      - request:
          url: "http://example.com/"
          body: "raw"
          json: { a: 1 }
`,
			want: []string{
				`c.yaml:5:11: checks[0].steps[0].request: set only one of body, json and form`,
			},
		},
		{
			name: "auth with both basic and bearer",
			src: `checks:
  - name: c1
    steps:
      - request:
          url: "http://example.com/"
          auth:
            basic: { username: u, password: p }
            bearer: t
`,
			want: []string{
				`c.yaml:7:13: checks[0].steps[0].request.auth: set exactly one of basic and bearer`,
			},
		},
		{
			name: "capture with two sources",
			src: `checks:
  - name: c1
    steps:
      - request: { url: "http://example.com/" }
        capture:
          etag: { header: ETag, status: true }
`,
			want: []string{
				`c.yaml:6:17: checks[0].steps[0].capture.etag: set exactly one of header, json, regex, cookie and status`,
			},
		},
		{
			name: "capture regex group out of range",
			src: `checks:
  - name: c1
    steps:
      - request: { url: "http://example.com/" }
        capture:
          id: { regex: "id=(\\d+)", group: 2 }
`,
			want: []string{
				`c.yaml:6:44: checks[0].steps[0].capture.id.group: no group 2: the regex has 1 capture group(s)`,
			},
		},
		{
			name: "invalid capture name",
			src: `checks:
  - name: c1
    steps:
      - request: { url: "http://example.com/" }
        capture:
          e-tag: { header: ETag }
`,
			want: []string{
				`c.yaml:6:11: checks[0].steps[0].capture.e-tag: invalid capture name "e-tag": use letters, digits and '_', not starting with a digit, and not "vars"`,
			},
		},
		{
			name: "missing ca_file",
			src: `checks:
  - name: c1
    steps:
      - request:
          url: "https://example.com/"
          tls: { ca_file: certs/missing.pem }
`,
			want: []string{
				`c.yaml:6:27: checks[0].steps[0].request.tls.ca_file: cannot read certs/missing.pem: no such file or directory`,
			},
		},
		{
			name: "url that is not absolute http",
			src: `checks:
  - name: c1
    steps:
      - request: { url: "ftp://example.com/" }
      - request: { method: "GET /", url: "http://example.com/" }
`,
			want: []string{
				`c.yaml:4:25: checks[0].steps[0].request.url: expected an absolute http or https URL, got "ftp://example.com/"`,
				`c.yaml:5:28: checks[0].steps[1].request.method: invalid method "GET /"`,
			},
		},

		// YAML itself.
		{
			// yaml.v3 gives no column, and for an unclosed '{' the line
			// where it opens.
			name: "YAML syntax error names the line",
			src: `checks:
  - name: c1
    steps:
      - request: { url: "http://example.com/"
        expect: { status: 200 }
`,
			want: []string{
				`c.yaml:4:1: invalid YAML: did not find expected ',' or '}'`,
			},
		},
		{
			name: "unquoted colon in a value",
			src: `checks:
  - name: c1
    description: note: this needs quotes
    steps:
      - request: { url: "http://example.com/" }
`,
			want: []string{
				`c.yaml:3:1: invalid YAML: mapping values are not allowed in this context`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			writeTree(t, map[string]string{"c.yaml": tt.src})
			got := errorLines(t, "c.yaml")
			if !slices.Equal(got, tt.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestLoadDuplicateCheckNameAcrossFiles(t *testing.T) {
	writeTree(t, map[string]string{
		"a.yaml": `checks:
  - name: health
    steps:
      - request: { url: "http://example.com/" }
`,
		"b.yaml": `checks:
  - name: other
    steps:
      - request: { url: "http://example.com/" }
  - name: health
    steps:
      - request: { url: "http://example.com/" }
`,
	})
	got := errorLines(t, ".")
	want := []string{`b.yaml:5:5: name: duplicate check name "health" (first defined at a.yaml:2:5)`}
	if !slices.Equal(got, want) {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestLoadAccepts(t *testing.T) {
	writeTree(t, map[string]string{"c.yaml": `checks:
  - name: cron-tz
    schedule: "CRON_TZ=Europe/Paris 30 9 * * 1-5"
    steps:
      - request: { url: "http://example.com/" }
  - name: every
    schedule: "@every 30s"
    steps:
      - request: { url: "http://example.com/" }
  - name: seconds-field
    schedule: "*/15 * * * * *"
    steps:
      - request: { url: "http://example.com/" }
  - name: env
    vars:
      host: ${HOST}
      fallback: ${UNSET_VAR:-http://localhost:9}
      empty_default: ${EMPTY:-used}
      dollars: "$$HOME and $${HOST}"
    steps:
      - name: first
        request:
          url: "http://${HOST}:${PORT}/{{ .vars.fallback }}"
          max_redirects: ${PORT}
          timeout: ${UNSET_TIMEOUT:-2s}
        capture: { etag: { header: ETag } }
      - name: second
        request:
          url: "http://example.com/"
          headers: { If-Match: "{{ .etag }}" }
        expect:
          status: [200, 2xx, "300-304"]
          headers: { ETag: { not_equals: "{{ .etag }}" } }
`})
	cs := loadOK(t, "c.yaml")
	byName := map[string]*checks.Check{}
	for _, c := range cs {
		byName[c.Name] = c
	}
	for _, n := range []string{"cron-tz", "every", "seconds-field", "env"} {
		if byName[n] == nil {
			t.Fatalf("check %q not loaded (got %d checks)", n, len(cs))
		}
	}
	env := byName["env"]
	wantVars := map[string]string{
		"host":          "api.example.com",
		"fallback":      "http://localhost:9",
		"empty_default": "used",
		"dollars":       "$HOME and ${HOST}",
	}
	for k, want := range wantVars {
		if got := env.Vars[k]; got != want {
			t.Errorf("vars.%s = %q, want %q", k, got, want)
		}
	}
	r := env.Steps[0].Request
	if r.URL.Raw != "http://api.example.com:8080/{{ .vars.fallback }}" {
		t.Errorf("url = %q", r.URL.Raw)
	}
	if r.MaxRedirects == nil || *r.MaxRedirects != 8080 {
		t.Errorf("max_redirects = %v, want 8080 (${PORT} re-typed as an integer)", r.MaxRedirects)
	}
	if got := r.Timeout.D().String(); got != "2s" {
		t.Errorf("timeout = %s, want 2s", got)
	}
	if env.Steps[0].Pos.String() != "c.yaml:21:9" {
		t.Errorf("step position = %s, want c.yaml:21:9", env.Steps[0].Pos)
	}
}

func TestLoadDirectory(t *testing.T) {
	writeTree(t, map[string]string{
		// Two errors; the compile-time one (line 3) is found after the
		// decoding one (line 5) but sorts first.
		"a.yaml": `checks:
  - name: a
    schedule: "not cron"
    steps:
      - request: { url: "http://example.com/" }
        expcet: { status: 200 }
`,
		"sub/deeper/b.yml": `checks:
  - name: b
    steps: []
`,
		"sub/ok.yaml": `checks:
  - name: ok
    steps:
      - request: { url: "http://example.com/" }
`,
		".hidden/bad.yaml":  "checks: [this is not loaded",
		"sub/.git/bad.yaml": "checks: [neither is this",
		"notes.txt":         "not yaml: [",
		"sub/README.md":     "# not a check file",
	})
	got := errorLines(t, ".")
	want := []string{
		`a.yaml:3:15: checks[0].schedule: invalid cron spec "not cron": expected 5 to 6 fields, found 2: [not cron]`,
		`a.yaml:6:9: checks[0].steps[0].expcet: unknown field "expcet" (did you mean "expect"?)`,
		`sub/deeper/b.yml:3:12: checks[0].steps: a check needs at least one step`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestLoadDirectoryPicksYAMLAndYMLSkipsDotDirs(t *testing.T) {
	writeTree(t, map[string]string{
		"one.yaml": `checks:
  - name: one
    steps:
      - request: { url: "http://example.com/" }
`,
		"nested/deep/two.yml": `checks:
  - name: two
    steps:
      - request: { url: "http://example.com/" }
`,
		".hidden/three.yaml": `checks:
  - name: three
    steps:
      - request: { url: "http://example.com/" }
`,
		"nested/four.json": `{"checks": [{"name": "four"}]}`,
	})
	cs := loadOK(t, ".")
	var names []string
	for _, c := range cs {
		names = append(names, c.Name+"@"+c.Pos.String())
	}
	want := []string{"two@nested/deep/two.yml:2:5", "one@one.yaml:2:5"}
	if !slices.Equal(names, want) {
		t.Errorf("loaded %v, want %v", names, want)
	}

	// A file named explicitly is read whatever its name; a missing path is
	// an error naming it.
	got := errorLines(t, "one.yaml", "missing.yaml")
	if want := []string{"missing.yaml: cannot read: no such file or directory"}; !slices.Equal(got, want) {
		t.Errorf("errors %q, want %q", got, want)
	}
}

func TestLoadMultipleDocuments(t *testing.T) {
	writeTree(t, map[string]string{"c.yaml": `checks:
  - name: first
    steps:
      - request: { url: "http://example.com/" }
---
checks:
  - name: second
    steps:
      - request: { url: "http://example.com/" }
        expect: { status: 20 }
`})
	got := errorLines(t, "c.yaml")
	want := []string{`c.yaml:10:27: checks[0].steps[0].expect.status: expected a status like 200, "2xx" or "200-299", got number 20`}
	if !slices.Equal(got, want) {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestExamplesLoad keeps the shipped examples valid, with and without the
// environment they read.
func TestExamplesLoad(t *testing.T) {
	for _, env := range []map[string]string{
		{},
		{"DEMO_API_URL": "http://demo.internal:9000"},
	} {
		cs, err := checks.LoadOptions{LookupEnv: lookup(env)}.Load("../checks.d")
		if err != nil {
			t.Fatalf("checks.d with env %v:\n%v", env, err)
		}
		if len(cs) < 4 {
			t.Fatalf("checks.d has %d checks, want at least 4", len(cs))
		}
		want := "http://127.0.0.1:8787"
		if u := env["DEMO_API_URL"]; u != "" {
			want = u
		}
		for _, c := range cs {
			for _, s := range c.Steps {
				raw := s.Request.URL.Raw
				if !strings.HasPrefix(raw, want) && !strings.HasPrefix(raw, "{{ .vars.base }}") {
					t.Errorf("%s step %q: url %q does not use the demo API", c.Name, s.Name, raw)
				}
			}
			if b := c.Vars["base"]; b != "" && b != want {
				t.Errorf("%s: vars.base = %q, want %q", c.Name, b, want)
			}
		}
	}
}
