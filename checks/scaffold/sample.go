package scaffold

import (
	"math"
	"sort"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// Bounds of a sample made from a schema: a spec's schemas may nest deep,
// refer to themselves and hold many properties.
const (
	maxSampleDepth = 6
	maxSampleProps = 32
)

// probeText is the string a sample puts where the schema says nothing
// more precise: what a person reading the target's data sees.
const probeText = "assay probe"

// sample makes a value that the schema s accepts, for the body of a
// generated write: the schema's own example, const, first enum value or
// default when it has one; else, by type, an object of its required
// properties (all of them when none is required), one item for an array
// that needs one, a string fit for its format and length, a number
// within its bounds. It is a starting point, not a proof: patterns and
// combinations of keywords are not solved.
func sample(ref *openapi3.SchemaRef, depth int) any {
	if ref == nil || ref.Value == nil || depth > maxSampleDepth {
		return nil
	}
	s := ref.Value
	switch {
	case s.Example != nil:
		return s.Example
	case len(s.Examples) > 0:
		return s.Examples[0]
	case s.Const != nil:
		return s.Const
	case len(s.Enum) > 0:
		return s.Enum[0]
	case s.Default != nil:
		return s.Default
	}
	if len(s.AllOf) > 0 {
		merged := map[string]any{}
		for _, part := range s.AllOf {
			if m, ok := sample(part, depth+1).(map[string]any); ok {
				for k, v := range m {
					merged[k] = v
				}
			}
		}
		if len(merged) > 0 || len(s.Properties) == 0 {
			return merged
		}
	}
	for _, alts := range []openapi3.SchemaRefs{s.OneOf, s.AnyOf} {
		if len(alts) > 0 {
			return sample(alts[0], depth+1)
		}
	}
	switch {
	case s.Type.Is("object") || (s.Type.IsEmpty() && len(s.Properties) > 0):
		return sampleObject(s, depth)
	case s.Type.Includes("array"):
		if s.MinItems == 0 {
			return []any{}
		}
		return []any{sample(s.Items, depth+1)}
	case s.Type.Includes("string"):
		return sampleString(s)
	case s.Type.Includes("integer"):
		return math.Round(sampleNumber(s))
	case s.Type.Includes("number"):
		return sampleNumber(s)
	case s.Type.Includes("boolean"):
		return true
	case s.Type.Includes("object"):
		return sampleObject(s, depth)
	}
	return nil
}

func sampleObject(s *openapi3.Schema, depth int) map[string]any {
	names := s.Required
	if len(names) == 0 {
		for k := range s.Properties {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	out := map[string]any{}
	for _, k := range names {
		if len(out) >= maxSampleProps {
			break
		}
		out[k] = sample(s.Properties[k], depth+1)
	}
	return out
}

// formatSamples are strings valid for the common string formats.
var formatSamples = map[string]string{
	"date-time": "2024-01-01T00:00:00Z", "date": "2024-01-01", "time": "00:00:00Z",
	"email": "probe@example.com", "uri": "https://example.com/", "url": "https://example.com/",
	"uuid": "00000000-0000-4000-8000-000000000000", "hostname": "example.com",
	"ipv4": "192.0.2.1", "ipv6": "2001:db8::1",
}

func sampleString(s *openapi3.Schema) string {
	if v, ok := formatSamples[s.Format]; ok {
		return v
	}
	v := probeText
	if n := int(min(s.MinLength, 256)); len(v) < n {
		v += strings.Repeat(".", n-len(v))
	}
	if s.MaxLength != nil && uint64(len(v)) > *s.MaxLength {
		v = v[:*s.MaxLength]
	}
	return v
}

func sampleNumber(s *openapi3.Schema) float64 {
	v := 1.0
	if s.Min != nil && v < *s.Min {
		v = math.Ceil(*s.Min)
	}
	if s.Max != nil && v > *s.Max {
		v = math.Floor(*s.Max)
	}
	return v
}
