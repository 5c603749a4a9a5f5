package scaffold

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/assay-monitor/assay/checks/openapi"
	"github.com/getkin/kin-openapi/openapi3"
)

// Options tune FromOpenAPI.
type Options struct {
	// BaseURL is where the API is served (an absolute http or https URL);
	// empty means the spec's first server.
	BaseURL string
	// SpecRef is how the generated file names the spec in its openapi:
	// blocks: a path relative to the generated file, or absolute.
	SpecRef string
	// Source names the spec in the file's head comment (the path given).
	Source string
	// Writes adds a conditional-update contract for each resource whose
	// PUT or PATCH takes If-Match.
	Writes bool
}

// Generated is a check file made from a spec.
type Generated struct {
	// File is the content of the check file.
	File []byte
	// Checks is the number of checks in it.
	Checks int
	// LeftOut names the operations not generated and why, as the file's
	// last comment lists them.
	LeftOut []string
}

// ErrNothing is returned when no operation of the spec can be generated.
var ErrNothing = errors.New("no GET operation of the spec can be called without parameters that lack an example")

// FromOpenAPI writes a check file for the spec: a check per GET operation
// that can be called without unknown parameters (each required path,
// query and header parameter has an example), expecting the documented
// success status and validating the response against the spec; with
// Writes, a conditional-update contract per resource whose PUT or PATCH
// takes If-Match. Operations left out are listed in a comment with the
// reason.
func FromOpenAPI(spec *openapi.Spec, o Options) (*Generated, error) {
	doc := spec.Document()
	base, err := baseURL(doc, o.BaseURL)
	if err != nil {
		return nil, err
	}
	g := &generator{doc: doc, base: base, opts: o, names: map[string]bool{}}
	var paths []string
	if doc.Paths != nil {
		paths = doc.Paths.Keys()
	}
	sort.Strings(paths)
	for _, p := range paths {
		item := doc.Paths.Value(p)
		if item == nil {
			continue
		}
		if op := item.Get; op != nil {
			g.getCheck(p, item, op)
		}
		if o.Writes {
			g.contractCheck(p, item)
		}
	}
	if g.checks == 0 {
		return &Generated{LeftOut: g.leftOut}, ErrNothing
	}
	return &Generated{File: g.file(), Checks: g.checks, LeftOut: g.leftOut}, nil
}

// baseURL is the API's URL without a trailing slash: given, or the
// spec's first server with its variables' defaults.
func baseURL(doc *openapi3.T, given string) (string, error) {
	raw := given
	if raw == "" {
		if len(doc.Servers) == 0 || doc.Servers[0] == nil {
			return "", errors.New("the spec names no server: give the API's URL with --base-url")
		}
		srv := doc.Servers[0]
		raw = srv.URL
		for name, v := range srv.Variables {
			if v != nil {
				raw = strings.ReplaceAll(raw, "{"+name+"}", v.Default)
			}
		}
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		if given == "" {
			return "", fmt.Errorf("the spec's first server %q is not an absolute http or https URL: give the API's URL with --base-url", raw)
		}
		return "", fmt.Errorf("--base-url %q: expected an absolute http or https URL like http://127.0.0.1:8787", given)
	}
	return strings.TrimSuffix(raw, "/"), nil
}

// generator accumulates the checks of a file.
type generator struct {
	doc     *openapi3.T
	base    string
	opts    Options
	names   map[string]bool
	b       strings.Builder
	checks  int
	leftOut []string
}

// request is what a generated request sends besides its method.
type request struct {
	url     string // a template, escaped
	query   map[string]string
	headers map[string]string
	auth    string // a YAML flow mapping, or ""
	notes   []string
}

func (g *generator) skip(method, path string, op *openapi3.Operation, why string) {
	g.leftOut = append(g.leftOut, fmt.Sprintf("%s %s%s: %s", method, path, opID(op), why))
}

func opID(op *openapi3.Operation) string {
	if op == nil || op.OperationID == "" {
		return ""
	}
	return " (" + op.OperationID + ")"
}

