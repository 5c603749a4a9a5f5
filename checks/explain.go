package checks

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Explain renders a loaded check as a check file in which every contract
// block is replaced by the steps it expanded into, with defaults applied
// and secrets redacted. The output loads like any check file (it is what
// the engine runs), so it can also be copied and edited by hand.
func Explain(c *Check) ([]byte, error) {
	contractSteps := map[*Step]bool{}
	for _, s := range c.Contract.Steps() {
		contractSteps[s] = true
	}
	cn := yMap()
	yAdd(cn, "name", yStr(c.Name))
	if c.Description != "" {
		yAdd(cn, "description", yStr(c.Description))
	}
	if h := c.Heartbeat; h != nil {
		// The job calls assay: no schedule, no steps. The token is
		// redacted below, as every secret is.
		// Quoted, so that the redacted token still reads as a string.
		tok := yStr(h.Token)
		tok.Style = yaml.DoubleQuotedStyle
		hn := yFlow(yMap("period", yStr(shortDuration(h.Period.D())), "grace", yStr(shortDuration(h.GraceD())), "token", tok))
		yAdd(cn, "heartbeat", hn)
		cn.Content[len(cn.Content)-2].HeadComment = fmt.Sprintf("the job pings POST /api/v1/heartbeat/%s at least every %s; no ping for %s fails the check",
			c.Name, shortDuration(h.Period.D()), shortDuration(h.Window()))
		yAdd(cn, "timeout", yStr(durationText(c.Timeout)))
	} else {
		yAdd(cn, "schedule", yStr(c.Schedule))
		yAdd(cn, "timeout", yStr(durationText(c.Timeout)))
	}
	if c.Retries.Count > 0 {
		yAdd(cn, "retries", yFlow(yMap(
			"count", yInt(c.Retries.Count),
			"backoff", yStr(durationText(c.Retries.Backoff)),
			"max_backoff", yStr(durationText(c.Retries.MaxBackoff)),
			"on", yStr(string(c.Retries.On)))))
	}
	if len(c.Labels) > 0 {
		yAdd(cn, "labels", yFlow(yStringMap(c.Labels)))
	}
	if len(c.Tags) > 0 {
		yAdd(cn, "tags", yFlow(yStringList(c.Tags)))
	}
	if c.SLO != nil {
		yAdd(cn, "slo", yFlow(yMap("objective", yStr(c.SLO.Objective.String()), "window", yStr(c.SLO.Window.String()))))
	}
	if len(c.Maintenance) > 0 {
		ws := &yaml.Node{Kind: yaml.SequenceNode}
		for _, w := range c.Maintenance {
			wn := yMap("schedule", yStr(w.Schedule), "duration", yStr(w.Duration.String()))
			if w.Timezone != "" {
				yAdd(wn, "timezone", yStr(w.Timezone))
			}
			ws.Content = append(ws.Content, yFlow(wn))
		}
		yAdd(cn, "maintenance", ws)
	}
	if c.Semantics != "" {
		yAdd(cn, "semantics", yStr(string(c.Semantics)))
	}
	if !c.cookiesOn() {
		yAdd(cn, "cookies", yBool(false))
	}
	if c.OpenAPI != nil {
		yAdd(cn, "openapi", openapiNode(c.OpenAPI))
	}
	if len(c.Vars) > 0 {
		yAdd(cn, "vars", yStringMap(c.Vars))
	}
	if c.Request != nil && c.Request.BaseURL != "" {
		// The steps carry the rest of the block; a URL relative as
		// written still needs its base.
		yAdd(cn, "request", yFlow(yMap("base_url", yStr(c.Request.BaseURL))))
	}
	steps := &yaml.Node{Kind: yaml.SequenceNode}
	for i, s := range c.Steps {
		sn := stepNode(s)
		if contractSteps[s] {
			sn.HeadComment = fmt.Sprintf("step %d: from the %s contract (%s)", i+1, c.Contract.Type, c.Contract.Pos)
		} else {
			sn.HeadComment = fmt.Sprintf("step %d (%s)", i+1, s.Pos)
		}
		steps.Content = append(steps.Content, sn)
	}
	if c.Heartbeat == nil {
		yAdd(cn, "steps", steps)
	}
	if fin := explainFinally(c); fin != nil {
		yAdd(cn, "finally", fin)
	}

	root := yMap("checks", &yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{cn}})
	root.HeadComment = fmt.Sprintf("check %s (%s)", c.Name, c.Pos)
	if c.Contract != nil {
		n := len(c.Contract.Steps())
		root.HeadComment += fmt.Sprintf("\ncontract %s expanded into %d step%s", c.Contract.Type, n, map[bool]string{true: "s"}[n != 1])
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{root}}); err != nil {
		return nil, fmt.Errorf("explain %s: %w", c.Name, err)
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	rd := &redactor{}
	for _, sv := range c.secrets {
		rd.addSecret(sv, outside)
	}
	rd.add(explainSecrets(c)...)
	return []byte(rd.str(b.String())), nil
}

