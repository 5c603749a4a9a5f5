package checks

import (
	"math"
	"strconv"
	"strings"

	"github.com/assay-monitor/assay/internal/yamlstrict"
)

// numericProblem says why v cannot be a number to compare with, or "": a
// number, a string holding one (" 42 "), or a template (rendered when the
// step runs) are fine; what could never compare (abc, [1, 2], true) is a
// load-time error rather than an assertion that always fails.
func numericProblem(v *Value) string {
	if v == nil {
		return ""
	}
	switch x := v.V.(type) {
	case float64:
		if math.IsNaN(x) {
			return "expected a number, got NaN"
		}
		return ""
	case string:
		if _, ok := v.tmpls[x]; ok {
			return ""
		}
		if f, err := strconv.ParseFloat(strings.TrimSpace(x), 64); err == nil && !math.IsNaN(f) {
			return ""
		}
		return "expected a number (or a template), got string " + yamlstrict.Excerpt(x)
	case nil:
		return "expected a number (or a template), got nothing (null)"
	case bool:
		return "expected a number (or a template), got boolean " + strconv.FormatBool(x)
	case []any:
		return "expected a number (or a template), got a list"
	case map[string]any:
		return "expected a number (or a template), got a mapping"
	}
	return "expected a number (or a template)"
}

// checkComparisons reports gt, gte, lt and lte values that are not numbers.
func (p *Predicate) checkComparisons(d *decoder, path string) {
	for _, c := range []struct {
		key string
		v   *Value
	}{{"gt", p.Gt}, {"gte", p.Gte}, {"lt", p.Lt}, {"lte", p.Lte}} {
		if msg := numericProblem(c.v); msg != "" {
			f := yamlstrict.JoinPath(path, c.key)
			d.ErrAt(c.v.Pos, f, "%s", msg)
		}
	}
}

// checkNumeric reports the values of a predicate on a number (a length, a
// body size, days remaining) that are not numbers: equals, not_equals and
// in. (A nested length is checked by the predicate holding it.)
func (p *Predicate) checkNumeric(d *decoder, path string) {
	if p == nil {
		return
	}
	check := func(f string, v *Value) {
		if msg := numericProblem(v); msg != "" {
			d.ErrAt(v.Pos, f, "%s", msg)
		}
	}
	// A bare value is equals at the predicate's own path.
	if eq := yamlstrict.JoinPath(path, "equals"); d.ValuePos(eq, Position{}) == (Position{}) {
		check(path, p.Equals)
	} else {
		check(eq, p.Equals)
	}
	check(yamlstrict.JoinPath(path, "not_equals"), p.NotEquals)
	for i, v := range p.In {
		check(yamlstrict.JoinPath(path, "in")+"["+strconv.Itoa(i)+"]", v)
	}
}
