package checks

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/assay-monitor/assay/internal/yamlstrict"
	"go.yaml.in/yaml/v3"
)

// JSONPath lists. An RFC 9535 query that is not singular (a wildcard, a
// filter, a slice, a descendant segment) selects a list of nodes. As in
// Hurl, a list of exactly one node compares like that node, so that
// "$.items[?@.qty > 3].sku": y passes when one item matches; no node is
// "absent" and several nodes compare as the list. The list predicates
// (count, includes, any, all, nth) always see the list itself, whatever
// its length, or, on a singular query, the elements of an array value.

// NthPredicate is a predicate on the node at one index of a list.
type NthPredicate struct {
	// Index counts from 0; a negative index counts from the end (-1 is
	// the last node), as in a JSONPath index selector.
	Index int
	P     *Predicate
}

// NthPredicates are written as a mapping from index to predicate:
// nth: { 0: x, -1: { matches: '^z' } }.
type NthPredicates []NthPredicate

// maxNthIndex bounds an nth index, which would otherwise be any integer.
const maxNthIndex = 1 << 20

func (np *NthPredicates) UnmarshalStrict(d *decoder, n *yaml.Node, path string) {
	// Set even when in error, so that the predicate is not also "empty".
	*np = NthPredicates{}
	if n.Kind != yaml.MappingNode || len(n.Content) == 0 {
		d.Errorf(n, path, "expected a mapping from index to predicate, like { 0: x, -1: { matches: '^z' } }, got %s", yamlstrict.Describe(n))
		return
	}
	seen := map[int]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := yamlstrict.Resolve(n.Content[i])
		kp := yamlstrict.JoinPath(path, k.Value)
		idx, err := strconv.Atoi(strings.TrimSpace(k.Value))
		if err != nil || k.Kind != yaml.ScalarNode || idx > maxNthIndex || idx < -maxNthIndex {
			d.Errorf(k, kp, "expected an index (0 is the first node, -1 the last), got %s", yamlstrict.Describe(k))
			continue
		}
		if seen[idx] {
			d.Errorf(k, kp, "duplicate index %d", idx)
			continue
		}
		seen[idx] = true
		p := &Predicate{}
		d.Into(n.Content[i+1], p, kp) // also records the position of kp
		*np = append(*np, NthPredicate{Index: idx, P: p})
	}
}

// hasListKeys reports whether p has a list predicate.
func (p *Predicate) hasListKeys() bool {
	return p != nil && (p.Count != nil || p.Includes != nil || p.Any != nil || p.All != nil || p.Nth != nil)
}

// listKey names p's first list predicate, for errors.
func (p *Predicate) listKey() string {
	switch {
	case p.Count != nil:
		return "count"
	case p.Includes != nil:
		return "includes"
	case p.Any != nil:
		return "any"
	case p.All != nil:
		return "all"
	}
	return "nth"
}

// listTemplates lists the templates of p's list predicates.
func (p *Predicate) listTemplates() []Template {
	if p == nil {
		return nil
	}
	ts := append(p.Count.templates(), p.Includes.templates()...)
	ts = append(ts, p.Any.templates()...)
	ts = append(ts, p.All.templates()...)
	for _, n := range p.Nth {
		ts = append(ts, n.P.templates()...)
	}
	return ts
}

// checkList checks the list predicates of p at load: count is a number,
// and what is a number (a length, a count) has no list predicates.
func (p *Predicate) checkList(d *decoder, path string) {
	p.Count.checkNumeric(d, yamlstrict.JoinPath(path, "count"))
	rejectList(d, p.Length, yamlstrict.JoinPath(path, "length"), "a length")
	rejectList(d, p.Count, yamlstrict.JoinPath(path, "count"), "a count")
}

// rejectList reports a list predicate in p, which asserts on what: a
// header, a number.
func rejectList(d *decoder, p *Predicate, path, what string) {
	if !p.hasListKeys() {
		return
	}
	k := p.listKey()
	kp := yamlstrict.JoinPath(path, k)
	d.ErrAt(d.KeyPos(kp, p.Pos), kp, "%s applies to a list (the nodes of a json query, or an array), not to %s", k, what)
}

