package checks

import (
	"math"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
)

// Redacted replaces every secret in output.
const Redacted = "[REDACTED]"

// redactedInURL replaces a credential in a URL's userinfo or query,
// where brackets would have to be escaped.
const redactedInURL = "REDACTED"

// sensitiveHeaders carry credentials whatever their value.
var sensitiveHeaders = map[string]bool{
	"Authorization": true, "Proxy-Authorization": true, "Cookie": true, "Set-Cookie": true,
	"X-Api-Key": true, "X-Auth-Token": true, "X-Amz-Security-Token": true,
}

// secretValue is a secret and where it came from.
type secretValue struct {
	value string
	// ref is what a request summary shows instead of the value: ${NAME}
	// for the environment variable or the capture NAME, Redacted when
	// the source is unknown (a literal credential in the check file).
	ref string
}

// reference is how a request summary refers to the environment variable
// or capture name: ${name}, what a shell expands.
func reference(name string) string { return "${" + name + "}" }

// appendSecret adds s to list unless its value is there already; a value
// of unknown source takes the reference of a known one.
func appendSecret(list []secretValue, s secretValue) []secretValue {
	for i := range list {
		if list[i].value == s.value {
			if list[i].ref == Redacted {
				list[i].ref = s.ref
			}
			return list
		}
	}
	return append(list, s)
}

// templateRef is the reference of a credential template that is exactly
// one capture, "{{ .token }}": the capture's name, which holds the value
// even when the capture is not secret; else Redacted.
func templateRef(t Template) string {
	if len(t.fast) == 1 && len(t.fast[0].field) == 1 && t.fast[0].field[0] != "vars" {
		return reference(t.fast[0].field[0])
	}
	return Redacted
}

// outside is the step index of output that is no step's request
// (responses, assertions, messages): secrets there are always Redacted.
const outside = -1

// redactor scrubs known secret values and credential-bearing fields from a
// step's output before it leaves the engine. In a step's request summary a
// secret of known source becomes its reference (${API_TOKEN}), so that the
// request can be replayed; everywhere else it becomes Redacted.
type redactor struct {
	values []redactedValue
	// forms are the values and their escaped forms, longest first.
	forms []secretForm
}

type redactedValue struct {
	secretValue
	// after is the index of the step that captured the value (-1 for
	// the environment and literals): the reference holds in the requests
	// of later steps only, an earlier request having sent the value
	// before anything held it under that name.
	after int
	// until is the last step whose requests may refer to the value: a
	// later step captured another value under the same name.
	until int
	// key is a part of the value that every form of it holds as is (see
	// keyOf), "" when it has none: text without the key holds none of its
	// forms, which then need no search.
	key string
}

type secretForm struct {
	text string
	of   int // index in values
}

// add adds secrets of unknown source.
func (rd *redactor) add(s ...string) {
	for _, v := range s {
		rd.addSecret(secretValue{value: v, ref: Redacted}, outside)
	}
}

// addSecret adds s, referred to in the requests of steps after the index
// after. A value added twice keeps its first known reference; a name that
// now holds another value no longer refers to the one it held before.
func (rd *redactor) addSecret(s secretValue, after int) {
	if len(s.value) < 3 { // shorter values would blank unrelated text
		return
	}
	if s.ref == "" {
		s.ref = Redacted
	}
	known := -1
	for i := range rd.values {
		if rd.values[i].value == s.value {
			known = i
			break
		}
	}
	if known >= 0 && (rd.values[known].ref != Redacted || s.ref == Redacted) {
		return
	}
	if s.ref != Redacted {
		// Forms of one captured value share its step and reference.
		for i := range rd.values {
			if v := &rd.values[i]; v.ref == s.ref && v.after != after {
				v.until = min(v.until, after)
			}
		}
	}
	if known >= 0 {
		v := &rd.values[known]
		v.ref, v.after, v.until = s.ref, after, math.MaxInt
		return
	}
	rd.values = append(rd.values, redactedValue{secretValue: s, after: after, until: math.MaxInt, key: keyOf(s.value)})
	of := len(rd.values) - 1
	for _, f := range formsOf(s.value) {
		if !slices.ContainsFunc(rd.forms, func(g secretForm) bool { return g.text == f }) {
			rd.forms = append(rd.forms, secretForm{text: f, of: of})
		}
	}
	// Longest first so that a secret containing another is replaced whole.
	sort.SliceStable(rd.forms, func(i, j int) bool { return len(rd.forms[i].text) > len(rd.forms[j].text) })
}

// refAt is what replaces the value v in the request of step i.
func (rd *redactor) refAt(v *redactedValue, step int) string {
	// A reference that itself contains a secret (a capture named like
	// another secret's value) would reveal it.
	if v.ref == Redacted || step <= v.after || step > v.until || rd.has(v.ref) {
		return Redacted
	}
	return v.ref
}

