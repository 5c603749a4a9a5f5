// Package demoapi is a small "documents" HTTP API that gets RFC 9110
// conditional requests right, with faults that can be switched on to make it
// wrong in the specific ways assay's checks are meant to catch.
//
// It backs `assay demo-api`, `assay demo`, the example checks in checks.d and
// the tests of the checks package: a known-good server is the only way to show
// that a failing check means a broken API rather than a broken check.
package demoapi

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Fault names one way for the API to misbehave. The zero value, FaultNone,
// is the correct API.
type Fault string

// The faults the API can simulate. Each one breaks exactly one contract so
// that a check catching it can say which.
const (
	// FaultNone is the correct API.
	FaultNone Fault = ""
	// FaultIgnoreIfMatch makes PATCH, PUT and DELETE ignore their
	// preconditions: a stale (or missing) If-Match no longer yields 412 or
	// 428, the write succeeds with 204 and a new ETag. This is the lost
	// update that conditional requests exist to prevent.
	FaultIgnoreIfMatch Fault = "ignore-if-match"
	// FaultNoETag drops the ETag header from every response, so clients
	// have no validator to send back. Preconditions are still evaluated
	// against the hidden tag, as when a proxy strips the header.
	FaultNoETag Fault = "no-etag"
	// FaultBodyOn204 sends a JSON body with a Content-Length on 204
	// responses, the widely copied anti-pattern: a 204 has no content
	// (RFC 9110 §15.3.5), and a client that trusts Content-Length will
	// misread the next response on the connection.
	FaultBodyOn204 Fault = "body-on-204"
	// FaultSlow delays every response by Options.SlowDelay, to exercise
	// timeouts and latency assertions. The delay ends early when the
	// request's context is cancelled so servers still shut down promptly.
	FaultSlow Fault = "slow"
	// FaultError answers every write (POST, PATCH, PUT, DELETE) with a
	// 500 and a JSON error body, and changes nothing.
	FaultError Fault = "error"
)

// Faults lists every fault by name, in the order help text shows them.
var Faults = []Fault{FaultIgnoreIfMatch, FaultNoETag, FaultBodyOn204, FaultSlow, FaultError}

// ParseFault turns a command-line value into a Fault. The empty string (and
// "none") mean no fault; an unknown name is an error that lists the valid
// ones, so a typo in --fault is one clear line rather than a silently
// correct API.
func ParseFault(s string) (Fault, error) {
	name := strings.ToLower(strings.TrimSpace(s))
	if name == "" || name == "none" {
		return FaultNone, nil
	}
	for _, f := range Faults {
		if string(f) == name {
			return f, nil
		}
	}
	names := make([]string, len(Faults))
	for i, f := range Faults {
		names[i] = string(f)
	}
	return FaultNone, fmt.Errorf("unknown fault %q (valid: %s)", s, strings.Join(names, ", "))
}

// DefaultSlowDelay is how long FaultSlow delays a response when
// Options.SlowDelay is not set: longer than a typical check timeout in the
// examples, short enough for a demo.
const DefaultSlowDelay = 2 * time.Second

// maxBodyBytes bounds request bodies; documents are small and the API is
// reachable by anything that can reach the listener.
const maxBodyBytes = 1 << 20

// Options configures a Server.
type Options struct {
	// Fault is the fault active from the start; FaultNone for a correct API.
	Fault Fault
	// SlowDelay is the delay FaultSlow adds; DefaultSlowDelay when zero or
	// negative. A field so tests can use milliseconds.
	SlowDelay time.Duration
}

// Server is the demo API. It implements http.Handler and is safe for
// concurrent use; faults can be switched while it serves.
type Server struct {
	mu        sync.Mutex
	fault     Fault
	slowDelay time.Duration
	docs      map[int]*document
	nextID    int
	// listModified is when the collection last changed, deletes included.
	listModified time.Time

	// now is the clock for Last-Modified on writes.
	now func() time.Time
	// slowStarted, when set, is called as a slow delay begins, so tests can
	// await an in-flight slow request instead of sleeping.
	slowStarted func()
}

