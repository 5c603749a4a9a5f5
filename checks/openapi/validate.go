package openapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// Response is what a validation looks at.
type Response struct {
	// Method of the request (HEAD responses are judged without content).
	Method string
	Status int
	Header http.Header
	Body   []byte
	// Truncated is true when the body was cut at a size cap: it is then
	// not validated against the schema.
	Truncated bool
	// Redact, when set, hides secrets in a value of the body before a
	// problem quotes (and cuts) it, so that a cut leaves no part of one.
	Redact func(string) string
}

// Problem kinds.
const (
	KindStatus      = "status"
	KindContentType = "content-type"
	KindHeader      = "header"
	KindBody        = "body"
)

// Problem is one way a response departs from the spec.
type Problem struct {
	// Kind is status, content-type, header or body.
	Kind string
	// Name says what was looked at: "status", "header ETag", "body /id".
	Name string
	// Pointer is the JSON pointer of the offending value in the body (body
	// problems only; "" is the whole body).
	Pointer string
	// Spec is where the rule is written: file:line:column when known,
	// then the JSON pointer of the spec element.
	Spec     string
	Expected string
	Actual   string
	// Message is one line.
	Message string
}

// Validate checks a response against the operation and returns every
// problem found (none for a valid response).
func (o *Operation) Validate(r *Response) []Problem {
	var out []Problem
	responses := o.op.Responses
	if responses == nil || responses.Len() == 0 {
		return nil // 3.1 allows an operation without responses: nothing to hold it to
	}
	key, ref := responseFor(responses, r.Status)
	if ref == nil || ref.Value == nil {
		documented := slices.Sorted(maps.Keys(responses.Map()))
		out = append(out, Problem{
			Kind: KindStatus, Name: "status",
			Spec:     o.spec.where(o.op.Origin, o.Pointer()+"/responses"),
			Expected: "a status documented for " + o.String() + ": " + strings.Join(documented, ", "),
			Actual:   strconv.Itoa(r.Status),
			Message:  fmt.Sprintf("status %d is not documented for %s (documented: %s; no default response)", r.Status, o.String(), strings.Join(documented, ", ")),
		})
		return out
	}
	resp := ref.Value
	rptr := o.Pointer() + "/responses/" + escapePointer(key)

	for _, name := range slices.Sorted(maps.Keys(resp.Headers)) {
		if strings.EqualFold(name, "Content-Type") {
			continue // ignored by OpenAPI: the content map says it
		}
		out = append(out, o.header(name, resp.Headers[name], r, rptr+"/headers/"+escapePointer(name))...)
	}

	if len(r.Body) == 0 || r.Method == http.MethodHead || r.Status == http.StatusNoContent || r.Status == http.StatusNotModified {
		return out
	}
	ct := r.Header.Get("Content-Type")
	if len(resp.Content) == 0 {
		return append(out, Problem{
			Kind: KindContentType, Name: "content",
			Spec:     o.spec.where(resp.Origin, rptr),
			Expected: "no content (the spec documents none for " + key + ")",
			Actual:   fmt.Sprintf("%d bytes of %s", len(r.Body), orNone(ct)),
			Message:  fmt.Sprintf("the response has content but the spec documents none for %s %s", o.String(), key),
		})
	}
	mt := resp.Content.Get(ct)
	if mt == nil {
		return append(out, Problem{
			Kind: KindContentType, Name: "content type",
			Spec:     o.spec.where(resp.Origin, rptr+"/content"),
			Expected: "one of " + strings.Join(slices.Sorted(maps.Keys(resp.Content)), ", "),
			Actual:   orNone(ct),
			Message:  fmt.Sprintf("Content-Type %s is not documented for %s %s (documented: %s)", orNone(ct), o.String(), key, strings.Join(slices.Sorted(maps.Keys(resp.Content)), ", ")),
		})
	}
	if mt.Schema == nil || mt.Schema.Value == nil || r.Truncated || !isJSON(ct) {
		return out
	}
	mtKey := mediaKey(resp.Content, mt)
	sptr := rptr + "/content/" + escapePointer(mtKey) + "/schema"
	var doc any
	if err := json.Unmarshal(r.Body, &doc); err != nil {
		return append(out, Problem{
			Kind: KindBody, Name: "body",
			Spec:     o.spec.where(mt.Origin, sptr),
			Expected: "a JSON document",
			Actual:   "invalid JSON: " + err.Error(),
			Message:  "the body is not JSON: " + err.Error(),
		})
	}
	opts := []openapi3.SchemaValidationOption{openapi3.MultiErrors(), openapi3.VisitAsResponse()}
	if o.spec.is31() {
		opts = append(opts, openapi3.EnableJSONSchema2020())
	}
	err := mt.Schema.Value.VisitJSON(doc, opts...)
	if err == nil {
		return out
	}
	var leaves []*openapi3.SchemaError
	var others []error
	collectLeaves(err, &leaves, &others, 0)
	body := make([]Problem, 0, len(leaves))
	for _, se := range leaves {
		body = append(body, o.bodyProblem(se, mt, sptr, r.Redact))
	}
	sort.SliceStable(body, func(i, j int) bool { return body[i].Pointer < body[j].Pointer })
	out = append(out, body...)
	for _, e := range others {
		out = append(out, Problem{Kind: KindBody, Name: "body", Spec: o.spec.where(mt.Origin, sptr),
			Expected: "valid against the schema", Actual: oneLine(e.Error()), Message: "the body does not match the schema: " + oneLine(e.Error())})
	}
	return out
}

