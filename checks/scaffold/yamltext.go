package scaffold

import (
	"bytes"
	"encoding/json"
	"regexp"
	"sort"
	"strings"
	"unicode"
)

// The generated file is written as text, so that it reads like a file a
// person wrote (flow maps where they are short, comments where something
// was left out). Every piece of text that comes from the spec goes
// through these functions: the loader expands ${VAR} in every value and
// parses {{ }} in templates, so a summary holding "${HOME}" or an example
// holding "{{" must be escaped, and a comment must stay one line.

// plainRe is text that YAML reads back as the same string unquoted.
var plainRe = regexp.MustCompile(`^[A-Za-z_/][A-Za-z0-9 _./+-]*$`)

// yamlWords are plain scalars YAML would read as something else.
var yamlWords = map[string]bool{"true": true, "false": true, "yes": true, "no": true, "on": true, "off": true,
	"null": true, "y": true, "n": true}

// str renders s as a YAML scalar read back as s: plain when that is
// unambiguous, else a double-quoted (JSON) string.
func str(s string) string {
	if plainRe.MatchString(s) && !yamlWords[strings.ToLower(s)] && !strings.HasSuffix(s, " ") {
		return s
	}
	return quote(s)
}

// quote is s as a double-quoted YAML string (JSON's escapes are YAML's).
func quote(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

// text is spec text as a value: "$" doubled, so that ${VAR} in it stays
// text.
func text(s string) string { return strings.ReplaceAll(s, "$", "$$") }

// templateText is spec text inside a template: "$" doubled, and "{{"
// written as the template {{ "{{" }}, which prints it.
func templateText(s string) string {
	return strings.ReplaceAll(text(s), "{{", `{{ "{{" }}`)
}

// jsonValue renders v (decoded JSON) as one line of YAML flow, with every
// string escaped as templateText (strings in a json: body may be
// templates). Keys are written as they are: the loader expands neither.
func jsonValue(v any) string {
	var b bytes.Buffer
	writeJSON(&b, v)
	return b.String()
}

func writeJSON(b *bytes.Buffer, v any) {
	switch t := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteString("{ ")
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(quote(k))
			b.WriteString(": ")
			writeJSON(b, t[k])
		}
		if len(keys) == 0 {
			b.Truncate(b.Len() - 1)
		} else {
			b.WriteByte(' ')
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				b.WriteString(", ")
			}
			writeJSON(b, e)
		}
		b.WriteByte(']')
	case string:
		b.WriteString(quote(templateText(t)))
	case nil:
		b.WriteString("null")
	default:
		j, err := json.Marshal(t)
		if err != nil {
			j = []byte("null")
		}
		b.Write(j)
	}
}

// maxComment bounds a comment line made of spec text.
const maxComment = 160

// comment makes spec text fit on one comment line: control characters
// and runs of white space become one space, and it is cut at maxComment.
func comment(s string) string {
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }), " ")
	if r := []rune(s); len(r) > maxComment {
		s = string(r[:maxComment-1]) + "…"
	}
	return s
}
