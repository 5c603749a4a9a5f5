package openapi

import (
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const demoSpec = "../../internal/demoapi/openapi.yaml"

func writeSpec(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "spec.yaml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func mustLoad(t *testing.T, file string) *Spec {
	t.Helper()
	s, err := Load(file)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return s
}

func mustOp(t *testing.T, s *Spec, id string) *Operation {
	t.Helper()
	op, err := s.Operation(id)
	if err != nil {
		t.Fatal(err)
	}
	return op
}

func jsonHeader(extra ...string) http.Header {
	h := http.Header{"Content-Type": {"application/json"}}
	for i := 0; i+1 < len(extra); i += 2 {
		h.Set(extra[i], extra[i+1])
	}
	return h
}

const goodDoc = `{"id":42,"title":"The answer","body":"text","version":1}`

func TestDemoSpecValidResponses(t *testing.T) {
	s := mustLoad(t, demoSpec)
	if s.OpenAPIVersion() != "3.1.0" {
		t.Errorf("version %q", s.OpenAPIVersion())
	}
	get := mustOp(t, s, "getDocument")
	validators := []string{"ETag", `"v1-abc"`, "Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT", "Cache-Control", "no-cache"}
	cases := []struct {
		name string
		op   *Operation
		r    Response
	}{
		{"200", get, Response{Method: "GET", Status: 200, Header: jsonHeader(validators...), Body: []byte(goodDoc)}},
		{"304", get, Response{Method: "GET", Status: 304, Header: http.Header{"Etag": {`"v1-abc"`}}}},
		{"404", get, Response{Method: "GET", Status: 404, Header: jsonHeader(), Body: []byte(`{"error":"document 9 not found"}`)}},
		{"HEAD", get, Response{Method: "HEAD", Status: 200, Header: jsonHeader(validators...)}},
		{"204", mustOp(t, s, "patchDocument"), Response{Method: "PATCH", Status: 204, Header: http.Header{"Etag": {`"v2-abc"`}, "Last-Modified": {"x"}}}},
		{"list", mustOp(t, s, "listDocuments"), Response{Method: "GET", Status: 200, Header: jsonHeader(validators...), Body: []byte("[" + goodDoc + "]")}},
	}
	for _, c := range cases {
		if ps := c.op.Validate(&c.r); len(ps) != 0 {
			t.Errorf("%s: unexpected problems: %+v", c.name, ps)
		}
	}
}

func TestDemoSpecProblems(t *testing.T) {
	s := mustLoad(t, demoSpec)
	get := mustOp(t, s, "getDocument")
	validators := []string{"ETag", `"v1-abc"`, "Last-Modified", "Mon, 01 Jan 2024 00:00:00 GMT"}

	t.Run("wrong type", func(t *testing.T) {
		ps := get.Validate(&Response{Method: "GET", Status: 200, Header: jsonHeader(validators...),
			Body: []byte(`{"id":"42","title":"t","body":"b","version":1}`)})
		if len(ps) != 1 {
			t.Fatalf("want 1 problem, got %+v", ps)
		}
		p := ps[0]
		if p.Kind != KindBody || p.Pointer != "/id" || p.Name != "body /id" || p.Actual != `"42"` || p.Expected != "type integer" {
			t.Errorf("problem %+v", p)
		}
		// The spec location is the line of Document.properties.id.
		if !strings.Contains(p.Spec, "openapi.yaml:") || !strings.Contains(p.Spec, "keyword type") {
			t.Errorf("spec location %q", p.Spec)
		}
		line := lineOf(t, demoSpec, "        id: { type: integer, minimum: 1 }")
		if !strings.Contains(p.Spec, "openapi.yaml:"+line+":") {
			t.Errorf("spec location %q, want line %s", p.Spec, line)
		}
	})
	t.Run("undocumented status", func(t *testing.T) {
		ps := get.Validate(&Response{Method: "GET", Status: 418, Header: jsonHeader(), Body: []byte(`{}`)})
		if len(ps) != 1 || ps[0].Kind != KindStatus || ps[0].Actual != "418" ||
			!strings.Contains(ps[0].Expected, "200, 304, 404") || !strings.Contains(ps[0].Spec, "#/paths/~1documents~1{id}/get/responses") {
			t.Fatalf("problems %+v", ps)
		}
	})
	t.Run("missing required header", func(t *testing.T) {
		ps := get.Validate(&Response{Method: "GET", Status: 200, Header: jsonHeader("Last-Modified", "x"), Body: []byte(goodDoc)})
		if len(ps) != 1 || ps[0].Name != "header ETag" || ps[0].Actual != "absent" {
			t.Fatalf("problems %+v", ps)
		}
	})
	t.Run("header schema", func(t *testing.T) {
		ps := get.Validate(&Response{Method: "GET", Status: 200, Header: jsonHeader("ETag", "W/\"weak\"", "Last-Modified", "x"), Body: []byte(goodDoc)})
		if len(ps) != 1 || ps[0].Name != "header ETag" || ps[0].Actual != `W/"weak"` {
			t.Fatalf("problems %+v", ps)
		}
	})
	t.Run("content type", func(t *testing.T) {
		h := jsonHeader(validators...)
		h.Set("Content-Type", "text/html")
		ps := get.Validate(&Response{Method: "GET", Status: 200, Header: h, Body: []byte("<p>hi</p>")})
		if len(ps) != 1 || ps[0].Kind != KindContentType || ps[0].Actual != "text/html" || ps[0].Expected != "one of application/json" {
			t.Fatalf("problems %+v", ps)
		}
	})
	t.Run("content where none is documented", func(t *testing.T) {
		ps := mustOp(t, s, "getDocument").Validate(&Response{Method: "GET", Status: 304, Header: jsonHeader("ETag", `"x"`), Body: []byte("{}")})
		if len(ps) != 0 {
			t.Fatalf("a 304 is never judged on content, got %+v", ps)
		}
		ps = mustOp(t, s, "deleteDocument").Validate(&Response{Method: "DELETE", Status: 404, Header: jsonHeader(), Body: []byte(`{"error":"x"}`)})
		if len(ps) != 0 {
			t.Fatalf("problems %+v", ps)
		}
	})
	t.Run("several body problems, sorted by pointer", func(t *testing.T) {
		ps := mustOp(t, s, "listDocuments").Validate(&Response{Method: "GET", Status: 200, Header: jsonHeader(validators...),
			Body: []byte(`[{"id":1,"title":2,"body":"b","version":1},{"id":0,"title":"t","version":1,"extra":true}]`)})
		var ptrs []string
		for _, p := range ps {
			ptrs = append(ptrs, p.Pointer)
		}
		got := strings.Join(ptrs, " ")
		for _, want := range []string{"/0/title", "/1/id", "/1"} {
			if !strings.Contains(got, want) {
				t.Errorf("pointers %q lack %s (%+v)", got, want, ps)
			}
		}
	})
}

func lineOf(t *testing.T, file, text string) string {
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

// TestOpenAPI31Keywords shows that 3.1 schemas are validated as JSON
// Schema 2020-12, not as 3.0 schemas: type arrays with null, const and
// prefixItems are enforced.
func TestOpenAPI31Keywords(t *testing.T) {
	spec := writeSpec(t, `openapi: 3.1.0
info: {title: t, version: "1"}
paths:
  /things/{id}:
    parameters: [{name: id, in: path, required: true, schema: {type: integer}}]
    get:
      operationId: getThing
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: {$ref: "#/components/schemas/Thing"}
components:
  schemas:
    Thing:
      type: object
      required: [id]
      properties:
        id: {type: integer}
        note: {type: [string, "null"]}
        kind: {const: thing}
        pair: {type: array, prefixItems: [{type: string}, {type: integer}]}
`)
	op := mustOp(t, mustLoad(t, spec), "getThing")
	ok := op.Validate(&Response{Method: "GET", Status: 200, Header: jsonHeader(), Body: []byte(`{"id":1,"note":null,"kind":"thing","pair":["a",1]}`)})
	if len(ok) != 0 {
		t.Fatalf("valid body: %+v", ok)
	}
	ps := op.Validate(&Response{Method: "GET", Status: 200, Header: jsonHeader(), Body: []byte(`{"id":1,"note":3,"kind":"other","pair":["a","b"]}`)})
	got := map[string]Problem{}
	for _, p := range ps {
		got[p.Pointer] = p
	}
	for _, ptr := range []string{"/note", "/kind", "/pair/1"} {
		if _, ok := got[ptr]; !ok {
			t.Errorf("no problem at %s: %+v", ptr, ps)
		}
	}
	if len(ps) != 3 {
		t.Errorf("want 3 problems, got %+v", ps)
	}
	if p := got["/note"]; !strings.Contains(p.Spec, "spec.yaml:21:") {
		t.Errorf("spec location of /note: %q", p.Spec)
	}
}

// TestOpenAPI30Nullable: 3.0 schemas use nullable, which 3.0 validation
// honours (and a 3.1 type array would not be valid 3.0).
func TestOpenAPI30Nullable(t *testing.T) {
	spec := writeSpec(t, `openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /things:
    get:
      operationId: listThings
      responses:
        default:
          description: anything
          content:
            application/json:
              schema:
                type: array
                items:
                  type: object
                  properties:
                    note: {type: string, nullable: true}
                    n: {type: integer}
`)
	op := mustOp(t, mustLoad(t, spec), "listThings")
	if ps := op.Validate(&Response{Method: "GET", Status: 500, Header: jsonHeader(), Body: []byte(`[{"note":null,"n":1}]`)}); len(ps) != 0 {
		t.Fatalf("default response, valid body: %+v", ps)
	}
	ps := op.Validate(&Response{Method: "GET", Status: 200, Header: jsonHeader(), Body: []byte(`[{"note":null,"n":1.5}]`)})
	if len(ps) != 1 || ps[0].Pointer != "/0/n" || ps[0].Expected != "type integer" {
		t.Fatalf("problems %+v", ps)
	}
}

func TestFind(t *testing.T) {
	spec := writeSpec(t, `openapi: 3.0.3
info: {title: t, version: "1"}
servers: [{url: "https://api.example.com/v1"}]
paths:
  /items/{id}:
    parameters: [{name: id, in: path, required: true, schema: {type: string}}]
    get: {operationId: getItem, responses: {"200": {description: ok}}}
  /items/new:
    get: {operationId: newItem, responses: {"200": {description: ok}}}
`)
	s := mustLoad(t, spec)
	for _, c := range []struct{ method, path, want string }{
		{"GET", "/items/7", "getItem"},
		{"GET", "/v1/items/7", "getItem"},
		{"GET", "/items/new", "newItem"},
		{"HEAD", "/items/7", "getItem"},
		{"DELETE", "/items/7", ""},
		{"GET", "/other", ""},
	} {
		op, found := s.Find(c.method, c.path)
		got := ""
		if op != nil {
			got = op.ID
		}
		if got != c.want {
			t.Errorf("Find(%s %s) = %q, want %q", c.method, c.path, got, c.want)
		}
		if wantFound := c.path != "/other"; found != wantFound {
			t.Errorf("Find(%s %s) path found %v", c.method, c.path, found)
		}
	}
	if _, err := s.Operation("nope"); err == nil || !strings.Contains(err.Error(), "getItem, newItem") {
		t.Errorf("Operation(nope): %v", err)
	}
}

func TestLoadErrorsHavePositions(t *testing.T) {
	for _, c := range []struct{ name, text, want string }{
		{"yaml syntax", "openapi: 3.0.3\ninfo: {title: t, version: \"1\"}\npaths:\n  /x:\n    get: [1\n", ":6:1: "},
		{"missing description", "openapi: 3.0.3\ninfo: {title: t, version: \"1\"}\npaths:\n  /x:\n    get:\n      responses:\n        \"200\":\n          content: {}\n", ":7:9: "},
		{"unresolved ref", "openapi: 3.0.3\ninfo: {title: t, version: \"1\"}\npaths:\n  /x:\n    get:\n      responses:\n        \"200\":\n          $ref: \"#/components/responses/Nope\"\n", ":8:18: "},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Load(writeSpec(t, c.text))
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), "spec.yaml"+c.want) {
				t.Errorf("error %q lacks position %q", err, c.want)
			}
		})
	}
	if _, err := Load(filepath.Join(t.TempDir(), "none.yaml")); err == nil || !strings.Contains(err.Error(), "cannot read the spec") {
		t.Errorf("missing file: %v", err)
	}
}

func TestRemoteRefsRefused(t *testing.T) {
	_, err := Load(writeSpec(t, "openapi: 3.0.3\ninfo: {title: t, version: \"1\"}\npaths:\n  /x:\n    get:\n      responses:\n        \"200\":\n          $ref: \"http://127.0.0.1:1/r.yaml#/R\"\n"))
	if err == nil || !strings.Contains(err.Error(), "only local files") {
		t.Fatalf("err = %v", err)
	}
}

// TestValidateConcurrently: one loaded spec serves every check run at once
// (run with -race).
func TestValidateConcurrently(t *testing.T) {
	op := mustOp(t, mustLoad(t, demoSpec), "getDocument")
	done := make(chan []Problem)
	for i := 0; i < 8; i++ {
		go func() {
			done <- op.Validate(&Response{Method: "GET", Status: 200, Header: jsonHeader("ETag", `"v1"`, "Last-Modified", "x"),
				Body: []byte(`{"id":"x","title":"t","body":"b","version":1}`)})
		}()
	}
	for i := 0; i < 8; i++ {
		if ps := <-done; len(ps) != 1 || ps[0].Pointer != "/id" {
			t.Errorf("problems %+v", ps)
		}
	}
}