// New returns a Server holding the seed documents.
func New(opts Options) *Server {
	d := opts.SlowDelay
	if d <= 0 {
		d = DefaultSlowDelay
	}
	s := &Server{fault: opts.Fault, slowDelay: d, now: time.Now}
	s.Reset()
	return s
}

// SetFault switches the active fault; requests already in flight finish
// with the fault they started with. An unknown value behaves as FaultNone
// (validate user input with ParseFault).
func (s *Server) SetFault(f Fault) {
	s.mu.Lock()
	s.fault = f
	s.mu.Unlock()
}

// Fault returns the active fault.
func (s *Server) Fault() Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fault
}

// Reset restores the seed documents, so a test or a demo run starts from a
// known state (including the ETags, which depend only on content). The
// active fault is left as it is.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.docs = make(map[int]*document, len(seed))
	s.nextID = 1
	s.listModified = seedTime
	for _, d := range seed {
		doc := newDocument(d.ID, d.Title, d.Body, 1, seedTime)
		s.docs[d.ID] = doc
		if d.ID >= s.nextID {
			s.nextID = d.ID + 1
		}
	}
}

// seedTime is the Last-Modified of every seed document: fixed, so responses
// are deterministic.
var seedTime = time.Date(2024, time.January, 1, 0, 0, 0, 0, time.UTC)

// seed is the data Reset restores. Document 42 is the one the example checks
// read and update.
var seed = []documentJSON{
	{ID: 1, Title: "Getting started", Body: "assay runs declarative HTTP checks and asserts on their responses."},
	{ID: 2, Title: "Conditional requests", Body: "Send If-Match with the ETag you read; a stale tag gets 412 Precondition Failed."},
	{ID: 3, Title: "No content", Body: "A 204 response ends at the header section: it has no content."},
	{ID: 42, Title: "The answer", Body: "The answer to the ultimate question of life, the universe and everything."},
}

// documentJSON is a document's representation on the wire.
type documentJSON struct {
	ID      int    `json:"id"`
	Title   string `json:"title"`
	Body    string `json:"body"`
	Version int    `json:"version"`
}

// document is a stored document with its validators, computed once per
// write because every GET needs them.
type document struct {
	documentJSON
	modified time.Time
	encoded  []byte // the JSON representation, ending in a newline
	etag     string // strong entity-tag, quotes included
}

func newDocument(id int, title, body string, version int, modified time.Time) *document {
	d := &document{
		documentJSON: documentJSON{ID: id, Title: title, Body: body, Version: version},
		modified:     modified,
	}
	d.encoded = mustJSON(d.documentJSON)
	sum := sha256.Sum256(d.encoded)
	// A strong tag: it changes whenever the representation's bytes change
	// (the hash) and on every write (the version), even one that restores
	// earlier content.
	d.etag = `"v` + strconv.Itoa(version) + "-" + hex.EncodeToString(sum[:4]) + `"`
	return d
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("demoapi: encoding %T: %v", v, err))
	}
	return append(b, '\n')
}

// response is a handler's answer, written by Server.write after the lock is
// released; keeping faults that change the wire format (no-etag,
// body-on-204) in one writer keeps them out of the handlers.
type response struct {
	status      int
	header      http.Header
	contentType string
	body        []byte // nil: no content
	// faultBody is what FaultBodyOn204 puts in a 204.
	faultBody []byte
}

func (r response) with(key, value string) response {
	if r.header == nil {
		r.header = make(http.Header)
	}
	r.header.Set(key, value)
	return r
}

func jsonResponse(status int, body []byte) response {
	return response{status: status, contentType: "application/json", body: body}
}

// errorResponse is the JSON error every non-2xx answer carries, so a check
// failure can quote the reason.
func errorResponse(status int, format string, args ...any) response {
	return jsonResponse(status, mustJSON(struct {
		Error string `json:"error"`
	}{fmt.Sprintf(format, args...)}))
}

