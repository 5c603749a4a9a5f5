package checks

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/template"
	"text/template/parse"

	"github.com/assay-monitor/assay/internal/safefile"
)

// Limits of rendering one template (README, "Limits"): a template is
// code a check author writes, and {{ range 100000000 }} or a printf of a
// million-wide field must not take a core or the memory with it.
const (
	// MaxTemplateOutput bounds the text one template renders, and the
	// result of each printf, print, println, html, js and urlquery in it.
	MaxTemplateOutput = 1 << 20
	// MaxTemplateSteps bounds the range iterations and {{ template }}
	// calls of one rendering.
	MaxTemplateSteps = 10_000
)

// stepFunc is the function the loader calls at the start of every range
// body and defined template, to count steps and notice the deadline.
const stepFunc = "__assay_step"

var (
	errTemplateOutput = errors.New("the template renders more than " + safefile.Size(MaxTemplateOutput))
	errTemplateSteps  = fmt.Errorf("the template takes more than %d steps (range iterations and template calls)", MaxTemplateSteps)
)

// templateFuncs bound the builtins that build text; stepFunc is replaced
// in the copy of the template each rendering of a counted one uses.
var templateFuncs = template.FuncMap{
	stepFunc: func() (string, error) { return "", nil },
	"printf": func(format string, args ...any) (string, error) {
		if formatWidth(format) > MaxTemplateOutput {
			return "", errTemplateOutput
		}
		return boundedText(fmt.Sprintf(format, args...))
	},
	"print":    func(args ...any) (string, error) { return boundedText(fmt.Sprint(args...)) },
	"println":  func(args ...any) (string, error) { return boundedText(fmt.Sprintln(args...)) },
	"html":     func(args ...any) (string, error) { return boundedText(template.HTMLEscaper(args...)) },
	"js":       func(args ...any) (string, error) { return boundedText(template.JSEscaper(args...)) },
	"urlquery": func(args ...any) (string, error) { return boundedText(template.URLQueryEscaper(args...)) },
}

func boundedText(s string) (string, error) {
	if len(s) > MaxTemplateOutput {
		return "", errTemplateOutput
	}
	return s, nil
}

// formatWidth adds up the widths and precisions a printf format asks for
// (fmt caps each at a million, "*" included), so that a format that would
// allocate more than the output may hold is refused before it runs.
func formatWidth(format string) int {
	total := 0
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			continue
		}
	spec:
		for i++; i < len(format); i++ {
			switch c := format[i]; {
			case c == '*':
				total += 1_000_000
			case '0' <= c && c <= '9':
				n := 0
				for i < len(format) && '0' <= format[i] && format[i] <= '9' {
					n = min(n*10+int(format[i]-'0'), 1_000_000)
					i++
				}
				total += n
				i-- // the loop moves past the last digit
			case strings.IndexByte("+-# .[]", c) < 0:
				break spec // the verb
			}
		}
	}
	return total
}

// renderState counts the steps of one rendering.
type renderState struct {
	ctx   context.Context
	steps int
}

func (st *renderState) step() (string, error) {
	if st.steps++; st.steps > MaxTemplateSteps {
		return "", errTemplateSteps
	}
	if err := st.ctx.Err(); err != nil {
		return "", fmt.Errorf("stopped: %w", err)
	}
	return "", nil
}

// limitWriter collects output up to MaxTemplateOutput.
type limitWriter struct{ b strings.Builder }

func (w *limitWriter) Write(p []byte) (int, error) {
	if w.b.Len()+len(p) > MaxTemplateOutput {
		return 0, errTemplateOutput
	}
	return w.b.Write(p)
}

// execute runs a parsed template within the limits; counted says that it
// has steps to count (stepFunc calls), for which it runs a copy with its
// own counter. Rendering stops at ctx's deadline at the next step.
func execute(ctx context.Context, t *template.Template, counted bool, data map[string]any) (string, error) {
	if counted {
		c, err := t.Clone()
		if err != nil {
			return "", err
		}
		st := &renderState{ctx: ctx}
		t = c.Funcs(template.FuncMap{stepFunc: st.step})
	}
	var w limitWriter
	if err := t.Execute(&w, data); err != nil {
		return "", err
	}
	return w.b.String(), nil
}

// stepAction is the action that calls stepFunc.
var stepAction = template.Must(template.New("").Funcs(templateFuncs).Parse("{{" + stepFunc + "}}")).Tree.Root.Nodes[0]

// countSteps makes every range body and every defined template of t call
// stepFunc first, and reports whether there was any (a template without
// loops or calls needs no counting: it does a bounded amount of work).
func countSteps(t *template.Template) bool {
	counted := false
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
		case *parse.IfNode:
			walk(x.List)
			walk(x.ElseList)
		case *parse.WithNode:
			walk(x.List)
			walk(x.ElseList)
		case *parse.RangeNode:
			walk(x.List)
			walk(x.ElseList)
			if x.List != nil {
				x.List.Nodes = append([]parse.Node{stepAction}, x.List.Nodes...)
			}
			counted = true
		case *parse.TemplateNode:
			counted = true
		}
	}
	for _, tt := range t.Templates() {
		if tt.Tree == nil || tt.Tree.Root == nil {
			continue
		}
		walk(tt.Tree.Root)
		if tt.Name() != t.Name() {
			tt.Tree.Root.Nodes = append([]parse.Node{stepAction}, tt.Tree.Root.Nodes...)
			counted = true
		}
	}
	return counted
}
