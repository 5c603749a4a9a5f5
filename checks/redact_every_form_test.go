package checks_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/report"
)

// secretSource is one way a check sends a secret, and how the server
// finds it in the request.
type secretSource struct {
	name string
	// env is the environment variable that holds the value as the check
	// file uses it ("" for a literal in the file).
	env string
	// request is the request block, with BASE, HOSTPORT and SECRET (the
	// literal, as a YAML string) to fill in.
	request string
	// received finds the secret in the request.
	received func(r *http.Request) string
	// basic: the request carries basic credentials (user, the secret).
	basic bool
	// file: the secret is in the file FILE (with a newline after it);
	// env, if set, names the variable whose VAR_FILE names the file.
	file bool
}

var secretSources = []secretSource{
	{name: "bearer", env: "TOKEN_BEARER",
		request:  `{ url: "BASE/PATH", auth: { bearer: "${TOKEN_BEARER}" } }`,
		received: func(r *http.Request) string { return strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ") }},
	{name: "literal-x-api-key",
		request:  `{ url: "BASE/PATH", headers: { X-Api-Key: SECRET } }`,
		received: func(r *http.Request) string { return r.Header.Get("X-Api-Key") }},
	{name: "literal-authorization",
		request:  `{ url: "BASE/PATH", headers: { Authorization: SECRET } }`,
		received: func(r *http.Request) string { return r.Header.Get("Authorization") }},
	{name: "query", env: "TOKEN_QUERY",
		request:  `{ url: "BASE/PATH", query: { q: "${TOKEN_QUERY}" } }`,
		received: func(r *http.Request) string { return r.URL.Query().Get("q") }},
	{name: "form", env: "FORM_PASSWORD",
		request:  `{ method: POST, url: "BASE/PATH", form: { password: "${FORM_PASSWORD}" } }`,
		received: func(r *http.Request) string { return r.PostFormValue("password") }},
	// URL_PASS does not look like a secret: the userinfo makes it one.
	{name: "userinfo", env: "URL_PASS", basic: true,
		request:  `{ url: "http://user:${URL_PASS}@HOSTPORT/PATH" }`,
		received: func(r *http.Request) string { _, p, _ := r.BasicAuth(); return p }},
	{name: "basic", env: "BASIC_PASSWORD", basic: true,
		request:  `{ url: "BASE/PATH", auth: { basic: { username: user, password: "${BASIC_PASSWORD}" } } }`,
		received: func(r *http.Request) string { _, p, _ := r.BasicAuth(); return p }},
	// A header that carries no credential by its name, with a value that
	// is secret by where it comes from: a file, a VAR_FILE whose VAR does
	// not look secret, a name the file's secrets: list holds, the default
	// of a secret variable.
	{name: "file-reference", file: true,
		request:  `{ url: "BASE/PATH", headers: { X-Custom: "${file:FILE}" } }`,
		received: func(r *http.Request) string { return r.Header.Get("X-Custom") }},
	{name: "var-file", env: "ACCESS_CODE", file: true,
		request:  `{ url: "BASE/PATH", headers: { X-Code: "${ACCESS_CODE}" } }`,
		received: func(r *http.Request) string { return r.Header.Get("X-Code") }},
	{name: "listed-in-secrets", env: "SESSION_ID",
		request:  `{ url: "BASE/PATH", headers: { X-Session: "${SESSION_ID}" } }`,
		received: func(r *http.Request) string { return r.Header.Get("X-Session") }},
	{name: "default-of-a-secret-variable",
		request:  `{ url: "BASE/PATH", headers: { X-Default: SECRETDEFAULT } }`,
		received: func(r *http.Request) string { return r.Header.Get("X-Default") }},
}

// echoForms are the encodings in which a server echoes what it received.
var echoForms = map[string]func(s string) string{
	"raw":           func(s string) string { return s },
	"query-escaped": url.QueryEscape,
	"rfc3986":       func(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") },
	"path-escaped":  url.PathEscape,
	"json-go": func(s string) string {
		b, _ := json.Marshal(s)
		return string(b[1 : len(b)-1])
	},
	"json-no-html": func(s string) string {
		var b bytes.Buffer
		e := json.NewEncoder(&b)
		e.SetEscapeHTML(false)
		e.Encode(s)
		return strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(b.String()), `"`), `"`)
	},
	// PHP's json_encode: "\/" and \u00xx outside ASCII.
	"json-php": func(s string) string {
		q := strconv.QuoteToASCII(s)
		return strings.ReplaceAll(q[1:len(q)-1], "/", `\/`)
	},
	// Python's json.dumps: \u00xx outside ASCII.
	"json-python": func(s string) string { q := strconv.QuoteToASCII(s); return q[1 : len(q)-1] },
	"go-quoted":   func(s string) string { q := strconv.Quote(s); return q[1 : len(q)-1] },
	// The Authorization credentials of basic auth.
	"base64-user-pass": func(s string) string { return base64.StdEncoding.EncodeToString([]byte("user:" + s)) },
}

// cutOffsets place an echo so that a cut falls that many bytes into it.
var cutOffsets = []int{1, 4, 9, 15}

// evidenceCap is the runner's MaxEvidenceBody in these tests.
const evidenceCap = 1024

// actualCut is where the engine cuts an assertion's actual.
const actualCut = 200

func pad(n int) string { return strings.Repeat("-", max(0, n)) }

// secretFor is the secret of a source: two distinctive runs of letters and
// digits around characters that every encoding escapes differently.
func secretFor(i int) (secret string, distinctive []string) {
	d1 := fmt.Sprintf("Zq%dxW3vK%c", i, 'a'+i)
	d2 := fmt.Sprintf("Hm7T%cp2Lc%d", 'A'+i, i)
	return d1 + `/+ &<é>"\` + d2, []string{d1, d2}
}

// Rule: redaction covers every form a secret takes. A secret sent as a
// bearer token, a literal X-Api-Key or Authorization header, a query or
// form value, URL userinfo or basic credentials, or in a header from a
// ${file:PATH}, a VAR_FILE, a variable the secrets: list names or the
// default of a secret variable, and echoed by the server
// raw, percent-encoded (query, RFC 3986, path), JSON-escaped (Go, without
// HTML escapes, PHP's "\/" and \u00xx, Python's \u00xx), Go-quoted or as
// the base64 credentials, in a header, in the body where the evidence cut
// and the actual's cut fall inside it, and in JSON values where the
// actual's cut falls inside it, leaves no four characters of its
// distinctive parts in the result, its JSON, or the console, JUnit and
// JSON reports.
func TestRedactionCoversEveryFormOfASecret(t *testing.T) {
	var (
		mu       sync.Mutex
		received = map[string]string{} // by source
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// /{kind}/{form}/{source}/{offset}
		parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
		if len(parts) != 4 {
			http.NotFound(w, r)
			return
		}
		kind, form, source := parts[0], parts[1], parts[2]
		k, _ := strconv.Atoi(parts[3])
		var secret string
		for _, s := range secretSources {
			if s.name == source {
				secret = s.received(r)
			}
		}
		mu.Lock()
		received[source] = secret
		mu.Unlock()
		f := echoForms[form](secret)
		switch kind {
		case "text":
			for j, k := range cutOffsets {
				// formatValue quotes a header's value: one byte more.
				w.Header().Set(fmt.Sprintf("X-Echo-%d", j), pad(actualCut-1-k)+f)
			}
			body := pad(actualCut-k) + f
			body += pad(evidenceCap-k-len(body)) + f + pad(100)
			fmt.Fprint(w, body)
		case "json":
			doc := map[string]string{}
			for j, k := range cutOffsets {
				doc[fmt.Sprintf("v%d", j)] = pad(actualCut-1-k) + f
			}
			json.NewEncoder(w).Encode(doc)
		}
	}))
	t.Cleanup(srv.Close)

	env := map[string]string{"BASE": srv.URL, "HOSTPORT": strings.TrimPrefix(srv.URL, "http://")}
	type checkCase struct {
		source, form string
		distinctive  []string
	}
	var src strings.Builder
	var cases []checkCase
	src.WriteString("secrets: [SESSION_ID]\nchecks:\n")
	dir := t.TempDir()
	for i, s := range secretSources {
		secret, distinctive := secretFor(i)
		literal, _ := json.Marshal(secret) // a JSON string is a YAML string
		withDefault, _ := json.Marshal("${UNSET_PASSWORD:-" + secret + "}")
		secretFile := filepath.Join(dir, s.name)
		if s.file {
			if err := os.WriteFile(secretFile, []byte(secret+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		switch {
		case s.env != "" && s.file:
			env[s.env+"_FILE"] = secretFile
		case s.env != "":
			env[s.env] = secret
			if s.name == "userinfo" {
				env[s.env] = strings.ReplaceAll(url.QueryEscape(secret), "+", "%20")
			}
		}
		for form := range echoForms {
			if form == "base64-user-pass" {
				if !s.basic {
					continue
				}
				b64 := echoForms[form](secret)
				distinctive = append(distinctive, b64[4:]) // the first four encode "use"
			}
			cases = append(cases, checkCase{source: s.name, form: form, distinctive: distinctive})
			for _, kind := range []string{"text", "json"} {
				for _, k := range cutOffsets {
					if kind == "json" && k != cutOffsets[0] {
						continue // one check holds every offset
					}
					path := fmt.Sprintf("%s/%s/%s/%d", kind, form, s.name, k)
					req := strings.NewReplacer("BASE", "${BASE}", "HOSTPORT", "${HOSTPORT}", "PATH", path, "SECRETDEFAULT", string(withDefault),
						"SECRET", string(literal), "FILE", secretFile).Replace(s.request)
					expect := `{ body: { equals: nope }, headers: { X-Echo-0: nope, X-Echo-1: nope, X-Echo-2: nope, X-Echo-3: nope } }`
					if kind == "json" {
						expect = `{ json: { $.v0: nope, $.v1: nope, $.v2: nope, $.v3: nope } }`
					}
					fmt.Fprintf(&src, "  - name: %s-%s-%s-%d\n    steps:\n      - name: echo\n        request: %s\n        expect: %s\n",
						s.name, form, kind, k, req, expect)
				}
			}
		}
	}
	file := filepath.Join(t.TempDir(), "forms.yaml")
	if err := os.WriteFile(file, []byte(src.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	cs, err := checks.LoadOptions{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	runner := checks.NewRunner(checks.RunnerOptions{MaxEvidenceBody: evidenceCap})
	t.Cleanup(runner.Close)
	byCase := map[string][]*checks.Result{}
	for _, c := range cs {
		res := runner.Run(context.Background(), c)
		if res.Passed || res.Reason != checks.ReasonAssertion {
			t.Errorf("%s: %s %s, want a failed assertion", c.Name, res.Reason, res.Message)
		}
		key := strings.Join(strings.SplitN(c.Name, "-", -1)[:0], "")
		for _, cc := range cases {
			if strings.HasPrefix(c.Name, cc.source+"-"+cc.form+"-") {
				key = cc.source + "/" + cc.form
			}
		}
		byCase[key] = append(byCase[key], res)
	}
	for i, s := range secretSources {
		want, _ := secretFor(i)
		if s.name == "literal-authorization" {
			want = want[:0] + want // sent as written
		}
		if got := received[s.name]; got != want {
			t.Errorf("%s: the server received %q, want %q: the test is not testing", s.name, got, want)
		}
	}
	for _, cc := range cases {
		results := byCase[cc.source+"/"+cc.form]
		if len(results) == 0 {
			t.Errorf("%s/%s: no results", cc.source, cc.form)
			continue
		}
		outputs := renderAll(t, results, srv.URL)
		for name, out := range outputs {
			if !strings.Contains(out, "REDACTED") {
				t.Errorf("%s/%s: %s: nothing was redacted, the test is not testing", cc.source, cc.form, name)
			}
			for _, d := range cc.distinctive {
				if w := leakedWindow(out, d, 4); w != "" {
					i := strings.Index(out, w)
					t.Errorf("%s/%s: %s shows %q of %q: …%s…", cc.source, cc.form, name, w, d, out[max(0, i-60):min(len(out), i+20)])
				}
			}
		}
	}
}

// renderAll is what leaves the engine for results: their JSON, and the
// console, JUnit and JSON reports, with the volatile numbers (times,
// durations, the server's port) taken out so that they cannot match a
// secret by chance.
func renderAll(t *testing.T, results []*checks.Result, base string) map[string]string {
	t.Helper()
	for _, r := range results {
		r.Started, r.Duration = time.Time{}, 0
		for i := range r.Attempts {
			a := &r.Attempts[i]
			a.Started, a.Duration = time.Time{}, 0
			for j := range a.Steps {
				a.Steps[j].Timings = checks.Timings{}
				if resp := a.Steps[j].Response; resp != nil {
					delete(resp.Headers, "Date")
				}
			}
		}
	}
	raw, err := json.Marshal(results)
	if err != nil {
		t.Fatal(err)
	}
	var console, junit, jsonOut bytes.Buffer
	report.WriteConsole(&console, results, report.ConsoleOptions{Verbose: true})
	if err := report.WriteJUnit(&junit, results, "assay"); err != nil {
		t.Fatal(err)
	}
	if err := report.WriteJSON(&jsonOut, results); err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(base, "http://")
	out := map[string]string{
		"Result JSON": string(raw),
		"console":     console.String(),
		"JUnit":       junit.String(),
		"JSON report": jsonOut.String(),
	}
	for k, v := range out {
		out[k] = strings.ReplaceAll(v, host, "HOST")
	}
	return out
}

// leakedWindow returns a substring of secret of n bytes found in out, or "".
func leakedWindow(out, secret string, n int) string {
	for i := 0; i+n <= len(secret); i++ {
		if w := secret[i : i+n]; strings.Contains(out, w) {
			return w
		}
	}
	return ""
}

// Rule: a captured secret that is not a string is hidden in each of its
// serialised forms: a number as JSON, as its digits and as a template
// renders it (9.07907907907e+11), an object as JSON, as a template renders
// it (map[...]) and by the strings in it; in the response it came from
// (before the capture ran, where a failed assertion shows it, and at the
// evidence cut) and wherever a later request sends it and a server echoes
// it.
func TestRedactionCoversCapturedValuesInEveryForm(t *testing.T) {
	const number = 907907907907
	leaves := []string{"Xo4Rb8NqL1", "Yp5Sc9OrM2"}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/token":
			// The number lies across the evidence cut.
			head := `{"obj":{"k":"` + leaves[0] + `","z":"` + leaves[1] + `"},"pad":"`
			fmt.Fprintf(w, `%s%s","n":%d}`, head, pad(evidenceCap-len(head)-len(`","n":`)-5), number)
		case "/echo":
			body := new(bytes.Buffer)
			body.ReadFrom(r.Body)
			echo := r.Header.Get("X-N") + " " + r.Header.Get("X-O") + " " + body.String()
			w.Header().Set("X-Echo", pad(actualCut-1-5)+echo)
			fmt.Fprint(w, pad(actualCut-5)+echo+pad(evidenceCap)+echo)
		}
	}))
	t.Cleanup(srv.Close)
	file := filepath.Join(t.TempDir(), "captured.yaml")
	src := `checks:
  - name: use-captured
    steps:
      - name: token
        request: { url: "${BASE}/token" }
        capture:
          n: { json: $.n, secret: true }
          o: { json: $.obj, secret: true }
      - name: echo
        request:
          method: POST
          url: "${BASE}/echo"
          headers: { X-N: "{{ .n }}", X-O: "{{ .o }}" }
          json: { n: "{{ .n }}", o: "{{ .o }}" }
        expect: { body: { equals: nope }, headers: { X-Echo: nope } }
  - name: assertion-before-capture
    steps:
      - name: token
        request: { url: "${BASE}/token" }
        expect: { json: { $.n: 1, $.obj: 1, $.obj.k: 1 }, body: { equals: nope } }
        capture:
          n: { json: $.n, secret: true }
          o: { json: $.obj, secret: true }
`
	if err := os.WriteFile(file, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	cs, err := checks.LoadOptions{LookupEnv: func(k string) (string, bool) { return srv.URL, k == "BASE" }}.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	runner := checks.NewRunner(checks.RunnerOptions{MaxEvidenceBody: evidenceCap})
	t.Cleanup(runner.Close)
	var results []*checks.Result
	for _, c := range cs {
		res := runner.Run(context.Background(), c)
		if res.Passed || res.Reason != checks.ReasonAssertion {
			t.Errorf("%s: %s %s, want a failed assertion", c.Name, res.Reason, res.Message)
		}
		results = append(results, res)
	}
	// The second step sent the captured values as templates render them.
	if body := results[0].Steps()[1].Response; body == nil || body.BodySize < int64(evidenceCap) {
		t.Fatalf("the echo step did not run as intended: %+v", results[0].Steps()[1])
	}
	distinctive := append([]string{strconv.Itoa(number)}, leaves...)
	for name, out := range renderAll(t, results, srv.URL) {
		if !strings.Contains(out, "REDACTED") {
			t.Errorf("%s: nothing was redacted, the test is not testing", name)
		}
		for _, d := range distinctive {
			if w := leakedWindow(out, d, 4); w != "" {
				i := strings.Index(out, w)
				t.Errorf("%s shows %q of %q: …%s…", name, w, d, out[max(0, i-60):min(len(out), i+20)])
			}
		}
	}
}

