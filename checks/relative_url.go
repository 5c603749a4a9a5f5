package checks

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/assay-monitor/assay/internal/yamlstrict"
)

// urlPlan says how a step's URL, when it is a relative reference, is made
// absolute (RFC 3986 §5, as net/url's ResolveReference does).
type urlPlan struct {
	// base is the check's base_url, nil when none.
	base *url.URL
	// relative: the URL as written starts with text that is a relative
	// reference (/things/{{ .id }}): base_url is its base.
	relative bool
	// from is the one capture the URL reads ({{ .location }}): a relative
	// reference it gives is resolved against the URL of the request whose
	// response it was captured from.
	from string
}

// planURL checks the step's URL at load and says how it is resolved: a
// static relative URL is resolved against base_url now (Raw becomes the
// absolute URL); a template whose text starts relative needs a base_url;
// one that starts with an action is resolved when it runs. It returns
// the problem, or "".
func planURL(c *Check, s *Step) string {
	r := &s.Request
	s.url = urlPlan{base: c.baseURL()}
	if !r.URL.Templated() {
		u, err := url.Parse(r.URL.Raw)
		if err == nil && u.Scheme == "" {
			if s.url.base == nil {
				return relativeWithoutBase(r.URL.source())
			}
			u = s.url.base.ResolveReference(u)
			r.URL.Raw = u.String()
		}
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Sprintf("expected an absolute http or https URL, got %q", r.URL.Raw)
		}
		return ""
	}
	pre, _, _ := strings.Cut(r.URL.Raw, "{{")
	if pre == "" {
		s.url.from = onlyCapture(r.URL)
		return ""
	}
	if u, err := url.Parse(pre); err == nil && u.Scheme == "" {
		if s.url.base == nil {
			return relativeWithoutBase(r.URL.source())
		}
		s.url.relative = true
	}
	return ""
}

// onlyCapture is the capture t reads when it reads exactly one (vars
// aside), else "".
func onlyCapture(t Template) string {
	name := ""
	for _, ref := range t.refs() {
		switch {
		case ref[0] == "vars" || ref[0] == name:
		case name == "":
			name = ref[0]
		default:
			return ""
		}
	}
	return name
}

// resolveURL makes the rendered URL of a templated step absolute. A
// relative reference is resolved against base_url when the URL is written
// relative; when it reads one capture, against the URL of the request
// that capture came from; else against base_url, else the previous
// request's URL. A URL that is not a usable http or https URL is an error
// (reason template, not network).
func (s *Step) resolveURL(rr *renderedRequest, hist *exchangeHistory) error {
	if !s.Request.URL.Templated() {
		return nil // checked and resolved at load
	}
	src := yamlstrict.Excerpt(s.Request.URL.source())
	u, err := url.Parse(rr.url)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("url %s renders %s, which is not a URL: %v", src, yamlstrict.Excerpt(rr.url), err)
	}
	if u.Scheme == "" {
		base := s.url.base
		switch {
		case s.url.relative:
		case s.url.from != "":
			if b := hist.origin(s.url.from); b != nil {
				base = b
			}
		case base == nil:
			base = hist.origin("")
		}
		if base == nil {
			return fmt.Errorf("url %s renders the relative reference %s, and no earlier request or base_url to resolve it against", src, yamlstrict.Excerpt(rr.url))
		}
		u = base.ResolveReference(u)
		rr.url = u.String()
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("url %s renders %s, which is not an absolute http or https URL", src, yamlstrict.Excerpt(rr.url))
	}
	return nil
}

// requested records the URL of the request a step sent (after redirects,
// the last one): the base of relative references that come later.
func (h *exchangeHistory) requested(u *url.URL) {
	if h != nil && u != nil {
		h.last = u
	}
}

// captured records that the capture name was taken from the response to
// the last request.
func (h *exchangeHistory) captured(name string) {
	if h == nil || h.last == nil {
		return
	}
	if h.from == nil {
		h.from = map[string]*url.URL{}
	}
	h.from[name] = h.last
}

// origin is the URL of the request the capture name came from, else that
// of the last request; nil when there was none.
func (h *exchangeHistory) origin(name string) *url.URL {
	if h == nil {
		return nil
	}
	if u, ok := h.from[name]; ok {
		return u
	}
	return h.last
}
