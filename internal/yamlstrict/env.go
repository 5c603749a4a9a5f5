package yamlstrict

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxEnvNesting bounds how deep defaults may nest (${A:-${B:-${C}}} is
// 3); a deeper reference is left as it is written.
const maxEnvNesting = 8

// ExpandEnv substitutes ${VAR} and ${VAR:-default} in every scalar value
// under n (keys are left alone); $$ is a literal $. A default may itself
// hold references: ${A:-${B:-x}} is A, else B, else x. A variable that is
// unset, with no default, is an error at its position, and the value is
// then not decoded (no second error for the same mistake). seen, if not
// nil, is told every variable used and its value (callers treat some as
// secrets). Nodes that expansion changed keep their text as written, for
// Source.
func (d *Decoder) ExpandEnv(n *yaml.Node, lookup func(string) (string, bool), seen func(name, value string)) {
	d.ExpandEnvAt(n, "", lookup, seen)
}

// ExpandEnvAt is ExpandEnv for a node found at the field path, so that
// errors name the field as decoding would.
func (d *Decoder) ExpandEnvAt(n *yaml.Node, path string, lookup func(string) (string, bool), seen func(name, value string)) {
	d.lookup = lookup
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			d.ExpandEnvAt(n.Content[i+1], JoinPath(path, n.Content[i].Value), lookup, seen)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			d.ExpandEnvAt(c, fmt.Sprintf("%s[%d]", path, i), lookup, seen)
		}
	case yaml.DocumentNode:
		for _, c := range n.Content {
			d.ExpandEnvAt(c, path, lookup, seen)
		}
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "$") {
			return
		}
		if _, done := d.sources[n]; done {
			return // an anchor reached again
		}
		secret := false
		see := func(name, value string) {
			if d.Secret != nil && value != "" && d.Secret(name) {
				secret = true
			}
			if seen != nil {
				seen(name, value)
			}
		}
		out, changed := expandRefs(n.Value, 0, lookup, see, func(name string) {
			d.Errorf(n, path, "environment variable %s is not set (use ${%s:-default} for a default)", name, name)
			if d.failed == nil {
				d.failed = map[*yaml.Node]bool{}
			}
			d.failed[n] = true
		})
		if changed {
			if d.sources == nil {
				d.sources = map[*yaml.Node]string{}
			}
			d.sources[n] = n.Value
			n.Value = out
			if secret {
				if d.secret == nil {
					d.secret = map[*yaml.Node]bool{}
				}
				d.secret[n] = true
			}
			if n.Style == 0 {
				n.Tag = "" // re-resolve: ${PORT} may now be an integer
			}
		}
	}
}

// Source returns the text of the scalar n as written in the file, before
// ${VAR} expansion, and whether expansion changed it. Templates use it:
// the values of variables are text, never template code.
func (d *Decoder) Source(n *yaml.Node) (string, bool) {
	s, ok := d.sources[n]
	return s, ok
}

// ExpandText expands references in s, a part of a scalar that ExpandEnv
// already expanded whole (so that every variable is known to resolve, and
// was reported to seen): the text pieces of a template written with
// ${VAR} in it.
func (d *Decoder) ExpandText(s string) string {
	if d.lookup == nil || !strings.Contains(s, "$") {
		return s
	}
	out, _ := expandRefs(s, 0, d.lookup, nil, func(string) {})
	return out
}

// expandRefs substitutes the references of s; level is the nesting of
// defaults. missing is told of a variable unset with no default.
func expandRefs(s string, level int, lookup func(string) (string, bool), seen func(name, value string), missing func(name string)) (string, bool) {
	var b strings.Builder
	changed := false
	for i := 0; i < len(s); {
		j := strings.IndexByte(s[i:], '$')
		if j < 0 {
			b.WriteString(s[i:])
			break
		}
		b.WriteString(s[i : i+j])
		i += j
		if strings.HasPrefix(s[i:], "$$") {
			b.WriteByte('$')
			i += 2
			changed = true
			continue
		}
		name, def, hasDef, end, ok := parseRef(s, i)
		if !ok || (hasDef && level >= maxEnvNesting) {
			b.WriteByte('$')
			i++
			continue
		}
		changed = true
		i = end
		val, set := lookup(name)
		switch {
		case set && (val != "" || !hasDef):
			if seen != nil {
				seen(name, val)
			}
			b.WriteString(val)
		case hasDef:
			v, _ := expandRefs(def, level+1, lookup, seen, missing)
			b.WriteString(v)
		default:
			missing(name)
		}
	}
	return b.String(), changed
}

// parseRef reads the reference at s[i:] ("${NAME}" or "${NAME:-default}",
// the default running to the brace that closes the reference, nested
// references included). ok is false when s[i:] is no reference, which is
// then text.
func parseRef(s string, i int) (name, def string, hasDef bool, end int, ok bool) {
	if !strings.HasPrefix(s[i:], "${") {
		return "", "", false, 0, false
	}
	j := i + 2
	k := j
	for k < len(s) && (s[k] == '_' || 'A' <= s[k] && s[k] <= 'Z' || 'a' <= s[k] && s[k] <= 'z' || k > j && '0' <= s[k] && s[k] <= '9') {
		k++
	}
	if k == j || k >= len(s) {
		return "", "", false, 0, false
	}
	name = s[j:k]
	if s[k] == '}' {
		return name, "", false, k + 1, true
	}
	if !strings.HasPrefix(s[k:], ":-") {
		return "", "", false, 0, false
	}
	depth := 0
	for p := k + 2; p < len(s); p++ {
		switch {
		case strings.HasPrefix(s[p:], "$$"):
			p++
		case strings.HasPrefix(s[p:], "${"):
			depth++
			p++
		case s[p] == '}':
			if depth == 0 {
				return name, s[k+2 : p], true, p + 1, true
			}
			depth--
		}
	}
	return "", "", false, 0, false
}