// Rule: a finding never quotes part of a secret. A server that echoes a
// literal X-Api-Key in an invalid ETag and Cache-Control, where the
// findings cut the value (at 120 bytes) and an excerpt of it (at 40) three
// bytes into the key, gets findings that hold none of it: not even the
// three bytes, too few for the last pass to tell from other text.
func TestRedactionCoversFindings(t *testing.T) {
	const key = "Zq9xW3vK-literal-Hm7Tp2Lc"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k := r.Header.Get("X-Api-Key")
		w.Header().Set("ETag", "bad "+pad(120-4-3)+k)
		w.Header().Set("Cache-Control", "no-cache "+pad(40-1-3)+k)
		fmt.Fprint(w, "ok")
	}))
	t.Cleanup(srv.Close)
	file := filepath.Join(t.TempDir(), "findings.yaml")
	src := `checks:
  - name: findings
    semantics: warn
    steps:
      - request: { url: "${BASE}/", headers: { X-Api-Key: "` + key + `" } }
        expect: { status: 201 }
`
	if err := os.WriteFile(file, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	cs, err := checks.LoadOptions{LookupEnv: func(k string) (string, bool) { return srv.URL, k == "BASE" }}.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	runner := checks.NewRunner(checks.RunnerOptions{})
	t.Cleanup(runner.Close)
	res := runner.Run(context.Background(), cs[0])
	rules := map[string]bool{}
	for _, f := range res.Steps()[0].Findings {
		rules[f.Rule] = true
	}
	if !rules["rfc9110/etag-syntax"] || !rules["rfc9111/cache-control-syntax"] {
		t.Fatalf("findings %v: the test is not testing", rules)
	}
	for name, out := range renderAll(t, []*checks.Result{res}, srv.URL) {
		for _, d := range []string{"Zq9xW3vK", "Hm7Tp2Lc"} {
			if w := leakedWindow(out, d, 3); w != "" {
				i := strings.Index(out, w)
				t.Errorf("%s shows %q of %q: …%s…", name, w, d, out[max(0, i-60):min(len(out), i+20)])
			}
		}
	}
}