// responseFor finds the response documented for a status: exact, then the
// range (2XX), then default.
func responseFor(responses *openapi3.Responses, status int) (string, *openapi3.ResponseRef) {
	code := strconv.Itoa(status)
	if ref := responses.Value(code); ref != nil {
		return code, ref
	}
	if status >= 100 && status < 600 {
		rng := code[:1] + "XX"
		if ref := responses.Value(rng); ref != nil {
			return rng, ref
		}
	}
	if ref := responses.Default(); ref != nil {
		return "default", ref
	}
	return "", nil
}

func (o *Operation) header(name string, ref *openapi3.HeaderRef, r *Response, ptr string) []Problem {
	if ref == nil || ref.Value == nil {
		return nil
	}
	h := ref.Value
	where := o.spec.where(h.Origin, ptr)
	vals := r.Header.Values(name)
	label := "header " + name
	if len(vals) == 0 {
		if !h.Required {
			return nil
		}
		return []Problem{{Kind: KindHeader, Name: label, Spec: where, Expected: "present (required)", Actual: "absent",
			Message: fmt.Sprintf("required response header %s is absent", name)}}
	}
	if h.Schema == nil || h.Schema.Value == nil {
		return nil
	}
	raw := strings.Join(vals, ", ")
	v := decodeHeader(raw, h.Schema.Value)
	opts := []openapi3.SchemaValidationOption{openapi3.MultiErrors()}
	if o.spec.is31() {
		opts = append(opts, openapi3.EnableJSONSchema2020())
	}
	if err := h.Schema.Value.VisitJSON(v, opts...); err != nil {
		return []Problem{{Kind: KindHeader, Name: label, Spec: where, Expected: "valid against the header's schema",
			Actual: raw, Message: fmt.Sprintf("response header %s does not match its schema: %s", name, cleanReason(firstReason(err)))}}
	}
	return nil
}

// decodeHeader turns a header value into the JSON value its schema
// describes (simple style: arrays are comma-separated).
func decodeHeader(v string, s *openapi3.Schema) any {
	t := s.Type
	switch {
	case t.Includes("array"):
		var out []any
		var items *openapi3.Schema
		if s.Items != nil {
			items = s.Items.Value
		}
		for _, p := range strings.Split(v, ",") {
			p = strings.TrimSpace(p)
			if items != nil {
				out = append(out, decodeHeader(p, items))
			} else {
				out = append(out, p)
			}
		}
		return out
	case t.Includes("integer"):
		if i, err := strconv.ParseInt(v, 10, 64); err == nil {
			return float64(i)
		}
	case t.Includes("number"):
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			return f
		}
	case t.Includes("boolean"):
		if b, err := strconv.ParseBool(v); err == nil {
			return b
		}
	}
	return v
}

