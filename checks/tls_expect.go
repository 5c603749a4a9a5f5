package checks

import (
	"slices"
	"strconv"
	"strings"

	"github.com/assay-monitor/assay/internal/yamlstrict"
)

// tlsVersions are the versions tls.version compares with.
var tlsVersions = []string{"1.0", "1.1", "1.2", "1.3"}

// compileTLSExpect checks expect.tls (at path, the expect's) and builds
// its assertions, which read the step's TLSInfo: an HTTPS response's or
// a tls probe's (or a tcp probe's after STARTTLS).
func compileTLSExpect(d *decoder, s *Step, path string) {
	t := s.Expect.TLS
	if t == nil {
		return
	}
	tp := path + ".tls"
	if *t == (TLSExpect{}) && !reported(d, tp) {
		d.ErrAt(s.Pos, tp, "tls needs at least one of days_remaining, version, issuer, sans")
	}
	t.DaysRemaining.checkNumeric(d, tp+".days_remaining")
	rejectList(d, t.Version, tp+".version", "a TLS version")
	rejectList(d, t.Issuer, tp+".issuer", "an issuer")
	if t.DaysRemaining != nil {
		s.assertions = append(s.assertions, tlsDaysAssertion(t.DaysRemaining))
	}
	if t.Version != nil {
		normalizeTLSVersions(d, t.Version, tp+".version")
		s.assertions = append(s.assertions, tlsAssertion("tls version", t.Version, func(i *TLSInfo) any {
			return strings.TrimPrefix(i.Version, "TLS ")
		}))
	}
	if t.Issuer != nil {
		s.assertions = append(s.assertions, tlsAssertion("tls issuer", t.Issuer, func(i *TLSInfo) any { return i.Issuer }))
	}
	if t.SANs != nil {
		s.assertions = append(s.assertions, tlsAssertion("tls sans", t.SANs, func(i *TLSInfo) any {
			l := make([]any, len(i.SANs))
			for k, v := range i.SANs {
				l[k] = v
			}
			return l
		}))
	}
}

// tlsAssertion asserts p on what of the step's TLS connection, as label;
// a list takes the list predicates (includes, count).
func tlsAssertion(label string, p *Predicate, what func(*TLSInfo) any) assertion {
	return assertion{name: label, eval: func(r *response, data map[string]any) []AssertionResult {
		if r.tls == nil {
			return []AssertionResult{result(label, false, "a TLS connection", "plain HTTP")}
		}
		return p.evalNode(r, label, what(r.tls), data)
	}}
}

// normalizeTLSVersions turns the literal values tls.version equals (or
// not_equals, or is in) into the form it compares with, "1.3": YAML reads
// version: 1.3 as a number, and "TLS 1.3" (as TLSInfo shows it) and
// "TLSv1.3" are accepted too. Anything else could never match: a load
// error. (gt, gte, lt and lte compare numerically: gte: 1.2.)
func normalizeTLSVersions(d *decoder, p *Predicate, path string) {
	norm := func(v *Value, fp string) {
		if v == nil {
			return
		}
		var text, got string
		switch x := v.V.(type) {
		case float64:
			// 1 is 1.0; 1.25 stays what it is, and is refused.
			if text = strconv.FormatFloat(x, 'f', -1, 64); !strings.Contains(text, ".") {
				text += ".0"
			}
			got = strconv.FormatFloat(x, 'f', -1, 64)
		case string:
			if _, templated := v.tmpls[x]; templated {
				return
			}
			text, got = strings.TrimSpace(x), yamlstrict.Excerpt(x)
			if len(text) > 3 && strings.EqualFold(text[:3], "tls") {
				text = strings.TrimLeft(text[3:], " vV")
			}
		case bool:
			got = strconv.FormatBool(x)
		case nil:
			got = "nothing (null)"
		case []any:
			got = "a list"
		default:
			got = "a mapping"
		}
		if !slices.Contains(tlsVersions, text) {
			d.ErrAt(v.Pos, fp, "expected a TLS version: 1.0, 1.1, 1.2 or 1.3 (\"TLS 1.3\" works too), got %s", got)
			return
		}
		v.V = text
	}
	// A bare value is equals at the predicate's own path.
	if eq := yamlstrict.JoinPath(path, "equals"); d.ValuePos(eq, Position{}) == (Position{}) {
		norm(p.Equals, path)
	} else {
		norm(p.Equals, eq)
	}
	norm(p.NotEquals, yamlstrict.JoinPath(path, "not_equals"))
	for i, v := range p.In {
		norm(v, yamlstrict.JoinPath(path, "in")+"["+strconv.Itoa(i)+"]")
	}
}
