package checks

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/template"
	"text/template/parse"
	"time"

	"github.com/assay-monitor/assay/internal/oneline"
	"github.com/assay-monitor/assay/internal/yamlstrict"
	"github.com/theory/jsonpath"
	"go.yaml.in/yaml/v3"
)

func (dur *Duration) UnmarshalStrict(d *decoder, n *yaml.Node, path string) {
	if n.Kind != yaml.ScalarNode || yamlstrict.IsNull(n) {
		d.Errorf(n, path, "expected a duration like 10s or 1m30s, got %s", yamlstrict.Describe(n))
		return
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil || v < 0 {
		d.Errorf(n, path, "expected a duration like 10s or 1m30s, got %s", yamlstrict.Describe(n))
		return
	}
	*dur = Duration(v)
}

var sizeUnits = []struct {
	suffix string
	mult   int64
}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000}, {"B", 1}}

func (s *ByteSize) UnmarshalStrict(d *decoder, n *yaml.Node, path string) {
	if n.Kind == yaml.ScalarNode {
		if v, err := parseByteSize(n.Value); err == nil {
			*s = ByteSize(v)
			return
		}
	}
	d.Errorf(n, path, "expected a size like 1048576, 512KiB or 10MiB, got %s", yamlstrict.Describe(n))
}

func parseByteSize(v string) (int64, error) {
	v = strings.TrimSpace(v)
	mult := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(v, u.suffix) {
			v, mult = strings.TrimSpace(strings.TrimSuffix(v, u.suffix)), u.mult
			break
		}
	}
	i, err := strconv.ParseInt(v, 10, 64)
	if err != nil || i <= 0 || i > math.MaxInt64/mult {
		return 0, fmt.Errorf("invalid size")
	}
	return i * mult, nil
}

// String renders a size with a binary unit when exact.
func (s ByteSize) String() string {
	switch {
	case s >= 1<<20 && s%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", s>>20)
	case s >= 1<<10 && s%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", s>>10)
	}
	return fmt.Sprintf("%d bytes", int64(s))
}

type retriesFields Retries

func (r *Retries) UnmarshalStrict(d *decoder, n *yaml.Node, path string) {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!int" {
		d.Into(n, (&r.Count), path)
	} else {
		d.Into(n, ((*retriesFields)(r)), path)
	}
	if r.Count < 0 {
		d.Errorf(n, path, "count must be 0 or more, got %d", r.Count)
	}
}

func (o *RetryOn) UnmarshalStrict(d *decoder, n *yaml.Node, path string) {
	switch RetryOn(n.Value) {
	case RetryOnNetwork, RetryOnAny:
		*o = RetryOn(n.Value)
	default:
		d.Errorf(n, path, "expected %q or %q, got %s", RetryOnNetwork, RetryOnAny, yamlstrict.Describe(n))
	}
}

// Template is a string that may hold text/template actions referring to
// vars ({{ .vars.base }}) and captures ({{ .etag }}). It is parsed at load.
// The values of ${VAR} in it are literal text, never template code.
type Template struct {
	Raw string
	Pos Position
	t   *template.Template
	// counted says that t has loops or calls whose steps are counted
	// (see countSteps).
	counted bool
	// fast renders the template without reflection when it is text and
	// field chains; t is then nil and parsed again only if fast cannot do
	// (text/template keeps about 1 KB a template, which 10,000 checks feel).
	fast fastTemplate
	lazy *lazyTemplate
	// path is the field path the template was read from, for errors.
	path string
	// src is the text as written when ${VAR} expansion changed it into
	// Raw; messages quote it, so that they show no variable's value.
	src string
}

// lazyTemplate is the parsed form of a fast template, made on first need
// and shared by the copies of the Template.
type lazyTemplate struct {
	once    sync.Once
	t       *template.Template
	counted bool
	// parse makes the template again; nil means parseTemplate(Raw).
	parse func() (*template.Template, error)
}

func parseTemplate(s string) (*template.Template, error) {
	return template.New("").Option("missingkey=error").Parse(s)
}

// bounded makes a parsed template one that renders within the limits
// (see template_limits.go) and reports whether its steps are counted. It
// is done for the templates that run by text/template only: the
// functions cost a little on each template, which 10,000 checks feel.
func bounded(pt *template.Template) (*template.Template, bool) {
	pt.Funcs(templateFuncs)
	return pt, countSteps(pt)
}