// collectLeaves gathers the most specific schema errors: those whose
// cause is not a list of further schema errors. anyOf, oneOf and not are
// reported as a whole: their branches' errors say little on their own.
func collectLeaves(err error, leaves *[]*openapi3.SchemaError, others *[]error, depth int) {
	if err == nil || depth > 64 {
		return
	}
	var me openapi3.MultiError
	if errors.As(err, &me) && !isSchemaError(err) {
		for _, e := range me {
			collectLeaves(e, leaves, others, depth+1)
		}
		return
	}
	var se *openapi3.SchemaError
	if !errors.As(err, &se) {
		*others = append(*others, err)
		return
	}
	switch se.SchemaField {
	case "anyOf", "oneOf", "not":
		*leaves = append(*leaves, se)
		return
	}
	var inner openapi3.MultiError
	if se.Origin != nil && errors.As(se.Origin, &inner) && len(inner) > 0 {
		n := len(*leaves)
		for _, e := range inner {
			collectLeaves(e, leaves, others, depth+1)
		}
		if len(*leaves) > n {
			return
		}
	}
	*leaves = append(*leaves, se)
}

func isSchemaError(err error) bool {
	_, ok := err.(*openapi3.SchemaError)
	return ok
}

func (o *Operation) bodyProblem(se *openapi3.SchemaError, mt *openapi3.MediaType, sptr string, redact func(string) string) Problem {
	ptr := pointerOf(se.JSONPointer())
	shown := ptr
	if shown == "" {
		shown = "/"
	}
	var origin *openapi3.Origin
	if se.Schema != nil {
		origin = se.Schema.Origin
	}
	if origin == nil || origin.Key == nil {
		origin = mt.Origin
	}
	where := o.spec.where(origin, sptr)
	if se.SchemaField != "" {
		where += " (keyword " + se.SchemaField + ")"
	}
	reason := cleanReason(se.Reason)
	return Problem{
		Kind: KindBody, Name: "body " + shown, Pointer: ptr, Spec: where,
		Expected: expectedOf(se, reason),
		Actual:   valueText(se.Value, redact),
		Message:  reason,
	}
}

// expectedOf describes what the schema wanted, as briefly as possible.
func expectedOf(se *openapi3.SchemaError, reason string) string {
	if se.Schema != nil {
		switch se.SchemaField {
		case "type":
			if se.Schema.Type != nil && !se.Schema.Type.IsEmpty() {
				ts := se.Schema.Type.Slice()
				if se.Schema.Nullable {
					ts = append(ts, "null")
				}
				return "type " + strings.Join(ts, " or ")
			}
		case "enum":
			return "one of " + valueText(se.Schema.Enum, nil)
		case "const":
			return "const " + valueText(se.Schema.Const, nil)
		}
	}
	return reason
}

var (
	errorAtRe = regexp.MustCompile(`^error at "[^"]*": `)
	atRe      = regexp.MustCompile(`^at '[^']*': `)
)

// cleanReason drops the location prefixes the 2020-12 validator adds (the
// pointer is reported separately) and folds the message onto one line.
func cleanReason(s string) string {
	s = oneLine(s)
	s = errorAtRe.ReplaceAllString(s, "")
	s = atRe.ReplaceAllString(s, "")
	if i := strings.Index(s, " Schema: {"); i > 0 {
		s = s[:i]
	}
	return s
}

func firstReason(err error) string {
	var leaves []*openapi3.SchemaError
	var others []error
	collectLeaves(err, &leaves, &others, 0)
	if len(leaves) > 0 {
		return leaves[0].Reason
	}
	return err.Error()
}

func pointerOf(tokens []string) string {
	if len(tokens) == 0 {
		return ""
	}
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(escapePointer(t))
	}
	return b.String()
}

// valueText is v as JSON, secrets hidden by redact (when set) before it is
// cut.
func valueText(v any, redact func(string) string) string {
	b, err := json.Marshal(v)
	s := string(b)
	if err != nil {
		s = fmt.Sprint(v)
	}
	if redact != nil {
		s = redact(s)
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// where renders a spec location: file:line:column (when the element's
// origin is known) and the JSON pointer.
func (s *Spec) where(o *openapi3.Origin, ptr string) string {
	if o != nil && o.Key != nil && o.Key.Line > 0 {
		file := o.Key.File
		if file == "" {
			file = s.File
		}
		return fmt.Sprintf("%s:%d:%d %s", file, o.Key.Line, o.Key.Column, ptr)
	}
	return s.File + " " + ptr
}

func isJSON(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

func mediaKey(c openapi3.Content, mt *openapi3.MediaType) string {
	for k, v := range c {
		if v == mt {
			return k
		}
	}
	return ""
}

func orNone(ct string) string {
	if ct == "" {
		return "no Content-Type"
	}
	return ct
}
