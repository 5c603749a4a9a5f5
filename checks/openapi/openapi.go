// Package openapi validates HTTP responses against an OpenAPI 3.0 or 3.1
// description: the status is documented for the operation (or a default
// response is), the content type is documented, required response headers
// are present and valid, and the body is valid against the schema. Every
// problem names where it is in the body (a JSON pointer) and where the
// violated rule is in the spec (file:line:column and a JSON pointer).
//
// The parsing and schema validation are github.com/getkin/kin-openapi
// (openapi3). It was chosen over pb33f/libopenapi-validator because it was
// already a dependency of this module, is small and pure Go, and validates
// OpenAPI 3.1 schemas for real: for a 3.1 document it hands the schema to
// a JSON Schema 2020-12 validator (santhosh-tekuri/jsonschema, which assay
// already uses for json_schema), so type arrays with "null", const,
// prefixItems and the like are enforced (see TestOpenAPI31Keywords); for
// 3.0 it uses its own validator, which knows 3.0's nullable. It also
// records the file, line and column of every element, which is how
// problems point into the spec. This package knows nothing of checks.
package openapi

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/assay-monitor/assay/internal/safefile"
	"github.com/assay-monitor/assay/internal/yamlstrict"
	"github.com/getkin/kin-openapi/openapi3"
	"go.yaml.in/yaml/v3"
)

// Spec is a loaded and validated OpenAPI document.
type Spec struct {
	// File is the path the spec was loaded from.
	File string
	doc  *openapi3.T
	ops  []*Operation
	// bases are the path prefixes of the servers (without a trailing /).
	bases []string
}

// Operation is one method of one path of the spec.
type Operation struct {
	// ID is the operationId ("" when the spec gives none).
	ID string
	// Method and Path are as in the spec: GET, /documents/{id}.
	Method, Path string

	spec *Spec
	op   *openapi3.Operation
	re   *regexp.Regexp
	// literal is the number of literal characters of Path, to prefer
	// /documents/new over /documents/{id}.
	literal int
}

// Error is a problem with a spec file, with its position when known.
type Error struct {
	File         string
	Line, Column int
	Msg          string
}

func (e *Error) Error() string {
	switch {
	case e.Line > 0:
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, max(e.Column, 1), e.Msg)
	default:
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
}

var yamlLineRe = regexp.MustCompile(`line (\d+):\s*(.*)$`)

// Options tune Load.
type Options struct {
	// ReadFile reads the spec and the files its $refs name; nil means
	// safefile.Read with its default limit (16 MiB, regular files only).
	ReadFile func(path string) ([]byte, error)
	// MaxNodes bounds what one YAML document expands to with its aliases;
	// 0 means yamlstrict.DefaultMaxNodes.
	MaxNodes int
}

// Load reads, resolves and validates the spec at file. External $refs to
// other local files are followed; references to URLs are refused, so that
// loading a spec never reaches the network.
func Load(file string) (*Spec, error) { return Options{}.Load(file) }

// notOpenAPI is the one error of a file that is not an OpenAPI document:
// none of its content is quoted.
const notOpenAPI = `not an OpenAPI document (expected a mapping with "openapi")`

// Load reads a spec as the package-level Load does.
func (o Options) Load(file string) (*Spec, error) {
	if o.ReadFile == nil {
		o.ReadFile = func(p string) ([]byte, error) { return safefile.Read(p, 0) }
	}
	data, err := o.ReadFile(file)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, &Error{File: file, Msg: "cannot read the spec: " + err.Error()}
	}
	if e := o.check(file, data, true); e != nil {
		return nil, e
	}
	l := openapi3.NewLoader()
	l.IncludeOrigin = true
	l.IsExternalRefsAllowed = true
	l.ReadFromURIFunc = func(_ *openapi3.Loader, u *url.URL) ([]byte, error) {
		if u.Scheme != "" && u.Scheme != "file" {
			return nil, fmt.Errorf("refusing to fetch %s: only local files may be referenced", u.Redacted())
		}
		p := filepath.FromSlash(u.Path)
		if samePath(p, file) {
			return data, nil // read and checked above
		}
		ref, err := o.ReadFile(p)
		if err != nil {
			return nil, err
		}
		if e := o.check(p, ref, false); e != nil {
			return nil, e
		}
		return ref, nil
	}
	doc, err := l.LoadFromFile(file)
	if err != nil {
		return nil, loadError(file, data, err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, loadError(file, data, err)
	}
	return newSpec(file, doc), nil
}