// explainSecrets are the values the reports hide by where they are, which
// explain prints as written: literal values of credential-looking query
// and form parameters (api_key=...), of credential-bearing headers
// (X-Api-Key), of URL userinfo passwords, the values of vars with
// credential-looking names, and of the vars a template puts in any of
// those places.
func explainSecrets(c *Check) []string {
	var out []string
	// put adds what a value in a credential place reveals: the literal,
	// or the vars its template reads.
	put := func(t Template) {
		if !t.Templated() {
			if t.Raw != "" {
				out = append(out, t.Raw)
			}
			return
		}
		for _, ref := range t.refs() {
			if len(ref) == 2 && ref[0] == "vars" && c.Vars[ref[1]] != "" {
				out = append(out, c.Vars[ref[1]])
			}
		}
	}
	for name, v := range c.Vars {
		if credentialName(name) && v != "" {
			out = append(out, v)
		}
	}
	if c.Request != nil {
		out = append(out, urlSecrets(c.Request.BaseURL, c.Vars)...)
	}
	for _, s := range c.allSteps() {
		if s == nil {
			continue
		}
		r := &s.Request
		out = append(out, urlSecrets(r.URL.Raw, c.Vars)...)
		for _, m := range []map[string]Template{r.Query, r.Form} {
			for k, v := range m {
				if credentialParam(k) {
					put(v)
				}
			}
		}
		for k, v := range r.Headers {
			if sensitiveHeaders[http.CanonicalHeaderKey(k)] {
				put(v)
				if scheme, cred, ok := strings.Cut(v.Raw, " "); ok && scheme != "" && !v.Templated() {
					out = append(out, cred) // Authorization: Bearer xyz
				}
			}
		}
		if a := r.Auth; a != nil {
			if a.Basic != nil {
				put(a.Basic.Password)
			}
			if a.Bearer != nil {
				put(*a.Bearer)
			}
		}
	}
	return out
}

// varRef finds the vars a piece of template reads.
var varRef = regexp.MustCompile(`\.vars\.([A-Za-z_][A-Za-z0-9_]*)`)

// urlSecrets are the userinfo password and the values of credential-looking
// query parameters of a URL: as written, or the vars a template there reads.
func urlSecrets(raw string, vars map[string]string) []string {
	var out []string
	if u, err := url.Parse(raw); err == nil && u.User != nil {
		if p, ok := u.User.Password(); ok && !strings.Contains(p, "{{") {
			out = append(out, p)
		}
	}
	_, query, ok := strings.Cut(raw, "?")
	if !ok {
		return out
	}
	query, _, _ = strings.Cut(query, "#")
	for _, pair := range strings.FieldsFunc(query, func(r rune) bool { return r == '&' || r == ';' }) {
		k, v, ok := strings.Cut(pair, "=")
		if !ok || v == "" || !credentialParam(k) {
			continue
		}
		if strings.Contains(v, "{{") {
			for _, m := range varRef.FindAllStringSubmatch(v, -1) {
				if vars[m[1]] != "" {
					out = append(out, vars[m[1]])
				}
			}
			continue
		}
		out = append(out, v)
		if uv, err := url.QueryUnescape(v); err == nil && uv != v {
			out = append(out, uv)
		}
	}
	return out
}