func methodNotAllowed(r *http.Request, allow string) response {
	return errorResponse(http.StatusMethodNotAllowed, "method %s not allowed on %s (allowed: %s)", r.Method, r.URL.Path, allow).
		with("Allow", allow)
}

// Allow values, one per kind of resource.
const (
	allowRead       = "GET, HEAD"
	allowCollection = "GET, HEAD, POST"
	allowDocument   = "GET, HEAD, PATCH, PUT, DELETE"
)

var indexBody = mustJSON(struct {
	Name      string   `json:"name"`
	Endpoints []string `json:"endpoints"`
}{
	Name: "assay demo API",
	Endpoints: []string{
		"GET /healthz",
		"GET /documents",
		"POST /documents",
		"GET /documents/{id}",
		"PATCH /documents/{id}",
		"PUT /documents/{id}",
		"DELETE /documents/{id}",
	},
})

// FaultPath switches the fault at run time, for demos: GET shows the
// active one, PUT with a fault name as the body (empty: none) sets it.
// It is never faulty itself.
const FaultPath = "/-/fault"

// ServeHTTP routes a request, applying the active fault.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == FaultPath {
		s.serveFault(w, r)
		return
	}
	s.mu.Lock()
	fault, delay, started := s.fault, s.slowDelay, s.slowStarted
	s.mu.Unlock()

	if fault == FaultSlow && !wait(r, delay, started) {
		// The client went away or the server is shutting down; the
		// answer is for the latter, the former never reads it.
		s.write(w, r, FaultNone, errorResponse(http.StatusServiceUnavailable,
			"request cancelled during the slow fault's delay").with("Connection", "close"))
		return
	}
	s.write(w, r, fault, s.route(w, r, fault))
}

func (s *Server) serveFault(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodPut:
		b, err := io.ReadAll(io.LimitReader(r.Body, 64))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f, err := ParseFault(strings.TrimSpace(string(b)))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.SetFault(f)
	default:
		w.Header().Set("Allow", "GET, HEAD, PUT")
		http.Error(w, "use GET or PUT", http.StatusMethodNotAllowed)
		return
	}
	name := string(s.Fault())
	if name == "" {
		name = "none"
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, name+"\n")
}

// wait blocks for d or until the request is cancelled, reporting whether the
// full delay elapsed.
func wait(r *http.Request, d time.Duration, started func()) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	if started != nil {
		started()
	}
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

func (s *Server) route(w http.ResponseWriter, r *http.Request, fault Fault) response {
	path := r.URL.Path
	switch {
	case path == "/":
		if !isRead(r.Method) {
			return methodNotAllowed(r, allowRead)
		}
		return jsonResponse(http.StatusOK, indexBody)
	case path == "/healthz":
		if !isRead(r.Method) {
			return methodNotAllowed(r, allowRead)
		}
		return response{status: http.StatusOK, contentType: "text/plain; charset=utf-8", body: []byte("ok\n")}
	case path == "/documents":
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			return s.list(r)
		case http.MethodPost:
			return s.create(w, r, fault)
		}
		return methodNotAllowed(r, allowCollection)
	case strings.HasPrefix(path, "/documents/"):
		id, ok := parseID(strings.TrimPrefix(path, "/documents/"))
		if !ok {
			return errorResponse(http.StatusNotFound, "no such resource: %s", path)
		}
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			return s.get(r, id)
		case http.MethodPatch, http.MethodPut:
			return s.update(w, r, id, fault)
		case http.MethodDelete:
			return s.remove(r, id, fault)
		}
		return methodNotAllowed(r, allowDocument)
	}
	return errorResponse(http.StatusNotFound, "no such resource: %s", path)
}

func isRead(method string) bool {
	return method == http.MethodGet || method == http.MethodHead
}

// parseID accepts only the canonical decimal form, so each document has one
// URL ("/documents/042" is not document 42).
func parseID(s string) (int, bool) {
	id, err := strconv.Atoi(s)
	if err != nil || id <= 0 || strconv.Itoa(id) != s {
		return 0, false
	}
	return id, true
}

