package checks

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/assay-monitor/assay/internal/demoapi"
)

// brokenDemo is the demo API with two departures from its spec: document
// 42's id is a string, and /documents/teapot answers 418, a status the
// spec does not document.
func brokenDemo(t *testing.T) *httptest.Server {
	api := demoapi.New(demoapi.Options{})
	return serve(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/documents/teapot":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTeapot)
			io.WriteString(w, `{"error":"I'm a teapot"}`)
		case r.URL.Path == "/documents/42" && r.Method == http.MethodGet:
			rec := httptest.NewRecorder()
			api.ServeHTTP(rec, r)
			body := bytes.Replace(rec.Body.Bytes(), []byte(`"id":42`), []byte(`"id":"42"`), 1)
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.Header().Del("Content-Length")
			w.WriteHeader(rec.Code)
			w.Write(body)
		default:
			api.ServeHTTP(w, r)
		}
	})
}

// specPath is the demo API's spec, relative to the check file "checks.yaml"
// that the tests load (in this directory).
const specPath = "../internal/demoapi/openapi.yaml"

func TestOpenAPIWrongTypeAndUndocumentedStatus(t *testing.T) {
	srv := brokenDemo(t)
	cs := loadChecks(t, `
checks:
  - name: wrong-type
    openapi: { spec: `+specPath+` }
    steps:
      - { name: read, request: { url: "${BASE}/documents/42" } }
  - name: undocumented-status
    openapi: { spec: `+specPath+` }
    steps:
      - { name: teapot, request: { url: "${BASE}/documents/teapot" }, expect: { status: any } }
  - name: fine
    openapi: { spec: `+specPath+` }
    steps:
      - { name: list, request: { url: "${BASE}/documents" } }
      - { name: missing, request: { url: "${BASE}/documents/9" }, expect: { status: 404 } }
      - { name: head, request: { method: HEAD, url: "${BASE}/documents/1" } }
      - { name: health, request: { url: "${BASE}/healthz" } }
`, "BASE", srv.URL)

	res := runCheck(t, cs[0])
	fa := failedAssertions(res)
	if res.Passed || len(fa) != 1 {
		t.Fatalf("wrong type: %s", dump(res))
	}
	a := fa[0]
	if a.Name != "openapi body /id" || a.Actual != `"42"` || !strings.HasPrefix(a.Expected, "type integer (spec ") {
		t.Errorf("wrong type: %+v", a)
	}
	// The spec location is file:line:column of the id property, and the
	// pointer of the response schema.
	line := lineNumber(t, specPath, "        id: { type: integer, minimum: 1 }")
	if !strings.Contains(a.Message, "openapi.yaml:"+line+":") ||
		!strings.Contains(a.Message, "#/paths/~1documents~1{id}/get/responses/200/content/application~1json/schema (keyword type)") {
		t.Errorf("message %q, want the spec line %s", a.Message, line)
	}

	res = runCheck(t, cs[1])
	fa = failedAssertions(res)
	if res.Passed || len(fa) != 1 || fa[0].Name != "openapi status" || fa[0].Actual != "418" ||
		!strings.Contains(fa[0].Message, "status 418 is not documented for getDocument (GET /documents/{id})") {
		t.Fatalf("undocumented status: %s", dump(res))
	}

	res = runCheck(t, cs[2])
	if !res.Passed {
		t.Fatalf("documented responses: %s", dump(res))
	}
	for _, s := range res.Steps() {
		if len(s.Assertions) == 0 || s.Assertions[len(s.Assertions)-1].Name != "openapi" {
			t.Errorf("step %s: no openapi assertion: %+v", s.Name, s.Assertions)
		}
	}
}

func lineNumber(t *testing.T, file, text string) string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(string(data), "\n") {
		if l == text {
			return strconv.Itoa(i + 1)
		}
	}
	t.Fatalf("%q not in %s", text, file)
	return ""
}

func TestOpenAPIStepLevel(t *testing.T) {
	srv := brokenDemo(t)
	c := loadCheck(t, `
checks:
  - name: steps
    openapi: { spec: `+specPath+` }
    steps:
      - name: undocumented path, skipped
        request: { url: "${BASE}/documents/teapot" }
        expect: { status: any }
        openapi: { skip: true }
      - name: named operation
        request: { method: POST, url: "${BASE}/documents/1" }
        expect: { status: any }
        openapi: { operation: getDocument }
`, "BASE", srv.URL)
	res := runCheck(t, c)
	s := res.Steps()
	if len(s[0].Assertions) != 0 || !s[0].Passed {
		t.Errorf("skipped step: %+v", s[0])
	}
	// POST /documents/1 gets 405, which getDocument does not document.
	fa := failedAssertions(res)
	if len(fa) != 1 || fa[0].Name != "openapi status" || fa[0].Actual != "405" {
		t.Fatalf("%s", dump(res))
	}

	// Without a named operation, POST /documents/1 is not in the spec.
	c = loadCheck(t, `
checks:
  - name: undocumented
    openapi: { spec: `+specPath+` }
    steps:
      - { name: post, request: { method: POST, url: "${BASE}/documents/1" }, expect: { status: any } }
      - { name: nowhere, request: { url: "${BASE}/nowhere" }, expect: { status: any } }
`, "BASE", srv.URL)
	res = runCheck(t, c)
	fa = failedAssertions(res)
	if len(fa) != 1 || fa[0].Name != "openapi operation" || !strings.Contains(fa[0].Message, "the path is documented, but not the method POST") {
		t.Fatalf("%s", dump(res))
	}
}

func TestOpenAPILoadErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("openapi: 3.1.0\ninfo: {title: t, version: \"1\"}\npaths:\n  /x:\n    get:\n      responses:\n        \"200\": {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, block, want string }{
		{"missing file", "openapi: { spec: nope.yaml }", "checks.yaml:4:22: checks[0].openapi.spec: nope.yaml: cannot read the spec"},
		{"invalid spec", "openapi: { spec: " + bad + " }", bad + ":7:9: checks[0].openapi.spec: invalid OpenAPI document"},
		{"unknown operation", "openapi: { spec: " + specPath + ", operation: getDocs }", `checks[0].openapi.operation: no operation "getDocs"`},
		{"no spec", "openapi: { operation: getDocument }", "checks[0].openapi.spec: name the spec file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := "checks:\n  - name: x\n    steps: [ { name: a, request: { url: 'http://127.0.0.1:1/' } } ]\n    " + c.block + "\n"
			_, errs := LoadOptions{LookupEnv: envMap()}.parse("checks.yaml", []byte(src))
			if len(errs) == 0 || !strings.Contains(errs.Error(), c.want) {
				t.Fatalf("errors:\n%v\nwant one containing %q", errs, c.want)
			}
		})
	}
	_, errs := LoadOptions{LookupEnv: envMap()}.parse("checks.yaml", []byte(`checks:
  - name: x
    steps:
      - { name: a, request: { url: 'http://127.0.0.1:1/' }, openapi: { operation: getDocument } }
`))
	if !strings.Contains(errs.Error(), "an operation needs a spec") {
		t.Errorf("errors: %v", errs)
	}
}
