package checks

import (
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/assay-monitor/assay/internal/yamlstrict"
	"go.yaml.in/yaml/v3"
)

// FileDefaults are the settings a check file shares among its checks
// (`defaults:` at the top of the file). A check's own field wins; vars,
// labels and headers merge key by key (headers case-insensitively).
// base_url, headers, auth and tls become the check's request block.
type FileDefaults struct {
	Vars      map[string]string   `yaml:"vars"`
	BaseURL   string              `yaml:"base_url"`
	Headers   map[string]Template `yaml:"headers"`
	Auth      *Auth               `yaml:"auth"`
	TLS       *TLSOptions         `yaml:"tls"`
	Timeout   Duration            `yaml:"timeout"`
	Labels    map[string]string   `yaml:"labels"`
	Schedule  string              `yaml:"schedule"`
	Semantics SemanticsMode       `yaml:"semantics"`
	Alert     *AlertPolicy        `yaml:"alert"`
}

// SharedRequest is a check's `request:` block: request fields applied to
// every step of the check, contract steps included. A step's own field
// wins; headers and query merge key by key. A header or auth that uses a
// capture is sent by the steps after the one that captures it (a login
// step does not send the token it is about to get).
type SharedRequest struct {
	// BaseURL is what a relative step URL is resolved against (RFC 3986
	// §5): an absolute http or https URL.
	BaseURL         string              `yaml:"base_url"`
	Headers         map[string]Template `yaml:"headers"`
	Query           map[string]Template `yaml:"query"`
	Auth            *Auth               `yaml:"auth"`
	TLS             *TLSOptions         `yaml:"tls"`
	Timeout         Duration            `yaml:"timeout"`
	FollowRedirects *bool               `yaml:"follow_redirects"`
	MaxRedirects    *int                `yaml:"max_redirects"`
	Proxy           string              `yaml:"proxy"`
	MaxBody         ByteSize            `yaml:"max_body"`

	Pos Position `yaml:"-"`
	// base is BaseURL parsed, nil when unset or invalid.
	base *url.URL
	// fromDefaults holds the positions of the file's defaults: a template
	// copied from there may read a capture this check does not make.
	fromDefaults map[Position]bool
}

// checkKeys are the defaults that go to the check itself; requestKeys
// those that go to its request block. Maps merge key by key.
var (
	checkKeys   = []string{"vars", "timeout", "labels", "schedule", "semantics", "alert"}
	requestKeys = []string{"base_url", "headers", "auth", "tls"}
	mergedKeys  = map[string]bool{"vars": true, "labels": true, "headers": true}
)

// defaultsCopies records the positions of every node of the files'
// defaults blocks, so that an error about a copy of one is reported once,
// under the defaults field it came from.
type defaultsCopies struct {
	pos map[Position]bool
}

// applyFileDefaults copies the defaults block of a document into each of
// its checks, before ${VAR} expansion, so that every check holds its own
// copy: its secrets, fingerprint and field positions (those of the
// defaults text) follow. The copies are bounded by maxNodes in all.
func (dc *defaultsCopies) applyFileDefaults(d *decoder, root *yaml.Node, maxNodes int) {
	if maxNodes <= 0 {
		maxNodes = yamlstrict.DefaultMaxNodes
	}
	root = yamlstrict.Resolve(root)
	if root == nil || root.Kind != yaml.MappingNode {
		return
	}
	defKey, defs := mapGet(root, "defaults")
	_, list := mapGet(root, "checks")
	if defs == nil || defs.Kind != yaml.MappingNode || list == nil || list.Kind != yaml.SequenceNode {
		return
	}
	if dc.pos == nil {
		dc.pos = map[Position]bool{}
	}
	dc.remember(d, defs, maxNodes)
	budget := maxNodes
	done := map[*yaml.Node]bool{}
	for _, item := range list.Content {
		c := yamlstrict.Resolve(item)
		if c == nil || c.Kind != yaml.MappingNode || done[c] {
			continue
		}
		done[c] = true
		if !mergeDefaults(c, defKey, defs, &budget) {
			d.Errorf(defKey, "defaults", "copied into each of the %d checks, the defaults expand to more than %d nodes: move what is large into the checks that use it", len(list.Content), maxNodes)
			return
		}
	}
}

