package checks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/assay-monitor/assay/internal/safefile"
	"github.com/assay-monitor/assay/internal/yamlstrict"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

// Limits of a JSON Schema (README, "Limits"): compiling a schema nested
// thousands deep takes minutes.
const (
	// MaxSchemaSize bounds each schema file.
	MaxSchemaSize = 1 << 20
	// MaxSchemaDepth bounds the nesting of objects and arrays in a schema.
	MaxSchemaDepth = 64
	// MaxSchemaFiles bounds the files one schema loads with $ref.
	MaxSchemaFiles = 64
)

// SchemaRef is a JSON Schema given inline (a mapping) or as a file path
// relative to the check file.
type SchemaRef struct {
	File   string
	Inline any
	schema *jsonschema.Schema
}

func (s *SchemaRef) UnmarshalStrict(d *decoder, n *yaml.Node, path string) {
	c := jsonschema.NewCompiler()
	c.UseLoader(&schemaLoader{})
	loc := "inline.json"
	switch {
	case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str":
		s.File = n.Value
		p := n.Value
		if !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(d.File), p)
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			d.Errorf(n, path, "%v", err)
			return
		}
		loc = abs
	case n.Kind == yaml.MappingNode:
		if depth(n, MaxSchemaDepth+1) > MaxSchemaDepth {
			d.Errorf(n, path, "invalid JSON Schema: nested more than %d levels deep", MaxSchemaDepth)
			return
		}
		var x any
		if err := n.Decode(&x); err != nil {
			d.Errorf(n, path, "%v", err)
			return
		}
		s.Inline = yamlstrict.Normalize(x)
		if err := c.AddResource(loc, s.Inline); err != nil {
			d.Errorf(n, path, "invalid JSON Schema: %v", err)
			return
		}
	default:
		d.Errorf(n, path, "expected a schema (a mapping) or a file path, got %s", yamlstrict.Describe(n))
		return
	}
	sch, err := c.Compile(loc)
	if err != nil {
		d.Errorf(n, path, "invalid JSON Schema: %s", schemaCompileError(err))
		return
	}
	s.schema = sch
}

// schemaCompileError words a compile error in one line of bounded length:
// for a file that is not a schema, only what the loader says (the file
// is never quoted).
func schemaCompileError(err error) string {
	var le *jsonschema.LoadURLError
	if errors.As(err, &le) {
		var fe schemaFileError
		if errors.As(le.Err, &fe) {
			return fmt.Sprintf("%s: %s", urlPath(le.URL), fe.msg)
		}
	}
	return truncate(oneLine(err.Error()), 300)
}

func urlPath(u string) string {
	if p, err := (jsonschema.FileLoader{}).ToFile(u); err == nil {
		return p
	}
	return u
}

// schemaFileError is why a file is no schema, in words that quote none
// of it.
type schemaFileError struct{ msg string }

func (e schemaFileError) Error() string { return e.msg }

// schemaLoader loads the schema files a schema names: local files only,
// each a regular file of at most MaxSchemaSize bytes holding a JSON object
// (or boolean) that looks like a schema, nested at most MaxSchemaDepth
// deep, and at most MaxSchemaFiles of them.
type schemaLoader struct {
	files int
}

func (l *schemaLoader) Load(url string) (any, error) {
	path, err := (jsonschema.FileLoader{}).ToFile(url)
	if err != nil {
		return nil, schemaFileError{"only local files may be referenced"}
	}
	if l.files++; l.files > MaxSchemaFiles {
		return nil, schemaFileError{fmt.Sprintf("the schema refers to more than %d files", MaxSchemaFiles)}
	}
	data, err := safefile.Read(path, MaxSchemaSize)
	if err != nil {
		return nil, schemaFileError{"cannot read: " + unwrapPathErr(err)}
	}
	if msg := jsonShape(data); msg != "" {
		return nil, schemaFileError{msg}
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return nil, schemaFileError{"not valid JSON"}
	}
	if !looksLikeSchema(doc) {
		return nil, schemaFileError{`not a JSON Schema (expected an object with schema keywords such as "type" or "$ref")`}
	}
	return doc, nil
}

// jsonShape checks that data is one JSON value nested at most
// MaxSchemaDepth deep, saying where it is not in words that quote
// nothing of it.
func jsonShape(data []byte) string {
	dec := json.NewDecoder(bytes.NewReader(data))
	level := 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return ""
		}
		if err != nil {
			off := dec.InputOffset()
			var se *json.SyntaxError
			if errors.As(err, &se) {
				off = se.Offset
			}
			return fmt.Sprintf("not valid JSON at line %d", 1+bytes.Count(data[:min(int(off), len(data))], []byte("\n")))
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			if level++; level > MaxSchemaDepth {
				return fmt.Sprintf("nested more than %d levels deep at line %d", MaxSchemaDepth, 1+bytes.Count(data[:dec.InputOffset()], []byte("\n")))
			}
		case json.Delim('}'), json.Delim(']'):
			level--
		}
	}
}

// schemaKeywords are the keywords of JSON Schema drafts 4 to 2020-12.
var schemaKeywords = map[string]bool{}

func init() {
	for _, k := range strings.Fields(`$schema $id id $ref $defs definitions $anchor $dynamicRef $dynamicAnchor
		$recursiveRef $recursiveAnchor $comment $vocabulary type properties patternProperties
		additionalProperties items prefixItems additionalItems contains minContains maxContains required
		enum const allOf anyOf oneOf not if then else format minimum maximum exclusiveMinimum
		exclusiveMaximum multipleOf minLength maxLength pattern minItems maxItems uniqueItems
		minProperties maxProperties dependentRequired dependentSchemas dependencies propertyNames
		unevaluatedProperties unevaluatedItems title description default examples readOnly writeOnly
		deprecated contentEncoding contentMediaType contentSchema`) {
		schemaKeywords[k] = true
	}
}

// looksLikeSchema reports whether doc is a boolean, an empty object, or
// an object with at least one schema keyword: what a schema file of ours
// is, as opposed to some other JSON file a path points at.
func looksLikeSchema(doc any) bool {
	switch x := doc.(type) {
	case bool:
		return true
	case map[string]any:
		if len(x) == 0 {
			return true
		}
		for k := range x {
			if schemaKeywords[k] {
				return true
			}
		}
	}
	return false
}

// depth is the nesting of mappings and lists under n, counted up to
// limit.
func depth(n *yaml.Node, limit int) int {
	n = yamlstrict.Resolve(n)
	if n == nil || limit <= 0 || (n.Kind != yaml.MappingNode && n.Kind != yaml.SequenceNode) {
		return 0
	}
	deepest := 0
	for _, c := range n.Content {
		deepest = max(deepest, depth(c, limit-1))
		if deepest >= limit-1 {
			break
		}
	}
	return 1 + deepest
}
