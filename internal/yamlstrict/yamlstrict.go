// Package yamlstrict decodes YAML into Go values strictly and with
// positions: unknown or duplicate keys and wrong types are errors naming
// file:line:column and the field path, and decoding goes on after an error
// so that one pass reports every problem. Check files and the global
// config share it.
package yamlstrict

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/assay-monitor/assay/internal/oneline"
	"github.com/assay-monitor/assay/internal/safefile"
	"go.yaml.in/yaml/v3"
)

// Position is a place in a file.
type Position struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	Column int    `json:"column"`
}

// String renders file:line:column, the form editors jump to.
func (p Position) String() string {
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Column)
}

// Error is one problem in a file, with its position and the dotted path of
// the offending field.
type Error struct {
	Pos   Position
	Field string
	Msg   string
}

// Error renders the error as one line. The file name, the keys of the
// field path and what a message quotes from a library (a template's bad
// character constant) are text as written: what is not printable in them
// ("\e[2J" in a quoted key) is escaped, so that the line drives no
// terminal.
func (e *Error) Error() string {
	if e.Field == "" {
		return oneline.Clean(fmt.Sprintf("%s: %s", e.Pos, e.Msg))
	}
	return oneline.Clean(fmt.Sprintf("%s: %s: %s", e.Pos, e.Field, e.Msg))
}

// Errors is every problem found; it is an error itself so that callers can
// print one line per problem.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unmarshaler is implemented by types that read themselves from YAML, such
// as shorthand forms (a bare 200 for a status expectation). They report
// problems through d and may call d.Decode for their parts.
type Unmarshaler interface {
	UnmarshalStrict(d *Decoder, n *yaml.Node, path string)
}

// Decoder walks a yaml.Node tree into Go values by reflection. Struct
// fields are matched by their yaml tag; a field `Pos Position` with tag "-"
// receives the position of the mapping. The decoder remembers where each
// field path it decoded was (ValuePos, KeyPos), so that checks made after
// decoding can point at the offending value rather than its parent.
type Decoder struct {
	File string
	Errs Errors
	// ReadFile reads the files the document names (schemas, specs,
	// certificates); nil means safefile.Read with its default limit.
	ReadFile func(path string) ([]byte, error)
	// Secret names the environment variables whose values are secrets
	// (nil: none): a message about a value holding one quotes the value as
	// written (${API_TOKEN}), not as expanded.
	Secret func(name string) bool

	keys, values map[string]Position
	// failed holds nodes already reported (an unset environment variable),
	// which are not decoded so that one mistake is one error.
	failed map[*yaml.Node]bool
	// sources holds the text as written of the scalars ${VAR} expansion
	// changed, and lookup the environment it used (see Source).
	sources map[*yaml.Node]string
	lookup  func(string) (string, bool)
	// rawLookup is lookup without the VAR_FILE fallback.
	rawLookup func(string) (string, bool)
	// secret holds the scalars whose value holds a secret.
	secret map[*yaml.Node]bool
	// files caches the files ${file:PATH} read (see fileref.go).
	files map[string]fileRead
}

// Read reads a file the document names, with ReadFile.
func (d *Decoder) Read(path string) ([]byte, error) {
	if d.ReadFile != nil {
		return d.ReadFile(path)
	}
	return safefile.Read(path, 0)
}

// ValuePos is the position of the value decoded at the field path, or
// fallback if the input had no such path.
func (d *Decoder) ValuePos(path string, fallback Position) Position {
	if p, ok := d.values[path]; ok {
		return p
	}
	return fallback
}

// Has reports whether the input had a value at the field path.
func (d *Decoder) Has(path string) bool {
	_, ok := d.values[path]
	return ok
}

// KeyPos is the position of the mapping key naming the field path, or
// fallback if the input had no such key.
func (d *Decoder) KeyPos(path string, fallback Position) Position {
	if p, ok := d.keys[path]; ok {
		return p
	}
	return fallback
}

func (d *Decoder) recordKey(path string, k *yaml.Node) {
	if d.keys == nil {
		d.keys = map[string]Position{}
	}
	d.keys[path] = d.Pos(k)
}