// str hides every secret in s as Redacted.
func (rd *redactor) str(s string) string { return rd.replace(s, outside) }

// replace hides every secret in s, by its reference in the request of
// step (see refAt), else as Redacted, and the beginning of a secret left
// before the mark of a cut (see hideCutSecrets).
func (rd *redactor) replace(s string, step int) string {
	if rd == nil || len(rd.forms) == 0 {
		return s
	}
	absent := rd.absent(s)
	for _, f := range rd.forms {
		if f.of < 64 && absent&(1<<f.of) != 0 {
			continue
		}
		if strings.Contains(s, f.text) {
			s = strings.ReplaceAll(s, f.text, rd.refAt(&rd.values[f.of], step))
		}
	}
	if strings.Contains(s, cutMark) {
		s = rd.hideCutSecrets(s)
	}
	return s
}

// absent has bit i set when s lacks the key of value i (of the first 64
// values), and so all of its forms.
func (rd *redactor) absent(s string) uint64 {
	var bits uint64
	for i := range rd.values[:min(64, len(rd.values))] {
		if k := rd.values[i].key; k != "" && !strings.Contains(s, k) {
			bits |= 1 << i
		}
	}
	return bits
}

func (rd *redactor) has(s string) bool {
	if rd == nil || len(rd.forms) == 0 {
		return false
	}
	absent := rd.absent(s)
	for _, f := range rd.forms {
		if f.of < 64 && absent&(1<<f.of) != 0 {
			continue
		}
		if strings.Contains(s, f.text) {
			return true
		}
	}
	return false
}

// refOf is what the request of step refers to the value v by: its
// reference, or Redacted.
func (rd *redactor) refOf(v string, step int) string {
	for i := range rd.values {
		if rd.values[i].value == v {
			return rd.refAt(&rd.values[i], step)
		}
	}
	return Redacted
}

// isRef reports whether s is exactly the reference of a secret in the
// request of step: text that reveals nothing.
func (rd *redactor) isRef(s string, step int) bool {
	if !strings.HasPrefix(s, "${") {
		return false
	}
	for i := range rd.values {
		if v := &rd.values[i]; v.ref == s && rd.refAt(v, step) == s {
			return true
		}
	}
	return false
}

// headers returns h with credential-bearing fields and secrets hidden
// and names canonical: h itself when that changes nothing (the common
// case, which then costs no copy), else a new map; h is never changed.
// step is the index of the step whose request h is, or outside.
func (rd *redactor) headers(h map[string][]string, step int) map[string][]string {
	if h == nil {
		return nil
	}
	if !rd.changesHeaders(h) {
		return h
	}
	out := make(map[string][]string, len(h))
	for k, vs := range h {
		ck := http.CanonicalHeaderKey(k)
		nv := make([]string, len(vs))
		for i, v := range vs {
			if sensitiveHeaders[ck] {
				nv[i] = rd.sensitive(ck, v, step)
			} else {
				nv[i] = rd.replace(v, step)
			}
		}
		out[ck] = nv
	}
	return out
}

// sensitive is what shows of a credential-bearing header's value: always
// Redacted, except in a request where the whole value is exactly one
// secret of known source (X-Api-Key: ${API_KEY}), or for Authorization an
// auth scheme and one such secret (Bearer ${API_TOKEN}): a reference
// reveals nothing and lets the request be replayed. A literal in the file,
// anything around the secret, and a server's Set-Cookie stay hidden.
func (rd *redactor) sensitive(name, v string, step int) string {
	if step == outside || v == Redacted {
		return Redacted
	}
	s := rd.replace(v, step)
	if rd.isRef(s, step) {
		return s
	}
	if name == "Authorization" || name == "Proxy-Authorization" {
		if scheme, cred, ok := strings.Cut(s, " "); ok && isToken(scheme) && rd.isRef(cred, step) {
			return s
		}
	}
	return Redacted
}

// isToken reports whether s is an RFC 9110 token (an auth scheme).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

func (rd *redactor) changesHeaders(h map[string][]string) bool {
	for k, vs := range h {
		ck := http.CanonicalHeaderKey(k)
		if ck != k {
			return true
		}
		for _, v := range vs {
			// A sensitive value already Redacted (the engine's own
			// Authorization) needs no copy.
			if sensitiveHeaders[ck] && v != Redacted || rd.has(v) {
				return true
			}
		}
	}
	return false
}

// url hides userinfo passwords and credential-looking query parameters,
// and secrets as the request of step refers to them. It edits the text,
// not a parsed and printed URL, so that the rest stays as sent and a
// reference is not percent-encoded (${API_KEY}, not $%7BAPI_KEY%7D).
func (rd *redactor) url(raw string, step int) string {
	if len(rd.forms) == 0 && plainURL(raw) {
		return raw // nothing to hide
	}
	s := rd.replace(raw, step)
	s = rd.hidePassword(s, step)
	return rd.hideQueryCredentials(s, step)
}

