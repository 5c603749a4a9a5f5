package yamlstrict

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/assay-monitor/assay/internal/safefile"

	"go.yaml.in/yaml/v3"
)

// maxEnvNesting bounds how deep defaults may nest (${A:-${B:-${C}}} is
// 3); a deeper reference is left as it is written.
const maxEnvNesting = 8

// ExpandEnv substitutes ${VAR} and ${VAR:-default} in every scalar value
// under n (keys are left alone); $$ is a literal $. A default may itself
// hold references: ${A:-${B:-x}} is A, else B, else x. A variable that is
// unset, with no default, is an error at its position, and the value is
// then not decoded (no second error for the same mistake). ${file:PATH}
// is the content of a file (see fileref.go). seen, if not nil, is told
// every variable used and its value, the default for one that takes its
// default, and every file read as "file:PATH" (callers treat some as
// secrets, see SecretRef). Nodes that expansion changed keep their text as
// written, for Source.
func (d *Decoder) ExpandEnv(n *yaml.Node, lookup func(string) (string, bool), seen func(name, value string)) {
	d.ExpandEnvAt(n, "", lookup, seen)
}

// ExpandEnvAt is ExpandEnv for a node found at the field path, so that
// errors name the field as decoding would.
func (d *Decoder) ExpandEnvAt(n *yaml.Node, path string, lookup func(string) (string, bool), seen func(name, value string)) {
	d.rawLookup, d.lookup = lookup, d.withFileRefs(withFiles(lookup))
	d.expandAt(n, path, d.lookup, seen)
}

func (d *Decoder) expandAt(n *yaml.Node, path string, lookup func(string) (string, bool), seen func(name, value string)) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			d.expandAt(n.Content[i+1], JoinPath(path, n.Content[i].Value), lookup, seen)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			d.expandAt(c, fmt.Sprintf("%s[%d]", path, i), lookup, seen)
		}
	case yaml.DocumentNode:
		for _, c := range n.Content {
			d.expandAt(c, path, lookup, seen)
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
			if value != "" && d.SecretRef(name) {
				secret = true
			}
			if seen != nil {
				seen(name, value)
			}
		}
		out, changed := expandRefs(n.Value, 0, lookup, see, func(name string) {
			if msg, ok := d.fileRefProblem(name); ok {
				d.Errorf(n, path, "%s", msg)
			} else if err := fileError(d.rawLookup, name); err != nil {
				d.Errorf(n, path, "environment variable %s is not set, and %s_FILE names a file that cannot be read: %v", name, name, err)
			} else {
				d.Errorf(n, path, "environment variable %s is not set (use ${%s:-default} for a default)", name, name)
			}
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

// maxSecretFile bounds a file read for VAR_FILE.
const maxSecretFile = 64 << 10

// withFiles makes ${VAR} read the file VAR_FILE names when VAR is unset
// and VAR_FILE is set (the Docker and Kubernetes secrets convention),
// less one trailing newline. An unreadable file leaves VAR unset.
func withFiles(lookup func(string) (string, bool)) func(string) (string, bool) {
	return func(name string) (string, bool) {
		if v, ok := lookup(name); ok {
			return v, true
		}
		if strings.HasSuffix(name, "_FILE") {
			return "", false
		}
		path, ok := lookup(name + "_FILE")
		if !ok || path == "" {
			return "", false
		}
		b, err := safefile.Read(path, maxSecretFile)
		if err != nil {
			return "", false
		}
		v := strings.TrimSuffix(string(b), "\n")
		return strings.TrimSuffix(v, "\r"), true
	}
}

// fromFile reports whether VAR's value comes from VAR_FILE: such a value
// is a secret whatever its name.
func fromFile(lookup func(string) (string, bool), name string) bool {
	if lookup == nil {
		return false
	}
	if _, set := lookup(name); set {
		return false
	}
	p, ok := lookup(name + "_FILE")
	return ok && p != ""
}

// fileError is why VAR_FILE could not give VAR's value, nil when it is
// not set.
func fileError(lookup func(string) (string, bool), name string) error {
	if lookup == nil {
		return nil
	}
	p, ok := lookup(name + "_FILE")
	if !ok || p == "" {
		return nil
	}
	_, err := safefile.Read(p, maxSecretFile)
	if err == nil {
		return nil
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err // not the file's content, only why
	}
	return err
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
			// The default stands for the variable: the default of a
			// secret variable is as secret as its value would be.
			if seen != nil {
				seen(name, v)
			}
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
	if name, end, ok := parseFileRef(s, i); ok {
		return name, "", false, end, true
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