// remember records the positions of the nodes under n (aliases followed,
// at most max).
func (dc *defaultsCopies) remember(d *decoder, n *yaml.Node, max int) {
	n = yamlstrict.Resolve(n)
	if n == nil || len(dc.pos) > max {
		return
	}
	dc.pos[d.Pos(n)] = true
	for _, c := range n.Content {
		dc.remember(d, c, max)
	}
}

// mergeDefaults merges defs into the check mapping c; false when the
// copies would exceed the budget of nodes.
func mergeDefaults(c, defKey, defs *yaml.Node, budget *int) bool {
	var req *yaml.Node
	// auth and an Authorization header are one field: the check's own
	// one wins over the other of the defaults.
	var ownAuth, ownAuthHeader bool
	// A heartbeat check is not run on a schedule and sends no request:
	// those defaults are for the HTTP checks beside it (heartbeat.go).
	_, hb := mapGet(c, "heartbeat")
	for i := 0; i+1 < len(defs.Content); i += 2 {
		k, v := yamlstrict.Resolve(defs.Content[i]), defs.Content[i+1]
		if k == nil || k.Kind != yaml.ScalarNode {
			continue
		}
		dst := c
		switch {
		case hb != nil && (k.Value == "schedule" || slices.Contains(requestKeys, k.Value)):
			continue
		case slices.Contains(checkKeys, k.Value):
		case slices.Contains(requestKeys, k.Value):
			if req == nil {
				if req = requestMapping(c, defKey); req == nil {
					return true // the check's request is not a mapping: its own error
				}
				_, auth := mapGet(req, "auth")
				ownAuth, ownAuthHeader = auth != nil, headerGet(req, "Authorization")
			}
			if k.Value == "auth" && ownAuthHeader {
				continue
			}
			dst = req
		default:
			continue // an unknown field: the decoder reports it once
		}
		skip := ""
		if k.Value == "headers" && ownAuth {
			skip = "Authorization"
		}
		if !mergeKey(dst, k, v, skip, budget) {
			return false
		}
	}
	return true
}

// requestMapping returns the check's request mapping, adding an empty one
// (at the position of defaults) when there is none; nil when the check's
// request is not a mapping.
func requestMapping(c, at *yaml.Node) *yaml.Node {
	_, v := mapGet(c, "request")
	if v == nil {
		req := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Line: at.Line, Column: at.Column}
		key := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "request", Line: at.Line, Column: at.Column}
		c.Content = append(c.Content, key, req)
		return req
	}
	if v.Kind != yaml.MappingNode {
		return nil
	}
	return ownMapping(c, "request")
}

// mergeKey sets key k of dst to a copy of v when dst does not have it;
// the mappings that merge key by key get the entries they lack (headers
// compared in any case; skip names a header left out).
func mergeKey(dst, k, v *yaml.Node, skip string, budget *int) bool {
	_, have := mapGet(dst, k.Value)
	src := yamlstrict.Resolve(v)
	merge := mergedKeys[k.Value] && src != nil && src.Kind == yaml.MappingNode
	if have == nil && !merge {
		kc, vc := copyNode(k, budget), copyNode(v, budget)
		if kc == nil || vc == nil {
			return false
		}
		dst.Content = append(dst.Content, kc, vc)
		return true
	}
	if !merge || have != nil && have.Kind != yaml.MappingNode {
		return true // the check's own value wins
	}
	var own *yaml.Node
	if have == nil {
		kc := copyNode(k, budget)
		if kc == nil {
			return false
		}
		own = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Style: src.Style, Line: src.Line, Column: src.Column}
		dst.Content = append(dst.Content, kc, own)
	} else {
		own = ownMapping(dst, k.Value)
	}
	for i := 0; i+1 < len(src.Content); i += 2 {
		ek := yamlstrict.Resolve(src.Content[i])
		if ek == nil || ek.Kind != yaml.ScalarNode {
			continue
		}
		if k.Value == "headers" {
			if headerGet(dst, ek.Value) || (skip != "" && http.CanonicalHeaderKey(ek.Value) == skip) {
				continue
			}
		} else if _, ok := mapGet(own, ek.Value); ok != nil {
			continue
		}
		kc, vc := copyNode(ek, budget), copyNode(src.Content[i+1], budget)
		if kc == nil || vc == nil {
			return false
		}
		own.Content = append(own.Content, kc, vc)
	}
	return true
}

