package yamlstrict

import "go.yaml.in/yaml/v3"

// FailedUnder reports whether a value under n was already reported (an
// unset environment variable), so that a type checking its fields after
// decoding does not report the same mistake again as a missing field.
func (d *Decoder) FailedUnder(n *yaml.Node) bool {
	if n == nil || len(d.failed) == 0 {
		return false
	}
	if d.failed[n] {
		return true
	}
	for _, c := range n.Content {
		if d.FailedUnder(c) {
			return true
		}
	}
	return false
}
