package checks

import (
	"fmt"
	"net/http"
	"strings"
)

// Contract types.
const (
	// ContractConditionalUpdate verifies RFC 9110 conditional writes:
	// optimistic concurrency with ETag and If-Match.
	ContractConditionalUpdate = "conditional-update"
	// ContractMethodNotAllowed verifies that methods a resource does not
	// support get 405 with an Allow header listing those it does.
	ContractMethodNotAllowed = "method-not-allowed"
)

// Contract is a named protocol behaviour that the loader expands into
// ordinary steps, run after the check's own steps (which may log in and
// capture a token the contract's headers use). Results, reports and
// captures treat those steps like hand-written ones; `assay explain`
// prints them.
type Contract struct {
	// Type is conditional-update or method-not-allowed.
	Type string `yaml:"type"`
	// URL is the resource (may use vars and earlier captures).
	URL Template `yaml:"url"`
	// Headers are sent with every request of the contract (auth tokens,
	// Accept, ...). If-Match and If-None-Match are the contract's own.
	Headers map[string]Template `yaml:"headers"`
	// Auth is sent with every request of the contract.
	Auth *Auth `yaml:"auth"`
	// TLS and Timeout apply to every request of the contract.
	TLS     *TLSOptions `yaml:"tls"`
	Timeout Duration    `yaml:"timeout"`

	// conditional-update: the write.

	// Method is PATCH (default) or PUT.
	Method string `yaml:"method"`
	// Body or JSON is the content of the write; one is required. The
	// same content is sent by the successful and the stale write.
	Body *Template `yaml:"body"`
	JSON *Value    `yaml:"json"`
	// ExpectStatus is the status of the successful write; default 204.
	ExpectStatus *StatusExpect `yaml:"expect_status"`
	// WriteETag is "optional" (default) or "required": whether the
	// successful write must carry the new ETag itself. RFC 9110 §9.3.4
	// lets a server answer a PUT without one (Apache mod_dav does); the
	// contract then learns it from a GET after the write.
	WriteETag string `yaml:"write_etag"`
	// RequirePrecondition adds a step: a write without If-Match must be
	// refused with 428 (RFC 6585 §3).
	RequirePrecondition bool `yaml:"require_precondition"`
	// NotModified (default true) adds the step: GET with If-None-Match
	// and the current ETag returns 304 with that ETag and no content.
	NotModified *bool `yaml:"not_modified"`

	// method-not-allowed.

	// Allowed are the methods the resource supports: every 405 must list
	// them in Allow.
	Allowed []string `yaml:"allowed"`
	// Methods are the methods to try; each must get 405. They are sent for
	// real: list only methods the resource must refuse.
	Methods []string `yaml:"methods"`

	Pos Position `yaml:"-"`

	// steps are the expanded steps, in order.
	steps []*Step
	// newETag is the step of conditional-update that proves the write
	// changed the ETag (see contract_write_etag.go).
	newETag *Step
}

// Capture names the conditional-update contract defines for later steps.
const (
	contractETag        = "etag"
	contractUpdatedETag = "updated_etag"
)

// Steps returns the steps the contract expanded into (after loading).
func (ct *Contract) Steps() []*Step {
	if ct == nil {
		return nil
	}
	return ct.steps
}

// expandContract builds the contract's steps and compiles them after the
// check's own steps. Errors point into the contract block.
func compileContract(d *decoder, c *Check, path string, captured, stepNames map[string]bool) {
	ct := c.Contract
	if ct == nil {
		return
	}
	cpath := path + ".contract"
	at := func(field string) Position { return d.ValuePos(cpath+"."+field, ct.Pos) }
	var steps []*Step
	switch ct.Type {
	case ContractConditionalUpdate:
		steps = expandConditionalUpdate(d, ct, cpath, at)
	case ContractMethodNotAllowed:
		steps = expandMethodNotAllowed(d, ct, cpath, at)
	case "":
		d.ErrAt(ct.Pos, cpath+".type", "a contract needs a type: %s or %s", ContractConditionalUpdate, ContractMethodNotAllowed)
		return
	default:
		d.ErrAt(at("type"), cpath+".type", "unknown contract type %q (valid: %s, %s)", ct.Type, ContractConditionalUpdate, ContractMethodNotAllowed)
		return
	}
	if ct.URL.Raw == "" {
		d.ErrAt(ct.Pos, cpath+".url", "a contract needs the url of the resource")
		return
	}
	if steps == nil {
		return
	}
	if ct.Type == ContractConditionalUpdate {
		for _, name := range []string{contractETag, contractUpdatedETag} {
			if captured[name] {
				d.ErrAt(ct.Pos, cpath, "an earlier step captures %q, which the %s contract defines; rename that capture", name, ct.Type)
			}
		}
	}
	before := len(d.Errs)
	for _, s := range steps {
		if stepNames[s.Name] {
			d.ErrAt(ct.Pos, cpath, "a step is already named %q, like a step of the %s contract; rename it", s.Name, ct.Type)
		}
		stepNames[s.Name] = true
		compileStep(d, c, s, cpath, captured)
	}
	// The steps share the contract's url, headers and content: report a
	// problem with them once, not once per step.
	seen := map[string]bool{}
	kept := d.Errs[:before]
	for _, e := range d.Errs[before:] {
		if k := e.Pos.String() + "\x00" + e.Msg; !seen[k] {
			seen[k] = true
			kept = append(kept, e)
		}
	}
	d.Errs = kept
	hintUnchangedETag(ct.newETag)
	ct.steps = steps
	c.Steps = append(c.Steps, steps...)
}