// rejectListPredicates reports list predicates where no list is: on
// headers, the body size and the days a certificate has left.
func rejectListPredicates(d *decoder, e *Expect, path string) {
	for _, k := range sortedKeys(e.Headers) {
		rejectList(d, e.Headers[k], yamlstrict.JoinPath(path+".headers", k), "a header")
	}
	if e.Body != nil {
		rejectList(d, e.Body.Size, path+".body.size", "a body size")
	}
	if e.TLS != nil {
		rejectList(d, e.TLS.DaysRemaining, path+".tls.days_remaining", "days remaining")
	}
}

// evalJSON applies p to what a JSONPath query selected: the ordinary
// predicates to the value (one node, or the list of several), the list
// predicates to the list. Failures of a non-singular query say how many
// nodes it selected.
func (p *Predicate) evalJSON(r *response, label, path string, nodes []any, singular bool, data map[string]any) []AssertionResult {
	var v any
	exists := len(nodes) > 0
	switch {
	case len(nodes) == 1:
		v = nodes[0]
	case len(nodes) > 1:
		v = nodes
	}
	out := p.eval(r, label, v, exists, false, data)
	ordinary := len(out)
	if p.hasListKeys() {
		if singular {
			list, isList := v.([]any)
			out = append(out, p.evalList(r, label, list, isList, "element", v, exists, data)...)
		} else {
			out = append(out, p.evalList(r, label, nodes, true, "node", v, exists, data)...)
		}
	}
	var why string
	if len(nodes) == 0 && lengthMember.MatchString(path) {
		why = fmt.Sprintf(`%s selects a member named "length": JSONPath has no length property; use the length or count predicate`, path)
	}
	for i := range out {
		if out[i].Passed {
			continue
		}
		switch {
		case why != "":
			out[i].Message += " (" + why + ")"
		case singular:
		case len(nodes) == 1 && i < ordinary && p.listMinded():
			out[i].Message += " (1 node selected, compared as that node; includes, count, any, all and nth assert on the list)"
		default:
			out[i].Message += " (" + countOf(len(nodes), "node") + " selected)"
		}
	}
	return out
}

// lengthMember matches a query that ends by selecting a member "length",
// which other JSONPath dialects read as the length of what precedes.
var lengthMember = regexp.MustCompile(`(\.length|\[\s*['"]length['"]\s*\])$`)

// listMinded reports whether p has ordinary keys that read as if about a
// list (contains, length, type: array, equals a list), which a one-node
// selection does not get.
func (p *Predicate) listMinded() bool {
	isList := func(v *Value) bool {
		if v == nil {
			return false
		}
		_, ok := v.V.([]any)
		return ok
	}
	return p.Contains != nil || p.NotContains != nil || p.Length != nil || p.Type == "array" ||
		isList(p.Equals) || isList(p.NotEquals)
}

// evalNode applies p to one value (a node that any, all or nth picked):
// its list predicates see the elements of an array.
func (p *Predicate) evalNode(r *response, name string, v any, data map[string]any) []AssertionResult {
	out := p.eval(r, name, v, true, false, data)
	if p.hasListKeys() {
		list, isList := v.([]any)
		out = append(out, p.evalList(r, name, list, isList, "element", v, true, data)...)
	}
	return out
}

// stopEvery is how many nodes any and all evaluate between two looks at
// the step's deadline.
const stopEvery = 1024

