package demoapi

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

var etagRE = regexp.MustCompile(`^"v\d+-[0-9a-f]{8}"$`)

// result is a response with its body read, so tests can compare freely.
type result struct {
	status int
	header http.Header
	body   string
}

// newTestServer starts the API on an httptest server; the Server is
// returned so tests can switch faults.
func newTestServer(t *testing.T, opts Options) (*Server, string) {
	t.Helper()
	s := New(opts)
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return s, ts.URL
}

// do sends one request. headers are name/value pairs; a JSON body gets
// Content-Type application/json unless headers set one.
func do(t *testing.T, base, method, path, body string, headers ...string) result {
	t.Helper()
	return doCtx(t, context.Background(), base, method, path, body, headers...)
}

func doCtx(t *testing.T, ctx context.Context, base, method, path, body string, headers ...string) result {
	t.Helper()
	r, err := try(ctx, base, method, path, body, headers...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// try is do without a *testing.T, for goroutines other than the test's.
func try(ctx context.Context, base, method, path, body string, headers ...string) (result, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return result{}, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return result{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return result{}, fmt.Errorf("%s %s: reading body: %w", method, path, err)
	}
	return result{status: resp.StatusCode, header: resp.Header, body: string(b)}, nil
}

func getDoc(t *testing.T, base string, id string) (documentJSON, string) {
	t.Helper()
	r := do(t, base, http.MethodGet, "/documents/"+id, "")
	if r.status != http.StatusOK {
		t.Fatalf("GET /documents/%s: status %d, want 200 (%s)", id, r.status, r.body)
	}
	var d documentJSON
	if err := json.Unmarshal([]byte(r.body), &d); err != nil {
		t.Fatalf("GET /documents/%s: %v in %q", id, err, r.body)
	}
	return d, r.header.Get("ETag")
}

func wantStatus(t *testing.T, what string, r result, want int) {
	t.Helper()
	if r.status != want {
		t.Fatalf("%s: status %d, want %d (body %q)", what, r.status, want, r.body)
	}
}

// wantJSONError checks the body is {"error": "..."} with a JSON content type.
func wantJSONError(t *testing.T, what string, r result) {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s: Content-Type %q, want application/json", what, ct)
	}
	var e struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal([]byte(r.body), &e); err != nil || e.Error == "" {
		t.Errorf("%s: body %q is not a JSON error (%v)", what, r.body, err)
	}
}

// wantNoContent checks a 204 as RFC 9110 §15.3.5 has it: no content, no
// Content-Length other than 0.
func wantNoContent(t *testing.T, what string, r result) {
	t.Helper()
	wantStatus(t, what, r, http.StatusNoContent)
	if r.body != "" {
		t.Errorf("%s: 204 with body %q", what, r.body)
	}
	if cl := r.header.Get("Content-Length"); cl != "" && cl != "0" {
		t.Errorf("%s: 204 with Content-Length %s", what, cl)
	}
}

func TestParseFault(t *testing.T) {
	tests := []struct {
		in      string
		want    Fault
		wantErr bool
	}{
		{"", FaultNone, false},
		{"none", FaultNone, false},
		{"ignore-if-match", FaultIgnoreIfMatch, false},
		{"no-etag", FaultNoETag, false},
		{"body-on-204", FaultBodyOn204, false},
		{" SLOW ", FaultSlow, false},
		{"error", FaultError, false},
		{"teapot", FaultNone, true},
	}
	for _, tt := range tests {
		got, err := ParseFault(tt.in)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("ParseFault(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
	_, err := ParseFault("teapot")
	for _, f := range Faults {
		if !strings.Contains(err.Error(), string(f)) {
			t.Errorf("error %q does not list %q", err, f)
		}
	}
	if len(Faults) != 5 {
		t.Errorf("Faults has %d entries, want 5", len(Faults))
	}
}

func TestIndexHealthAndList(t *testing.T) {
	_, base := newTestServer(t, Options{})

	r := do(t, base, http.MethodGet, "/", "")
	wantStatus(t, "GET /", r, http.StatusOK)
	var idx struct {
		Name      string   `json:"name"`
		Endpoints []string `json:"endpoints"`
	}
	if err := json.Unmarshal([]byte(r.body), &idx); err != nil || idx.Name != "assay demo API" || len(idx.Endpoints) == 0 {
		t.Errorf("GET /: %q (%v)", r.body, err)
	}

	r = do(t, base, http.MethodGet, "/healthz", "")
	wantStatus(t, "GET /healthz", r, http.StatusOK)
	if strings.TrimSpace(r.body) != "ok" {
		t.Errorf("GET /healthz body %q, want ok", r.body)
	}

	r = do(t, base, http.MethodGet, "/documents", "")
	wantStatus(t, "GET /documents", r, http.StatusOK)
	var docs []documentJSON
	if err := json.Unmarshal([]byte(r.body), &docs); err != nil {
		t.Fatal(err)
	}
	var ids []int
	for _, d := range docs {
		ids = append(ids, d.ID)
	}
	if want := []int{1, 2, 3, 42}; !equalInts(ids, want) {
		t.Errorf("GET /documents ids %v, want %v", ids, want)
	}
	// The list revalidates too.
	r = do(t, base, http.MethodGet, "/documents", "", "If-None-Match", r.header.Get("ETag"))
	wantStatus(t, "GET /documents with If-None-Match", r, http.StatusNotModified)
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestGetDocument(t *testing.T) {
	_, base := newTestServer(t, Options{})

	r := do(t, base, http.MethodGet, "/documents/42", "")
	wantStatus(t, "GET /documents/42", r, http.StatusOK)
	var d documentJSON
	if err := json.Unmarshal([]byte(r.body), &d); err != nil {
		t.Fatal(err)
	}
	if d.ID != 42 || d.Title != "The answer" || d.Version != 1 || d.Body == "" {
		t.Errorf("document 42 = %+v", d)
	}
	for name, want := range map[string]string{
		"Content-Type":  "application/json",
		"Cache-Control": "no-cache",
		"Last-Modified": "Mon, 01 Jan 2024 00:00:00 GMT",
	} {
		if got := r.header.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if et := r.header.Get("ETag"); !etagRE.MatchString(et) {
		t.Errorf("ETag %q is not a strong version tag", et)
	}
	if r.header.Get("Date") == "" {
		t.Error("no Date header")
	}

	// Seed data and its ETags are deterministic.
	_, base2 := newTestServer(t, Options{})
	if r2 := do(t, base2, http.MethodGet, "/documents/42", ""); r2.header.Get("ETag") != r.header.Get("ETag") || r2.body != r.body {
		t.Errorf("two servers disagree on document 42: %q %q", r.header.Get("ETag"), r2.header.Get("ETag"))
	}

	h := do(t, base, http.MethodHead, "/documents/42", "")
	wantStatus(t, "HEAD /documents/42", h, http.StatusOK)
	if h.body != "" {
		t.Errorf("HEAD body %q", h.body)
	}
	for _, name := range []string{"ETag", "Content-Type", "Content-Length", "Last-Modified", "Cache-Control"} {
		if h.header.Get(name) != r.header.Get(name) {
			t.Errorf("HEAD %s = %q, GET has %q", name, h.header.Get(name), r.header.Get(name))
		}
	}
}

func TestNotFound(t *testing.T) {
	_, base := newTestServer(t, Options{})
	tests := []struct{ method, path string }{
		{http.MethodGet, "/documents/7"},
		{http.MethodGet, "/documents/abc"},
		{http.MethodGet, "/documents/042"},
		{http.MethodGet, "/documents/0"},
		{http.MethodGet, "/nope"},
		{http.MethodPatch, "/documents/7"},
		{http.MethodDelete, "/documents/7"},
	}
	for _, tt := range tests {
		r := do(t, base, tt.method, tt.path, "", "If-Match", "*")
		wantStatus(t, tt.method+" "+tt.path, r, http.StatusNotFound)
		wantJSONError(t, tt.method+" "+tt.path, r)
	}
}

func TestConditionalGet(t *testing.T) {
	_, base := newTestServer(t, Options{})
	_, etag := getDoc(t, base, "42")
	tests := []struct {
		name    string
		headers []string
		want    int
	}{
		{"current tag", []string{"If-None-Match", etag}, http.StatusNotModified},
		{"star", []string{"If-None-Match", "*"}, http.StatusNotModified},
		{"list containing it", []string{"If-None-Match", `"other", ` + etag + `, "x,y"`}, http.StatusNotModified},
		{"weak form of it (weak comparison)", []string{"If-None-Match", "W/" + etag}, http.StatusNotModified},
		{"other tag", []string{"If-None-Match", `"v0-00000000"`}, http.StatusOK},
		{"malformed is ignored", []string{"If-None-Match", "v1-nope"}, http.StatusOK},
		{"not modified since", []string{"If-Modified-Since", "Mon, 01 Jan 2024 00:00:00 GMT"}, http.StatusNotModified},
		{"modified since", []string{"If-Modified-Since", "Sun, 31 Dec 2023 23:59:59 GMT"}, http.StatusOK},
		{"If-None-Match wins over If-Modified-Since", []string{"If-None-Match", `"other"`, "If-Modified-Since", "Mon, 01 Jan 2024 00:00:00 GMT"}, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, method := range []string{http.MethodGet, http.MethodHead} {
				r := do(t, base, method, "/documents/42", "", tt.headers...)
				wantStatus(t, method, r, tt.want)
				if tt.want != http.StatusNotModified {
					continue
				}
				if r.body != "" {
					t.Errorf("%s: 304 with body %q", method, r.body)
				}
				if cl := r.header.Get("Content-Length"); cl != "" {
					t.Errorf("%s: 304 with Content-Length %s", method, cl)
				}
				if r.header.Get("ETag") != etag || r.header.Get("Cache-Control") != "no-cache" {
					t.Errorf("%s: 304 lacks the 200's ETag/Cache-Control: %v", method, r.header)
				}
			}
		})
	}
}

// TestConditionalUpdateContract is the example check in ARCHITECTURE.md,
// step by step.
func TestConditionalUpdateContract(t *testing.T) {
	_, base := newTestServer(t, Options{})
	before, etag := getDoc(t, base, "42")

	r := do(t, base, http.MethodPatch, "/documents/42", `{"title":"synthetic probe"}`, "If-Match", etag)
	wantNoContent(t, "PATCH with current ETag", r)
	newTag := r.header.Get("ETag")
	if !etagRE.MatchString(newTag) || newTag == etag {
		t.Fatalf("PATCH ETag %q, want a new strong tag (old %q)", newTag, etag)
	}

	after, afterTag := getDoc(t, base, "42")
	if after.Title != "synthetic probe" || after.Body != before.Body || after.Version != before.Version+1 {
		t.Errorf("after PATCH: %+v (before %+v)", after, before)
	}
	if afterTag != newTag {
		t.Errorf("GET ETag %q, PATCH announced %q", afterTag, newTag)
	}

	r = do(t, base, http.MethodPatch, "/documents/42", `{"title":"stale write"}`, "If-Match", etag)
	wantStatus(t, "PATCH with stale ETag", r, http.StatusPreconditionFailed)
	wantJSONError(t, "PATCH with stale ETag", r)
	if r.header.Get("ETag") != newTag {
		t.Errorf("412 ETag %q, want the current %q", r.header.Get("ETag"), newTag)
	}
	unchanged, unchangedTag := getDoc(t, base, "42")
	if unchanged != after || unchangedTag != newTag {
		t.Errorf("412 changed the document: %+v %s", unchanged, unchangedTag)
	}
}

func TestWritePreconditions(t *testing.T) {
	tests := []struct {
		name    string
		ifMatch func(etag string) []string
		want    int
	}{
		{"missing If-Match", func(string) []string { return nil }, http.StatusPreconditionRequired},
		{"current", func(e string) []string { return []string{"If-Match", e} }, http.StatusNoContent},
		{"star", func(string) []string { return []string{"If-Match", "*"} }, http.StatusNoContent},
		{"list containing current", func(e string) []string { return []string{"If-Match", `"v9-deadbeef", ` + e} }, http.StatusNoContent},
		{"weak never matches", func(e string) []string { return []string{"If-Match", "W/" + e} }, http.StatusPreconditionFailed},
		{"stale", func(string) []string { return []string{"If-Match", `"v0-00000000"`} }, http.StatusPreconditionFailed},
		{"unquoted", func(e string) []string { return []string{"If-Match", strings.Trim(e, `"`)} }, http.StatusPreconditionFailed},
		{"empty", func(string) []string { return []string{"If-Match", ""} }, http.StatusPreconditionFailed},
		{"If-None-Match star also sent", func(e string) []string { return []string{"If-Match", e, "If-None-Match", "*"} }, http.StatusPreconditionFailed},
	}
	writes := []struct{ method, body string }{
		{http.MethodPatch, `{"body":"patched"}`},
		{http.MethodPut, `{"title":"replaced","body":"replaced"}`},
		{http.MethodDelete, ""},
	}
	for _, w := range writes {
		for _, tt := range tests {
			t.Run(w.method+"/"+tt.name, func(t *testing.T) {
				_, base := newTestServer(t, Options{})
				before, etag := getDoc(t, base, "2")
				r := do(t, base, w.method, "/documents/2", w.body, tt.ifMatch(etag)...)
				if tt.want == http.StatusNoContent {
					wantNoContent(t, w.method, r)
					return
				}
				wantStatus(t, w.method, r, tt.want)
				wantJSONError(t, w.method, r)
				if d, e := getDoc(t, base, "2"); d != before || e != etag {
					t.Errorf("a refused %s changed the document: %+v", w.method, d)
				}
			})
		}
	}
}

func TestPatchAndPutContent(t *testing.T) {
	tests := []struct {
		name        string
		method      string
		contentType string
		body        string
		ifMatch     string // "" = the current tag
		want        int
	}{
		{"merge patch media type", http.MethodPatch, "application/merge-patch+json", `{"body":"b"}`, "", http.StatusNoContent},
		{"patch with unchanged id and version", http.MethodPatch, "", `{"id":3,"version":1,"title":"t"}`, "", http.StatusNoContent},
		{"empty patch", http.MethodPatch, "", `{}`, "", http.StatusNoContent},
		{"invalid JSON", http.MethodPatch, "", `{"title":`, "", http.StatusBadRequest},
		{"trailing garbage", http.MethodPatch, "", `{"title":"a"} x`, "", http.StatusBadRequest},
		{"no content", http.MethodPatch, "application/json", ``, "", http.StatusBadRequest},
		{"no content, no media type", http.MethodPatch, "", ``, "", http.StatusUnsupportedMediaType},
		{"array", http.MethodPatch, "", `["title"]`, "", http.StatusUnprocessableEntity},
		{"null title", http.MethodPatch, "", `{"title":null}`, "", http.StatusUnprocessableEntity},
		{"number title", http.MethodPatch, "", `{"title":7}`, "", http.StatusUnprocessableEntity},
		{"unknown member", http.MethodPatch, "", `{"author":"me"}`, "", http.StatusUnprocessableEntity},
		{"changed id", http.MethodPatch, "", `{"id":4}`, "", http.StatusUnprocessableEntity},
		{"changed version", http.MethodPatch, "", `{"version":7}`, "", http.StatusUnprocessableEntity},
		{"form content type", http.MethodPatch, "application/x-www-form-urlencoded", `{"title":"a"}`, "", http.StatusUnsupportedMediaType},
		{"preconditions before content", http.MethodPatch, "", `{"title":`, `"v0-00000000"`, http.StatusPreconditionFailed},
		{"put full replace", http.MethodPut, "", `{"title":"t","body":"b"}`, "", http.StatusNoContent},
		{"put as read back", http.MethodPut, "", `{"id":3,"title":"t","body":"b","version":1}`, "", http.StatusNoContent},
		{"put without body member", http.MethodPut, "", `{"title":"t"}`, "", http.StatusUnprocessableEntity},
		{"put without title", http.MethodPut, "", `{"body":"b"}`, "", http.StatusUnprocessableEntity},
		{"put merge-patch media type", http.MethodPut, "application/merge-patch+json", `{"title":"t","body":"b"}`, "", http.StatusUnsupportedMediaType},
		{"put invalid JSON", http.MethodPut, "", `nope`, "", http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, base := newTestServer(t, Options{})
			before, etag := getDoc(t, base, "3")
			ifMatch := tt.ifMatch
			if ifMatch == "" {
				ifMatch = etag
			}
			headers := []string{"If-Match", ifMatch}
			if tt.contentType != "" {
				headers = append(headers, "Content-Type", tt.contentType)
			}
			r := do(t, base, tt.method, "/documents/3", tt.body, headers...)
			after, afterTag := getDoc(t, base, "3")
			if tt.want == http.StatusNoContent {
				wantNoContent(t, tt.name, r)
				if after.Version != before.Version+1 || afterTag == etag || r.header.Get("ETag") != afterTag {
					t.Errorf("after a successful write: %+v, ETag %q (204 said %q, before %q)", after, afterTag, r.header.Get("ETag"), etag)
				}
				var sent map[string]any
				_ = json.Unmarshal([]byte(tt.body), &sent)
				for _, k := range []string{"title", "body"} {
					want := map[string]string{"title": before.Title, "body": before.Body}[k]
					if v, ok := sent[k].(string); ok {
						want = v
					}
					got := map[string]string{"title": after.Title, "body": after.Body}[k]
					if got != want {
						t.Errorf("%s = %q, want %q", k, got, want)
					}
				}
				return
			}
			wantStatus(t, tt.name, r, tt.want)
			wantJSONError(t, tt.name, r)
			if after != before || afterTag != etag {
				t.Errorf("a refused write changed the document: %+v", after)
			}
			if tt.want == http.StatusUnsupportedMediaType && tt.method == http.MethodPatch &&
				!strings.Contains(r.header.Get("Accept-Patch"), "application/merge-patch+json") {
				t.Errorf("415 to PATCH without Accept-Patch: %v", r.header)
			}
		})
	}
}

func TestPostAndDelete(t *testing.T) {
	s, base := newTestServer(t, Options{})

	r := do(t, base, http.MethodPost, "/documents", `{"title":"new","body":"text"}`)
	wantStatus(t, "POST", r, http.StatusCreated)
	loc := r.header.Get("Location")
	if loc != "/documents/43" {
		t.Fatalf("Location %q, want /documents/43", loc)
	}
	if !etagRE.MatchString(r.header.Get("ETag")) {
		t.Errorf("POST ETag %q", r.header.Get("ETag"))
	}
	d, etag := getDoc(t, base, "43")
	if (d != documentJSON{ID: 43, Title: "new", Body: "text", Version: 1}) || etag != r.header.Get("ETag") {
		t.Errorf("created %+v %s; POST said %s", d, etag, r.header.Get("ETag"))
	}
	if strings.TrimSpace(r.body) != `{"id":43,"title":"new","body":"text","version":1}` {
		t.Errorf("POST body %q", r.body)
	}

	for _, body := range []string{`{"title":"only"}`, `{"id":9,"title":"a","body":"b"}`} {
		r = do(t, base, http.MethodPost, "/documents", body)
		wantStatus(t, "POST "+body, r, http.StatusUnprocessableEntity)
	}

	r = do(t, base, http.MethodDelete, "/documents/43", "", "If-Match", etag)
	wantNoContent(t, "DELETE", r)
	wantStatus(t, "GET after DELETE", do(t, base, http.MethodGet, "/documents/43", ""), http.StatusNotFound)

	// Reset restores the seed, ETags included.
	_, tag42 := getDoc(t, base, "42")
	wantNoContent(t, "DELETE 42", do(t, base, http.MethodDelete, "/documents/42", "", "If-Match", tag42))
	s.Reset()
	if _, e := getDoc(t, base, "42"); e != tag42 {
		t.Errorf("after Reset ETag %q, want %q", e, tag42)
	}
	wantStatus(t, "GET 43 after Reset", do(t, base, http.MethodGet, "/documents/43", ""), http.StatusNotFound)
}

func TestMethodNotAllowed(t *testing.T) {
	_, base := newTestServer(t, Options{})
	tests := []struct{ method, path, allow string }{
		{http.MethodPost, "/", "GET, HEAD"},
		{http.MethodDelete, "/healthz", "GET, HEAD"},
		{http.MethodPut, "/documents", "GET, HEAD, POST"},
		{http.MethodDelete, "/documents", "GET, HEAD, POST"},
		{http.MethodPost, "/documents/42", "GET, HEAD, PATCH, PUT, DELETE"},
		{http.MethodOptions, "/documents/42", "GET, HEAD, PATCH, PUT, DELETE"},
		{"PURGE", "/documents/42", "GET, HEAD, PATCH, PUT, DELETE"},
	}
	for _, tt := range tests {
		r := do(t, base, tt.method, tt.path, "")
		wantStatus(t, tt.method+" "+tt.path, r, http.StatusMethodNotAllowed)
		wantJSONError(t, tt.method+" "+tt.path, r)
		if got := r.header.Get("Allow"); got != tt.allow {
			t.Errorf("%s %s: Allow %q, want %q", tt.method, tt.path, got, tt.allow)
		}
	}
}

// TestConcurrentWritersOneWins: of many writers holding the same ETag,
// exactly one may succeed; the rest must get 412 (no lost update).
func TestConcurrentWritersOneWins(t *testing.T) {
	_, base := newTestServer(t, Options{})
	_, etag := getDoc(t, base, "42")
	const n = 16
	statuses := make(chan int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r, err := try(context.Background(), base, http.MethodPatch, "/documents/42", fmt.Sprintf(`{"title":"writer %d"}`, i), "If-Match", etag)
			if err != nil {
				t.Error(err)
			}
			statuses <- r.status
		})
	}
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for s := range statuses {
		count[s]++
	}
	if count[http.StatusNoContent] != 1 || count[http.StatusPreconditionFailed] != n-1 {
		t.Errorf("statuses %v, want one 204 and %d 412", count, n-1)
	}
}

func TestFaultIgnoreIfMatch(t *testing.T) {
	_, base := newTestServer(t, Options{Fault: FaultIgnoreIfMatch})
	for _, headers := range [][]string{{"If-Match", `"v0-00000000"`}, {"If-Match", "W/x"}, nil} {
		_, etag := getDoc(t, base, "42")
		r := do(t, base, http.MethodPatch, "/documents/42", `{"title":"lost update"}`, headers...)
		wantNoContent(t, "stale PATCH under ignore-if-match", r)
		if nt := r.header.Get("ETag"); nt == "" || nt == etag {
			t.Errorf("ETag %q, want a new one (old %q)", nt, etag)
		}
	}
	r := do(t, base, http.MethodPut, "/documents/42", `{"title":"a","body":"b"}`, "If-Match", `"stale"`)
	wantNoContent(t, "stale PUT under ignore-if-match", r)
}

func TestFaultNoETag(t *testing.T) {
	s, base := newTestServer(t, Options{})
	_, etag := getDoc(t, base, "42")
	s.SetFault(FaultNoETag)
	if s.Fault() != FaultNoETag {
		t.Fatalf("Fault() = %q", s.Fault())
	}
	for _, r := range []result{
		do(t, base, http.MethodGet, "/documents/42", ""),
		do(t, base, http.MethodGet, "/documents", ""),
		do(t, base, http.MethodPatch, "/documents/42", `{"title":"x"}`, "If-Match", etag),
		do(t, base, http.MethodPatch, "/documents/42", `{"title":"x"}`, "If-Match", etag), // now stale: 412
		do(t, base, http.MethodPost, "/documents", `{"title":"x","body":"y"}`),
	} {
		if _, ok := r.header["Etag"]; ok {
			t.Errorf("status %d with ETag %q under no-etag", r.status, r.header.Get("ETag"))
		}
	}
	s.SetFault(FaultNone)
	if _, e := getDoc(t, base, "42"); e == "" {
		t.Error("ETag still missing after the fault is switched off")
	}
}

func TestFaultBodyOn204(t *testing.T) {
	_, base := newTestServer(t, Options{Fault: FaultBodyOn204})
	_, etag := getDoc(t, base, "42")

	// A Go client discards a 204's content but keeps the header that
	// gives the anti-pattern away.
	r := do(t, base, http.MethodPatch, "/documents/42", `{"title":"x"}`, "If-Match", etag)
	wantStatus(t, "PATCH", r, http.StatusNoContent)
	if cl := r.header.Get("Content-Length"); cl != `20` {
		t.Errorf("Content-Length %q, want 20", cl)
	}
	newTag := r.header.Get("ETag")
	if newTag == "" || newTag == etag {
		t.Errorf("ETag %q, want a new one", newTag)
	}

	// On the wire the body is really there.
	raw := rawRequest(t, base, "DELETE /documents/42 HTTP/1.1\r\nHost: x\r\nIf-Match: "+newTag+"\r\n\r\n")
	if !strings.HasPrefix(raw, "HTTP/1.1 204 No Content\r\n") || !strings.HasSuffix(raw, "\r\n\r\n"+`{"status":"deleted"}`) ||
		!strings.Contains(raw, "Content-Length: 20\r\n") || !strings.Contains(raw, "Date: ") {
		t.Errorf("raw response:\n%s", raw)
	}

	// Other statuses are unaffected.
	wantStatus(t, "GET after DELETE", do(t, base, http.MethodGet, "/documents/42", ""), http.StatusNotFound)
}

// rawRequest sends one request on a fresh connection and reads until the
// server closes it.
func rawRequest(t *testing.T, base, req string) string {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(bufio.NewReader(conn))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestFaultError(t *testing.T) {
	_, base := newTestServer(t, Options{Fault: FaultError})
	before, etag := getDoc(t, base, "42")
	for _, r := range []result{
		do(t, base, http.MethodPatch, "/documents/42", `{"title":"x"}`, "If-Match", etag),
		do(t, base, http.MethodPut, "/documents/42", `{"title":"x","body":"y"}`, "If-Match", etag),
		do(t, base, http.MethodDelete, "/documents/42", "", "If-Match", etag),
		do(t, base, http.MethodPost, "/documents", `{"title":"x","body":"y"}`),
	} {
		wantStatus(t, "write under error fault", r, http.StatusInternalServerError)
		wantJSONError(t, "write under error fault", r)
	}
	if d, e := getDoc(t, base, "42"); d != before || e != etag {
		t.Errorf("error fault changed the document: %+v %s", d, e)
	}
	wantStatus(t, "GET 43", do(t, base, http.MethodGet, "/documents/43", ""), http.StatusNotFound)
}

func TestFaultSlow(t *testing.T) {
	const delay = 30 * time.Millisecond
	_, base := newTestServer(t, Options{Fault: FaultSlow, SlowDelay: delay})
	start := time.Now()
	r := do(t, base, http.MethodGet, "/healthz", "")
	wantStatus(t, "GET under slow", r, http.StatusOK)
	if el := time.Since(start); el < delay {
		t.Errorf("response after %v, want at least %v", el, delay)
	}
	if d := New(Options{}).slowDelay; d != DefaultSlowDelay {
		t.Errorf("default SlowDelay %v, want %v", d, DefaultSlowDelay)
	}
}

// TestFaultSlowCancelled: a cancelled request ends the delay, so the
// handler returns without waiting it out (the delay here is an hour).
func TestFaultSlowCancelled(t *testing.T) {
	s := New(Options{Fault: FaultSlow, SlowDelay: time.Hour})
	started := make(chan struct{})
	s.slowStarted = func() { close(started) }
	ctx, cancel := context.WithCancel(context.Background())
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/documents/42", nil)
	rec := httptest.NewRecorder()
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.ServeHTTP(rec, req)
	}()
	<-started
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("handler still waiting after its request was cancelled")
	}
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("status %d, want 503", rec.Code)
	}
}