// getCheck writes the check of a GET operation, or says why it cannot.
func (g *generator) getCheck(path string, item *openapi3.PathItem, op *openapi3.Operation) {
	status, ok := successStatus(op)
	if !ok {
		g.skip("GET", path, op, "it documents no success (2xx) response")
		return
	}
	req, why := g.request(path, item, op)
	if why != "" {
		g.skip("GET", path, op, why)
		return
	}
	name := g.name(op.OperationID, "get"+path)
	g.head(name, "GET "+path, op, []string{"openapi"}, req.notes)
	ref := "spec: " + str(text(g.opts.SpecRef))
	if op.OperationID != "" {
		ref += ", operation: " + str(text(op.OperationID))
	}
	fmt.Fprintf(&g.b, "    openapi: { %s }\n", ref)
	g.b.WriteString("    steps:\n")
	fmt.Fprintf(&g.b, "      - name: %s\n", str(text("GET "+path)))
	g.b.WriteString("        request:\n")
	g.writeRequest(req, "          ")
	fmt.Fprintf(&g.b, "        expect: { status: %s }\n", status)
}

// contractCheck writes the conditional-update contract of the resource
// at path: with its PATCH when that takes If-Match and can be called, else
// with its PUT; or says why not. One contract per resource: two would
// race on its ETag.
func (g *generator) contractCheck(path string, item *openapi3.PathItem) {
	done := ""
	for _, m := range []string{http.MethodPatch, http.MethodPut, http.MethodDelete} {
		op := item.GetOperation(m)
		switch {
		case op == nil || !takesIfMatch(item, op):
		case m == http.MethodDelete:
			g.skip(m, path, op, "takes If-Match, but a conditional-update contract writes with PATCH or PUT")
		case done != "":
			g.skip(m, path, op, fmt.Sprintf("the contract of %s %s covers the resource (two contracts on one resource would race)", done, path))
		default:
			if why := g.contract(path, item, m, op); why != "" {
				g.skip(m, path, op, why)
			} else {
				done = m
			}
		}
	}
}

// contract writes the conditional-update contract of the write op, or
// says why it cannot.
func (g *generator) contract(path string, item *openapi3.PathItem, method string, op *openapi3.Operation) string {
	if item.Get == nil {
		return "the contract reads the resource with GET, which the spec does not document"
	}
	req, why := g.request(path, item, op)
	if why != "" {
		return why
	}
	body, contentType, why := writeBody(op)
	if why != "" {
		return why
	}
	status, ok := successStatus(op)
	if !ok {
		status = "204"
	}
	name := g.name(op.OperationID+"-conditional-update", strings.ToLower(method)+path+"-conditional-update")
	notes := append([]string{"the contract writes to the resource: point it at test data"}, req.notes...)
	g.head(name, method+" "+path+" with If-Match", op, []string{"openapi", "contract"}, notes)
	// Every response the contract expects is validated when the spec
	// documents the stale write's 412: it then describes the protocol.
	if documents(op, http.StatusPreconditionFailed) {
		fmt.Fprintf(&g.b, "    openapi: { spec: %s }\n", str(text(g.opts.SpecRef)))
	}
	g.b.WriteString("    contract:\n")
	g.b.WriteString("      type: conditional-update\n")
	fmt.Fprintf(&g.b, "      url: %s\n", quote(req.url))
	fmt.Fprintf(&g.b, "      method: %s\n", method)
	fmt.Fprintf(&g.b, "      json: %s\n", jsonValue(body))
	headers := req.headers
	if contentType != "application/json" {
		headers = copyMap(headers)
		headers["Content-Type"] = contentType
	}
	if len(headers) > 0 {
		fmt.Fprintf(&g.b, "      headers: %s\n", flowMap(headers))
	}
	if req.auth != "" {
		fmt.Fprintf(&g.b, "      auth: %s\n", req.auth)
	}
	fmt.Fprintf(&g.b, "      expect_status: %s\n", status)
	if documents(op, http.StatusPreconditionRequired) {
		g.b.WriteString("      require_precondition: true\n")
	}
	if !documents(item.Get, http.StatusNotModified) {
		g.b.WriteString("      not_modified: false    # the GET documents no 304\n")
	}
	return ""
}