// evalList applies the list predicates of p to list (isList false: the
// value v is no list). noun is what the list holds: node or element.
func (p *Predicate) evalList(r *response, name string, list []any, isList bool, noun string, v any, exists bool, data map[string]any) []AssertionResult {
	var out []AssertionResult
	if !isList {
		got := "nothing"
		if exists {
			got = r.formatValue(v)
		}
		for _, k := range p.listKeys() {
			key := name + " " + k
			if k == "includes" {
				key = name
			}
			out = append(out, result(key, false, "a list: the nodes of a non-singular query, or an array", got))
		}
		return out
	}
	if p.Count != nil {
		out = append(out, p.Count.eval(r, name+" count", float64(len(list)), true, false, data)...)
	}
	if p.Includes != nil {
		want, err := p.Includes.Render(data)
		if err != nil {
			out = append(out, result(name, false, "a renderable value", err.Error()))
		} else {
			found := false
			for _, e := range list {
				if equalValues(e, want) {
					found = true
					break
				}
			}
			out = append(out, result(name, found, "to include "+r.formatValue(want), r.formatValue(list)))
		}
	}
	stopped := func(i int) bool {
		if i%stopEvery == stopEvery-1 && r.context().Err() != nil {
			r.stopped = true
		}
		return r.stopped
	}
	if p.Any != nil {
		exp := "some " + noun + " " + p.Any.describe(r, data)
		found := -1
		for i, e := range list {
			if allPassed(p.Any.evalNode(r, "", e, data)) {
				found = i
				break
			}
			if stopped(i) {
				return out
			}
		}
		switch {
		case found >= 0:
			out = append(out, result(name+" any", true, exp, fmt.Sprintf("%s %d: %s", noun, found, r.formatValue(list[found]))))
		case len(list) == 0:
			out = append(out, result(name+" any", false, exp, "no "+noun))
		default:
			out = append(out, result(name+" any", false, exp, r.formatValue(list)))
		}
	}
	if p.All != nil {
		// Every node of none is no evidence: an empty list fails, so that
		// a list that came back empty does not pass unseen.
		exp := "every " + noun + " " + p.All.describe(r, data)
		got, ok := "no "+noun, len(list) > 0
		if ok {
			got = countOf(len(list), noun)
		}
		for i, e := range list {
			if !allPassed(p.All.evalNode(r, "", e, data)) {
				got, ok = fmt.Sprintf("%s %d: %s", noun, i, r.formatValue(e)), false
				break
			}
			if stopped(i) {
				return out
			}
		}
		out = append(out, result(name+" all", ok, exp, got))
	}
	for _, n := range p.Nth {
		key := fmt.Sprintf("%s nth %d", name, n.Index)
		i := n.Index
		if i < 0 {
			i += len(list)
		}
		if i < 0 || i >= len(list) {
			out = append(out, result(key, false, fmt.Sprintf("a %s at index %d", noun, n.Index), countOf(len(list), noun)))
			continue
		}
		out = append(out, n.P.evalNode(r, key, list[i], data)...)
	}
	return out
}

// listKeys names the list predicates p has, in the order evalList reports them.
func (p *Predicate) listKeys() []string {
	var ks []string
	for _, k := range []struct {
		name string
		set  bool
	}{{"count", p.Count != nil}, {"includes", p.Includes != nil}, {"any", p.Any != nil}, {"all", p.All != nil}} {
		if k.set {
			ks = append(ks, k.name)
		}
	}
	for _, n := range p.Nth {
		ks = append(ks, "nth "+strconv.Itoa(n.Index))
	}
	return ks
}