// validators are the headers every representation of a document carries.
// no-cache: caches may store it but must revalidate, which is what makes
// the ETag worth having.
func validators(etag string, modified time.Time) http.Header {
	return http.Header{
		"Etag":          {etag},
		"Last-Modified": {modified.UTC().Format(http.TimeFormat)},
		"Cache-Control": {"no-cache"},
	}
}

func (s *Server) list(r *http.Request) response {
	s.mu.Lock()
	docs := make([]documentJSON, 0, len(s.docs))
	for _, d := range s.docs {
		docs = append(docs, d.documentJSON)
	}
	modified := s.listModified
	s.mu.Unlock()
	sort.Slice(docs, func(i, j int) bool { return docs[i].ID < docs[j].ID })

	body := mustJSON(docs)
	sum := sha256.Sum256(body)
	etag := `"list-` + hex.EncodeToString(sum[:4]) + `"`
	return readResponse(r, validators(etag, modified), etag, modified, body)
}

func (s *Server) get(r *http.Request, id int) response {
	s.mu.Lock()
	d := s.docs[id]
	s.mu.Unlock()
	if d == nil { // a stored *document is never modified, so d is safe to read unlocked
		return errorResponse(http.StatusNotFound, "document %d not found", id)
	}
	return readResponse(r, validators(d.etag, d.modified), d.etag, d.modified, d.encoded)
}

// readResponse answers a GET or HEAD, evaluating If-None-Match and, only in
// its absence, If-Modified-Since (RFC 9110 §13.2.2 steps 3 and 4).
func readResponse(r *http.Request, h http.Header, etag string, modified time.Time, body []byte) response {
	notModified := false
	if inm, ok := r.Header["If-None-Match"]; ok {
		notModified = noneMatchFails(inm, etag)
	} else if ims := r.Header.Get("If-Modified-Since"); ims != "" {
		// An invalid date is ignored (§13.1.3). Last-Modified has
		// one-second resolution, so compare at that resolution.
		if t, err := http.ParseTime(ims); err == nil && !modified.Truncate(time.Second).After(t) {
			notModified = true
		}
	}
	if notModified {
		// A 304 carries the fields a 200 would have (ETag,
		// Cache-Control, ...) but no content (§15.4.5).
		return response{status: http.StatusNotModified, header: h}
	}
	resp := jsonResponse(http.StatusOK, body)
	resp.header = h
	return resp
}

// preconditions evaluates If-Match and If-None-Match for a write to an
// existing document (RFC 9110 §13.2.2 steps 1 and 3). A write without
// If-Match is refused with 428 (RFC 6585 §3): that is how a server stops
// blind overwrites by clients that never read.
func preconditions(r *http.Request, d *document) (response, bool) {
	im, ok := r.Header["If-Match"]
	if !ok {
		return errorResponse(http.StatusPreconditionRequired,
			"%s requires If-Match: GET /documents/%d and send its ETag", r.Method, d.ID), false
	}
	if !matchStrong(im, d.etag) {
		return errorResponse(http.StatusPreconditionFailed,
			"If-Match does not match the current ETag of document %d (strong comparison; it changed, or the tag is weak): nothing was changed", d.ID).
			with("ETag", d.etag), false
	}
	if inm, ok := r.Header["If-None-Match"]; ok && noneMatchFails(inm, d.etag) {
		return errorResponse(http.StatusPreconditionFailed,
			"If-None-Match matches the current ETag of document %d: nothing was changed", d.ID).
			with("ETag", d.etag), false
	}
	return response{}, true
}