// tmpl returns the parsed template, nil for a plain string, and whether
// its steps are counted.
func (t Template) tmpl() (*template.Template, bool) {
	if t.t != nil || t.lazy == nil {
		return t.t, t.counted
	}
	t.lazy.once.Do(func() {
		parse := t.lazy.parse
		if parse == nil {
			parse = func() (*template.Template, error) { return parseTemplate(t.Raw) }
		}
		if pt, err := parse(); err == nil { // it parsed at load
			t.lazy.t, t.lazy.counted = bounded(pt)
		}
	})
	return t.lazy.t, t.lazy.counted
}

// NewTemplate parses s as a template; used by code that builds checks.
func NewTemplate(s string) (Template, error) {
	t := Template{Raw: s}
	if !strings.Contains(s, "{{") {
		return t, nil
	}
	pt, err := parseTemplate(s)
	if err != nil {
		return t, templateSyntaxError(s, err)
	}
	return t.compiled(pt, nil), nil
}

// templateSyntaxError words a parse error of the template src.
func templateSyntaxError(src string, err error) error {
	// "template: :1: unclosed action": the name and line say nothing here.
	// The rest may quote src as is ("malformed character constant:
	// '\x01'"): it is escaped.
	msg := templateErrPrefix.ReplaceAllString(err.Error(), "")
	return fmt.Errorf("invalid template %q: %s", src, oneline.Clean(msg)+bareNameHint(msg))
}

// compiled sets the parsed forms of t from pt: the fast form and a lazy
// one made by reparse (nil: parseTemplate(Raw)), or pt itself.
func (t Template) compiled(pt *template.Template, reparse func() (*template.Template, error)) Template {
	if t.fast = compileFast(pt.Tree); t.fast != nil {
		t.lazy = &lazyTemplate{parse: reparse}
	} else {
		t.t, t.counted = bounded(pt)
	}
	return t
}

func (t *Template) UnmarshalStrict(d *decoder, n *yaml.Node, path string) {
	if n.Kind != yaml.ScalarNode || yamlstrict.IsNull(n) {
		d.Errorf(n, path, "expected a string, got %s", yamlstrict.Describe(n))
		return
	}
	nt, err := templateFromNode(d, n)
	if err != nil {
		d.Errorf(n, path, "%v", err)
	}
	nt.Pos = d.Pos(n)
	nt.path = path
	*t = nt
}

var templateErrPrefix = regexp.MustCompile(`^template: :\d+:(\d+:)? `)

// Templated reports whether the string has template actions.
func (t Template) Templated() bool { return t.t != nil || t.fast != nil }

// source is the template as written in the file: what messages quote.
func (t Template) source() string {
	if t.src != "" {
		return t.src
	}
	return t.Raw
}

// Render executes the template with data; a plain string is returned as is.
func (t Template) Render(data map[string]any) (string, error) {
	return t.RenderContext(context.Background(), data)
}

// RenderContext is Render that stops when ctx is done (the step's
// deadline). Rendering is bounded: at most MaxTemplateOutput bytes and
// MaxTemplateSteps range iterations and template calls.
func (t Template) RenderContext(ctx context.Context, data map[string]any) (string, error) {
	if !t.Templated() {
		return t.Raw, nil
	}
	if t.fast != nil {
		if s, ok := t.fast.render(data); ok {
			return s, nil
		}
	}
	pt, counted := t.tmpl()
	if pt == nil {
		return "", fmt.Errorf("cannot render %s", yamlstrict.Excerpt(t.source()))
	}
	s, err := execute(ctx, pt, counted, data)
	if err != nil {
		// Not "template ...": the engine's message says "template: " first.
		return "", fmt.Errorf("cannot render %s: %s", yamlstrict.Excerpt(t.source()), cleanTemplateErr(err))
	}
	return s, nil
}

// execPrefix is how text/template starts an execution error: the name,
// line and column, and the action, which say nothing here.
var execPrefix = regexp.MustCompile(`^template: [^:]*:\d+:\d+: executing "[^"]*" at <.*?>: `)

func cleanTemplateErr(err error) string {
	switch {
	case errors.Is(err, errTemplateSteps):
		return errTemplateSteps.Error()
	case errors.Is(err, errTemplateOutput):
		return errTemplateOutput.Error()
	case errors.Is(err, context.DeadlineExceeded):
		return "stopped: " + context.DeadlineExceeded.Error()
	case errors.Is(err, context.Canceled):
		return "stopped: " + context.Canceled.Error()
	}
	s := err.Error()
	if m := execPrefix.FindStringIndex(s); m != nil {
		return s[m[1]:]
	}
	if i := strings.LastIndex(s, ": "); i >= 0 && strings.HasPrefix(s, "template:") {
		return s[i+2:]
	}
	return s
}

