package yamlstrict

import (
	"fmt"

	"go.yaml.in/yaml/v3"
)

// DefaultMaxNodes bounds the nodes one YAML document may expand to with
// its aliases followed: every walk over a document (decoding, ${VAR}
// expansion, fingerprints) visits at most this many nodes. A check file
// of 10,000 checks has about 300,000; a "billion laughs" file of a few
// nested aliases would have billions.
const DefaultMaxNodes = 1_000_000

// LimitNodes reports whether the document under n expands to at most max
// nodes (0 means DefaultMaxNodes) with aliases followed, and contains no
// alias to a node that contains it (which would make any walk endless).
// If not, it records one error, at the alias that crosses the limit, and
// returns false: the document must then not be walked. It takes time in
// proportion to the nodes of the file, not to what they expand to.
func (d *Decoder) LimitNodes(n *yaml.Node, path string, max int) bool {
	if max <= 0 {
		max = DefaultMaxNodes
	}
	s := &sizer{max: max, memo: map[*yaml.Node]int{}}
	total := 0
	// at holds the keys and indexes down to the node being walked; the
	// field path is made of them only for an error.
	var at []any
	fail := func(n *yaml.Node, format string, args ...any) bool {
		p := path
		for _, seg := range at {
			switch x := seg.(type) {
			case int:
				p = fmt.Sprintf("%s[%d]", p, x)
			case *yaml.Node:
				p = JoinPath(p, keyText(x))
			}
		}
		d.Errorf(n, p, format, args...)
		return false
	}
	var walk func(n *yaml.Node) bool
	walk = func(n *yaml.Node) bool {
		if n == nil {
			return true
		}
		if n.Kind == yaml.AliasNode {
			size := s.size(n.Alias)
			switch {
			case size < 0:
				return fail(n, "the alias *%s refers to a node that contains it", excerptName(n.Value))
			case total+size > max:
				return fail(n, "the document expands to more than %d nodes (YAML aliases)", max)
			}
			total += size
			return true
		}
		if total++; total > max {
			// Real nodes alone: a huge file rather than aliases.
			return fail(n, "the document has more than %d nodes", max)
		}
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				if !walk(k) {
					return false
				}
				at = append(at, k)
				if !walk(n.Content[i+1]) {
					return false
				}
				at = at[:len(at)-1]
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				at = append(at, i)
				if !walk(c) {
					return false
				}
				at = at[:len(at)-1]
			}
		default:
			for _, c := range n.Content {
				if !walk(c) {
					return false
				}
			}
		}
		return true
	}
	return walk(n)
}

// keyText is a mapping key as a field path shows it.
func keyText(k *yaml.Node) string {
	if k.Kind == yaml.ScalarNode {
		return k.Value
	}
	return "?"
}

// sizer computes the expanded size of nodes, remembering anchored ones
// (the only nodes reached more than once), capped at max+1. A node being
// sized is marked -1 so that an alias to it from inside is found.
type sizer struct {
	max  int
	memo map[*yaml.Node]int
}

func (s *sizer) size(n *yaml.Node) int {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n == nil {
		return 0
	}
	if v, ok := s.memo[n]; ok {
		return v
	}
	s.memo[n] = -1
	total := 1
	for _, c := range n.Content {
		cs := s.size(c)
		if cs < 0 {
			return -1
		}
		if total += cs; total > s.max {
			total = s.max + 1
			break
		}
	}
	if n.Anchor != "" {
		s.memo[n] = total
	} else {
		delete(s.memo, n)
	}
	return total
}

// excerptName shortens an anchor name for a message.
func excerptName(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
