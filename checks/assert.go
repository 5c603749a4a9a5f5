package checks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/assay-monitor/assay/internal/oneline"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/theory/jsonpath"
)

// response is what assertions and captures read.
type response struct {
	status  int
	header  http.Header
	body    []byte
	total   time.Duration
	tls     *TLSInfo
	json    any
	jsonErr error
	parsed  bool
	// req is the request that got this response (the last one after
	// redirects); OpenAPI validation finds the operation with it.
	req *http.Request
	// observed are a probe's named observations (probe.go), which its
	// assertions read: a DNS answer's rcode, a health check's status.
	observed map[string]any

	// ctx is the step's: evaluation stops when it ends (see match.go).
	ctx context.Context
	// rd holds the secrets known when the step is evaluated (a copy, so
	// that the attempt's redactor stays off the heap): values are never
	// cut inside one (see redactor.cut).
	rd redactor
	// stopped is set when an evaluation found ctx done.
	stopped bool
	// values and depth measure the JSON document, once, for the cost of
	// JSONPath queries (measured tells whether they are set).
	values, depth int
	measured      bool
}

// JSON parses the body once, on first use.
func (r *response) JSON() (any, error) {
	if !r.parsed {
		r.parsed = true
		if len(r.body) == 0 {
			r.jsonErr = errors.New("response body is empty, not JSON")
		} else if err := json.Unmarshal(r.body, &r.json); err != nil {
			r.jsonErr = fmt.Errorf("response body is not JSON: %v", err)
		}
	}
	return r.json, r.jsonErr
}

// assertion is one compiled expectation: a query (what to look at) and a
// predicate (what must hold), in the spirit of Hurl's asserts.
type assertion struct {
	name string
	eval func(r *response, data map[string]any) []AssertionResult
}

const actualLimit = 200

func statusAssertion(s *StatusExpect) assertion {
	return assertion{name: "status", eval: func(r *response, _ map[string]any) []AssertionResult {
		return []AssertionResult{result("status", s.Match(r.status), s.Raw, strconv.Itoa(r.status))}
	}}
}

func result(name string, ok bool, expected, actual string) AssertionResult {
	ar := AssertionResult{Name: name, Passed: ok, Expected: expected, Actual: actual}
	if !ok {
		ar.Message = fmt.Sprintf("%s: expected %s, got %s", name, expected, actual)
	}
	return ar
}

func headerAssertion(name string, p *Predicate) assertion {
	// The name as the check author wrote it (ETag, not Go's Etag).
	label := "header " + name
	return assertion{name: label, eval: func(r *response, data map[string]any) []AssertionResult {
		vals := r.header.Values(name)
		if len(vals) == 0 {
			return p.eval(r, label, nil, false, true, data)
		}
		joined := strings.Join(vals, ", ")
		res := p.eval(r, label, joined, true, true, data)
		if len(vals) > 1 && !allPassed(res) && !p.negative() {
			// A multi-valued header passes when one of its field lines does.
			for _, v := range vals {
				if one := p.eval(r, label, v, true, true, data); allPassed(one) {
					return one
				}
			}
		}
		if len(vals) > 1 && allPassed(res) && p.negative() {
			// A negative predicate must hold for every field line too:
			// not_equals X fails when one line is X, as equals X passes.
			for _, v := range vals {
				if one := p.eval(r, label, v, true, true, data); !allPassed(one) {
					return one
				}
			}
		}
		return res
	}}
}

// negative reports whether the predicate asserts that something is not
// there (not_equals, not_contains, absent, exists: false), so that one
// field line of a multi-valued header cannot satisfy it for the others.
func (p *Predicate) negative() bool {
	return p.NotEquals != nil || p.NotContains != nil || (p.Absent != nil && *p.Absent) || (p.Exists != nil && !*p.Exists)
}

func allPassed(rs []AssertionResult) bool {
	for _, r := range rs {
		if !r.Passed {
			return false
		}
	}
	return true
}

