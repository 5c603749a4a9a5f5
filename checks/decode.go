package checks

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// LoadError is one problem in a check file, with its position and the
// dotted path of the offending field.
type LoadError struct {
	Pos   Position
	Field string
	Msg   string
}

func (e *LoadError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%s: %s", e.Pos, e.Msg)
	}
	return fmt.Sprintf("%s: %s: %s", e.Pos, e.Field, e.Msg)
}

// LoadErrors is every problem found while loading; it is an error itself
// so that callers can print one line per problem.
type LoadErrors []*LoadError

func (es LoadErrors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// nodeDecoder is implemented by types that read themselves from YAML, such
// as shorthand forms (a bare 200 for a status expectation).
type nodeDecoder interface {
	decodeNode(d *decoder, n *yaml.Node, path string)
}

// decoder walks a yaml.Node tree into Go values by reflection, strictly:
// unknown or duplicate keys and wrong types are errors, and it goes on after
// an error so that one pass reports every problem in a file.
type decoder struct {
	file string
	errs LoadErrors
}

func (d *decoder) pos(n *yaml.Node) Position {
	return Position{File: d.file, Line: n.Line, Column: n.Column}
}

func (d *decoder) errorf(n *yaml.Node, path, format string, args ...any) {
	d.errs = append(d.errs, &LoadError{Pos: d.pos(n), Field: path, Msg: fmt.Sprintf(format, args...)})
}

var (
	nodeDecoderType = reflect.TypeOf((*nodeDecoder)(nil)).Elem()
	positionType    = reflect.TypeOf(Position{})
)

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// decode fills v (addressable) from n.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	n = resolve(n)
	if n == nil {
		return
	}
	if v.CanAddr() && v.Addr().Type().Implements(nodeDecoderType) {
		v.Addr().Interface().(nodeDecoder).decodeNode(d, n, path)
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if isNull(n) {
			return
		}
		nv := reflect.New(v.Type().Elem())
		d.decode(n, nv.Elem(), path)
		v.Set(nv)
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Map:
		if isNull(n) {
			return
		}
		if n.Kind != yaml.MappingNode {
			d.errorf(n, path, "expected a mapping, got %s", describe(n))
			return
		}
		if v.IsNil() {
			v.Set(reflect.MakeMap(v.Type()))
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := resolve(n.Content[i]), n.Content[i+1]
			if seen[k.Value] {
				d.errorf(k, joinPath(path, k.Value), "duplicate key %q", k.Value)
				continue
			}
			seen[k.Value] = true
			ev := reflect.New(v.Type().Elem()).Elem()
			d.decode(val, ev, joinPath(path, k.Value))
			v.SetMapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key()), ev)
		}
	case reflect.Slice:
		if isNull(n) {
			return
		}
		if n.Kind != yaml.SequenceNode {
			d.errorf(n, path, "expected a list, got %s", describe(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			d.decode(c, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case reflect.String:
		if n.Kind != yaml.ScalarNode || isNull(n) {
			d.errorf(n, path, "expected a string, got %s", describe(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
			d.errorf(n, path, "expected true or false, got %s", describe(n))
			return
		}
		b, _ := strconv.ParseBool(strings.ToLower(n.Value))
		v.SetBool(b)
	case reflect.Int, reflect.Int64, reflect.Int32:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
			d.errorf(n, path, "expected an integer, got %s", describe(n))
			return
		}
		var i int64
		if err := n.Decode(&i); err != nil {
			d.errorf(n, path, "expected an integer, got %s", describe(n))
			return
		}
		v.SetInt(i)
	case reflect.Float64:
		if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!int" && n.ShortTag() != "!!float") {
			d.errorf(n, path, "expected a number, got %s", describe(n))
			return
		}
		var f float64
		_ = n.Decode(&f)
		v.SetFloat(f)
	case reflect.Interface:
		var x any
		if err := n.Decode(&x); err != nil {
			d.errorf(n, path, "%v", err)
			return
		}
		if x != nil {
			v.Set(reflect.ValueOf(normalizeYAML(x)))
		}
	default:
		d.errorf(n, path, "internal: cannot decode into %s", v.Type())
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

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "expected a mapping, got %s", describe(n))
		return
	}
	t := v.Type()
	if f, ok := t.FieldByName("Pos"); ok && f.Type == positionType {
		v.FieldByIndex(f.Index).Set(reflect.ValueOf(d.pos(n)))
	}
	fields := yamlFields(t)
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := resolve(n.Content[i]), n.Content[i+1]
		fp := joinPath(path, k.Value)
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
				d.errorf(k, fp, "unknown field %q (did you mean %q?)", k.Value, s)
			} else {
				d.errorf(k, fp, "unknown field %q (valid: %s)", k.Value, strings.Join(names, ", "))
			}
			continue
		}
		if seen[k.Value] {
			d.errorf(k, fp, "duplicate key %q", k.Value)
			continue
		}
		seen[k.Value] = true
		d.decode(val, v.Field(field.index), fp)
	}
}

// describe names a node's kind and value for a type error.
func describe(n *yaml.Node) string {
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

// normalizeYAML turns YAML-decoded values into the shapes encoding/json
// produces (map[string]any, []any, float64 for numbers), so that expected
// values compare with JSON response values without type surprises.
func normalizeYAML(x any) any {
	switch t := x.(type) {
	case map[string]any:
		for k, v := range t {
			t[k] = normalizeYAML(v)
		}
		return t
	case map[any]any:
		m := make(map[string]any, len(t))
		for k, v := range t {
			m[fmt.Sprint(k)] = normalizeYAML(v)
		}
		return m
	case []any:
		for i, v := range t {
			t[i] = normalizeYAML(v)
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

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// truncate shortens s to at most n bytes (on a rune boundary), marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf("…(%d more bytes)", len(s)-cut)
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

func reflectValue(p any) reflect.Value { return reflect.ValueOf(p).Elem() }