// samePath reports whether two paths name the same file name.
func samePath(a, b string) bool {
	aa, err1 := filepath.Abs(a)
	ab, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && aa == ab
}

// check refuses, before kin-openapi sees it, a file that YAML cannot hold,
// that expands past the node limit with aliases (kin-openapi would expand
// them all), or, for the spec itself (root), that is not an OpenAPI
// document. A syntax error is left to kin-openapi, which positions it.
func (o Options) check(file string, data []byte, root bool) *Error {
	if e := yamlstrict.CheckText(file, data); e != nil {
		return &Error{File: file, Line: e.Pos.Line, Column: e.Pos.Column, Msg: e.Msg}
	}
	var n yaml.Node
	if err := yaml.Unmarshal(data, &n); err != nil || len(n.Content) == 0 {
		return nil
	}
	if root && yamlstrict.Foreign(n.Content[0], "openapi") {
		return &Error{File: file, Msg: notOpenAPI}
	}
	d := &yamlstrict.Decoder{File: file}
	if !d.LimitNodes(n.Content[0], "", o.MaxNodes) {
		e := d.Errs[0]
		return &Error{File: file, Line: e.Pos.Line, Column: e.Pos.Column, Msg: e.Msg}
	}
	return nil
}

// loadError turns a loader or validation error into an Error with the
// best position available: the origin kin-openapi recorded, the line of
// a YAML syntax error, or the line where a quoted reference appears.
func loadError(file string, data []byte, err error) *Error {
	var oe *Error
	if errors.As(err, &oe) {
		return oe // a referenced file refused by check
	}
	e := &Error{File: file, Msg: "invalid OpenAPI document: " + truncate(oneLine(err.Error()), 300)}
	if loc := originOf(err); loc != nil && loc.Line > 0 {
		if loc.File != "" {
			e.File = loc.File
		}
		e.Line, e.Column = loc.Line, loc.Column
		return e
	}
	if m := yamlLineRe.FindStringSubmatch(err.Error()); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		e.Column = 1
		return e
	}
	if m := regexp.MustCompile(`"(#[^"]*)"`).FindStringSubmatch(err.Error()); m != nil {
		if i := strings.Index(string(data), m[1]); i >= 0 {
			pre := string(data[:i])
			e.Line = strings.Count(pre, "\n") + 1
			e.Column = i - strings.LastIndex(pre, "\n")
		}
	}
	return e
}

// originOf finds the deepest *openapi3.Origin in err's chain: validation
// errors carry the origin of the offending element in a field named
// Origin.
func originOf(err error) *openapi3.Location {
	var found *openapi3.Location
	var walk func(error, int)
	walk = func(e error, depth int) {
		if e == nil || depth > 64 {
			return
		}
		v := reflect.ValueOf(e)
		for v.Kind() == reflect.Pointer && !v.IsNil() {
			v = v.Elem()
		}
		if v.Kind() == reflect.Struct {
			if f := v.FieldByName("Origin"); f.IsValid() && f.Type() == reflect.TypeFor[*openapi3.Origin]() && !f.IsNil() {
				if o := f.Interface().(*openapi3.Origin); o.Key != nil {
					found = o.Key
				}
			}
		}
		switch u := e.(type) {
		case interface{ Unwrap() []error }:
			for _, x := range u.Unwrap() {
				walk(x, depth+1)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap(), depth+1)
		}
		if me, ok := e.(openapi3.MultiError); ok {
			for _, x := range me {
				walk(x, depth+1)
			}
		}
	}
	walk(err, 0)
	return found
}