// Pos is the position of n in the file.
func (d *Decoder) Pos(n *yaml.Node) Position {
	return Position{File: d.File, Line: n.Line, Column: n.Column}
}

// Errorf records a problem at n. If n's value holds a secret, the
// message shows n as written instead, however it quoted it.
func (d *Decoder) Errorf(n *yaml.Node, path, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if d.secret[n] {
		msg = d.unquote(n, msg)
	}
	d.Errs = append(d.Errs, &Error{Pos: d.Pos(n), Field: path, Msg: msg})
}

// unquote replaces the forms in which msg may quote n's expanded value
// (Describe, Excerpt, %q, as is) with n's text as written.
func (d *Decoder) unquote(n *yaml.Node, msg string) string {
	src := d.sources[n]
	written := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: src}
	for _, r := range [][2]string{
		{Describe(n), Describe(written)},
		{Excerpt(n.Value), Excerpt(src)},
		{strconv.Quote(n.Value), strconv.Quote(src)},
		{n.Value, src},
	} {
		if len(r[0]) >= 3 {
			msg = strings.ReplaceAll(msg, r[0], r[1])
		}
	}
	return msg
}

// ErrAt records a problem at a position remembered earlier.
func (d *Decoder) ErrAt(pos Position, path, format string, args ...any) {
	d.Errs = append(d.Errs, &Error{Pos: pos, Field: path, Msg: fmt.Sprintf(format, args...)})
}

// Into decodes n into the value ptr points to.
func (d *Decoder) Into(n *yaml.Node, ptr any, path string) {
	d.Decode(n, reflect.ValueOf(ptr).Elem(), path)
}

var (
	unmarshalerType = reflect.TypeOf((*Unmarshaler)(nil)).Elem()
	positionType    = reflect.TypeOf(Position{})
)

// JoinPath appends a key to a dotted field path.
func JoinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// Resolve follows aliases.
func Resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// IsNull reports whether n is an explicit null.
func IsNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// Decode fills v (addressable) from n.
func (d *Decoder) Decode(n *yaml.Node, v reflect.Value, path string) {
	n = Resolve(n)
	if n == nil || d.failed[n] {
		return
	}
	if d.values == nil {
		d.values = map[string]Position{}
	}
	d.values[path] = d.Pos(n)
	if v.CanAddr() && v.Addr().Type().Implements(unmarshalerType) {
		v.Addr().Interface().(Unmarshaler).UnmarshalStrict(d, n, path)
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		// A null leaves a pointer unset, unless the type reads nulls itself
		// (an expected value of null is a real assertion).
		if IsNull(n) && !v.Type().Implements(unmarshalerType) {
			return
		}
		nv := reflect.New(v.Type().Elem())
		d.Decode(n, nv.Elem(), path)
		if e := v.Type().Elem(); e.Kind() == reflect.Struct && !v.Type().Implements(unmarshalerType) && n.Kind != yaml.MappingNode {
			// The error is reported: a value that is no mapping leaves no
			// struct behind, whose empty fields would be reported again,
			// at no position.
			return
		}
		v.Set(nv)
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Map:
		if IsNull(n) {
			return
		}
		if n.Kind != yaml.MappingNode {
			d.Errorf(n, path, "expected a mapping, got %s", Describe(n))
			return
		}
		if v.IsNil() {
			v.Set(reflect.MakeMap(v.Type()))
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := Resolve(n.Content[i]), n.Content[i+1]
			if seen[k.Value] {
				d.Errorf(k, JoinPath(path, k.Value), "duplicate key %s", Excerpt(k.Value))
				continue
			}
			seen[k.Value] = true
			d.recordKey(JoinPath(path, k.Value), k)
			ev := reflect.New(v.Type().Elem()).Elem()
			d.Decode(val, ev, JoinPath(path, k.Value))
			v.SetMapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key()), ev)
		}
	case reflect.Slice:
		if IsNull(n) {
			return
		}
		if n.Kind != yaml.SequenceNode {
			d.Errorf(n, path, "expected a list, got %s", Describe(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			d.Decode(c, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case reflect.String:
		if n.Kind != yaml.ScalarNode || IsNull(n) {
			d.Errorf(n, path, "expected a string, got %s", Describe(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
			d.Errorf(n, path, "expected true or false, got %s", Describe(n))
			return
		}
		b, _ := strconv.ParseBool(strings.ToLower(n.Value))
		v.SetBool(b)
	case reflect.Int, reflect.Int64, reflect.Int32:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
			d.Errorf(n, path, "expected an integer, got %s", Describe(n))
			return
		}
		var i int64
		if err := n.Decode(&i); err != nil {
			d.Errorf(n, path, "expected an integer, got %s", Describe(n))
			return
		}
		v.SetInt(i)
	case reflect.Float64:
		if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!int" && n.ShortTag() != "!!float") {
			d.Errorf(n, path, "expected a number, got %s", Describe(n))
			return
		}
		var f float64
		_ = n.Decode(&f)
		v.SetFloat(f)
	case reflect.Interface:
		var x any
		if err := n.Decode(&x); err != nil {
			d.Errorf(n, path, "%v", err)
			return
		}
		if x != nil {
			v.Set(reflect.ValueOf(Normalize(x)))
		}
	default:
		d.Errorf(n, path, "internal: cannot decode into %s", v.Type())
	}
}

type structField struct {
	name  string
	index int
}

func yamlFields(t reflect.Type) []structField {
	var fs []structField
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" || !f.IsExported() {
			continue
		}
		fs = append(fs, structField{tag, i})
	}
	return fs
}

