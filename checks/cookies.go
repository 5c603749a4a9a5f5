package checks

import (
	"context"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/assay-monitor/assay/internal/yamlstrict"
	"go.yaml.in/yaml/v3"
	"golang.org/x/net/publicsuffix"
)

// Cookies. Each attempt of a check has its own cookie jar, as a fresh
// browser would: a cookie a response sets is sent by the later requests
// it applies to (net/http/cookiejar with the public suffix list, so
// domain, path, Secure and expiry behave as RFC 6265 says), and a retry
// starts with an empty jar. `cookies: false` on a check turns the jar off.
//
// The jar rides in the attempt's context rather than in an http.Client:
// clients, and so connection pools, are shared by every check, and a jar
// on one would be shared too (resty.New's default). cookieTransport reads
// it on every round trip, redirects included, doing what http.Client does
// with a Jar.

// jarKey is the context key of an attempt's cookie jar.
type jarKey struct{}

// Bounds of a jar: RFC 6265 §6.1 asks user agents for at least 4096 bytes
// per cookie and 3000 cookies in all; a check needs a handful, and a
// server that sends more cannot make an attempt hold more than about 4 MiB.
// What is over a bound is not stored, as a browser drops it.
const (
	// MaxCookieSize bounds the name and value of a cookie the jar stores.
	MaxCookieSize = 4096
	// MaxJarCookies bounds the cookies (by name, domain and path) one
	// attempt's jar stores.
	MaxJarCookies = 1000
)

// cookieJar is an attempt's jar, bounded in what it stores.
type cookieJar struct {
	mu sync.Mutex
	// jar is made when the first cookie comes: most checks set none.
	jar *cookiejar.Jar
	// keys are the cookies stored (name, domain, path), counted against
	// MaxJarCookies: a cookie set again takes no more room.
	keys map[string]bool
}

// SetCookies stores the cookies a response from u set, within the bounds.
func (j *cookieJar) SetCookies(u *url.URL, cs []*http.Cookie) {
	j.mu.Lock()
	defer j.mu.Unlock()
	kept := make([]*http.Cookie, 0, len(cs))
	for _, c := range cs {
		if len(c.Name)+len(c.Value) > MaxCookieSize {
			continue
		}
		k := cookieKey(u, c)
		if !j.keys[k] {
			if len(j.keys) >= MaxJarCookies {
				continue
			}
			if j.keys == nil {
				j.keys = map[string]bool{}
			}
			j.keys[k] = true
		}
		kept = append(kept, c)
	}
	if len(kept) == 0 {
		return
	}
	if j.jar == nil {
		j.jar, _ = cookiejar.New(&cookiejar.Options{PublicSuffixList: publicsuffix.List})
	}
	j.jar.SetCookies(u, kept)
}

// Cookies returns the cookies to send to u.
func (j *cookieJar) Cookies(u *url.URL) []*http.Cookie {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.jar == nil {
		return nil
	}
	return j.jar.Cookies(u)
}

// cookieKey approximates the jar's identity of a cookie (RFC 6265 §5.3:
// name, domain, path), to count what the jar holds.
func cookieKey(u *url.URL, c *http.Cookie) string {
	domain := strings.ToLower(strings.TrimPrefix(c.Domain, "."))
	if domain == "" {
		domain = u.Hostname()
	}
	p := c.Path
	if p == "" || p[0] != '/' {
		p = path.Dir(u.Path)
	}
	return c.Name + "\x00" + domain + "\x00" + p
}

// cookiesOn reports whether the check keeps a cookie jar (the default).
func (c *Check) cookiesOn() bool { return c.Cookies == nil || *c.Cookies }

// withCookieJar gives an attempt of c its own jar, unless c turned it off.
func withCookieJar(ctx context.Context, c *Check) context.Context {
	if !c.cookiesOn() {
		return ctx
	}
	return context.WithValue(ctx, jarKey{}, &cookieJar{})
}

func jarOf(ctx context.Context) *cookieJar {
	j, _ := ctx.Value(jarKey{}).(*cookieJar)
	return j
}