func (s *Server) update(w http.ResponseWriter, r *http.Request, id int, fault Fault) response {
	if fault == FaultError {
		return injectedError()
	}
	patch := r.Method == http.MethodPatch
	// Read the content before taking the lock; its errors are reported
	// only after the preconditions, which take precedence (§13.2.1).
	data, readErr := readBody(w, r)

	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.docs[id]
	if d == nil {
		return errorResponse(http.StatusNotFound, "document %d not found", id)
	}
	if fault != FaultIgnoreIfMatch {
		if resp, ok := preconditions(r, d); !ok {
			return resp
		}
	}
	if readErr != nil {
		return *readErr
	}
	if resp, ok := checkContentType(r, patch); !ok {
		return resp
	}
	mode := modeReplace
	if patch {
		mode = modeMerge
	}
	f, errResp := decodeFields(data, mode, d)
	if errResp != nil {
		return *errResp
	}
	title, body := d.Title, d.Body
	if f.title != nil {
		title = *f.title
	}
	if f.body != nil {
		body = *f.body
	}
	nd := newDocument(id, title, body, d.Version+1, s.now())
	s.docs[id] = nd
	s.listModified = nd.modified
	return response{
		status:    http.StatusNoContent,
		header:    validators(nd.etag, nd.modified),
		faultBody: []byte(`{"status":"updated"}`),
	}
}

func (s *Server) remove(r *http.Request, id int, fault Fault) response {
	if fault == FaultError {
		return injectedError()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.docs[id]
	if d == nil {
		return errorResponse(http.StatusNotFound, "document %d not found", id)
	}
	if fault != FaultIgnoreIfMatch {
		if resp, ok := preconditions(r, d); !ok {
			return resp
		}
	}
	delete(s.docs, id)
	s.listModified = s.now()
	return response{status: http.StatusNoContent, faultBody: []byte(`{"status":"deleted"}`)}
}

func (s *Server) create(w http.ResponseWriter, r *http.Request, fault Fault) response {
	if fault == FaultError {
		return injectedError()
	}
	data, readErr := readBody(w, r)
	if readErr != nil {
		return *readErr
	}
	if resp, ok := checkContentType(r, false); !ok {
		return resp
	}
	f, errResp := decodeFields(data, modeCreate, nil)
	if errResp != nil {
		return *errResp
	}
	s.mu.Lock()
	id := s.nextID
	s.nextID++
	d := newDocument(id, *f.title, *f.body, 1, s.now())
	s.docs[id] = d
	s.listModified = d.modified
	s.mu.Unlock()

	resp := jsonResponse(http.StatusCreated, d.encoded)
	resp.header = validators(d.etag, d.modified)
	resp.header.Set("Location", "/documents/"+strconv.Itoa(id))
	return resp
}

func injectedError() response {
	return errorResponse(http.StatusInternalServerError, "internal server error (injected by the %q fault); nothing was changed", FaultError)
}

// write sends resp, applying the faults that change the wire format.
func (s *Server) write(w http.ResponseWriter, r *http.Request, fault Fault, resp response) {
	h := w.Header()
	for k, v := range resp.header {
		h[k] = v
	}
	if fault == FaultNoETag {
		h.Del("ETag")
	}
	if resp.status == http.StatusNoContent && fault == FaultBodyOn204 {
		writeBodyOn204(w, resp.faultBody)
		return
	}
	if resp.body != nil {
		h.Set("Content-Type", resp.contentType)
		// Explicit, so HEAD gets the length GET would send.
		h.Set("Content-Length", strconv.Itoa(len(resp.body)))
	}
	w.WriteHeader(resp.status)
	if resp.body != nil && r.Method != http.MethodHead {
		_, _ = w.Write(resp.body)
	}
}

// writeBodyOn204 commits the anti-pattern on purpose. net/http rightly
// refuses to send content with a 204, so the response is written on the
// hijacked connection, which is then closed: after a body a client does not
// expect, the connection cannot be reused.
func writeBodyOn204(w http.ResponseWriter, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// Not hijackable (HTTP/2, a recorder): the best available is
		// the header; net/http drops the body.
		w.WriteHeader(http.StatusNoContent)
		_, _ = w.Write(body)
		return
	}
	defer conn.Close()
	h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	h.Set("Connection", "close")
	_, _ = buf.WriteString("HTTP/1.1 204 No Content\r\n")
	_ = h.Write(buf)
	_, _ = buf.WriteString("\r\n")
	_, _ = buf.Write(body)
	_ = buf.Flush()
}
