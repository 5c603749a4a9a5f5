package checks_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/assay-monitor/assay/checks"
)

// templateLike are secrets that look like template code.
var templateLike = []string{`{{ .x }}`, `{{`, `}}`, `{{ "" }}`, `tok{{- /* c */ -}}en`, `{{ range 100000000 }}x{{ end }}`, `$$ {{ .vars.n }} ${NOT_A_REF}`}

// TestEnvironmentValuesAreLiteralText: a ${VAR} value is text wherever it
// goes (a bearer token, a header mixed with a template, a query value, a
// form field, strings in a JSON body, a raw body): it is sent byte for
// byte, never parsed as a template; a variable in a template's string
// constant is text as well.
func TestEnvironmentValuesAreLiteralText(t *testing.T) {
	for _, secret := range templateLike {
		t.Run(secret, func(t *testing.T) {
			var mu sync.Mutex
			var got []*http.Request
			var bodies []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				mu.Lock()
				got, bodies = append(got, r), append(bodies, string(b))
				mu.Unlock()
			}))
			defer srv.Close()
			env := map[string]string{"BASE": srv.URL, "API_TOKEN": secret, "PLAIN": secret}
			writeTree(t, map[string]string{"c.yaml": `checks:
  - name: c1
    vars: { n: "7" }
    steps:
      - request:
          url: "${BASE}/a?k={{ .vars.n }}"
          auth: { bearer: "${API_TOKEN}" }
          headers:
            X-Mixed: "pre-${API_TOKEN}-{{ .vars.n }}"
            X-Plain: "${PLAIN}"
            X-Const: '{{ printf "%s|%s" "${PLAIN}" .vars.n }}'
          query: { q: "${API_TOKEN}", r: "{{ .vars.n }}${PLAIN}" }
          json: { t: "${API_TOKEN}", u: "{{ .vars.n }}", list: ["${PLAIN}", "{{ .vars.n }}"] }
      - request:
          method: POST
          url: "${BASE}/b"
          body: "${API_TOKEN}"
      - request:
          method: POST
          url: "${BASE}/c"
          form: { f: "${API_TOKEN}" }
`})
			cs, err := checks.LoadOptions{LookupEnv: lookup(env)}.Load("c.yaml")
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			r := checks.NewRunner(checks.RunnerOptions{})
			defer r.Close()
			if res := r.Run(context.Background(), cs[0]); !res.Passed {
				t.Fatalf("run failed: %s %s", res.Reason, res.Message)
			}
			if len(got) != 3 {
				t.Fatalf("%d requests", len(got))
			}
			a := got[0]
			for _, c := range []struct{ what, got, want string }{
				{"Authorization", a.Header.Get("Authorization"), "Bearer " + secret},
				{"X-Mixed", a.Header.Get("X-Mixed"), "pre-" + secret + "-7"},
				{"X-Plain", a.Header.Get("X-Plain"), secret},
				{"X-Const", a.Header.Get("X-Const"), secret + "|7"},
				{"query q", a.URL.Query().Get("q"), secret},
				{"query r", a.URL.Query().Get("r"), "7" + secret},
				{"query k", a.URL.Query().Get("k"), "7"},
				{"raw body", bodies[1], secret},
				{"form", formValue(t, bodies[2], "f"), secret},
			} {
				if c.got != c.want {
					t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
				}
			}
			var body struct {
				T    string `json:"t"`
				U    string `json:"u"`
				List []string
			}
			if err := json.Unmarshal([]byte(bodies[0]), &body); err != nil || body.T != secret || body.U != "7" || len(body.List) != 2 || body.List[0] != secret || body.List[1] != "7" {
				t.Errorf("json body %s (%v)", bodies[0], err)
			}
		})
	}
}

func formValue(t *testing.T, body, key string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://x/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if err := req.ParseForm(); err != nil {
		t.Fatal(err)
	}
	return req.PostForm.Get(key)
}

// TestSecretsNeverInLoadErrors: a secret-looking variable's value is in no
// load error: not where it is the wrong type, not where it is no URL, not
// in a template that fails to parse or names an unknown capture, not in a
// JSON Schema or a list, however long (a message that cuts a value at 40
// or 60 characters does not show its start either).
func TestSecretsNeverInLoadErrors(t *testing.T) {
	long := "Zq7" + strings.Repeat("-long-secret", 10)
	for _, secret := range append(templateLike, "not-a-url-s3cr3t", long, `quote"and\back`) {
		env := map[string]string{"API_TOKEN": secret, "DB_PASSWORD": secret}
		writeTree(t, map[string]string{"c.yaml": `checks:
  - name: c1
    timeout: ${API_TOKEN}
    retries: { count: "${DB_PASSWORD}" }
    labels: { team: "${API_TOKEN}" }
    schedule: "${API_TOKEN}"
    steps:
      - request:
          url: "${API_TOKEN}"
          method: "${API_TOKEN}"
          proxy: "${API_TOKEN}"
          headers:
            A: "{{ .vars.nope }}${API_TOKEN}"
            B: "{{ .x ${API_TOKEN}"
          max_body: "${API_TOKEN}"
        expect:
          status: "${API_TOKEN}"
          json: { $.a: { gt: "${API_TOKEN}" } }
          body: { matches: "(${API_TOKEN}" }
        capture: { c: { json: "${API_TOKEN}" } }
`})
		got := errorLinesEnv(t, env, "c.yaml")
		if len(got) < 8 {
			t.Errorf("%q: only %d errors:\n%s", secret, len(got), strings.Join(got, "\n"))
		}
		for _, l := range got {
			low := strings.ToLower(l)
			for _, piece := range []string{secret, strings.TrimSpace(secret)} {
				if len(piece) >= 3 && strings.Contains(low, strings.ToLower(piece)) || strings.Contains(low, "zq7") || strings.Contains(low, "s3cr3t") {
					t.Errorf("%q is in %q", secret, l)
				}
			}
		}
	}
}

// TestTemplateAndLiteralOfOneTextIsAnError: in one JSON value, the same
// text as a template and as a ${VAR} value cannot both be meant (values
// find their templates by text), which is said rather than guessed.
func TestTemplateAndLiteralOfOneTextIsAnError(t *testing.T) {
	writeTree(t, map[string]string{"c.yaml": `checks:
  - name: c1
    vars: { n: "7" }
    steps:
      - request:
          url: "http://127.0.0.1:1/"
          json: { a: "{{ .vars.n }}", b: "${T}" }
`})
	_, err := checks.LoadOptions{LookupEnv: lookup(map[string]string{"T": "{{ .vars.n }}"})}.Load("c.yaml")
	if err == nil || !strings.Contains(err.Error(), "checks[0].steps[0].request.json: the same text is a template here and the value of a ${VAR} there") {
		t.Errorf("err = %v", err)
	}
}

// errorLinesEnv is errorLines with the environment env.
func errorLinesEnv(t *testing.T, env map[string]string, paths ...string) []string {
	t.Helper()
	_, err := checks.LoadOptions{LookupEnv: lookup(env)}.Load(paths...)
	var les checks.LoadErrors
	if !errors.As(err, &les) {
		t.Fatalf("Load: %v; want LoadErrors", err)
	}
	lines := make([]string, len(les))
	for i, e := range les {
		lines[i] = e.Error()
	}
	return lines
}