// TestStartStopWithSlowRequest: stop returns promptly even with a request
// stuck in an hour-long slow delay, and the client sees the request end.
func TestStartStopWithSlowRequest(t *testing.T) {
	s := New(Options{SlowDelay: time.Hour})
	started := make(chan struct{})
	s.slowStarted = func() { close(started) }
	url, stop, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	wantStatus(t, "healthz", do(t, url, http.MethodGet, "/healthz", ""), http.StatusOK)

	s.SetFault(FaultSlow)
	clientDone := make(chan error, 1)
	go func() {
		resp, err := http.Get(url + "/documents/42")
		if err == nil {
			resp.Body.Close()
		}
		clientDone <- err
	}()
	<-started
	stopped := make(chan struct{})
	go func() {
		stop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(shutdownTimeout):
		t.Fatal("stop blocked by a slow request")
	}
	<-clientDone
	stop() // idempotent
	if _, err := http.Get(url + "/healthz"); err == nil {
		t.Error("server still answering after stop")
	}
}

func TestStart(t *testing.T) {
	url, stop, err := Start("", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Errorf("url %q", url)
	}
	getDoc(t, url, "42")
	if _, _, err := Start("256.0.0.1:0", Options{}); err == nil {
		t.Error("Start on an invalid address succeeded")
	}
}

