package checks

import (
	"sort"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"

	"go.yaml.in/yaml/v3"
)

// templateFromNode reads the scalar n as a template. When ${VAR}
// expansion changed it, the text as written is parsed, and the values of
// the variables go into the template's text and string constants as they
// are: a secret holding "{{" is sent byte for byte, never parsed (nor
// quoted by a parse error). A ${VAR} in an action's code, outside a string
// constant, is then a syntax error.
func templateFromNode(d *decoder, n *yaml.Node) (Template, error) {
	src, expanded := d.Source(n)
	if !expanded {
		return NewTemplate(n.Value)
	}
	t := Template{Raw: n.Value, src: src}
	if !strings.Contains(src, "{{") {
		return t, nil // text, whatever the values hold
	}
	pt, err := parseTemplate(src)
	if err != nil {
		return t, templateSyntaxError(src, err)
	}
	// The expanded pieces are kept, so that the lazy form made again from
	// src has the values of load time.
	var pieces []string
	walkTemplateText(pt, func(s string) string {
		v := d.ExpandText(s)
		pieces = append(pieces, v)
		return v
	})
	return t.compiled(pt, func() (*template.Template, error) {
		pt, err := parseTemplate(src)
		if err != nil {
			return nil, err
		}
		i := 0
		walkTemplateText(pt, func(string) string {
			v := pieces[i]
			i++
			return v
		})
		return pt, nil
	}), nil
}

// walkTemplateText replaces every text and string constant of t (and of
// the templates it defines) that holds a "$" with f of it, always in the
// same order.
func walkTemplateText(t *template.Template, f func(string) string) {
	var walk func(n parse.Node)
	walk = func(n parse.Node) {
		switch x := n.(type) {
		case *parse.ListNode:
			if x == nil {
				return
			}
			for _, c := range x.Nodes {
				walk(c)
			}
		case *parse.TextNode:
			if strings.Contains(string(x.Text), "$") {
				x.Text = []byte(f(string(x.Text)))
			}
		case *parse.StringNode:
			if strings.Contains(x.Text, "$") {
				x.Text = f(x.Text)
				x.Quoted = strconv.Quote(x.Text)
			}
		case *parse.ActionNode:
			walk(x.Pipe)
		case *parse.PipeNode:
			if x == nil {
				return
			}
			for _, c := range x.Cmds {
				walk(c)
			}
		case *parse.CommandNode:
			for _, a := range x.Args {
				walk(a)
			}
		case *parse.ChainNode:
			walk(x.Node)
		case *parse.IfNode:
			walk(x.Pipe)
			walk(x.List)
			walk(x.ElseList)
		case *parse.RangeNode:
			walk(x.Pipe)
			walk(x.List)
			walk(x.ElseList)
		case *parse.WithNode:
			walk(x.Pipe)
			walk(x.List)
			walk(x.ElseList)
		case *parse.TemplateNode:
			walk(x.Pipe)
		}
	}
	ts := t.Templates()
	sort.Slice(ts, func(i, j int) bool { return ts[i].Name() < ts[j].Name() })
	for _, tt := range ts {
		if tt.Tree != nil {
			walk(tt.Tree.Root)
		}
	}
}
