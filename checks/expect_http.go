package checks

import (
	"sort"
	"strconv"
	"strings"

	"github.com/assay-monitor/assay/checks/semantics"
	"github.com/assay-monitor/assay/internal/yamlstrict"
	"go.yaml.in/yaml/v3"
)

// ETagExpect asserts on the kind of entity-tag a response carries.
type ETagExpect string

// ETag expectations.
const (
	// ETagStrong wants a strong entity-tag: the only kind that can match
	// If-Match, which uses the strong comparison (RFC 9110 §13.1.1).
	ETagStrong ETagExpect = "strong"
	// ETagValid wants any syntactically valid entity-tag, weak or strong.
	ETagValid ETagExpect = "valid"
)

func (e *ETagExpect) UnmarshalStrict(d *decoder, n *yaml.Node, path string) {
	if n.Kind == yaml.ScalarNode {
		switch v := ETagExpect(n.Value); v {
		case ETagStrong, ETagValid:
			*e = v
			return
		}
	}
	d.Errorf(n, path, "expected strong or valid, got %s", yamlstrict.Describe(n))
}

func etagAssertion(want ETagExpect) assertion {
	expected := "a valid entity-tag"
	if want == ETagStrong {
		expected = `a strong entity-tag like "abc" (usable with If-Match)`
	}
	return assertion{name: "etag", eval: func(r *response, _ map[string]any) []AssertionResult {
		vs := r.header.Values("ETag")
		var ar AssertionResult
		switch {
		case len(vs) == 0:
			ar = result("etag", false, expected, "no ETag header")
		case len(vs) > 1:
			ar = result("etag", false, expected, strconv.Itoa(len(vs))+" ETag headers: "+strings.Join(vs, ", "))
		case !semantics.ValidETag(vs[0]):
			ar = result("etag", false, expected, "invalid entity-tag "+r.rd.cut(vs[0], actualLimit))
		case want == ETagStrong && semantics.IsWeakETag(vs[0]):
			ar = result("etag", false, expected, "weak "+r.rd.cut(vs[0], actualLimit))
			ar.Message = "etag: expected a strong entity-tag, got the weak " + r.rd.cut(vs[0], actualLimit) +
				": a weak tag never matches If-Match, which uses the strong comparison (RFC 9110 §13.1.1)"
		default:
			ar = result("etag", true, expected, vs[0])
		}
		return []AssertionResult{ar}
	}}
}

// AllowExpect asserts on the methods listed by an Allow header
// (RFC 9110 §10.2.1). Method names are case-sensitive.
type AllowExpect struct {
	// Includes are methods the header must list.
	Includes []string `yaml:"includes"`
	// Excludes are methods the header must not list.
	Excludes []string `yaml:"excludes"`

	Pos Position `yaml:"-"`
}

func allowAssertion(a *AllowExpect) assertion {
	const name = "header Allow"
	var parts []string
	if len(a.Includes) > 0 {
		parts = append(parts, "listing "+strings.Join(a.Includes, ", "))
	}
	if len(a.Excludes) > 0 {
		parts = append(parts, "not listing "+strings.Join(a.Excludes, ", "))
	}
	expected := strings.Join(parts, " and ")
	return assertion{name: name, eval: func(r *response, _ map[string]any) []AssertionResult {
		vs := r.header.Values("Allow")
		if len(vs) == 0 {
			return []AssertionResult{result(name, false, expected, "no Allow header")}
		}
		listed := map[string]bool{}
		for _, v := range vs {
			for _, m := range strings.Split(v, ",") {
				if m = strings.TrimSpace(m); m != "" {
					listed[m] = true
				}
			}
		}
		actual := strings.Join(vs, ", ")
		var missing, extra []string
		for _, m := range a.Includes {
			if !listed[m] {
				missing = append(missing, m)
			}
		}
		for _, m := range a.Excludes {
			if listed[m] {
				extra = append(extra, m)
			}
		}
		ar := result(name, len(missing) == 0 && len(extra) == 0, expected, r.rd.cut(actual, actualLimit))
		if !ar.Passed {
			var why []string
			if len(missing) > 0 {
				why = append(why, "missing "+strings.Join(missing, ", "))
			}
			if len(extra) > 0 {
				why = append(why, "lists "+strings.Join(extra, ", "))
			}
			ar.Message += " (" + strings.Join(why, "; ") + ")"
		}
		return []AssertionResult{ar}
	}}
}

// compileHTTPExpect adds the etag and allow assertions of a step.
func compileHTTPExpect(d *decoder, s *Step, path string) {
	e := &s.Expect
	if e.ETag != "" {
		s.assertions = append(s.assertions, etagAssertion(e.ETag))
	}
	if a := e.Allow; a != nil {
		if len(a.Includes) == 0 && len(a.Excludes) == 0 {
			d.ErrAt(a.Pos, path+".allow", "set includes, excludes or both")
		}
		for i, list := range [][]string{a.Includes, a.Excludes} {
			key := [...]string{"includes", "excludes"}[i]
			for j, m := range list {
				list[j] = strings.TrimSpace(m)
				if !methodRe.MatchString(list[j]) {
					d.ErrAt(a.Pos, path+".allow."+key, "invalid method %q (methods are upper-case tokens like GET)", m)
				}
			}
		}
		s.assertions = append(s.assertions, allowAssertion(a))
	}
	compileCookieExpect(d, s, path)
}

// methodsOf sorts and deduplicates method names.
func methodsOf(ms []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range ms {
		m = strings.ToUpper(strings.TrimSpace(m))
		if m != "" && !seen[m] {
			seen[m] = true
			out = append(out, m)
		}
	}
	sort.Strings(out)
	return out
}