func TestListenAndServe(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrc := make(chan string, 1)
	logf := func(format string, args ...any) {
		if strings.HasPrefix(format, "demo API listening on") {
			addrc <- fmt.Sprint(args[0])
		}
	}
	done := make(chan error, 1)
	go func() { done <- ListenAndServe(ctx, "127.0.0.1:0", Options{Fault: FaultError}, logf) }()
	var addr string
	select {
	case addr = <-addrc:
	case err := <-done:
		t.Fatalf("ListenAndServe: %v", err)
	}
	wantStatus(t, "POST under error fault", do(t, "http://"+addr, http.MethodPost, "/documents", `{"title":"a","body":"b"}`), http.StatusInternalServerError)
	cancel()
	if err := <-done; err != nil {
		t.Errorf("ListenAndServe after cancel: %v", err)
	}

	// A second server on an address in use fails with a clear error.
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	err = ListenAndServe(context.Background(), busy.Addr().String(), Options{}, nil)
	if err == nil || !strings.Contains(err.Error(), "demo API") {
		t.Errorf("ListenAndServe on a busy address: %v", err)
	}
	var opErr *net.OpError
	if !errors.As(err, &opErr) {
		t.Errorf("error %v does not wrap the listen error", err)
	}
}

// TestSetFaultWhileServing toggles faults under load; run with -race.
func TestSetFaultWhileServing(t *testing.T) {
	s, base := newTestServer(t, Options{SlowDelay: time.Millisecond})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 20 {
				r, err := try(context.Background(), base, http.MethodGet, "/documents/1", "")
				if err != nil || r.status != http.StatusOK {
					t.Errorf("status %d, %v", r.status, err)
				}
			}
		})
	}
	wg.Go(func() {
		for i := range 40 {
			s.SetFault(append([]Fault{FaultNone}, Faults...)[i%(len(Faults)+1)])
		}
	})
	wg.Wait()
}

// The fault switches at run time through PUT /-/fault, for demos, and a
// bad name changes nothing.
func TestFaultSwitchesAtRunTime(t *testing.T) {
	srv := httptest.NewServer(New(Options{}))
	defer srv.Close()
	do := func(method, body string) (int, string) {
		req, _ := http.NewRequest(method, srv.URL+FaultPath, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(b))
	}
	if code, got := do("GET", ""); code != 200 || got != "none" {
		t.Fatalf("GET = %d %q", code, got)
	}
	if code, got := do("PUT", "no-etag"); code != 200 || got != "no-etag" {
		t.Fatalf("PUT no-etag = %d %q", code, got)
	}
	resp, err := http.Get(srv.URL + "/documents/1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("ETag") != "" {
		t.Fatalf("with the no-etag fault a read answers %d with ETag %q", resp.StatusCode, resp.Header.Get("ETag"))
	}
	if code, _ := do("PUT", "bogus"); code != 400 {
		t.Fatalf("PUT bogus = %d", code)
	}
	if code, got := do("PUT", ""); code != 200 || got != "none" {
		t.Fatalf("PUT none = %d %q", code, got)
	}
	if code, _ := do("DELETE", ""); code != 405 {
		t.Fatalf("DELETE = %d", code)
	}
}
