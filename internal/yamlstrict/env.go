package yamlstrict

import (
	"fmt"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

var envRef = regexp.MustCompile(`\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}`)

// ExpandEnv substitutes ${VAR} and ${VAR:-default} in every scalar value
// under n (keys are left alone); $$ is a literal $. A variable that is
// unset, with no default, is an error at its position, and the value is
// then not decoded (no second error for the same mistake). seen, if not
// nil, is told every variable used and its value (callers treat some as
// secrets).
func (d *Decoder) ExpandEnv(n *yaml.Node, lookup func(string) (string, bool), seen func(name, value string)) {
	d.ExpandEnvAt(n, "", lookup, seen)
}

// ExpandEnvAt is ExpandEnv for a node found at the field path, so that
// errors name the field as decoding would.
func (d *Decoder) ExpandEnvAt(n *yaml.Node, path string, lookup func(string) (string, bool), seen func(name, value string)) {
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
		changed := false
		out := envRef.ReplaceAllStringFunc(n.Value, func(ref string) string {
			changed = true
			if ref == "$$" {
				return "$"
			}
			m := envRef.FindStringSubmatch(ref)
			val, ok := lookup(m[1])
			if !ok || (val == "" && m[2] != "") {
				if m[2] != "" {
					return m[3]
				}
				d.Errorf(n, path, "environment variable %s is not set (use ${%s:-default} for a default)", m[1], m[1])
				if d.failed == nil {
					d.failed = map[*yaml.Node]bool{}
				}
				d.failed[n] = true
				return ""
			}
			if seen != nil {
				seen(m[1], val)
			}
			return val
		})
		if changed {
			n.Value = out
			if n.Style == 0 {
				n.Tag = "" // re-resolve: ${PORT} may now be an integer
			}
		}
	}
}