// cookieTransport adds the cookies of the request's jar to each request
// and stores those its response sets, as http.Client does with a Jar.
type cookieTransport struct{ *http.Transport }

// RoundTrip sends req with the jar's cookies for its URL.
func (t cookieTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	jar := jarOf(req.Context())
	if jar == nil {
		return t.Transport.RoundTrip(req)
	}
	if cs := jar.Cookies(req.URL); len(cs) > 0 {
		// A RoundTripper must not change the request: the cookies go on
		// a copy (which the response then refers to).
		req = req.Clone(req.Context())
		for _, c := range cs {
			req.AddCookie(c)
		}
	}
	resp, err := t.Transport.RoundTrip(req)
	if err == nil {
		if cs := resp.Cookies(); len(cs) > 0 {
			jar.SetCookies(req.URL, cs)
		}
	}
	return resp, err
}

// noteJarCookies records in the headers of a request summary that the
// jar sends cookies with it (their values are secrets: [REDACTED]), unless
// the step sets Cookie itself.
func noteJarCookies(ctx context.Context, rawURL string, h http.Header) {
	jar := jarOf(ctx)
	if jar == nil || h == nil || h.Get("Cookie") != "" {
		return
	}
	u, err := url.Parse(rawURL)
	if err != nil || len(jar.Cookies(u)) == 0 {
		return
	}
	h["Cookie"] = []string{Redacted}
}

// stepHeaders are the headers of the responses of a step, the last one
// first, then the redirects that led to it, latest first.
func stepHeaders(r *response) []http.Header {
	hs := []http.Header{r.header}
	if r.req == nil {
		return hs
	}
	for prev := r.req.Response; prev != nil; {
		hs = append(hs, prev.Header)
		if prev.Request == nil {
			break
		}
		prev = prev.Request.Response
	}
	return hs
}

// addRedirectSecrets adds the values of the cookies the redirects of a
// step set: the jar sends them on, as secret as the final response's.
func (rd *redactor) addRedirectSecrets(raw *http.Response) {
	if raw.Request == nil {
		return
	}
	for prev := raw.Request.Response; prev != nil; {
		rd.addResponseSecrets(prev.Header)
		if prev.Request == nil {
			break
		}
		prev = prev.Request.Response
	}
}

// setCookie finds the cookie name among the Set-Cookie fields of the
// step's responses: the last one the latest response sets. It returns
// nil when none sets it, and the parse error of an invalid one.
func setCookie(r *response, name string) (*http.Cookie, error) {
	for _, h := range stepHeaders(r) {
		var found *http.Cookie
		var bad error
		for _, line := range h.Values("Set-Cookie") {
			pair, _, _ := strings.Cut(line, ";")
			n, _, _ := strings.Cut(pair, "=")
			if strings.TrimSpace(n) != name {
				continue
			}
			c, err := http.ParseSetCookie(line)
			if err != nil {
				found, bad = nil, err
				continue
			}
			found, bad = c, nil
		}
		if found != nil || bad != nil {
			return found, bad
		}
	}
	return nil, nil
}

// CookieExpect asserts on a cookie the step's response sets: its
// Set-Cookie field (or that of a redirect the step followed), read with
// net/http's parser. Every field is optional.
type CookieExpect struct {
	// Exists: true, the response sets the cookie; false, it does not.
	Exists *bool `yaml:"exists"`
	// Value is a predicate on the cookie's value (a secret: reports show
	// it as [REDACTED]).
	Value *Predicate `yaml:"value"`
	// Domain and Path are predicates on those attributes (absent when
	// the cookie has none).
	Domain *Predicate `yaml:"domain"`
	Path   *Predicate `yaml:"path"`
	// Secure and HTTPOnly: whether the attribute is there.
	Secure   *bool `yaml:"secure"`
	HTTPOnly *bool `yaml:"http_only"`
	// SameSite is Strict, Lax or None (case-insensitive).
	SameSite string `yaml:"same_site"`
	// MaxAge is a number predicate on Max-Age in seconds (0 for Max-Age
	// of 0 or less; absent when the cookie has none).
	MaxAge *Predicate `yaml:"max_age"`
	// Expires is a number predicate on the seconds from the response's
	// Date (assay's clock when it has none) to Expires; absent when the
	// cookie has no valid Expires.
	Expires *Predicate `yaml:"expires"`

	Pos Position `yaml:"-"`
}

