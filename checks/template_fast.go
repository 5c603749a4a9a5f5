package checks

import (
	"strconv"
	"strings"
	"text/template/parse"
)

// fastTemplate renders the common shape of a template, text and field
// chains like "{{ .vars.base }}/documents/{{ .id }}", by map lookups
// instead of text/template's reflection: the engine renders a URL, the
// headers and the expectations of every step of every run. Anything else
// (functions, pipelines, a missing key, a value that is neither a string
// nor a number) falls back to text/template, which then also produces the
// error message.
type fastTemplate []fastPart

type fastPart struct {
	text  string
	field []string // nil for text
}

// compileFast returns the fast form of a parsed template, or nil.
func compileFast(t *parse.Tree) fastTemplate {
	if t == nil || t.Root == nil {
		return nil
	}
	var out fastTemplate
	for _, n := range t.Root.Nodes {
		switch x := n.(type) {
		case *parse.TextNode:
			out = append(out, fastPart{text: string(x.Text)})
		case *parse.ActionNode:
			p := x.Pipe
			if p == nil || p.IsAssign || len(p.Decl) > 0 || len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 1 {
				return nil
			}
			f, ok := p.Cmds[0].Args[0].(*parse.FieldNode)
			if !ok || len(f.Ident) == 0 {
				return nil
			}
			out = append(out, fastPart{field: f.Ident})
		default:
			return nil
		}
	}
	return out
}

// render reports false when the template must run the slow way.
func (ft fastTemplate) render(data map[string]any) (string, bool) {
	var b strings.Builder
	for _, p := range ft {
		if p.field == nil {
			b.WriteString(p.text)
			continue
		}
		var x any = data
		for _, name := range p.field {
			m, ok := x.(map[string]any)
			if !ok {
				return "", false
			}
			if x, ok = m[name]; !ok {
				return "", false
			}
		}
		switch v := x.(type) {
		case string:
			b.WriteString(v)
		case float64:
			// What fmt's %v, and so text/template, prints.
			b.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
		case bool:
			b.WriteString(strconv.FormatBool(v))
		default:
			return "", false
		}
	}
	return b.String(), true
}

// refs lists the field chains, as Template.refs does for any template.
func (ft fastTemplate) refs() [][]string {
	var out [][]string
	for _, p := range ft {
		if p.field != nil {
			out = append(out, p.field)
		}
	}
	return out
}