// refs lists the field chains the template reads, e.g. ["etag"],
// ["vars","base"]. Fields inside with/range blocks are relative to another
// dot and are left out.
func (t Template) refs() [][]string {
	if t.fast != nil {
		return t.fast.refs()
	}
	if t.t == nil {
		return nil
	}
	var out [][]string
	var walk func(n parse.Node)
	walk = func(n parse.Node) {
		switch x := n.(type) {
		case *parse.ListNode:
			if x == nil {
				return
			}
			for _, c := range x.Nodes {
				walk(c)
			}
		case *parse.ActionNode:
			walk(x.Pipe)
		case *parse.PipeNode:
			if x == nil {
				return
			}
			for _, c := range x.Cmds {
				walk(c)
			}
		case *parse.CommandNode:
			for _, a := range x.Args {
				walk(a)
			}
		case *parse.FieldNode:
			out = append(out, x.Ident)
		case *parse.IfNode:
			walk(x.Pipe)
			walk(x.List)
			walk(x.ElseList)
		case *parse.WithNode:
			walk(x.Pipe)
		case *parse.RangeNode:
			walk(x.Pipe)
		}
	}
	walk(t.t.Tree.Root)
	return out
}

// Value is an expected value of any YAML type. Strings in it may be
// templates; a string that is a single action ({{ .id }}) yields the
// captured value with its type, so that 42 compares equal to a JSON 42.
type Value struct {
	V     any
	Pos   Position
	tmpls map[string]Template
	// actions holds, for each template of tmpls that is a single action
	// ({{ .id }}, {{ .vars.x }}), its data keys; nil when not computed
	// (a Value built in code), in which case render finds them itself.
	actions map[string][2]string
}

func (v *Value) UnmarshalStrict(d *decoder, n *yaml.Node, path string) {
	v.Pos = d.Pos(n)
	var x any
	if err := n.Decode(&x); err != nil {
		d.Errorf(n, path, "%v", err)
		return
	}
	v.V = yamlstrict.Normalize(x)
	literal := map[string]bool{}
	v.collect(d, n, path, literal)
	for s := range literal {
		if _, ok := v.tmpls[s]; ok {
			// Rendering finds templates by their text: this one text
			// cannot be both.
			d.Errorf(n, path, "the same text is a template here and the value of a ${VAR} there; write one of them differently")
			break
		}
	}
}

// collect finds the strings of the value under n that are templates;
// literal is told of those that hold "{{" from a ${VAR} value only.
func (v *Value) collect(d *decoder, n *yaml.Node, path string, literal map[string]bool) {
	n = yamlstrict.Resolve(n)
	if n == nil {
		return
	}
	switch n.Kind {
	case yaml.SequenceNode:
		for _, c := range n.Content {
			v.collect(d, c, path, literal)
		}
	case yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			v.collect(d, n.Content[i], path, literal)
		}
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "{{") || n.ShortTag() != "!!str" {
			return
		}
		tm, err := templateFromNode(d, n)
		if err != nil {
			d.Errorf(n, path, "%v", err)
			return
		}
		if !tm.Templated() {
			literal[n.Value] = true
			return
		}
		tm.Pos, tm.path = d.Pos(n), path
		if v.tmpls == nil {
			v.tmpls = map[string]Template{}
			v.actions = map[string][2]string{}
		}
		v.tmpls[n.Value] = tm
		// A single action as written keeps the type of what it reads.
		if m := singleAction.FindStringSubmatch(strings.TrimSpace(tm.source())); m != nil {
			v.actions[n.Value] = [2]string{m[1], strings.TrimPrefix(m[2], ".")}
		}
	}
}

func (v *Value) templates() []Template {
	if v == nil {
		return nil
	}
	out := make([]Template, 0, len(v.tmpls))
	for _, k := range sortedKeys(v.tmpls) {
		out = append(out, v.tmpls[k])
	}
	return out
}

var singleAction = regexp.MustCompile(`^\{\{-?\s*\.([A-Za-z_][A-Za-z0-9_]*)(\.[A-Za-z_][A-Za-z0-9_]*)?\s*-?\}\}$`)

// Render returns the value with its templates executed.
func (v *Value) Render(data map[string]any) (any, error) {
	return v.RenderContext(context.Background(), data)
}

// RenderContext is Render that stops when ctx is done, as
// Template.RenderContext does.
func (v *Value) RenderContext(ctx context.Context, data map[string]any) (any, error) {
	if v == nil {
		return nil, nil
	}
	if len(v.tmpls) == 0 {
		return v.V, nil
	}
	return v.render(ctx, v.V, data)
}