func newSpec(file string, doc *openapi3.T) *Spec {
	s := &Spec{File: file, doc: doc}
	for _, srv := range doc.Servers {
		if srv == nil {
			continue
		}
		raw := srv.URL
		for name, v := range srv.Variables {
			if v != nil { // a variable stands for its default
				raw = strings.ReplaceAll(raw, "{"+name+"}", v.Default)
			}
		}
		if strings.Contains(raw, "{") {
			continue
		}
		if u, err := url.Parse(raw); err == nil {
			if p := strings.TrimSuffix(u.Path, "/"); p != "" {
				s.bases = append(s.bases, p)
			}
		}
	}
	if doc.Paths == nil {
		return s
	}
	for _, path := range doc.Paths.InMatchingOrder() {
		item := doc.Paths.Value(path)
		if item == nil {
			continue
		}
		re, literal := pathRegexp(path)
		for method, op := range item.Operations() {
			s.ops = append(s.ops, &Operation{ID: op.OperationID, Method: strings.ToUpper(method), Path: path,
				spec: s, op: op, re: re, literal: literal})
		}
	}
	sort.SliceStable(s.ops, func(i, j int) bool {
		if s.ops[i].literal != s.ops[j].literal {
			return s.ops[i].literal > s.ops[j].literal
		}
		if s.ops[i].Path != s.ops[j].Path {
			return s.ops[i].Path < s.ops[j].Path
		}
		return s.ops[i].Method < s.ops[j].Method
	})
	return s
}

var paramRe = regexp.MustCompile(`\{[^{}/]+\}`)

// pathRegexp compiles a path template: each {param} matches one segment.
func pathRegexp(path string) (*regexp.Regexp, int) {
	var b strings.Builder
	b.WriteString("^")
	last, literal := 0, 0
	for _, m := range paramRe.FindAllStringIndex(path, -1) {
		b.WriteString(regexp.QuoteMeta(path[last:m[0]]))
		literal += m[0] - last
		b.WriteString("[^/]+")
		last = m[1]
	}
	b.WriteString(regexp.QuoteMeta(path[last:]))
	literal += len(path) - last
	b.WriteString("$")
	return regexp.MustCompile(b.String()), literal
}

// OpenAPIVersion is the document's openapi field, e.g. "3.1.0".
func (s *Spec) OpenAPIVersion() string { return s.doc.OpenAPI }

// is31 reports whether schemas follow JSON Schema 2020-12 (OpenAPI >= 3.1).
func (s *Spec) is31() bool { return s.doc.IsOpenAPI31OrLater() }

// Operation returns the operation with the given operationId.
func (s *Spec) Operation(id string) (*Operation, error) {
	var ids []string
	for _, op := range s.ops {
		if op.ID == id {
			return op, nil
		}
		if op.ID != "" {
			ids = append(ids, op.ID)
		}
	}
	sort.Strings(ids)
	if len(ids) == 0 {
		return nil, fmt.Errorf("no operation %q: the spec's operations have no operationId", id)
	}
	return nil, fmt.Errorf("no operation %q in %s (operations: %s)", id, s.File, strings.Join(ids, ", "))
}

// Find returns the operation for a method and a request path. The path
// may carry one of the servers' base paths. Literal segments win over
// templated ones. ok is false when no path matches; op is nil when a path
// matches but does not document the method.
func (s *Spec) Find(method, path string) (op *Operation, pathFound bool) {
	method = strings.ToUpper(method)
	candidates := []string{path}
	for _, b := range s.bases {
		if rest, ok := strings.CutPrefix(path, b); ok && (rest == "" || rest[0] == '/') {
			candidates = append(candidates, rest)
		}
	}
	var get *Operation
	for _, o := range s.ops {
		for _, p := range candidates {
			if !o.re.MatchString(p) {
				continue
			}
			pathFound = true
			if o.Method == method {
				return o, true
			}
			if o.Method == "GET" && get == nil {
				get = o
			}
		}
	}
	if method == "HEAD" && get != nil {
		// Specs rarely list HEAD: it is GET without content.
		return get, true
	}
	return nil, pathFound
}

// Pointer is the operation's JSON pointer in the spec,
// e.g. #/paths/~1documents~1{id}/get.
func (o *Operation) Pointer() string {
	return "#/paths/" + escapePointer(o.Path) + "/" + strings.ToLower(o.Method)
}

// String names the operation: "getDocument (GET /documents/{id})".
func (o *Operation) String() string {
	if o.ID == "" {
		return o.Method + " " + o.Path
	}
	return fmt.Sprintf("%s (%s %s)", o.ID, o.Method, o.Path)
}

func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// truncate cuts s to at most n bytes, on a character boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