// countOf is "1 node", "2 nodes".
func countOf(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// describe words what p asks of a value, for the expected of any and
// all: "> 3 and matching "^a"".
func (p *Predicate) describe(r *response, data map[string]any) string {
	var parts []string
	val := func(v *Value) string {
		x, err := v.Render(data)
		if err != nil {
			return "(" + err.Error() + ")"
		}
		return r.formatValue(x)
	}
	add := func(set bool, s func() string) {
		if set {
			parts = append(parts, s())
		}
	}
	add(p.Equals != nil, func() string { return "equal to " + val(p.Equals) })
	add(p.NotEquals != nil, func() string { return "not " + val(p.NotEquals) })
	add(p.Exists != nil, func() string { return map[bool]string{true: "present", false: "absent"}[*p.Exists] })
	add(p.Absent != nil, func() string { return map[bool]string{true: "absent", false: "present"}[*p.Absent] })
	add(p.Type != "", func() string { return "of type " + p.Type })
	add(p.Length != nil, func() string { return "of length " + p.Length.describe(r, data) })
	add(p.Gt != nil, func() string { return "> " + val(p.Gt) })
	add(p.Gte != nil, func() string { return ">= " + val(p.Gte) })
	add(p.Lt != nil, func() string { return "< " + val(p.Lt) })
	add(p.Lte != nil, func() string { return "<= " + val(p.Lte) })
	add(p.Contains != nil, func() string { return "containing " + val(p.Contains) })
	add(p.NotContains != nil, func() string { return "not containing " + val(p.NotContains) })
	add(p.Matches != nil, func() string {
		pat, err := p.Matches.Render(data)
		if err != nil {
			return "matching (" + err.Error() + ")"
		}
		return "matching " + strconv.Quote(pat)
	})
	add(p.In != nil, func() string {
		vs := make([]string, len(p.In))
		for i, v := range p.In {
			vs[i] = val(v)
		}
		return "one of " + strings.Join(vs, ", ")
	})
	add(p.Empty != nil, func() string { return map[bool]string{true: "empty", false: "not empty"}[*p.Empty] })
	add(p.Count != nil, func() string { return "with a count " + p.Count.describe(r, data) })
	add(p.Includes != nil, func() string { return "including " + val(p.Includes) })
	add(p.Any != nil, func() string { return "with some element " + p.Any.describe(r, data) })
	add(p.All != nil, func() string { return "with every element " + p.All.describe(r, data) })
	for _, n := range p.Nth {
		parts = append(parts, fmt.Sprintf("with element %d %s", n.Index, n.P.describe(r, data)))
	}
	return strings.Join(parts, " and ")
}

// JSONPath written in other dialects (Jayway, Goessner's, JavaScript
// libraries) fails RFC 9535's grammar; the error then says what RFC 9535
// writes instead.
var (
	regexMatchOp  = regexp.MustCompile(`(@[^\s=~!<>()&|]*)\s*=~\s*(/(?:[^/\\]|\\.)*/[a-z]*|'[^']*'|"[^"]*")`)
	lengthCall    = regexp.MustCompile(`\.(length|size|count)\(\)`)
	identifierRe  = regexp.MustCompile(`^[A-Za-z_]`)
	regexLiteralR = regexp.MustCompile(`^/((?:[^/\\]|\\.)*)/([a-z]*)$`)
)

// jsonPathError is the load error of the query q that failed to parse
// with err, with a hint for what comes from another dialect.
func jsonPathError(q string, err error) string {
	msg := fmt.Sprintf("invalid JSONPath %q: %s", q, oneLine(err.Error()))
	if h := jsonPathHint(q); h != "" {
		msg += "; " + h
	}
	return msg
}

// jsonPathHint says how RFC 9535 writes what q writes in another dialect,
// or "".
func jsonPathHint(q string) string {
	t := strings.TrimSpace(q)
	switch {
	case t == "":
		return `a JSONPath starts with $, the root: "$" is the whole document`
	case !strings.HasPrefix(t, "$"):
		fixed := "$." + t
		switch {
		case strings.HasPrefix(t, "@"):
			fixed = "$" + t[1:]
		case strings.HasPrefix(t, ".") || strings.HasPrefix(t, "["):
			fixed = "$" + t
		case !identifierRe.MatchString(t):
			return "a JSONPath starts with $, the root"
		}
		return fmt.Sprintf("a JSONPath starts with $, the root: write %q", fixed)
	case strings.Contains(t, "=~"):
		if m := regexMatchOp.FindStringSubmatch(t); m != nil {
			pat := m[2]
			if lm := regexLiteralR.FindStringSubmatch(pat); lm != nil {
				pat = lm[1]
				if strings.Contains(lm[2], "i") {
					pat = "(?i)" + pat
				}
			} else {
				pat = pat[1 : len(pat)-1]
			}
			quoted := "'" + strings.ReplaceAll(pat, "'", `\'`) + "'"
			return fmt.Sprintf("RFC 9535 has no =~: write match(%s, %s) to match the whole value, or search(%s, %s) to find the pattern in it", m[1], quoted, m[1], quoted)
		}
		return "RFC 9535 has no =~: write match(@.x, 're') to match the whole value, or search(@.x, 're') to find the pattern in it"
	case lengthCall.MatchString(t):
		m := lengthCall.FindStringSubmatch(t)
		return fmt.Sprintf("JSONPath has no .%s(): select the value and use the length predicate ({ length: 3 }), or count for the nodes a query selects ({ count: 3 })", m[1])
	}
	return ""
}

// listPredicateNodes adds p's list predicates to n, the mapping that
// `assay explain` prints for p.
func listPredicateNodes(n *yaml.Node, p *Predicate) {
	if p.Count != nil {
		yAdd(n, "count", predicateNode(p.Count))
	}
	if p.Includes != nil {
		yAdd(n, "includes", yAny(p.Includes.V))
	}
	if p.Any != nil {
		yAdd(n, "any", predicateNode(p.Any))
	}
	if p.All != nil {
		yAdd(n, "all", predicateNode(p.All))
	}
	if len(p.Nth) > 0 {
		nn := yMap()
		for _, e := range p.Nth {
			yAdd(nn, strconv.Itoa(e.Index), predicateNode(e.P))
		}
		// The keys are indexes: as !!int, the loader reads them back.
		for i := 0; i < len(nn.Content); i += 2 {
			nn.Content[i].Tag = "!!int"
		}
		yAdd(n, "nth", yFlow(nn))
	}
}