func (v *Value) render(ctx context.Context, x any, data map[string]any) (any, error) {
	switch t := x.(type) {
	case string:
		tm, ok := v.tmpls[t]
		if !ok {
			return t, nil
		}
		if v.actions != nil {
			if a, ok := v.actions[t]; ok {
				if val, ok := lookupData(data, a[0], a[1]); ok {
					return val, nil
				}
			}
		} else if m := singleAction.FindStringSubmatch(strings.TrimSpace(t)); m != nil {
			if val, ok := lookupData(data, m[1], strings.TrimPrefix(m[2], ".")); ok {
				return val, nil
			}
		}
		return tm.RenderContext(ctx, data)
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			r, err := v.render(ctx, e, data)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			r, err := v.render(ctx, e, data)
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	}
	return x, nil
}

func lookupData(data map[string]any, a, b string) (any, bool) {
	x, ok := data[a]
	if !ok {
		return nil, false
	}
	if b == "" {
		return x, true
	}
	m, ok := x.(map[string]any)
	if !ok {
		return nil, false
	}
	y, ok := m[b]
	return y, ok
}

// StatusExpect accepts a status code (200), a class ("2xx"), a range
// ("200-299") or a list of those; or "any" (no status assertion). A step
// that sets none expects 2xx (status_default.go). On a grpc step it is a
// gRPC health status instead (SERVING, or a list of names; default
// SERVING): the loader refuses names on HTTP steps and codes on grpc
// steps, so one list holds one kind.
type StatusExpect struct {
	Raw    string
	ranges [][2]int
	// names are the gRPC health statuses accepted (upper case).
	names []string
	// any is `status: any`: every status is accepted.
	any bool
	// pos is where the expectation is written, for the loader's errors
	// about the step kind it does not fit.
	pos Position
}

// grpcHealthStatuses are the statuses of grpc.health.v1
// HealthCheckResponse.ServingStatus, as the protocol names them.
var grpcHealthStatuses = []string{"SERVING", "NOT_SERVING", "UNKNOWN", "SERVICE_UNKNOWN"}

func (s *StatusExpect) UnmarshalStrict(d *decoder, n *yaml.Node, path string) {
	if isAnyStatus(n) {
		*s = StatusExpect{Raw: statusAny, any: true, pos: d.Pos(n)}
		return
	}
	s.pos = d.Pos(n)
	items := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		items = n.Content
		if len(items) == 0 {
			d.Errorf(n, path, "expected at least one status")
			return
		}
	}
	var raws []string
	for _, it := range items {
		it = yamlstrict.Resolve(it)
		if name, ok := parseHealthStatus(it); ok {
			if len(s.ranges) > 0 {
				d.Errorf(it, path, "%s is a gRPC health status: a list of HTTP status codes cannot hold it", name)
				continue
			}
			s.names = append(s.names, name)
			raws = append(raws, name)
			continue
		}
		r, ok := parseStatus(it)
		if !ok {
			switch {
			case isAnyStatus(it):
				d.Errorf(it, path, "any stands alone: status: any accepts every status")
			case looksLikeHealthStatus(it):
				d.Errorf(it, path, "expected a gRPC health status (%s), got %s", strings.Join(grpcHealthStatuses, ", "), yamlstrict.Describe(it))
			default:
				d.Errorf(it, path, `expected a status like 200, "2xx" or "200-299", got %s`, yamlstrict.Describe(it))
			}
			continue
		}
		if len(s.names) > 0 {
			d.Errorf(it, path, "%s is an HTTP status: a list of gRPC health statuses cannot hold it", it.Value)
			continue
		}
		s.ranges = append(s.ranges, r)
		raws = append(raws, it.Value)
	}
	if len(raws) == 1 {
		s.Raw = raws[0]
	} else {
		s.Raw = "one of " + strings.Join(raws, ", ")
	}
}

// parseHealthStatus reads a gRPC health status name, in any case.
func parseHealthStatus(n *yaml.Node) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		return "", false
	}
	v := strings.ToUpper(strings.TrimSpace(n.Value))
	if slices.Contains(grpcHealthStatuses, v) {
		return v, true
	}
	return "", false
}

