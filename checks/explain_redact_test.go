package checks_test

import (
	"strings"
	"testing"

	"github.com/assay-monitor/assay/checks"
)

// TestExplainRedactsLikeTheReports: explain hides what the reports hide:
// credential-looking query parameters written in a URL or in query:,
// credential headers written literally, userinfo passwords, auth
// literals, secret environment values, vars with credential-looking names
// and vars a template puts in a credential place; it keeps templates and
// everything else as written.
func TestExplainRedactsLikeTheReports(t *testing.T) {
	env := map[string]string{"API_TOKEN": "env-tok-111", "HOST": "api.example.com"}
	writeTree(t, map[string]string{"c.yaml": `checks:
  - name: c1
    vars: { api_key: var-key-222, k: var-k-333, plain: keep-444 }
    steps:
      - request:
          url: "https://user:url-pass-555@${HOST}/x?api_key=lit-key-666&page=2&sig={{ .vars.k }}&token=${API_TOKEN}"
          query: { access_token: q-lit-777, secret: "{{ .vars.k }}", q: keep-888 }
          headers:
            X-Api-Key: hdr-lit-999
            Authorization: "Bearer auth-lit-000"
            X-Trace: keep-aaa
          auth: { basic: { username: admin, password: pw-lit-bbb } }
      - request:
          url: "https://${HOST}/y"
          form: { password: form-lit-ccc, name: keep-ddd }
`})
	cs, err := checks.LoadOptions{LookupEnv: lookup(env)}.Load("c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out, err := checks.Explain(cs[0])
	if err != nil {
		t.Fatal(err)
	}
	text := string(out)
	for _, secret := range []string{"env-tok-111", "var-key-222", "var-k-333", "url-pass-555", "lit-key-666", "q-lit-777", "hdr-lit-999", "auth-lit-000", "pw-lit-bbb", "form-lit-ccc"} {
		if strings.Contains(text, secret) {
			t.Errorf("explain shows %s:\n%s", secret, text)
		}
	}
	for _, kept := range []string{"keep-444", "keep-888", "keep-aaa", "keep-ddd", "page=2", "sig={{ .vars.k }}", "api.example.com", "username: admin", checks.Redacted} {
		if !strings.Contains(text, kept) {
			t.Errorf("explain lost %q:\n%s", kept, text)
		}
	}
}