func bodyAssertions(b *BodyExpect) []assertion {
	var out []assertion
	// f sees the body as bytes: a string of it would copy up to max_body
	// for every assertion.
	text := func(t *Template, key string, f func(r *response, want string) (bool, string)) {
		if t == nil {
			return
		}
		out = append(out, assertion{name: "body " + key, eval: func(r *response, data map[string]any) []AssertionResult {
			want, err := t.Render(data)
			if err != nil {
				return []AssertionResult{result("body", false, key, err.Error())}
			}
			ok, exp := f(r, want)
			return []AssertionResult{result("body", ok, exp, r.formatText(r.body))}
		}})
	}
	text(b.Equals, "equals", func(r *response, want string) (bool, string) {
		return string(r.body) == want, strconv.Quote(r.rd.cut(want, actualLimit))
	})
	text(b.Contains, "contains", func(r *response, want string) (bool, string) {
		return bytes.Contains(r.body, []byte(want)), "to contain " + strconv.Quote(want)
	})
	text(b.NotContains, "not_contains", func(r *response, want string) (bool, string) {
		return !bytes.Contains(r.body, []byte(want)), "not to contain " + strconv.Quote(want)
	})
	var bodyRe *regexp.Regexp // compiled once when not a template
	if b.Matches != nil && !b.Matches.Templated() {
		bodyRe, _ = regexp.Compile(b.Matches.Raw)
	}
	text(b.Matches, "matches", func(r *response, want string) (bool, string) {
		re := bodyRe
		if re == nil {
			var err error
			if re, err = regexp.Compile(want); err != nil {
				return false, "a valid regular expression, " + err.Error()
			}
		}
		ok, err := r.matchBytes(re, r.body)
		if err != nil {
			r.stopped = true
		}
		return ok, "to match " + strconv.Quote(want)
	})
	if b.Empty != nil {
		want := *b.Empty
		out = append(out, assertion{name: "body", eval: func(r *response, _ map[string]any) []AssertionResult {
			exp := "empty"
			if !want {
				exp = "not empty"
			}
			return []AssertionResult{result("body", (len(r.body) == 0) == want, exp, r.formatText(r.body))}
		}})
	}
	if b.Size != nil {
		out = append(out, assertion{name: "body size", eval: func(r *response, data map[string]any) []AssertionResult {
			return b.Size.eval(r, "body size", float64(len(r.body)), true, false, data)
		}})
	}
	return out
}

// formatText renders a body for an actual: quoted text, cut at
// actualLimit, never inside a known secret.
func (r *response) formatText(b []byte) string {
	if len(b) == 0 {
		return "empty body"
	}
	if !utf8.Valid(b) {
		return fmt.Sprintf("%d bytes of binary data", len(b))
	}
	return strconv.Quote(r.rd.cutPrefix(string(b[:r.rd.window(len(b), actualLimit)]), actualLimit, len(b)))
}

func jsonAssertion(path string, jp *jsonpath.Path, p *Predicate) assertion {
	// A query may span lines (RFC 9535 allows whitespace): its label,
	// in every message, stays one line.
	label := "json " + oneline.Clean(path)
	singular := jp.Query().Singular() != nil
	return assertion{name: label, eval: func(r *response, data map[string]any) []AssertionResult {
		nodes, err := r.selectJSON(jp)
		switch {
		case errors.Is(err, errStopped):
			r.stopped = true
			return nil
		case err != nil:
			expected := "a JSON body"
			var tooMuch errTooExpensive
			if errors.As(err, &tooMuch) {
				expected = "a query the engine can afford"
			}
			return []AssertionResult{result(label, false, expected, err.Error())}
		}
		return p.evalJSON(r, label, path, nodes, singular, data)
	}}
}

func schemaAssertion(s *SchemaRef) assertion {
	where := "inline schema"
	if s.File != "" {
		where = s.File
	}
	return assertion{name: "json schema", eval: func(r *response, _ map[string]any) []AssertionResult {
		doc, err := r.JSON()
		if err != nil {
			return []AssertionResult{result("json schema", false, "valid against "+where, err.Error())}
		}
		err = s.schema.Validate(doc)
		if err == nil {
			return []AssertionResult{result("json schema", true, "valid against "+where, "valid")}
		}
		return []AssertionResult{result("json schema", false, "valid against "+where, schemaErrors(err, &r.rd))}
	}}
}