func stepNode(s *Step) *yaml.Node {
	var n *yaml.Node
	if s.probe != nil {
		n = yMap("name", yStr(s.Name), s.probe.kind(), s.probe.node())
	} else {
		n = yMap("name", yStr(s.Name), "request", requestNode(&s.Request))
	}
	if e := expectNode(s, &s.Expect); len(e.Content) > 0 {
		yAdd(n, "expect", e)
	}
	if len(s.Capture) > 0 {
		cn := yMap()
		for _, name := range sortedKeys(s.Capture) {
			yAdd(cn, name, yFlow(captureNode(s.Capture[name])))
		}
		yAdd(n, "capture", cn)
	}
	if s.OpenAPI != nil {
		yAdd(n, "openapi", openapiNode(s.OpenAPI))
	}
	return n
}

func requestNode(r *Request) *yaml.Node {
	n := yMap("method", yStr(r.Method), "url", yStr(r.URL.Raw))
	if len(r.Query) > 0 {
		yAdd(n, "query", yFlow(yTemplateMap(r.Query)))
	}
	if len(r.Headers) > 0 {
		yAdd(n, "headers", yFlow(yTemplateMap(r.Headers)))
	}
	switch {
	case r.Body != nil:
		yAdd(n, "body", yStr(r.Body.Raw))
	case r.JSON != nil:
		yAdd(n, "json", yFlow(yAny(r.JSON.V)))
	case r.Form != nil:
		yAdd(n, "form", yFlow(yTemplateMap(r.Form)))
	}
	if a := r.Auth; a != nil {
		secret := func(t Template) *yaml.Node {
			if t.Templated() {
				return yStr(t.Raw)
			}
			return yStr(Redacted)
		}
		switch {
		case a.Basic != nil:
			yAdd(n, "auth", yMap("basic", yFlow(yMap("username", yStr(a.Basic.Username.Raw), "password", secret(a.Basic.Password)))))
		case a.Bearer != nil:
			yAdd(n, "auth", yFlow(yMap("bearer", secret(*a.Bearer))))
		}
	}
	if r.Timeout > 0 {
		yAdd(n, "timeout", yStr(durationText(r.Timeout)))
	}
	if r.FollowRedirects != nil {
		yAdd(n, "follow_redirects", yBool(*r.FollowRedirects))
	}
	if r.MaxRedirects != nil {
		yAdd(n, "max_redirects", yInt(*r.MaxRedirects))
	}
	if t := r.TLS; t != nil {
		yAdd(n, "tls", tlsOptionsNode(t))
	}
	if r.Proxy != "" {
		yAdd(n, "proxy", yStr(r.Proxy))
	}
	if r.MaxBody != 0 && r.MaxBody != DefaultMaxBody {
		yAdd(n, "max_body", yInt(int(r.MaxBody)))
	}
	return n
}

// tlsOptionsNode writes a tls block (TLSOptions) back.
func tlsOptionsNode(t *TLSOptions) *yaml.Node {
	tn := yMap()
	if t.InsecureSkipVerify {
		yAdd(tn, "insecure_skip_verify", yBool(true))
	}
	for _, kv := range [][2]string{{"ca_file", t.CAFile}, {"cert_file", t.CertFile}, {"key_file", t.KeyFile}, {"server_name", t.ServerName}} {
		if kv[1] != "" {
			yAdd(tn, kv[0], yStr(kv[1]))
		}
	}
	return yFlow(tn)
}