// ownMapping replaces the mapping under key of m by a copy of its top
// level, so that adding to it changes no anchor other nodes refer to.
func ownMapping(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if k := yamlstrict.Resolve(m.Content[i]); k != nil && k.Value == key {
			v := yamlstrict.Resolve(m.Content[i+1])
			own := *v
			own.Anchor = ""
			own.Content = append([]*yaml.Node(nil), v.Content...)
			m.Content[i+1] = &own
			return &own
		}
	}
	return nil
}

// headerGet reports whether the request mapping req has a header named
// name, in any case.
func headerGet(req *yaml.Node, name string) bool {
	_, h := mapGet(req, "headers")
	if h == nil || h.Kind != yaml.MappingNode {
		return false
	}
	want := http.CanonicalHeaderKey(name)
	for i := 0; i+1 < len(h.Content); i += 2 {
		if k := yamlstrict.Resolve(h.Content[i]); k != nil && http.CanonicalHeaderKey(k.Value) == want {
			return true
		}
	}
	return false
}

// mapGet returns the key and value nodes of key in the mapping m (aliases
// resolved), or nils.
func mapGet(m *yaml.Node, key string) (*yaml.Node, *yaml.Node) {
	m = yamlstrict.Resolve(m)
	if m == nil || m.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if k := yamlstrict.Resolve(m.Content[i]); k != nil && k.Kind == yaml.ScalarNode && k.Value == key {
			return k, yamlstrict.Resolve(m.Content[i+1])
		}
	}
	return nil, nil
}

// copyNode copies n deeply, aliases followed, within the budget of nodes
// (nil when it runs out). Positions are kept: errors point at the text.
func copyNode(n *yaml.Node, budget *int) *yaml.Node {
	n = yamlstrict.Resolve(n)
	if n == nil {
		return nil
	}
	if *budget--; *budget < 0 {
		return nil
	}
	c := *n
	c.Anchor = ""
	c.Content = nil
	if len(n.Content) > 0 {
		c.Content = make([]*yaml.Node, len(n.Content))
		for i, e := range n.Content {
			if c.Content[i] = copyNode(e, budget); c.Content[i] == nil {
				return nil
			}
		}
	}
	return &c
}

// checkField matches the field path of an error in a check: the check's
// index and the path within it.
var checkField = regexp.MustCompile(`^checks\[\d+\]\.(.+)$`)

// report rewrites the errors about copies of defaults to name the defaults
// field (checks[3].request.auth.bearer becomes defaults.auth.bearer) and
// keeps one of each: a mistake in the defaults is one error, not one per
// check.
func (dc *defaultsCopies) report(errs LoadErrors) LoadErrors {
	if len(dc.pos) > 0 {
		for _, e := range errs {
			if !dc.pos[e.Pos] {
				continue
			}
			m := checkField.FindStringSubmatch(e.Field)
			if m == nil {
				continue
			}
			rel := m[1]
			if r, ok := strings.CutPrefix(rel, "request."); ok && slices.Contains(requestKeys, fieldHead(r)) {
				e.Field = "defaults." + r
			} else if slices.Contains(checkKeys, fieldHead(rel)) {
				e.Field = "defaults." + rel
			}
		}
	}
	return dedupe(errs)
}

// fieldHead is the first key of a field path.
func fieldHead(p string) string {
	if i := strings.IndexAny(p, ".["); i >= 0 {
		return p[:i]
	}
	return p
}

// dedupe drops errors identical to an earlier one.
func dedupe(errs LoadErrors) LoadErrors {
	if len(errs) < 2 {
		return errs
	}
	seen := map[string]bool{}
	out := errs[:0]
	for _, e := range errs {
		k := e.Pos.String() + "\x00" + e.Field + "\x00" + e.Msg
		if !seen[k] {
			seen[k] = true
			out = append(out, e)
		}
	}
	return out
}