// schemaErrors lists the leaf errors as "at /pointer: message", never cut
// inside a known secret.
func schemaErrors(err error, rd *redactor) string {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return err.Error()
	}
	var msgs []string
	var walk func(u *jsonschema.OutputUnit)
	walk = func(u *jsonschema.OutputUnit) {
		if u.Error != nil && len(u.Errors) == 0 {
			loc := u.InstanceLocation
			if loc == "" {
				loc = "/"
			}
			msgs = append(msgs, fmt.Sprintf("at %s: %s", loc, u.Error.String()))
		}
		for i := range u.Errors {
			walk(&u.Errors[i])
		}
	}
	walk(ve.DetailedOutput())
	sort.Strings(msgs)
	return rd.cut(strings.Join(msgs, "; "), 4*actualLimit)
}

func responseTimeAssertion(max time.Duration) assertion {
	return assertion{name: "response time", eval: func(r *response, _ map[string]any) []AssertionResult {
		got := r.total.Round(time.Millisecond)
		if r.total > max && got <= max {
			// Rounding must not show a too slow response within the limit
			// ("expected <= 5ms, got 5ms" or "got 0s").
			got = r.total.Round(time.Microsecond)
		}
		return []AssertionResult{result("response time", r.total <= max, "<= "+max.String(), got.String())}
	}}
}

func tlsDaysAssertion(p *Predicate) assertion {
	return assertion{name: "tls days_remaining", eval: func(r *response, data map[string]any) []AssertionResult {
		if r.tls == nil {
			return []AssertionResult{result("tls days_remaining", false, "a TLS connection", "plain HTTP")}
		}
		return p.eval(r, "tls days_remaining", math.Floor(r.tls.DaysRemaining*10)/10, true, false, data)
	}}
}

// eval applies every key of the predicate to actual, a value of r.
// textual is set for text sources (headers, body) where an expected 0
// means the string "0".
func (p *Predicate) eval(r *response, name string, actual any, exists, textual bool, data map[string]any) []AssertionResult {
	var out []AssertionResult
	got := "nothing"
	if exists {
		got = r.formatValue(actual)
	}
	add := func(ok bool, expected string) {
		out = append(out, result(name, ok, expected, got))
	}
	render := func(v *Value) (any, bool) {
		x, err := v.Render(data)
		if err != nil {
			out = append(out, result(name, false, "a renderable value", err.Error()))
			return nil, false
		}
		if textual {
			x = textOf(x)
		}
		return x, true
	}
	if p.Exists != nil {
		if *p.Exists {
			add(exists, "to exist")
		} else {
			add(!exists, "to be absent")
		}
	}
	if p.Absent != nil {
		if *p.Absent {
			add(!exists, "to be absent")
		} else {
			add(exists, "to exist")
		}
	}
	if p.Equals != nil {
		if want, ok := render(p.Equals); ok {
			add(exists && equalValues(actual, want), r.formatValue(want))
		}
	}
	if p.NotEquals != nil {
		if want, ok := render(p.NotEquals); ok {
			add(exists && !equalValues(actual, want), "not "+r.formatValue(want))
		}
	}
	if p.Type != "" {
		add(exists && typeOf(actual, p.Type), "type "+p.Type)
	}
	if p.Length != nil {
		n, ok := lengthOf(actual)
		if !exists || !ok {
			out = append(out, result(name+" length", false, "a string, array or object", got))
		} else {
			out = append(out, p.Length.eval(r, name+" length", float64(n), true, false, data)...)
		}
	}
	cmp := func(v *Value, op string, f func(a, b float64) bool) {
		if v == nil {
			return
		}
		want, ok := render(v)
		if !ok {
			return
		}
		a, aok := toNumber(actual)
		b, bok := toNumber(want)
		add(exists && aok && bok && f(a, b), op+" "+r.formatValue(want))
	}
	cmp(p.Gt, ">", func(a, b float64) bool { return a > b })
	cmp(p.Gte, ">=", func(a, b float64) bool { return a >= b })
	cmp(p.Lt, "<", func(a, b float64) bool { return a < b })
	cmp(p.Lte, "<=", func(a, b float64) bool { return a <= b })
	if p.Contains != nil {
		if want, ok := render(p.Contains); ok {
			add(exists && containsValue(actual, want), "to contain "+r.formatValue(want))
		}
	}
	if p.NotContains != nil {
		if want, ok := render(p.NotContains); ok {
			add(exists && !containsValue(actual, want), "not to contain "+r.formatValue(want))
		}
	}
	if p.Matches != nil {
		pat, err := p.Matches.Render(data)
		re, cerr := p.re, error(nil)
		if re == nil || p.Matches.Templated() {
			re, cerr = regexp.Compile(pat)
		}
		switch {
		case err != nil:
			out = append(out, result(name, false, "a renderable pattern", err.Error()))
		case cerr != nil:
			out = append(out, result(name, false, "a valid regular expression", oneLine(cerr.Error())))
		default:
			s, isText := actual.(string)
			if !isText && exists {
				s, isText = textOf(actual).(string)
			}
			matched := false
			if exists && isText {
				var err error
				if matched, err = r.matchString(re, s); err != nil {
					r.stopped = true
					return out
				}
			}
			add(matched, "to match "+strconv.Quote(pat))
		}
	}
	if p.In != nil {
		var wants []any
		found := false
		for _, v := range p.In {
			want, ok := render(v)
			if !ok {
				return out
			}
			wants = append(wants, want)
			found = found || (exists && equalValues(actual, want))
		}
		add(found, "one of "+r.formatValue(wants))
	}
	if p.Empty != nil {
		n, ok := lengthOf(actual)
		empty := !exists || actual == nil || (ok && n == 0)
		if *p.Empty {
			add(empty, "empty")
		} else {
			add(!empty, "not empty")
		}
	}
	return out
}