func expectNode(s *Step, e *Expect) *yaml.Node {
	n := yMap()
	if e.Status != nil {
		yAdd(n, "status", statusNode(e.Status))
	} else if s.probe == nil {
		st := yStr("2xx")
		st.LineComment = "default: the step sets no status"
		yAdd(n, "status", st)
	} else if _, ok := s.probe.(*GRPCProbe); ok {
		st := yStr(defaultHealthStatus)
		st.LineComment = "default: the step sets no status"
		yAdd(n, "status", st)
	}
	if len(e.Headers) > 0 {
		hn := yMap()
		for _, k := range sortedKeys(e.Headers) {
			yAdd(hn, k, predicateNode(e.Headers[k]))
		}
		yAdd(n, "headers", hn)
	}
	if b := e.Body; b != nil {
		bn := yMap()
		for _, kv := range []struct {
			k string
			t *Template
		}{{"equals", b.Equals}, {"contains", b.Contains}, {"not_contains", b.NotContains}, {"matches", b.Matches}} {
			if kv.t != nil {
				yAdd(bn, kv.k, yStr(kv.t.Raw))
			}
		}
		if b.Empty != nil {
			yAdd(bn, "empty", yBool(*b.Empty))
		}
		if b.Size != nil {
			yAdd(bn, "size", predicateNode(b.Size))
		}
		yAdd(n, "body", yFlow(bn))
	}
	if len(e.JSON) > 0 {
		jn := yMap()
		for _, k := range sortedKeys(e.JSON) {
			yAdd(jn, k, predicateNode(e.JSON[k]))
		}
		yAdd(n, "json", jn)
	}
	if s := e.JSONSchema; s != nil {
		if s.File != "" {
			yAdd(n, "json_schema", yStr(s.File))
		} else {
			yAdd(n, "json_schema", yAny(s.Inline))
		}
	}
	if e.ResponseTime > 0 {
		yAdd(n, "response_time", yStr(durationText(e.ResponseTime)))
	}
	if t := e.TLS; t != nil {
		tn := yMap()
		for _, kv := range []struct {
			k string
			p *Predicate
		}{{"days_remaining", t.DaysRemaining}, {"version", t.Version}, {"issuer", t.Issuer}, {"sans", t.SANs}} {
			if kv.p != nil {
				yAdd(tn, kv.k, predicateNode(kv.p))
			}
		}
		yAdd(n, "tls", tn)
	}
	for _, kv := range []struct {
		k string
		p *Predicate
	}{{"rcode", e.Rcode}, {"answers", e.Answers}, {"authenticated", e.Authenticated}} {
		if kv.p != nil {
			yAdd(n, kv.k, predicateNode(kv.p))
		} else if kv.k == "rcode" && s.kind() == "dns" {
			rc := yStr("NOERROR")
			rc.LineComment = "default: the step sets no rcode"
			yAdd(n, "rcode", rc)
		}
	}
	if e.ETag != "" {
		yAdd(n, "etag", yStr(string(e.ETag)))
	}
	if a := e.Allow; a != nil {
		an := yMap()
		if len(a.Includes) > 0 {
			yAdd(an, "includes", yFlow(yStringList(a.Includes)))
		}
		if len(a.Excludes) > 0 {
			yAdd(an, "excludes", yFlow(yStringList(a.Excludes)))
		}
		yAdd(n, "allow", yFlow(an))
	}
	if len(e.Cookies) > 0 {
		cn := yMap()
		for _, k := range sortedKeys(e.Cookies) {
			yAdd(cn, k, cookieExpectNode(e.Cookies[k]))
		}
		yAdd(n, "cookies", cn)
	}
	return n
}

// statusNode writes a status expectation back in the form it is read.
func statusNode(s *StatusExpect) *yaml.Node {
	if s.any {
		return yStr(statusAny)
	}
	items := make([]*yaml.Node, 0, len(s.ranges)+len(s.names))
	for _, name := range s.names {
		items = append(items, yStr(name))
	}
	for _, r := range s.ranges {
		switch {
		case r[0] == r[1]:
			items = append(items, yInt(r[0]))
		case r[0]%100 == 0 && r[1] == r[0]+99:
			items = append(items, yStr(fmt.Sprintf("%dxx", r[0]/100)))
		default:
			items = append(items, yStr(fmt.Sprintf("%d-%d", r[0], r[1])))
		}
	}
	if len(items) == 1 {
		return items[0]
	}
	return &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle, Content: items}
}

