package yamlstrict

import (
	"fmt"
	"regexp"

	"go.yaml.in/yaml/v3"
)

// envNameRe is the form of an environment variable name in ${NAME}.
var envNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// maxSecretNames bounds the names one secrets: list may hold.
const maxSecretNames = 256

// SecretNames reads the top-level "secrets" list of the mapping root as
// written, before ${VAR} expansion (the names decide which values the
// expansion treats as secrets): the environment variable names it holds
// that are names. CheckSecretNames reports the entries that are not.
func SecretNames(root *yaml.Node) []string {
	list := secretsNode(root)
	if list == nil {
		return nil
	}
	var out []string
	for _, n := range list.Content {
		if n = Resolve(n); n != nil && n.Kind == yaml.ScalarNode && envNameRe.MatchString(n.Value) && len(out) < maxSecretNames {
			out = append(out, n.Value)
		}
	}
	return out
}

// CheckSecretNames records an error for every entry of root's "secrets"
// list that is a scalar but not an environment variable name, and for a
// list longer than the bound.
func (d *Decoder) CheckSecretNames(root *yaml.Node) {
	list := secretsNode(root)
	if list == nil {
		return
	}
	if len(list.Content) > maxSecretNames {
		d.Errorf(list, "secrets", "at most %d names, got %d", maxSecretNames, len(list.Content))
	}
	for i, n := range list.Content {
		// A list or mapping here is the decoder's error (a list of strings).
		if r := Resolve(n); r != nil && r.Kind == yaml.ScalarNode && !envNameRe.MatchString(r.Value) {
			d.Errorf(n, fmt.Sprintf("secrets[%d]", i), "expected an environment variable name like API_TOKEN (letters, digits and '_'), got %s", Describe(n))
		}
	}
}

// secretsNode is the sequence under root's "secrets" key, or nil.
func secretsNode(root *yaml.Node) *yaml.Node {
	root = Resolve(root)
	if root == nil || root.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "secrets" {
			if v := Resolve(root.Content[i+1]); v != nil && v.Kind == yaml.SequenceNode {
				return v
			}
		}
	}
	return nil
}