// head writes the start of a check: name, description, tags, vars.
func (g *generator) head(name, what string, op *openapi3.Operation, tags, notes []string) {
	g.checks++
	g.b.WriteString("\n")
	for _, n := range notes {
		fmt.Fprintf(&g.b, "  # %s\n", comment(n))
	}
	fmt.Fprintf(&g.b, "  - name: %s\n", str(name))
	desc := what
	if s := comment(op.Summary); s != "" {
		desc += ": " + s
	}
	if op.Deprecated {
		desc += " (deprecated)"
	}
	fmt.Fprintf(&g.b, "    description: %s\n", quote(text(desc)))
	fmt.Fprintf(&g.b, "    tags: [%s]\n", strings.Join(tags, ", "))
	g.b.WriteString("    vars:\n")
	fmt.Fprintf(&g.b, "      base: %s\n", str(text(g.base)))
}

// writeRequest writes the fields of a request at the indentation pad.
func (g *generator) writeRequest(r *request, pad string) {
	fmt.Fprintf(&g.b, "%surl: %s\n", pad, quote(r.url))
	if len(r.query) > 0 {
		fmt.Fprintf(&g.b, "%squery: %s\n", pad, flowMap(r.query))
	}
	if len(r.headers) > 0 {
		fmt.Fprintf(&g.b, "%sheaders: %s\n", pad, flowMap(r.headers))
	}
	if r.auth != "" {
		fmt.Fprintf(&g.b, "%sauth: %s\n", pad, r.auth)
	}
}

// flowMap renders string values (already escaped) as a YAML flow map.
func flowMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = str(k) + ": " + quote(m[k])
	}
	return "{ " + strings.Join(parts, ", ") + " }"
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}

// file is the whole check file.
func (g *generator) file() []byte {
	var b strings.Builder
	b.WriteString("# Generated by assay init --from-openapi")
	if g.opts.Source != "" {
		b.WriteString(" " + comment(g.opts.Source))
	}
	b.WriteString("\n")
	if info := g.doc.Info; info != nil {
		fmt.Fprintf(&b, "# from %s", comment(strconv.Quote(info.Title)))
		if info.Version != "" {
			fmt.Fprintf(&b, " version %s", comment(info.Version))
		}
		fmt.Fprintf(&b, " (OpenAPI %s).\n", comment(g.doc.OpenAPI))
	}
	b.WriteString(`#
# A check per GET operation that can be called without parameters that
# have no example: each expects the documented success status and
# validates the response against the spec (openapi:).`)
	if g.opts.Writes {
		b.WriteString(` With --writes, a
# conditional-update contract per resource whose PUT or PATCH takes
# If-Match: those checks change the resource they name.`)
	}
	b.WriteString(`
# Edit freely: assay validate checks the file, assay test runs it. To take
# the API's URL from the environment, write base: ${API_URL:-<the URL>}.
checks:
`)
	b.WriteString(strings.TrimPrefix(g.b.String(), "\n"))
	if len(g.leftOut) > 0 {
		b.WriteString("\n# Not generated:\n")
		for _, l := range g.leftOut {
			fmt.Fprintf(&b, "#   %s\n", comment(l))
		}
	}
	return []byte(b.String())
}

// checkNameRe is the form of a check name (see checks/loader.go).
var (
	checkNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	nameCharRe  = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)
)

// name is a unique check name: the operationId when it is one, else made
// from fallback ("get/documents/{id}" -> "get-documents-id").
func (g *generator) name(id, fallback string) string {
	n := id
	if !checkNameRe.MatchString(n) || len(n) > 100 {
		n = strings.Trim(nameCharRe.ReplaceAllString(fallback, "-"), "-._")
		if len(n) > 100 {
			n = n[:100]
		}
		if n == "" {
			n = "operation"
		}
	}
	unique := n
	for i := 2; g.names[unique]; i++ {
		unique = fmt.Sprintf("%s-%d", n, i)
	}
	g.names[unique] = true
	return unique
}

