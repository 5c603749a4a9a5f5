// Package semantics holds assay's built-in HTTP semantics rules: small,
// independent checks of one HTTP exchange against RFC 9110 (HTTP
// Semantics) and RFC 9111 (HTTP Caching). It knows nothing of checks,
// steps or reports: the input is an Exchange (what was asked and what came
// back), the output a list of Findings, each naming a rule by a stable ID.
//
// Every rule sees only what an HTTP client sees after its transport has
// parsed the response. Go's client (like most) drops content it was told
// not to expect (a body after a 204 or a 304, or in answer to HEAD), so the
// rules that are about such content look at what is still observable, such
// as the Content-Length a 204 announced. Rule.Sees says, for each rule,
// what that is.
package semantics

import (
	"net/http"
	"sort"
	"strings"
)

// Level is the requirement level of a rule, in RFC 2119 terms.
type Level string

// Requirement levels. Only a MUST violation can fail a step (in strict mode).
const (
	Must   Level = "MUST"
	Should Level = "SHOULD"
)

// Exchange is one request and the response it got, as the client saw them.
type Exchange struct {
	// Method is the request method (GET, HEAD, PATCH, ...).
	Method string
	// RequestHeader is what was sent (If-None-Match, Range, ...); may be nil.
	RequestHeader http.Header

	// Status is the response status code.
	Status int
	// Header is the response header section.
	Header http.Header
	// Body is the response content as read (possibly only a prefix).
	Body []byte
	// BodyLen is the number of content bytes read; when smaller than
	// len(Body) (the zero value), len(Body) is used.
	BodyLen int64
	// Truncated is true when reading stopped at a size cap: the real length
	// is unknown, so no rule judges it.
	Truncated bool
	// Incomplete is true when the connection ended before the content did
	// (an unexpected EOF while reading).
	Incomplete bool

	// Redact, when set, hides secrets in a value before a finding quotes
	// (and cuts) it, so that a cut leaves no part of one.
	Redact func(string) string

	// Previous is the header section of an earlier 200 response to a GET of
	// the same URL, when the caller has one and the resource was not written
	// since; it lets the 304 rules know which validators a 200 would have
	// carried. Nil when unknown.
	Previous http.Header
}

func (ex *Exchange) bodyLen() int64 {
	if n := int64(len(ex.Body)); ex.BodyLen < n {
		return n
	}
	return ex.BodyLen
}

// Finding is one rule violated by one response.
type Finding struct {
	// Rule is the stable rule ID, e.g. "rfc9110/204-content-length".
	Rule string
	// Section is where the requirement is written, e.g. "RFC 9110 §8.6".
	Section string
	Level   Level
	// Expected and Actual are short, like an assertion's.
	Expected string
	Actual   string
	// Message is one line saying what is wrong.
	Message string
}

// Rule is one requirement of the HTTP RFCs that a response can be held to.
type Rule struct {
	// ID is stable: metrics, reports and docs use it ("rfc9110/405-allow").
	ID string
	// Section is where the requirement is written ("RFC 9110 §15.5.6").
	Section string
	Level   Level
	// Summary states the requirement in one line.
	Summary string
	// Sees says what the rule can observe through a Go HTTP client.
	Sees string

	check func(ex *Exchange, r *reporter)
}

// reporter collects the violations of one rule.
type reporter struct {
	rule   *Rule
	out    []Finding
	redact func(string) string
}

func (r *reporter) add(expected, actual, message string) {
	r.addSection("", expected, actual, message)
}

// addSection reports with a more precise section than the rule's own.
func (r *reporter) addSection(section, expected, actual, message string) {
	if section == "" {
		section = r.rule.Section
	}
	r.out = append(r.out, Finding{Rule: r.rule.ID, Section: section, Level: r.rule.Level,
		Expected: expected, Actual: actual, Message: message})
}

// Rules returns every rule, in the order they are evaluated (and
// documented). The slice is a copy.
func Rules() []Rule {
	out := make([]Rule, len(rules))
	copy(out, rules)
	return out
}

// IDs returns the ID of every rule, sorted: the complete set of values a
// "rule" metric label can take, so that a collector can expose every series
// from the start.
func IDs() []string {
	ids := make([]string, len(rules))
	for i, r := range rules {
		ids[i] = r.ID
	}
	sort.Strings(ids)
	return ids
}

// Lookup returns the rule with the given ID.
func Lookup(id string) (Rule, bool) {
	for _, r := range rules {
		if r.ID == id {
			return r, true
		}
	}
	return Rule{}, false
}

// Evaluate runs every rule on the exchange and returns the findings in rule
// order. A well-behaved response gives none.
func Evaluate(ex *Exchange) []Finding {
	if ex == nil || ex.Status == 0 {
		return nil
	}
	if ex.Header == nil {
		ex.Header = http.Header{}
	}
	// One reporter for every rule: it runs on every response of every
	// check, and most rules find nothing.
	rp := &reporter{redact: ex.Redact}
	for i := range rules {
		rp.rule = &rules[i]
		rules[i].check(ex, rp)
	}
	return rp.out
}

// field returns the values of a header joined as one list, and whether the
// header is present at all.
func field(h http.Header, name string) (string, bool) {
	vs := h.Values(name)
	if len(vs) == 0 {
		return "", false
	}
	return strings.Join(vs, ", "), true
}

// quote renders a header value for Expected/Actual, "absent" or "empty",
// secrets hidden before it is cut.
func (r *reporter) quote(v string, present bool) string {
	if !present {
		return "absent"
	}
	if v == "" {
		return "empty"
	}
	if r.redact != nil {
		v = r.redact(v)
	}
	return truncate(v, 120)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + "…"
}