// sameSites are the SameSite values, by their lower-case form.
var sameSites = map[string]http.SameSite{"strict": http.SameSiteStrictMode, "lax": http.SameSiteLaxMode, "none": http.SameSiteNoneMode}

// sameSiteText is how an attribute reads in expected and actual.
func sameSiteText(s http.SameSite) string {
	switch s {
	case http.SameSiteStrictMode:
		return "SameSite=Strict"
	case http.SameSiteLaxMode:
		return "SameSite=Lax"
	case http.SameSiteNoneMode:
		return "SameSite=None"
	case http.SameSiteDefaultMode:
		return "SameSite with a value other than Strict, Lax and None"
	}
	return "no SameSite attribute"
}

// compileCookieExpect checks the cookie assertions of a step and adds
// them.
func compileCookieExpect(d *decoder, s *Step, path string) {
	for _, name := range sortedKeys(s.Expect.Cookies) {
		ce := s.Expect.Cookies[name]
		cp := path + ".cookies." + name
		if ce == nil {
			d.ErrAt(d.ValuePos(cp, s.Pos), cp, "empty cookie assertion")
			continue
		}
		ok := true
		if ce.Exists == nil && ce.Value == nil && ce.Domain == nil && ce.Path == nil && ce.Secure == nil &&
			ce.HTTPOnly == nil && ce.SameSite == "" && ce.MaxAge == nil && ce.Expires == nil {
			d.ErrAt(ce.Pos, cp, "a cookie assertion needs at least one of exists, value, domain, path, secure, http_only, same_site, max_age, expires")
			ok = false
		}
		if ce.SameSite != "" {
			if _, known := sameSites[strings.ToLower(ce.SameSite)]; !known {
				d.ErrAt(d.ValuePos(cp+".same_site", ce.Pos), cp+".same_site", "expected Strict, Lax or None, got %s", yamlstrict.Excerpt(ce.SameSite))
				ok = false
			}
		}
		for _, p := range []struct {
			key string
			p   *Predicate
		}{{"value", ce.Value}, {"domain", ce.Domain}, {"path", ce.Path}, {"max_age", ce.MaxAge}, {"expires", ce.Expires}} {
			rejectList(d, p.p, cp+"."+p.key, "a cookie attribute")
		}
		ce.MaxAge.checkNumeric(d, cp+".max_age")
		ce.Expires.checkNumeric(d, cp+".expires")
		if ok {
			s.assertions = append(s.assertions, cookieAssertion(name, ce))
		}
	}
}

// templates lists the templates of the cookie assertions.
func (e *Expect) cookieTemplates() []Template {
	var ts []Template
	for _, name := range sortedKeys(e.Cookies) {
		if ce := e.Cookies[name]; ce != nil {
			for _, p := range []*Predicate{ce.Value, ce.Domain, ce.Path, ce.MaxAge, ce.Expires} {
				ts = append(ts, p.templates()...)
			}
		}
	}
	return ts
}