// compileShared checks the check's request block once, at its own
// positions (or those of the defaults it came from), before its steps
// inherit it.
func compileShared(d *decoder, c *Check, path string) {
	sh := c.Request
	if sh == nil {
		return
	}
	rp := path + ".request"
	at := func(field string) Position { return d.ValuePos(rp+"."+field, sh.Pos) }
	if sh.BaseURL != "" {
		u, err := url.Parse(sh.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			d.ErrAt(at("base_url"), rp+".base_url", "expected an absolute http or https URL, got %q", sh.BaseURL)
		} else {
			sh.base = u
		}
	}
	if a := sh.Auth; a != nil && (a.Basic == nil) == (a.Bearer == nil) && !reported(d, rp+".auth") {
		d.ErrAt(at("auth"), rp+".auth", "set exactly one of basic and bearer")
	}
	if sh.MaxRedirects != nil && *sh.MaxRedirects < 0 {
		d.ErrAt(at("max_redirects"), rp+".max_redirects", "must be 0 or more")
	}
	if sh.Timeout.D() > MaxTimeout {
		d.ErrAt(at("timeout"), rp+".timeout", "must be at most %s, got %s", shortDuration(MaxTimeout), shortDuration(sh.Timeout.D()))
	}
	if sh.Proxy != "" {
		if u, err := url.Parse(sh.Proxy); err != nil || u.Host == "" {
			d.ErrAt(at("proxy"), rp+".proxy", "expected a proxy URL like http://proxy:3128, got %q", sh.Proxy)
		}
	}
	if sh.TLS != nil {
		if field, err := sh.TLS.load(filepath.Dir(d.File), d.Read); err != nil {
			tp := yamlstrict.JoinPath(rp+".tls", field)
			d.ErrAt(d.ValuePos(tp, at("tls")), tp, "%v", err)
		}
	}
	// A shared template reads vars, or captures some step makes: it is
	// sent from the step after that one on. One from the defaults may
	// read a capture only some checks make (checkDefaultCaptures).
	captures := allCaptures(c)
	for _, t := range sh.templates() {
		for _, ref := range t.refs() {
			if ref[0] == "vars" || slices.Contains(captures, ref[0]) || sh.fromDefaults[t.Pos] {
				continue
			}
			d.ErrAt(t.Pos, t.path, "template %q: no step of the check captures %q (captures: %s)", t.source(), ref[0], listOrNone(captures))
		}
		checkRefs(d, c, t, rp, allVarsCaptured(t))
	}
	if a := sh.Auth; a != nil {
		if a.Basic != nil && !a.Basic.Password.Templated() && a.Basic.Password.Raw != "" {
			c.secrets = appendSecret(c.secrets, secretValue{value: a.Basic.Password.Raw, ref: Redacted})
		}
		if a.Bearer != nil && !a.Bearer.Templated() && a.Bearer.Raw != "" {
			c.secrets = appendSecret(c.secrets, secretValue{value: a.Bearer.Raw, ref: Redacted})
		}
	}
}

// checkDefaultCaptures reports the templates of the defaults that read a
// capture no check of the file makes: they would never be sent.
func (dc *defaultsCopies) checkDefaultCaptures(d *decoder, f *File) {
	if f.Defaults == nil {
		return
	}
	made := map[string]bool{}
	for _, c := range f.Checks {
		if c != nil {
			for _, name := range allCaptures(c) {
				made[name] = true
			}
		}
	}
	var ts []Template
	for _, k := range sortedKeys(f.Defaults.Headers) {
		ts = append(ts, f.Defaults.Headers[k])
	}
	for _, t := range append(ts, f.Defaults.Auth.templates()...) {
		for _, ref := range t.refs() {
			if ref[0] != "vars" && !made[ref[0]] {
				d.ErrAt(t.Pos, t.path, "template %q: no check of the file captures %q (captures: %s)", t.source(), ref[0], listOrNone(sortedKeys(made)))
			}
		}
	}
}