// hidePassword replaces the password of s's userinfo, found as url.Parse
// finds it, unless it is a reference.
func (rd *redactor) hidePassword(s string, step int) string {
	start := authorityStart(s)
	if start < 0 {
		return s
	}
	end := len(s)
	if j := strings.IndexAny(s[start:], "/?#"); j >= 0 {
		end = start + j
	}
	at := strings.LastIndexByte(s[start:end], '@')
	if at < 0 {
		return s
	}
	at += start
	colon := strings.IndexByte(s[start:at], ':')
	if colon < 0 {
		return s
	}
	colon += start
	if pass := s[colon+1 : at]; pass == redactedInURL || rd.isRef(pass, step) {
		return s
	}
	return s[:colon+1] + redactedInURL + s[at:]
}

// authorityStart returns the index after the "//" of scheme://authority
// (or of a leading //authority), or -1.
func authorityStart(s string) int {
	i := strings.Index(s, "//")
	if i < 0 {
		return -1
	}
	if i == 0 {
		return 2
	}
	scheme, ok := strings.CutSuffix(s[:i], ":")
	if !ok || scheme == "" {
		return -1
	}
	for j := 0; j < len(scheme); j++ {
		c := scheme[j]
		letter := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		if !letter && (j == 0 || !('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return -1
		}
	}
	return i + 2
}

// hideQueryCredentials replaces the values of query parameters whose name
// looks like a credential, unless a value is a reference. Parameters are
// split at '&' and at ';', which some servers also take as a separator.
func (rd *redactor) hideQueryCredentials(s string, step int) string {
	end := len(s)
	if h := strings.IndexByte(s, '#'); h >= 0 {
		end = h
	}
	q := strings.IndexByte(s[:end], '?')
	if q < 0 {
		return s
	}
	var b strings.Builder
	last := 0
	for pos := q + 1; pos <= end; {
		pairEnd := end
		if j := strings.IndexAny(s[pos:end], "&;"); j >= 0 {
			pairEnd = pos + j
		}
		k, v, ok := strings.Cut(s[pos:pairEnd], "=")
		if ok && v != "" && v != redactedInURL && credentialParam(k) && !rd.isRef(v, step) {
			valueStart := pos + len(k) + 1
			b.WriteString(s[last:valueStart])
			b.WriteString(redactedInURL)
			last = pairEnd
		}
		pos = pairEnd + 1
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// credentialParam reports whether a query parameter's (escaped) name
// names a credential (see credentialName: access_token, api_key, sig;
// not token_type).
func credentialParam(k string) bool {
	if name, err := url.QueryUnescape(k); err == nil {
		k = name
	}
	return credentialName(k)
}

// plainURL reports whether raw is an http or https URL of letters,
// digits and "-._~:/" only: no userinfo, query or escapes, so that
// nothing in it can be a credential field.
func plainURL(raw string) bool {
	rest, ok := strings.CutPrefix(raw, "http://")
	if !ok {
		if rest, ok = strings.CutPrefix(raw, "https://"); !ok {
			return false
		}
	}
	if rest == "" {
		return false
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~:/", c) >= 0) {
			return false
		}
	}
	return true
}

// step redacts the result of the step with index i: its request refers
// to secrets of known source by reference, everything else shows
// Redacted.
func (rd *redactor) step(s *StepResult, i int) {
	s.Message = rd.str(s.Message)
	s.Request.URL = rd.url(s.Request.URL, i)
	s.Request.Headers = rd.headers(s.Request.Headers, i)
	s.Request.Body = rd.replace(s.Request.Body, i)
	if a := s.Request.Auth; a != nil {
		a.Username = rd.replace(a.Username, i)
		// A secret captured after the step was summarised may now be
		// inside the reference.
		if a.Secret != Redacted && !rd.isRef(a.Secret, i) {
			a.Secret = Redacted
		}
	}
	if s.Response != nil {
		s.Response.Headers = rd.headers(s.Response.Headers, outside)
		s.Response.Body = rd.str(s.Response.Body)
		// A probe's line may quote the peer (a gRPC status message).
		s.Response.Line = rd.str(s.Response.Line)
	}
	for i := range s.Assertions {
		a := &s.Assertions[i]
		a.Expected, a.Actual, a.Message = rd.str(a.Expected), rd.str(a.Actual), rd.str(a.Message)
	}
	for i := range s.Findings {
		f := &s.Findings[i]
		f.Expected, f.Actual, f.Message = rd.str(f.Expected), rd.str(f.Actual), rd.str(f.Message)
	}
	for k, v := range s.Captures {
		s.Captures[k] = rd.str(v)
	}
}