// looksLikeHealthStatus reports whether n is written like a health status
// name (upper case and underscores, as SERVNG), so that its error lists
// the names rather than the HTTP forms.
func looksLikeHealthStatus(n *yaml.Node) bool {
	v := strings.TrimSpace(n.Value)
	if n.Kind != yaml.ScalarNode || len(v) < 2 {
		return false
	}
	return strings.Trim(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_") == ""
}

// isHealth reports whether the expectation names gRPC health statuses.
func (s *StatusExpect) isHealth() bool { return len(s.names) > 0 }

// MatchHealth reports whether a gRPC health status satisfies the
// expectation.
func (s *StatusExpect) MatchHealth(status string) bool {
	return s.any || slices.Contains(s.names, status)
}

func parseStatus(n *yaml.Node) ([2]int, bool) {
	if n.Kind != yaml.ScalarNode {
		return [2]int{}, false
	}
	v := strings.ToLower(strings.TrimSpace(n.Value))
	if len(v) == 3 && v[1:] == "xx" && v[0] >= '1' && v[0] <= '5' {
		c := int(v[0]-'0') * 100
		return [2]int{c, c + 99}, true
	}
	lo, hi, isRange := strings.Cut(v, "-")
	a, err1 := strconv.Atoi(strings.TrimSpace(lo))
	b := a
	var err2 error
	if isRange {
		b, err2 = strconv.Atoi(strings.TrimSpace(hi))
	}
	if err1 != nil || err2 != nil || a < 100 || b > 599 || a > b {
		return [2]int{}, false
	}
	return [2]int{a, b}, true
}

// Match reports whether code satisfies the expectation.
func (s *StatusExpect) Match(code int) bool {
	if s.any {
		return true
	}
	for _, r := range s.ranges {
		if code >= r[0] && code <= r[1] {
			return true
		}
	}
	return false
}

// JSONPath is an RFC 9535 JSONPath expression, parsed at load.
type JSONPath struct {
	Raw string
	p   *jsonpath.Path
}

func (j *JSONPath) UnmarshalStrict(d *decoder, n *yaml.Node, path string) {
	if n.Kind != yaml.ScalarNode || yamlstrict.IsNull(n) {
		d.Errorf(n, path, "expected a JSONPath like $.id, got %s", yamlstrict.Describe(n))
		return
	}
	p, err := jsonpath.Parse(n.Value)
	if err != nil {
		d.Errorf(n, path, "%s", jsonPathError(n.Value, err))
		return
	}
	*j = JSONPath{Raw: n.Value, p: p}
}

// IsZero reports whether no path was given.
func (j JSONPath) IsZero() bool { return j.p == nil }

type predicateFields Predicate

func (p *Predicate) UnmarshalStrict(d *decoder, n *yaml.Node, path string) {
	before := len(d.Errs)
	if n.Kind == yaml.MappingNode {
		d.Into(n, ((*predicateFields)(p)), path)
	} else {
		// A bare value is shorthand for equals.
		p.Equals = &Value{}
		p.Equals.UnmarshalStrict(d, n, path)
	}
	p.Pos = d.Pos(n)
	p.checkComparisons(d, path)
	p.Length.checkNumeric(d, yamlstrict.JoinPath(path, "length"))
	p.checkList(d, path)
	if p.Matches != nil && !p.Matches.Templated() {
		re, err := regexp.Compile(p.Matches.Raw)
		if err != nil {
			d.ErrAt(p.Matches.Pos, yamlstrict.JoinPath(path, "matches"), "invalid regular expression: %s", regexpError(err))
		}
		p.re = re
	}
	if p.Type != "" {
		switch p.Type {
		case "string", "number", "integer", "boolean", "array", "object", "null":
		default:
			d.Errorf(n, yamlstrict.JoinPath(path, "type"), "expected one of string, number, integer, boolean, array, object, null; got %q", p.Type)
		}
	}
	if p.In != nil && len(p.In) == 0 {
		d.Errorf(n, yamlstrict.JoinPath(path, "in"), "in needs at least one value")
	}
	// A misspelled predicate is one error (its "did you mean"), not also
	// an empty assertion.
	if p.isEmpty() && len(d.Errs) == before {
		d.Errorf(n, path, "an assertion needs at least one of equals, not_equals, exists, absent, type, length, gt, gte, lt, lte, contains, not_contains, matches, in, empty, count, includes, any, all, nth")
	}
}

func (p *Predicate) isEmpty() bool {
	return p.Equals == nil && p.NotEquals == nil && p.Exists == nil && p.Absent == nil &&
		p.Type == "" && p.Length == nil && p.Gt == nil && p.Gte == nil && p.Lt == nil &&
		p.Lte == nil && p.Contains == nil && p.NotContains == nil && p.Matches == nil &&
		p.In == nil && p.Empty == nil && !p.hasListKeys()
}

// regexpError renders a regexp compile error without its redundant
// "error parsing regexp:" prefix.
func regexpError(err error) string {
	return oneLine(strings.TrimPrefix(err.Error(), "error parsing regexp: "))
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