// share tells the check's request block where the defaults are.
func (dc *defaultsCopies) share(c *Check) {
	if c.Request != nil {
		c.Request.fromDefaults = dc.pos
	}
}

// allVarsCaptured is a captured set that holds every capture t reads, so
// that checkRefs checks only its vars.
func allVarsCaptured(t Template) map[string]bool {
	m := map[string]bool{}
	for _, ref := range t.refs() {
		m[ref[0]] = true
	}
	return m
}

// allCaptures lists the names the steps of c capture.
func allCaptures(c *Check) []string {
	seen := map[string]bool{}
	for _, s := range c.Steps {
		if s == nil {
			continue
		}
		for name := range s.Capture {
			seen[name] = true
		}
	}
	return sortedKeys(seen)
}

// templates lists the templates of the block.
func (sh *SharedRequest) templates() []Template {
	var ts []Template
	for _, m := range []map[string]Template{sh.Headers, sh.Query} {
		for _, k := range sortedKeys(m) {
			ts = append(ts, m[k])
		}
	}
	return append(ts, sh.Auth.templates()...)
}

func (a *Auth) templates() []Template {
	if a == nil {
		return nil
	}
	var ts []Template
	if a.Basic != nil {
		ts = append(ts, a.Basic.Username, a.Basic.Password)
	}
	if a.Bearer != nil {
		ts = append(ts, *a.Bearer)
	}
	return ts
}

// inheritRequest gives the step the fields of the check's request block
// that it does not set itself. A template that reads a capture not made
// yet (by the steps before this one) is left out for this step.
func inheritRequest(c *Check, s *Step, captured map[string]bool) {
	sh := c.Request
	if sh == nil {
		return
	}
	r := &s.Request
	ready := func(ts ...Template) bool {
		for _, t := range ts {
			for _, ref := range t.refs() {
				if ref[0] != "vars" && !captured[ref[0]] {
					return false
				}
			}
		}
		return true
	}
	ownAuth := r.Auth != nil
	ownAuthHeader := hasHeader(r.Headers, "Authorization")
	for _, k := range sortedKeys(sh.Headers) {
		t := sh.Headers[k]
		if hasHeader(r.Headers, k) || (ownAuth && http.CanonicalHeaderKey(k) == "Authorization") || !ready(t) {
			continue
		}
		if r.Headers == nil {
			r.Headers = map[string]Template{}
		}
		r.Headers[k] = t
	}
	for _, k := range sortedKeys(sh.Query) {
		if _, ok := r.Query[k]; ok || !ready(sh.Query[k]) {
			continue
		}
		if r.Query == nil {
			r.Query = map[string]Template{}
		}
		r.Query[k] = sh.Query[k]
	}
	if !ownAuth && !ownAuthHeader && sh.Auth != nil && ready(sh.Auth.templates()...) {
		r.Auth = sh.Auth
	}
	if r.TLS == nil {
		r.TLS = sh.TLS
	}
	if r.Timeout == 0 {
		r.Timeout = sh.Timeout
	}
	if r.FollowRedirects == nil {
		r.FollowRedirects = sh.FollowRedirects
	}
	if r.MaxRedirects == nil {
		r.MaxRedirects = sh.MaxRedirects
	}
	if r.Proxy == "" {
		r.Proxy = sh.Proxy
	}
	if r.MaxBody == 0 {
		r.MaxBody = sh.MaxBody
	}
}

// hasHeader reports whether headers has name, in any case.
func hasHeader(headers map[string]Template, name string) bool {
	want := http.CanonicalHeaderKey(name)
	for k := range headers {
		if http.CanonicalHeaderKey(k) == want {
			return true
		}
	}
	return false
}

// baseURL is the check's parsed base_url, nil when none.
func (c *Check) baseURL() *url.URL {
	if c.Request == nil {
		return nil
	}
	return c.Request.base
}

// relativeWithoutBase is the error of a relative URL with no base_url.
func relativeWithoutBase(src string) string {
	return fmt.Sprintf("relative URL %s and no base_url to resolve it against: set base_url in defaults (or in the check's request block), or write an absolute http or https URL", yamlstrict.Excerpt(src))
}