func cookieAssertion(name string, ce *CookieExpect) assertion {
	label := "cookie " + name
	return assertion{name: label, eval: func(r *response, data map[string]any) []AssertionResult {
		c, err := setCookie(r, name)
		if err != nil {
			return []AssertionResult{result(label, false, "a valid Set-Cookie", "invalid Set-Cookie "+name+": "+strings.TrimPrefix(err.Error(), "http: "))}
		}
		if c == nil {
			if ce.Exists != nil && !*ce.Exists {
				return []AssertionResult{result(label, true, "not to be set", "no Set-Cookie "+name)}
			}
			return []AssertionResult{result(label, false, "to be set", "no Set-Cookie "+name)}
		}
		var out []AssertionResult
		flag := func(key string, want *bool, has bool, attr string) {
			if want == nil {
				return
			}
			exp, got := attr, attr
			if !*want {
				exp = "no " + attr + " attribute"
			}
			if !has {
				got = "no " + attr + " attribute"
			}
			out = append(out, result(label+" "+key, has == *want, exp, got))
		}
		if ce.Exists != nil {
			exp := "to be set"
			if !*ce.Exists {
				exp = "not to be set"
			}
			out = append(out, result(label, *ce.Exists, exp, "set"))
		}
		if ce.Value != nil {
			out = append(out, ce.Value.eval(r, label+" value", c.Value, true, true, data)...)
		}
		if ce.Domain != nil {
			out = append(out, ce.Domain.eval(r, label+" domain", c.Domain, c.Domain != "", true, data)...)
		}
		if ce.Path != nil {
			out = append(out, ce.Path.eval(r, label+" path", c.Path, c.Path != "", true, data)...)
		}
		flag("secure", ce.Secure, c.Secure, "Secure")
		flag("http_only", ce.HTTPOnly, c.HttpOnly, "HttpOnly")
		if ce.SameSite != "" {
			want := sameSites[strings.ToLower(ce.SameSite)]
			out = append(out, result(label+" same_site", c.SameSite == want, sameSiteText(want), sameSiteText(c.SameSite)))
		}
		if ce.MaxAge != nil {
			age := max(c.MaxAge, 0) // net/http reads Max-Age=0 as -1
			out = append(out, ce.MaxAge.eval(r, label+" max_age", float64(age), c.MaxAge != 0, false, data)...)
		}
		if ce.Expires != nil {
			var secs float64
			if !c.Expires.IsZero() {
				ref := time.Now()
				if d, err := http.ParseTime(r.header.Get("Date")); err == nil {
					ref = d
				}
				secs = float64(int64(c.Expires.Sub(ref) / time.Second))
			}
			out = append(out, ce.Expires.eval(r, label+" expires", secs, !c.Expires.IsZero(), false, data)...)
		}
		return out
	}}
}

// compileCookieCapture checks a capture from a cookie: its value is a
// secret, always, since a response's cookies are (see redact_sources.go).
func compileCookieCapture(d *decoder, cp *Capture, cpath string, nc *namedCapture) {
	if cp.Cookie == "" {
		return
	}
	if cp.Secret != nil && !*cp.Secret {
		sp := cpath + ".secret"
		d.ErrAt(d.ValuePos(sp, cp.Pos), sp, "a capture from a cookie is always secret: the cookies a response sets are redacted, and so is what is taken from them")
	}
	nc.secret = true
}

// takeCookie is the value of the cookie name the step's response sets.
func takeCookie(r *response, name string) (any, error) {
	c, err := setCookie(r, name)
	switch {
	case err != nil:
		return nil, fmt.Errorf("invalid Set-Cookie %s: %s", name, strings.TrimPrefix(err.Error(), "http: "))
	case c == nil:
		return nil, fmt.Errorf("no Set-Cookie %s in the response", name)
	}
	return c.Value, nil
}

// cookieExpectNode is how `assay explain` prints a cookie assertion.
func cookieExpectNode(ce *CookieExpect) *yaml.Node {
	n := yMap()
	if ce.Exists != nil {
		yAdd(n, "exists", yBool(*ce.Exists))
	}
	for _, p := range []struct {
		key string
		p   *Predicate
	}{{"value", ce.Value}, {"domain", ce.Domain}, {"path", ce.Path}} {
		if p.p != nil {
			yAdd(n, p.key, predicateNode(p.p))
		}
	}
	if ce.Secure != nil {
		yAdd(n, "secure", yBool(*ce.Secure))
	}
	if ce.HTTPOnly != nil {
		yAdd(n, "http_only", yBool(*ce.HTTPOnly))
	}
	if ce.SameSite != "" {
		yAdd(n, "same_site", yStr(ce.SameSite))
	}
	if ce.MaxAge != nil {
		yAdd(n, "max_age", predicateNode(ce.MaxAge))
	}
	if ce.Expires != nil {
		yAdd(n, "expires", predicateNode(ce.Expires))
	}
	return yFlow(n)
}
