package checks

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// davServer is a document that answers a successful PUT with 204 and no
// ETag, as Apache mod_dav does (RFC 9110 §9.3.4 allows it); its faults
// make it break the contract in one way each.
type davServer struct {
	mu  sync.Mutex
	doc string
	// ignoreIfMatch applies a write whatever its If-Match.
	ignoreIfMatch bool
	// fixedETag gives every version the same ETag.
	fixedETag bool
	// weak gives weak ETags.
	weak bool
	// writeOnStale changes the document although it answers 412.
	writeOnStale bool
	// etagOnWrite sends the new ETag with the 204.
	etagOnWrite bool
	// asWritten stores the content as written, so that the same content
	// has the same ETag (a hash of it).
	asWritten bool
}

func (s *davServer) etag() string {
	if s.fixedETag {
		return `"v1"`
	}
	sum := sha256.Sum256([]byte(s.doc))
	tag := `"` + hex.EncodeToString(sum[:6]) + `"`
	if s.weak {
		return "W/" + tag
	}
	return tag
}

func (s *davServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch r.Method {
	case http.MethodGet:
		w.Header().Set("ETag", s.etag())
		io.WriteString(w, s.doc)
	case http.MethodPut:
		body, _ := io.ReadAll(r.Body)
		im := r.Header.Get("If-Match")
		switch {
		case im == "":
			w.WriteHeader(http.StatusPreconditionRequired)
		case im != s.etag() && !s.ignoreIfMatch:
			if s.writeOnStale {
				s.doc += "!"
			}
			w.WriteHeader(http.StatusPreconditionFailed)
		default:
			s.doc = string(body) + " " + s.etag() // a new version each time
			if s.asWritten {
				s.doc = string(body)
			}
			if s.etagOnWrite {
				w.Header().Set("ETag", s.etag())
			}
			w.WriteHeader(http.StatusNoContent)
		}
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}

func davContract(extra string) string {
	return `
checks:
  - name: dav
    semantics: strict
    contract:
      type: conditional-update
      url: "${BASE}/doc"
      method: PUT
      body: "written by the contract"
` + extra
}

// TestConditionalUpdateWithoutWriteETag: by default the write needs no
// ETag; the contract reads the new one after the write and still proves
// that the stale If-Match gets 412 and changes nothing.
func TestConditionalUpdateWithoutWriteETag(t *testing.T) {
	c := loadCheck(t, davContract(""), "BASE", "http://127.0.0.1:1")
	want := []string{
		"read: GET returns a strong ETag",
		"conditional write: PUT with If-Match succeeds",
		"read after write: GET returns a new strong ETag",
		"stale write: PUT with the old If-Match gets 412",
		"unchanged: GET shows the ETag of the successful write",
		"revalidate: If-None-Match with the current ETag gets 304",
	}
	if got := stepNames(c); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("steps:\n%s", strings.Join(got, "\n"))
	}
	if w := c.Steps[1]; w.Expect.ETag != "" || w.Expect.Headers != nil || w.Capture != nil || w.Expect.Body == nil {
		t.Errorf("the write asserts on an ETag: %+v", w.Expect)
	}

	cases := []struct {
		name    string
		srv     *davServer
		extra   string
		step    string
		message string
	}{
		{name: "Apache-like: 204 without ETag passes", srv: &davServer{doc: "v1"}, extra: "      not_modified: false\n"},
		{name: "required: the write must carry the ETag", srv: &davServer{doc: "v1"}, extra: "      write_etag: required\n      not_modified: false\n",
			step: "conditional write: PUT with If-Match succeeds with a new ETag", message: `, got nothing (and 1 more failed assertions)`},
		{name: "a stale If-Match that is applied fails", srv: &davServer{doc: "v1", ignoreIfMatch: true}, extra: "      not_modified: false\n",
			step: "stale write: PUT with the old If-Match gets 412", message: "status: expected 412, got 204"},
		{name: "a write that keeps the ETag fails", srv: &davServer{doc: "v1", fixedETag: true}, extra: "      not_modified: false\n",
			step: "read after write: GET returns a new strong ETag", message: `header ETag: expected not "\"v1\"", got "\"v1\"" (` + unchangedETagHint + ")"},
		{name: "required: a write that keeps the ETag fails", srv: &davServer{doc: "v1", fixedETag: true, etagOnWrite: true}, extra: "      write_etag: required\n      not_modified: false\n",
			step: "conditional write: PUT with If-Match succeeds with a new ETag", message: `header ETag: expected not "\"v1\"", got "\"v1\"" (` + unchangedETagHint + ")"},
		{name: "a refused write that changes the document fails", srv: &davServer{doc: "v1", writeOnStale: true}, extra: "      not_modified: false\n",
			step: "unchanged: GET shows the ETag of the successful write", message: "header ETag: expected "},
		{name: "a weak ETag on the read stays a failure", srv: &davServer{doc: "v1", weak: true},
			step: "read: GET returns a strong ETag", message: "a weak tag never matches If-Match, which uses the strong comparison (RFC 9110 §13.1.1)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := serve(t, tc.srv.ServeHTTP)
			res := runCheck(t, loadCheck(t, davContract(tc.extra), "BASE", srv.URL))
			if tc.step == "" {
				if !res.Passed {
					t.Fatalf("%s", dump(res))
				}
				return
			}
			fs := res.FailedStep()
			if res.Passed || fs == nil || fs.Name != tc.step || fs.Reason != ReasonAssertion || !strings.Contains(fs.Message, tc.message) {
				t.Fatalf("want an assertion failure at %q with %q, got\n%s", tc.step, tc.message, dump(res))
			}
		})
	}
}