func predicateNode(p *Predicate) *yaml.Node {
	if p == nil {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
	}
	onlyEquals := p.Equals != nil && p.NotEquals == nil && p.Exists == nil && p.Absent == nil && p.Type == "" &&
		p.Length == nil && p.Gt == nil && p.Gte == nil && p.Lt == nil && p.Lte == nil && p.Contains == nil &&
		p.NotContains == nil && p.Matches == nil && p.In == nil && p.Empty == nil && !p.hasListKeys()
	if onlyEquals {
		if _, isMap := p.Equals.V.(map[string]any); !isMap {
			return yFlow(yAny(p.Equals.V))
		}
	}
	n := yMap()
	value := func(k string, v *Value) {
		if v != nil {
			yAdd(n, k, yAny(v.V))
		}
	}
	value("equals", p.Equals)
	value("not_equals", p.NotEquals)
	if p.Exists != nil {
		yAdd(n, "exists", yBool(*p.Exists))
	}
	if p.Absent != nil {
		yAdd(n, "absent", yBool(*p.Absent))
	}
	if p.Type != "" {
		yAdd(n, "type", yStr(p.Type))
	}
	if p.Length != nil {
		yAdd(n, "length", predicateNode(p.Length))
	}
	value("gt", p.Gt)
	value("gte", p.Gte)
	value("lt", p.Lt)
	value("lte", p.Lte)
	value("contains", p.Contains)
	value("not_contains", p.NotContains)
	if p.Matches != nil {
		yAdd(n, "matches", yStr(p.Matches.Raw))
	}
	if p.In != nil {
		in := &yaml.Node{Kind: yaml.SequenceNode}
		for _, v := range p.In {
			if v != nil {
				in.Content = append(in.Content, yAny(v.V))
			}
		}
		yAdd(n, "in", in)
	}
	if p.Empty != nil {
		yAdd(n, "empty", yBool(*p.Empty))
	}
	listPredicateNodes(n, p)
	return yFlow(n)
}

func captureNode(c *Capture) *yaml.Node {
	n := yMap()
	switch {
	case c.Header != "":
		yAdd(n, "header", yStr(c.Header))
	case !c.JSON.IsZero():
		yAdd(n, "json", yStr(c.JSON.Raw))
	case c.Regex != "":
		yAdd(n, "regex", yStr(c.Regex))
		if c.Group > 0 {
			yAdd(n, "group", yInt(c.Group))
		}
	case c.Status:
		yAdd(n, "status", yBool(true))
	case c.Cookie != "":
		yAdd(n, "cookie", yStr(c.Cookie))
	}
	if c.Secret != nil {
		yAdd(n, "secret", yBool(*c.Secret))
	}
	return n
}

func openapiNode(o *OpenAPIRef) *yaml.Node {
	n := yMap()
	if o.Spec != "" {
		yAdd(n, "spec", yStr(o.Spec))
	}
	if o.Operation != "" {
		yAdd(n, "operation", yStr(o.Operation))
	}
	if o.Skip {
		yAdd(n, "skip", yBool(true))
	}
	return yFlow(n)
}

// durationText renders a duration the loader reads back ("10s", "1m30s").
func durationText(d Duration) string {
	return time.Duration(d).String()
}

// YAML node helpers.

func yMap(kv ...any) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode}
	for i := 0; i+1 < len(kv); i += 2 {
		yAdd(n, kv[i].(string), kv[i+1].(*yaml.Node))
	}
	return n
}

func yAdd(m *yaml.Node, key string, v *yaml.Node) {
	m.Content = append(m.Content, yStr(key), v)
}

func yStr(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
}

func yInt(i int) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(i)}
}

func yBool(b bool) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(b)}
}

// flow renders a small mapping or list on one line.
func yFlow(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
		n.Style = yaml.FlowStyle
	}
	return n
}

func yAny(v any) *yaml.Node {
	n := &yaml.Node{}
	if err := n.Encode(v); err != nil {
		return yStr(fmt.Sprint(v))
	}
	return n
}

func yStringMap(m map[string]string) *yaml.Node {
	n := yMap()
	for _, k := range sortedKeys(m) {
		yAdd(n, k, yStr(m[k]))
	}
	return n
}

func yTemplateMap(m map[string]Template) *yaml.Node {
	n := yMap()
	for _, k := range sortedKeys(m) {
		yAdd(n, k, yStr(m[k].Raw))
	}
	return n
}

func yStringList(ss []string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode}
	for _, s := range ss {
		n.Content = append(n.Content, yStr(s))
	}
	return n
}