// successStatus is the expected status of an operation: its lowest
// documented 2xx code, or 2xx for a 2XX range or a default response.
func successStatus(op *openapi3.Operation) (string, bool) {
	if op.Responses == nil {
		return "", false
	}
	best := 0
	ranged := false
	for _, k := range op.Responses.Keys() {
		if code, err := strconv.Atoi(k); err == nil && code >= 200 && code <= 299 && (best == 0 || code < best) {
			best = code
		}
		if strings.EqualFold(k, "2XX") || k == "default" {
			ranged = true
		}
	}
	switch {
	case best > 0:
		return strconv.Itoa(best), true
	case ranged:
		return "2xx", true
	}
	return "", false
}

// documents reports whether op documents the status code.
func documents(op *openapi3.Operation, code int) bool {
	return op != nil && op.Responses != nil && op.Responses.Value(strconv.Itoa(code)) != nil
}

// params are the parameters of op with those of its path item, op's
// winning (OpenAPI: by name and location).
func params(item *openapi3.PathItem, op *openapi3.Operation) []*openapi3.Parameter {
	var out []*openapi3.Parameter
	seen := map[string]bool{}
	for _, list := range []openapi3.Parameters{op.Parameters, item.Parameters} {
		for _, ref := range list {
			if ref == nil || ref.Value == nil {
				continue
			}
			k := ref.Value.In + "\x00" + strings.ToLower(ref.Value.Name)
			if !seen[k] {
				seen[k] = true
				out = append(out, ref.Value)
			}
		}
	}
	return out
}

func takesIfMatch(item *openapi3.PathItem, op *openapi3.Operation) bool {
	for _, p := range params(item, op) {
		if p.In == openapi3.ParameterInHeader && strings.EqualFold(p.Name, "If-Match") {
			return true
		}
	}
	return false
}

// request builds what an operation sends: its path parameters filled in
// from their examples, its required query and header parameters from
// theirs, and the credentials of its security scheme from the
// environment. why says what is missing when it cannot be called.
func (g *generator) request(path string, item *openapi3.PathItem, op *openapi3.Operation) (*request, string) {
	r := &request{query: map[string]string{}, headers: map[string]string{}}
	filled := path
	for _, p := range params(item, op) {
		if p.In != openapi3.ParameterInPath && !p.Required {
			continue
		}
		if p.In == openapi3.ParameterInHeader && (strings.EqualFold(p.Name, "If-Match") || strings.EqualFold(p.Name, "If-None-Match")) {
			continue // a contract's own; optional on a GET
		}
		v, ok := exampleOf(p)
		if !ok {
			return nil, fmt.Sprintf("%s parameter %q has no example or examples", p.In, p.Name)
		}
		switch p.In {
		case openapi3.ParameterInPath:
			filled = strings.ReplaceAll(filled, "{"+p.Name+"}", url.PathEscape(v))
		case openapi3.ParameterInQuery:
			r.query[p.Name] = templateText(v)
		case openapi3.ParameterInHeader:
			r.headers[p.Name] = templateText(v)
		default:
			return nil, fmt.Sprintf("it needs the %s parameter %q, which a check cannot send as such", p.In, p.Name)
		}
	}
	if strings.Contains(filled, "{") {
		return nil, "a path parameter is not declared in the spec"
	}
	r.url = "{{ .vars.base }}" + templateText(filled)
	g.security(op, r)
	return r, ""
}

// exampleOf is the example of a parameter as text: its example, its first
// example (by name), or its schema's; ok is false without one, or when it
// is not a single value.
func exampleOf(p *openapi3.Parameter) (string, bool) {
	var v any
	switch {
	case p.Example != nil:
		v = p.Example
	case len(p.Examples) > 0:
		names := make([]string, 0, len(p.Examples))
		for n := range p.Examples {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			if e := p.Examples[n]; e != nil && e.Value != nil && e.Value.Value != nil {
				v = e.Value.Value
				break
			}
		}
	}
	if v == nil && p.Schema != nil && p.Schema.Value != nil {
		if s := p.Schema.Value; s.Example != nil {
			v = s.Example
		} else if len(s.Examples) > 0 {
			v = s.Examples[0]
		}
	}
	switch t := v.(type) {
	case string:
		return t, true
	case bool:
		return strconv.FormatBool(t), true
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64), true
	case int:
		return strconv.Itoa(t), true
	case int64:
		return strconv.FormatInt(t, 10), true
	}
	return "", false
}