func (d *Decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if IsNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.Errorf(n, path, "expected a mapping, got %s", Describe(n))
		return
	}
	t := v.Type()
	if f, ok := t.FieldByName("Pos"); ok && f.Type == positionType {
		v.FieldByIndex(f.Index).Set(reflect.ValueOf(d.Pos(n)))
	}
	fields := yamlFields(t)
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := Resolve(n.Content[i]), n.Content[i+1]
		fp := JoinPath(path, k.Value)
		var field *structField
		for j := range fields {
			if fields[j].name == k.Value {
				field = &fields[j]
				break
			}
		}
		if field == nil {
			names := make([]string, len(fields))
			for j, f := range fields {
				names[j] = f.name
			}
			if s := closest(k.Value, names); s != "" {
				d.Errorf(k, fp, "unknown field %s (did you mean %q?)", Excerpt(k.Value), s)
			} else {
				d.Errorf(k, fp, "unknown field %s (valid: %s)", Excerpt(k.Value), strings.Join(names, ", "))
			}
			continue
		}
		if seen[k.Value] {
			d.Errorf(k, fp, "duplicate key %s", Excerpt(k.Value))
			continue
		}
		seen[k.Value] = true
		d.recordKey(fp, k)
		d.Decode(val, v.Field(field.index), fp)
	}
}

// Describe names a node's kind and value for a type error.
func Describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	switch n.ShortTag() {
	case "!!null":
		return "nothing (null)"
	case "!!int", "!!float":
		return "number " + n.Value
	case "!!bool":
		return "boolean " + n.Value
	}
	return "string " + truncate(strconv.Quote(n.Value), 60)
}

// closest returns the candidate nearest to s by edit distance, if it is
// near enough to be a plausible typo.
func closest(s string, candidates []string) string {
	if len(s) > 64 { // no typo of a field name, and costly to compare
		return ""
	}
	best, bestD := "", len(s)/2+2
	for _, c := range candidates {
		if dist := editDistance(s, c); dist < bestD {
			best, bestD = c, dist
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Normalize turns YAML-decoded values into the shapes encoding/json
// produces (map[string]any, []any, float64 for numbers), so that expected
// values compare with JSON response values without type surprises.
func Normalize(x any) any {
	switch t := x.(type) {
	case map[string]any:
		for k, v := range t {
			t[k] = Normalize(v)
		}
		return t
	case map[any]any:
		m := make(map[string]any, len(t))
		for k, v := range t {
			m[fmt.Sprint(k)] = Normalize(v)
		}
		return m
	case []any:
		for i, v := range t {
			t[i] = Normalize(v)
		}
		return t
	case int:
		return float64(t)
	case int64:
		return float64(t)
	case uint64:
		return float64(t)
	}
	return x
}

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