// request is the base request of a contract step.
func (ct *Contract) request(method string) Request {
	r := Request{Method: method, URL: ct.URL, Auth: ct.Auth, TLS: ct.TLS, Timeout: ct.Timeout, Headers: map[string]Template{}}
	for k, v := range ct.Headers {
		r.Headers[k] = v
	}
	return r
}

func (ct *Contract) write(ifMatch string) Request {
	r := ct.request(ct.Method)
	r.Body, r.JSON = ct.Body, ct.JSON
	if ifMatch != "" {
		r.Headers["If-Match"] = mustTemplate("{{ ." + ifMatch + " }}")
	}
	return r
}

func mustTemplate(s string) Template {
	t, err := NewTemplate(s)
	if err != nil {
		panic(err)
	}
	return t
}

func statusOf(code int) *StatusExpect {
	return &StatusExpect{Raw: fmt.Sprint(code), ranges: [][2]int{{code, code}}}
}

func boolPtr(b bool) *bool { return &b }

// templateValue is a Value holding one template, e.g. "{{ .etag }}".
func templateValue(s string) *Value {
	return &Value{V: s, tmpls: map[string]Template{s: mustTemplate(s)}}
}

func expandConditionalUpdate(d *decoder, ct *Contract, cpath string, at func(string) Position) []*Step {
	ok := true
	ct.Method = strings.ToUpper(strings.TrimSpace(ct.Method))
	if ct.Method == "" {
		ct.Method = http.MethodPatch
	}
	if ct.Method != http.MethodPatch && ct.Method != http.MethodPut {
		d.ErrAt(at("method"), cpath+".method", "expected PATCH or PUT, got %q", ct.Method)
		ok = false
	}
	switch {
	case ct.Body == nil && ct.JSON == nil:
		d.ErrAt(ct.Pos, cpath, "a conditional-update contract needs the content of the write: body or json")
		ok = false
	case ct.Body != nil && ct.JSON != nil:
		d.ErrAt(ct.Pos, cpath, "set only one of body and json")
		ok = false
	}
	if len(ct.Allowed) > 0 || len(ct.Methods) > 0 {
		d.ErrAt(ct.Pos, cpath, "allowed and methods belong to the %s contract", ContractMethodNotAllowed)
		ok = false
	}
	for k := range ct.Headers {
		if ck := http.CanonicalHeaderKey(k); ck == "If-Match" || ck == "If-None-Match" {
			d.ErrAt(d.KeyPos(cpath+".headers."+k, ct.Pos), cpath+".headers."+k, "the contract sets %s itself", ck)
			ok = false
		}
	}
	if !checkWriteETag(d, ct, cpath, at) {
		ok = false
	}
	if !ok {
		return nil
	}
	expectWrite := ct.ExpectStatus
	if expectWrite == nil {
		expectWrite = statusOf(http.StatusNoContent)
	}
	m := ct.Method
	etagRef, updatedRef := "{{ ."+contractETag+" }}", "{{ ."+contractUpdatedETag+" }}"

	read := &Step{
		Name:    "read: GET returns a strong ETag",
		Request: ct.request(http.MethodGet),
		Expect:  Expect{Status: statusOf(http.StatusOK), ETag: ETagStrong},
		Capture: map[string]*Capture{contractETag: {Header: "ETag", Pos: ct.Pos}},
	}
	update := &Step{
		Name:    fmt.Sprintf("conditional write: %s with If-Match succeeds with a new ETag", m),
		Request: ct.write(contractETag),
		Expect: Expect{
			Status:  expectWrite,
			ETag:    ETagStrong,
			Headers: map[string]*Predicate{"ETag": {NotEquals: templateValue(etagRef), Pos: ct.Pos}},
		},
		Capture: map[string]*Capture{contractUpdatedETag: {Header: "ETag", Pos: ct.Pos}},
	}
	if expectWrite.Raw == "204" {
		update.Expect.Body = &BodyExpect{Empty: boolPtr(true)}
	}
	reread := learnWriteETag(ct, update)
	ct.newETag = update
	if reread != nil {
		ct.newETag = reread
	}
	stale := &Step{
		Name:    fmt.Sprintf("stale write: %s with the old If-Match gets 412", m),
		Request: ct.write(contractETag),
		Expect:  Expect{Status: statusOf(http.StatusPreconditionFailed)},
	}
	unchanged := &Step{
		Name:    "unchanged: GET shows the ETag of the successful write",
		Request: ct.request(http.MethodGet),
		Expect: Expect{
			Status:  statusOf(http.StatusOK),
			Headers: map[string]*Predicate{"ETag": {Equals: templateValue(updatedRef), Pos: ct.Pos}},
		},
	}
	steps := []*Step{read, update, stale, unchanged}
	if reread != nil {
		steps = []*Step{read, update, reread, stale, unchanged}
	}
	if ct.RequirePrecondition {
		steps = append(steps, &Step{
			Name:    fmt.Sprintf("unconditional write: %s without If-Match gets 428", m),
			Request: ct.write(""),
			Expect:  Expect{Status: statusOf(http.StatusPreconditionRequired)},
		})
	}
	if ct.NotModified == nil || *ct.NotModified {
		rq := ct.request(http.MethodGet)
		rq.Headers["If-None-Match"] = mustTemplate(updatedRef)
		steps = append(steps, &Step{
			Name:    "revalidate: If-None-Match with the current ETag gets 304",
			Request: rq,
			Expect: Expect{
				Status:  statusOf(http.StatusNotModified),
				Body:    &BodyExpect{Empty: boolPtr(true)},
				Headers: map[string]*Predicate{"ETag": {Equals: templateValue(updatedRef), Pos: ct.Pos}},
			},
		})
	}
	for _, s := range steps {
		s.Pos = ct.Pos
	}
	return steps
}

