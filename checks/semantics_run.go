package checks

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/assay-monitor/assay/checks/semantics"
	"github.com/assay-monitor/assay/internal/yamlstrict"
	"go.yaml.in/yaml/v3"
)

// SemanticsMode says what the built-in HTTP semantics rules
// (checks/semantics) do with a response that breaks one.
type SemanticsMode string

// Semantics modes. The empty mode means "the runner's default", which is
// SemanticsWarn unless RunnerOptions.Semantics says otherwise.
const (
	// SemanticsStrict fails the step on a MUST violation (reason
	// "semantics"); SHOULD violations are reported only.
	SemanticsStrict SemanticsMode = "strict"
	// SemanticsWarn reports every finding without failing anything.
	SemanticsWarn SemanticsMode = "warn"
	// SemanticsOff evaluates no rule.
	SemanticsOff SemanticsMode = "off"
	// DefaultSemantics is the mode when neither the check nor the runner
	// sets one.
	DefaultSemantics = SemanticsWarn
)

// ParseSemanticsMode accepts strict, warn and off ("" is the default).
func ParseSemanticsMode(s string) (SemanticsMode, error) {
	switch m := SemanticsMode(strings.ToLower(strings.TrimSpace(s))); m {
	case "", SemanticsStrict, SemanticsWarn, SemanticsOff:
		return m, nil
	}
	return "", fmt.Errorf("expected strict, warn or off, got %q", s)
}

func (m *SemanticsMode) UnmarshalStrict(d *decoder, n *yaml.Node, path string) {
	if n.Kind != yaml.ScalarNode || yamlstrict.IsNull(n) {
		d.Errorf(n, path, "expected strict, warn or off, got %s", yamlstrict.Describe(n))
		return
	}
	v, err := ParseSemanticsMode(n.Value)
	if err != nil || v == "" {
		d.Errorf(n, path, "expected strict, warn or off, got %s", yamlstrict.Describe(n))
		return
	}
	*m = v
}

// SemanticRuleIDs lists the ID of every HTTP semantics rule (sorted): the
// values a finding's Rule, and so a "rule" metric label, can take.
func SemanticRuleIDs() []string { return semantics.IDs() }

// semanticsMode is the mode in force for c.
func (r *Runner) semanticsMode(c *Check) SemanticsMode {
	switch {
	case c.Semantics != "":
		return c.Semantics
	case r.opts.Semantics != "":
		return r.opts.Semantics
	}
	return DefaultSemantics
}

// exchangeHistory remembers, within one attempt, the header section of the
// last 200 to a GET of each URL, so that a later 304 can be held to the
// validators the 200 carried. A write to a URL forgets it.
type exchangeHistory struct {
	ok map[string]http.Header
	// last is the URL of the last request sent, and from the URL of the
	// request each capture came from: the bases of relative references
	// (relative_url.go).
	last *url.URL
	from map[string]*url.URL
}

func newExchangeHistory() *exchangeHistory {
	return &exchangeHistory{ok: map[string]http.Header{}}
}

func (h *exchangeHistory) previous(url string) http.Header {
	if h == nil {
		return nil
	}
	return h.ok[url]
}

func (h *exchangeHistory) observe(method, url string, status int, header http.Header) {
	if h == nil {
		return
	}
	switch {
	case method == http.MethodGet && status == http.StatusOK:
		// No copy: nothing changes a response's header map once it is
		// read (the step summary shares it too).
		h.ok[url] = header
	case method != http.MethodGet && method != http.MethodHead && method != http.MethodOptions && method != http.MethodTrace:
		delete(h.ok, url)
	}
}

// evalSemantics runs the semantics rules on a response, records the
// findings in sr and returns the first finding that fails the step (a MUST
// violation in strict mode), or nil. readErr is the error of reading the
// body, if any; rd hides secrets in the values findings quote before they
// are cut.
func (r *Runner) evalSemantics(c *Check, sr *StepResult, method string, raw *http.Response, body []byte, readErr error, hist *exchangeHistory, rd *redactor) *Finding {
	mode := r.semanticsMode(c)
	if mode == SemanticsOff || raw == nil {
		return nil
	}
	url := sr.Request.URL
	var reqHeader http.Header
	if raw.Request != nil {
		method, reqHeader = raw.Request.Method, raw.Request.Header
		if raw.Request.URL != nil {
			url = raw.Request.URL.String()
		}
	}
	ex := &semantics.Exchange{
		Method:        method,
		RequestHeader: reqHeader,
		Status:        raw.StatusCode,
		Header:        raw.Header,
		Body:          body,
		Truncated:     errors.Is(readErr, errBodyLimit),
		Incomplete:    readErr != nil && !errors.Is(readErr, errBodyLimit),
	}
	if len(rd.forms) > 0 {
		ex.Redact = rd.str
	}
	if raw.StatusCode == http.StatusNotModified {
		ex.Previous = hist.previous(url)
	}
	if readErr == nil {
		hist.observe(method, url, raw.StatusCode, raw.Header)
	}
	var failing *Finding
	for _, f := range semantics.Evaluate(ex) {
		sr.Findings = append(sr.Findings, Finding{
			Rule: f.Rule, Section: f.Section, Level: string(f.Level),
			Expected: f.Expected, Actual: f.Actual, Message: f.Message,
			Failed: mode == SemanticsStrict && f.Level == semantics.Must,
		})
	}
	for i := range sr.Findings {
		if sr.Findings[i].Failed {
			failing = &sr.Findings[i]
			break
		}
	}
	return failing
}

// semanticsMessage is a failed step's one-line message for a finding.
func semanticsMessage(f *Finding, sr *StepResult) string {
	msg := fmt.Sprintf("%s (%s, %s): %s", f.Rule, f.Section, f.Level, f.Message)
	n := 0
	for _, g := range sr.Findings {
		if g.Failed {
			n++
		}
	}
	if n > 1 {
		msg += fmt.Sprintf(" (and %d more MUST violations)", n-1)
	}
	return msg
}