func TestWriteETagLoadErrors(t *testing.T) {
	expectLines(t, loadErrorLines(t, davContract("      write_etag: sometimes\n"), "BASE", "http://127.0.0.1:1"), []string{
		`c.yaml:10:19: checks[0].contract.write_etag: expected required or optional, got "sometimes"`,
	})
	expectLines(t, loadErrorLines(t, `
checks:
  - name: mna
    contract: { type: method-not-allowed, url: "http://127.0.0.1:1/x", allowed: [GET], methods: [POST], write_etag: required }
`), []string{
		`c.yaml:4:15: checks[0].contract: method, body, json, expect_status, write_etag, require_precondition and not_modified belong to the conditional-update contract`,
	})
}

// TestExplainShowsTheReadAfterWrite: explain prints the learned-ETag
// step, and its output runs the same contract.
func TestExplainShowsTheReadAfterWrite(t *testing.T) {
	srv := serve(t, (&davServer{doc: "v1"}).ServeHTTP)
	c := loadCheck(t, davContract("      not_modified: false\n"), "BASE", srv.URL)
	out, err := Explain(c)
	if err != nil {
		t.Fatal(err)
	}
	text := string(out)
	for _, want := range []string{
		"# contract conditional-update expanded into 5 steps\n",
		"      - name: 'read after write: GET returns a new strong ETag'\n        request:\n          method: GET\n",
		"          headers:\n            ETag: {not_equals: '{{ .etag }}'}\n          etag: strong\n        capture:\n          updated_etag: {header: ETag}\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("explain output lacks\n%s\n--- output:\n%s", want, text)
		}
	}
	if res := runCheck(t, loadCheck(t, text)); !res.Passed {
		t.Fatalf("explained check: %s", dump(res))
	}
}

// TestConditionalUpdateOnContentHashETags: where the ETag is a hash of
// the content, writing the same content twice keeps the ETag, and the
// second run cannot prove anything: it fails saying so. Content that
// holds the read's ETag changes each run.
func TestConditionalUpdateOnContentHashETags(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		second     string // the failed step of the second run, or ""
	}{
		{"the same content each run", `"written by the contract"`, "read after write: GET returns a new strong ETag"},
		{"content with the read's ETag", `"written by the contract {{ .etag }}"`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := serve(t, (&davServer{doc: "v1", asWritten: true}).ServeHTTP)
			c := loadCheck(t, `
checks:
  - name: dav
    contract: { type: conditional-update, url: "${BASE}/doc", method: PUT, body: `+tc.body+`, not_modified: false }
`, "BASE", srv.URL)
			r := newTestRunner(t)
			if res := r.Run(t.Context(), c); !res.Passed {
				t.Fatalf("first run: %s", dump(res))
			}
			res := r.Run(t.Context(), c)
			if tc.second == "" {
				if !res.Passed {
					t.Fatalf("second run: %s", dump(res))
				}
				return
			}
			if fs := res.FailedStep(); fs == nil || fs.Name != tc.second || !strings.HasSuffix(fs.Message, "("+unchangedETagHint+")") {
				t.Fatalf("second run: want a failure at %q with the hint, got %s", tc.second, dump(res))
			}
		})
	}
}