// security adds the credentials of the operation's first security
// requirement, from environment variables that default to nothing (so
// that the file validates before they are set; a 401 says what is
// missing).
func (g *generator) security(op *openapi3.Operation, r *request) {
	reqs := g.doc.Security
	if op.Security != nil {
		reqs = *op.Security
	}
	if len(reqs) == 0 {
		return
	}
	for _, req := range reqs {
		if len(req) == 0 {
			return // anonymous access is one of the options
		}
	}
	names := make([]string, 0, len(reqs[0]))
	for n := range reqs[0] {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		var s *openapi3.SecurityScheme
		if c := g.doc.Components; c != nil {
			if ref := c.SecuritySchemes[n]; ref != nil {
				s = ref.Value
			}
		}
		switch {
		case s == nil:
			r.notes = append(r.notes, fmt.Sprintf("the spec requires the undefined security scheme %s", n))
		case s.Type == "http" && strings.EqualFold(s.Scheme, "bearer"), s.Type == "oauth2", s.Type == "openIdConnect":
			r.auth = `{ bearer: "${API_TOKEN:-}" }`
			r.notes = append(r.notes, fmt.Sprintf("security %s: set API_TOKEN to the bearer token", n))
		case s.Type == "http" && strings.EqualFold(s.Scheme, "basic"):
			r.auth = `{ basic: { username: "${API_USERNAME:-}", password: "${API_PASSWORD:-}" } }`
			r.notes = append(r.notes, fmt.Sprintf("security %s: set API_USERNAME and API_PASSWORD", n))
		case s.Type == "apiKey" && s.In == openapi3.ParameterInHeader:
			r.headers[s.Name] = "${API_KEY:-}"
			r.notes = append(r.notes, fmt.Sprintf("security %s: set API_KEY to the key sent in %s", n, s.Name))
		case s.Type == "apiKey" && s.In == openapi3.ParameterInQuery:
			r.query[s.Name] = "${API_KEY:-}"
			r.notes = append(r.notes, fmt.Sprintf("security %s: set API_KEY to the key sent as %s", n, s.Name))
		default:
			r.notes = append(r.notes, fmt.Sprintf("security %s (%s): add the credentials to the request", n, s.Type))
		}
	}
}

// writeBody is the JSON content of a write: the request body's example,
// else a sample of its schema; contentType is the JSON media type used.
func writeBody(op *openapi3.Operation) (body any, contentType, why string) {
	if op.RequestBody == nil || op.RequestBody.Value == nil || len(op.RequestBody.Value.Content) == 0 {
		return nil, "", "it documents no request body"
	}
	content := op.RequestBody.Value.Content
	types := make([]string, 0, len(content))
	for t := range content {
		types = append(types, t)
	}
	sort.Strings(types)
	for _, t := range types {
		if t == "application/json" {
			contentType = t
			break
		}
		if contentType == "" && (strings.HasSuffix(t, "+json") || strings.HasSuffix(t, "/json")) {
			contentType = t
		}
	}
	if contentType == "" {
		return nil, "", "its request body is not JSON (" + strings.Join(types, ", ") + ")"
	}
	mt := content[contentType]
	switch {
	case mt.Example != nil:
		return mt.Example, contentType, ""
	case len(mt.Examples) > 0:
		names := make([]string, 0, len(mt.Examples))
		for n := range mt.Examples {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			if e := mt.Examples[n]; e != nil && e.Value != nil && e.Value.Value != nil {
				return e.Value.Value, contentType, ""
			}
		}
	}
	return sample(mt.Schema, 0), contentType, ""
}
