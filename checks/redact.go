package checks

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Redacted replaces every secret in output.
const Redacted = "[REDACTED]"

// sensitiveHeaders carry credentials whatever their value.
var sensitiveHeaders = map[string]bool{
	"Authorization": true, "Proxy-Authorization": true, "Cookie": true, "Set-Cookie": true,
	"X-Api-Key": true, "X-Auth-Token": true, "X-Amz-Security-Token": true,
}

// redactor scrubs known secret values and credential-bearing fields from a
// step's output before it leaves the engine.
type redactor struct {
	secrets []string
}

func (rd *redactor) add(s ...string) {
	for _, v := range s {
		if len(v) >= 3 { // shorter values would blank unrelated text
			rd.secrets = append(rd.secrets, escapedForms(v)...)
		}
	}
	// Longest first so that a secret containing another is replaced whole.
	sort.Slice(rd.secrets, func(i, j int) bool { return len(rd.secrets[i]) > len(rd.secrets[j]) })
}

// escapedForms lists v as written and as it appears inside a JSON string
// (a server echoing it; an assertion's actual) and a Go-quoted one (a body
// assertion's actual), alone and nested, so that no escaping reveals it.
func escapedForms(v string) []string {
	j, _ := json.Marshal(v)
	js := string(j[1 : len(j)-1])
	forms := []string{v}
	for _, f := range []string{js, quoteInner(v), quoteInner(js)} {
		if !slices.Contains(forms, f) {
			forms = append(forms, f)
		}
	}
	return forms
}

func quoteInner(s string) string {
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

func (rd *redactor) str(s string) string {
	for _, sec := range rd.secrets {
		if strings.Contains(s, sec) {
			s = strings.ReplaceAll(s, sec, Redacted)
		}
	}
	return s
}

func (rd *redactor) has(s string) bool {
	for _, sec := range rd.secrets {
		if strings.Contains(s, sec) {
			return true
		}
	}
	return false
}

// headers returns h with credential-bearing fields and secrets hidden
// and names canonical: h itself when that changes nothing (the common
// case, which then costs no copy), else a new map; h is never changed.
func (rd *redactor) headers(h map[string][]string) map[string][]string {
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
				nv[i] = Redacted
			} else {
				nv[i] = rd.str(v)
			}
		}
		out[ck] = nv
	}
	return out
}

func (rd *redactor) changesHeaders(h map[string][]string) bool {
	for k, vs := range h {
		if ck := http.CanonicalHeaderKey(k); ck != k || sensitiveHeaders[ck] {
			return true
		}
		for _, v := range vs {
			if rd.has(v) {
				return true
			}
		}
	}
	return false
}

// url hides userinfo passwords and credential-looking query parameters.
func (rd *redactor) url(raw string) string {
	if len(rd.secrets) == 0 && plainURL(raw) {
		return raw // what parsing and printing it would give
	}
	u, err := url.Parse(raw)
	if err != nil {
		return rd.str(raw)
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "REDACTED")
		}
	}
	if u.RawQuery != "" {
		q := u.Query()
		changed := false
		for k := range q {
			if secretName.MatchString(k) || strings.EqualFold(k, "key") || strings.EqualFold(k, "sig") {
				q[k] = []string{"REDACTED"}
				changed = true
			}
		}
		if changed {
			u.RawQuery = q.Encode()
		}
	}
	return rd.str(u.String())
}

// plainURL reports whether raw is an http or https URL of letters,
// digits and "-._~:/" only: no userinfo, query or escapes, so that
// url.Parse and String give it back unchanged.
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

func (rd *redactor) step(s *StepResult) {
	s.Message = rd.str(s.Message)
	s.Request.URL = rd.url(s.Request.URL)
	s.Request.Headers = rd.headers(s.Request.Headers)
	s.Request.Body = rd.str(s.Request.Body)
	if s.Response != nil {
		s.Response.Headers = rd.headers(s.Response.Headers)
		s.Response.Body = rd.str(s.Response.Body)
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