// textOf renders scalars as text for comparison with header and body text.
func textOf(x any) any {
	switch t := x.(type) {
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(t)
	case nil:
		return ""
	}
	return x
}

func toNumber(x any) (float64, bool) {
	switch t := x.(type) {
	case float64:
		return t, true
	case int:
		return float64(t), true
	case int64:
		return float64(t), true
	case json.Number:
		f, err := t.Float64()
		return f, err == nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
		return f, err == nil
	}
	return 0, false
}

// equalValues compares JSON-shaped values; numbers compare by value.
func equalValues(a, b any) bool {
	if af, ok := a.(float64); ok {
		bf, ok := b.(float64)
		return ok && af == bf
	}
	return reflect.DeepEqual(a, b)
}

func containsValue(actual, want any) bool {
	switch t := actual.(type) {
	case string:
		w, ok := textOf(want).(string)
		return ok && strings.Contains(t, w)
	case []any:
		for _, e := range t {
			if equalValues(e, want) {
				return true
			}
		}
	case map[string]any:
		k, ok := want.(string)
		if ok {
			_, has := t[k]
			return has
		}
	}
	return false
}

func lengthOf(x any) (int, bool) {
	switch t := x.(type) {
	case string:
		return utf8.RuneCountInString(t), true
	case []any:
		return len(t), true
	case map[string]any:
		return len(t), true
	}
	return 0, false
}

func typeOf(x any, want string) bool {
	switch t := x.(type) {
	case nil:
		return want == "null"
	case string:
		return want == "string"
	case bool:
		return want == "boolean"
	case float64:
		return want == "number" || (want == "integer" && t == math.Trunc(t))
	case []any:
		return want == "array"
	case map[string]any:
		return want == "object"
	}
	return false
}

// formatValue renders a value for expected/actual: JSON for structures and
// strings, so that "42" and 42 read differently; cut at actualLimit, never
// inside a known secret.
func (r *response) formatValue(x any) string {
	if f, ok := x.(float64); ok {
		if f == math.Trunc(f) && math.Abs(f) < 1<<53 && (f != 0 || !math.Signbit(f)) {
			return strconv.FormatInt(int64(f), 10) // the same digits, faster
		}
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	if s, ok := x.(string); ok && plainJSONString(s) {
		return r.rd.cut(`"`+s+`"`, actualLimit) // as json.Marshal writes it
	}
	// Only what the cut keeps is encoded (see json_cut.go).
	total, ok := jsonLen(x)
	if !ok {
		return r.rd.cut(fmt.Sprint(x), actualLimit)
	}
	return r.rd.cutPrefix(jsonPrefix(x, r.rd.window(total, actualLimit)), actualLimit, total)
}

// plainJSONString reports whether json.Marshal writes s as is between
// quotes: printable ASCII without '"', '\\' and the HTML characters it
// escapes.
func plainJSONString(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c > 0x7e, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}