func expandMethodNotAllowed(d *decoder, ct *Contract, cpath string, at func(string) Position) []*Step {
	ok := true
	if ct.Method != "" || ct.Body != nil || ct.JSON != nil || ct.ExpectStatus != nil || ct.RequirePrecondition || ct.NotModified != nil || ct.WriteETag != "" {
		d.ErrAt(ct.Pos, cpath, "method, body, json, expect_status, write_etag, require_precondition and not_modified belong to the %s contract", ContractConditionalUpdate)
		ok = false
	}
	allowed, tried := methodsOf(ct.Allowed), methodsOf(ct.Methods)
	if len(allowed) == 0 {
		d.ErrAt(ct.Pos, cpath+".allowed", "list the methods the resource supports, e.g. [GET, HEAD]")
		ok = false
	}
	if len(tried) == 0 {
		d.ErrAt(ct.Pos, cpath+".methods", "list the methods to try, each must get 405, e.g. [POST, DELETE]; they are sent for real")
		ok = false
	}
	for _, m := range append(append([]string{}, allowed...), tried...) {
		if !methodRe.MatchString(m) {
			d.ErrAt(ct.Pos, cpath, "invalid method %q", m)
			ok = false
		}
	}
	for _, m := range tried {
		for _, a := range allowed {
			if m == a {
				d.ErrAt(at("methods"), cpath+".methods", "%s is both allowed and tried for a 405", m)
				ok = false
			}
		}
	}
	if !ok {
		return nil
	}
	// Keep the order the author wrote (deduplicated, upper-cased).
	var order []string
	seen := map[string]bool{}
	for _, m := range ct.Methods {
		m = strings.ToUpper(strings.TrimSpace(m))
		if !seen[m] {
			seen[m] = true
			order = append(order, m)
		}
	}
	var steps []*Step
	for _, m := range order {
		steps = append(steps, &Step{
			Name:    fmt.Sprintf("%s is not allowed: 405 with Allow", m),
			Request: ct.request(m),
			Expect: Expect{
				Status: statusOf(http.StatusMethodNotAllowed),
				Allow:  &AllowExpect{Includes: allowed, Excludes: []string{m}, Pos: ct.Pos},
			},
			Pos: ct.Pos,
		})
	}
	return steps
}
