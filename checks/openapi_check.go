package checks

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/assay-monitor/assay/checks/openapi"
)

// OpenAPIRef names the OpenAPI 3.0 or 3.1 description responses are
// validated against. On a check it applies to every step; on a step it
// overrides the check's (spec, operation) or turns validation off (skip).
type OpenAPIRef struct {
	// Spec is the path of the spec file, relative to the check file.
	Spec string `yaml:"spec"`
	// Operation is an operationId; without it, the operation is found by
	// the request's method and path.
	Operation string `yaml:"operation"`
	// Skip turns validation off for a step.
	Skip bool `yaml:"skip"`

	Pos Position `yaml:"-"`

	spec *openapi.Spec
	op   *openapi.Operation
}

// specCache shares loaded specs between the checks and the reloads that
// use them; an entry is reused while the file's size and mtime hold.
var specCache = struct {
	sync.Mutex
	m map[string]cachedSpec
}{m: map[string]cachedSpec{}}

type cachedSpec struct {
	size  int64
	mtime time.Time
	spec  *openapi.Spec
}

func loadSpec(file string, read func(string) ([]byte, error)) (*openapi.Spec, error) {
	load := openapi.Options{ReadFile: read}.Load
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(abs)
	if err != nil {
		return load(file) // reports the error with the file name
	}
	specCache.Lock()
	c, ok := specCache.m[abs]
	specCache.Unlock()
	if ok && c.size == st.Size() && c.mtime.Equal(st.ModTime()) {
		return c.spec, nil
	}
	s, err := load(file)
	if err != nil {
		return nil, err
	}
	specCache.Lock()
	specCache.m[abs] = cachedSpec{size: st.Size(), mtime: st.ModTime(), spec: s}
	specCache.Unlock()
	return s, nil
}

// compileOpenAPI loads the specs a check and its steps name and adds an
// OpenAPI assertion to each step that is validated.
func compileOpenAPI(d *decoder, c *Check, path string) {
	specs := map[string]*openapi.Spec{}
	load := func(ref *OpenAPIRef, field string) bool {
		if ref.Spec == "" {
			return false
		}
		file := ref.Spec
		if !filepath.IsAbs(file) {
			file = filepath.Join(filepath.Dir(d.File), file)
		}
		file = filepath.Clean(file)
		if s, ok := specs[file]; ok {
			ref.spec = s
			return s != nil
		}
		s, err := loadSpec(file, d.Read)
		specs[file] = s
		if err != nil {
			var oe *openapi.Error
			if errors.As(err, &oe) && oe.Line > 0 {
				// The problem is inside the spec: point there, and say
				// which check uses it.
				d.ErrAt(Position{File: oe.File, Line: oe.Line, Column: max(oe.Column, 1)}, field+".spec", "%s (used by %s)", oe.Msg, d.ValuePos(field+".spec", ref.Pos))
			} else {
				d.ErrAt(d.ValuePos(field+".spec", ref.Pos), field+".spec", "%v", err)
			}
			return false
		}
		ref.spec = s
		return true
	}
	resolve := func(ref *OpenAPIRef, spec *openapi.Spec, field string) *openapi.Operation {
		if ref.Operation == "" || spec == nil {
			return nil
		}
		op, err := spec.Operation(ref.Operation)
		if err != nil {
			d.ErrAt(d.ValuePos(field+".operation", ref.Pos), field+".operation", "%v", err)
			return nil
		}
		return op
	}

	var checkSpec *openapi.Spec
	var checkOp *openapi.Operation
	if ref := c.OpenAPI; ref != nil {
		if ref.Skip {
			d.ErrAt(ref.Pos, path+".openapi.skip", "skip is for a step; leave the check's openapi block out instead")
		}
		if ref.Spec == "" {
			d.ErrAt(ref.Pos, path+".openapi.spec", "name the spec file, e.g. spec: ../api/openapi.yaml")
		} else if load(ref, path+".openapi") {
			checkSpec = ref.spec
			checkOp = resolve(ref, checkSpec, path+".openapi")
			ref.op = checkOp
		}
	}
	for i, s := range c.allSteps() {
		if s == nil {
			continue
		}
		spath := c.stepPath(path, i) + ".openapi"
		spec, op := checkSpec, checkOp
		if ref := s.OpenAPI; ref != nil {
			if ref.Skip {
				continue
			}
			if ref.Spec != "" {
				if !load(ref, spath) {
					continue
				}
				spec, op = ref.spec, nil
			}
			if ref.Operation != "" {
				if spec == nil {
					d.ErrAt(ref.Pos, spath+".operation", "an operation needs a spec: set spec here or on the check")
					continue
				}
				op = resolve(ref, spec, spath)
				if op == nil {
					continue
				}
			}
			ref.spec, ref.op = spec, op
		}
		if spec != nil {
			s.assertions = append(s.assertions, openapiAssertion(spec, op))
		}
	}
}

func openapiAssertion(spec *openapi.Spec, op *openapi.Operation) assertion {
	const name = "openapi"
	return assertion{name: name, eval: func(r *response, _ map[string]any) []AssertionResult {
		method, urlPath := http.MethodGet, "/"
		if r.req != nil {
			method = r.req.Method
			if r.req.URL != nil {
				urlPath = r.req.URL.Path
			}
		}
		o := op
		if o == nil {
			var pathFound bool
			o, pathFound = spec.Find(method, urlPath)
			if o == nil {
				want := fmt.Sprintf("an operation of %s for %s %s", spec.File, method, urlPath)
				got := "no path of the spec matches " + urlPath
				if pathFound {
					got = fmt.Sprintf("the path is documented, but not the method %s", method)
				}
				ar := result("openapi operation", false, want, got)
				ar.Message = fmt.Sprintf("openapi: %s %s is not documented in %s: %s", method, urlPath, spec.File, got)
				return []AssertionResult{ar}
			}
		}
		or := &openapi.Response{Method: method, Status: r.status, Header: r.header, Body: r.body}
		if r.rd.longest() > 0 {
			or.Redact = r.rd.str
		}
		problems := o.Validate(or)
		if len(problems) == 0 {
			return []AssertionResult{result(name, true, "valid against "+o.String()+" in "+spec.File, "valid")}
		}
		out := make([]AssertionResult, 0, len(problems))
		for _, p := range problems {
			label := name + " " + p.Name
			ar := result(label, false, p.Expected+" (spec "+p.Spec+")", p.Actual)
			ar.Message = fmt.Sprintf("%s: %s (spec %s)", label, p.Message, p.Spec)
			out = append(out, ar)
		}
		return out
	}}
}
