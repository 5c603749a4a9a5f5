package checks

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/assay-monitor/assay/internal/yamlstrict"
	"go.yaml.in/yaml/v3"
)

// A probe is a step kind other than an HTTP request: tcp, tls, dns or
// grpc (probe_*.go). It makes its own exchange and hands back what it
// sent and received; from there a probe step is evaluated like an HTTP
// step: the same assertions on the same response (its body is the text
// received, or the answer as JSON), the same captures, the same
// redaction. Its result has the shape of any step's (RequestSummary says
// what was asked, ResponseSummary what came back), so that reports,
// metrics, history and the page need no case per kind.
type prober interface {
	// kind is the step field that holds the probe: tcp, tls, dns, grpc.
	kind() string
	// compile checks the probe's fields at load; path is the probe's
	// field path (checks[0].steps[1].dns).
	compile(d *decoder, c *Check, s *Step, path string)
	// expects lists the fields of expect that apply to the kind.
	expects() []string
	// templates lists the probe's templates, whose captures and vars are
	// checked like a request's.
	templates() []Template
	// timeout is the probe's own timeout (0: the check's bounds it).
	timeout() time.Duration
	// summary is what the probe asks, as written (templates not
	// rendered): the request of a step that was skipped.
	summary() RequestSummary
	// run makes the exchange; it returns when it is done or ctx ends.
	run(ctx context.Context, pc *probeCall) *probeOutcome
	// node writes the probe back as check-file YAML, for assay explain
	// (the output loads as the check it explains).
	node() *yaml.Node
}

// probeCall is what a probe's run may use.
type probeCall struct {
	// data renders the probe's templates (vars and captures).
	data map[string]any
	// headerSecret makes the value of a credential-bearing header (gRPC
	// metadata) a secret as an HTTP request's is: a value that holds a
	// known secret (Bearer ${TOKEN}) keeps showing its reference.
	headerSecret func(name, value string, t Template)
	// maxEvidence bounds what a probe keeps of what it sent.
	maxEvidence int
}

// probeOutcome is what a probe sent and received.
type probeOutcome struct {
	// request is what was asked, rendered.
	request RequestSummary
	// answered is set when something came back: response is then the
	// result's Response (its Body is set from body).
	answered bool
	proto    string
	line     string
	// body is what body and json assertions and captures read.
	body []byte
	// observed are the kind's named observations, read by its own
	// assertions (valueAssertion).
	observed map[string]any
	tls      *TLSInfo
	timings  Timings
	// reason and message say why the exchange failed; ReasonNone: it
	// completed and is to be evaluated.
	reason  Reason
	message string
	// assess says that the exchange failed on what came back (a
	// certificate that does not verify) but what came is still
	// evaluated, for the record: the assertions are shown and the
	// reason stays.
	assess bool
}

// fail sets the outcome's failure and returns it.
func (o *probeOutcome) fail(reason Reason, msg string) *probeOutcome {
	o.reason, o.message = reason, msg
	return o
}

// probeOf returns the probe the step sets, and how many it sets.
func (s *Step) probeOf() (prober, int) {
	var found prober
	n := 0
	for _, p := range []prober{s.TCP, s.TLS, s.DNS, s.GRPC} {
		if !reflect.ValueOf(p).IsNil() {
			found = p
			n++
		}
	}
	return found, n
}

// probeKinds are the step fields of the probes, in the order errors list
// them.
var probeKinds = []string{"tcp", "tls", "dns", "grpc"}

// compileProbe compiles a probe step, its expectations and captures; it
// reports whether the step is one (and so is no HTTP request).
func compileProbe(d *decoder, c *Check, s *Step, path string, captured map[string]bool) bool {
	p, n := s.probeOf()
	hasRequest := d.Has(path + ".request")
	if n == 0 {
		s.probe = nil
		return false
	}
	at := func(field string) Position { return d.ValuePos(field, s.Pos) }
	if n > 1 || hasRequest {
		if !reported(d, path) {
			d.ErrAt(s.Pos, path, "set exactly one of request, %s", strings.Join(probeKinds, ", "))
		}
		return true
	}
	s.probe = p
	pp := path + "." + p.kind()
	if s.OpenAPI != nil {
		d.ErrAt(at(path+".openapi"), path+".openapi", "openapi applies to HTTP steps (request:), not to a %s step", p.kind())
	}
	s.assertions = nil
	// The expectations every kind shares (body, json, response_time,
	// tls), then the kind's own.
	compileExpect(d, s, path+".expect")
	p.compile(d, c, s, pp)
	for _, t := range s.templates() {
		checkRefs(d, c, t, pp, captured)
	}
	compileCaptures(d, s, path, captured)
	return true
}

// checkProbeExpect reports the fields of expect that do not apply to the
// step's kind, and builds the assertions of those that do.
func checkProbeExpect(d *decoder, s *Step, path string) {
	allowed := s.probe.expects()
	ev := reflect.ValueOf(&s.Expect).Elem()
	et := ev.Type()
	for i := 0; i < et.NumField(); i++ {
		name, _, _ := strings.Cut(et.Field(i).Tag.Get("yaml"), ",")
		if name == "" || name == "-" || ev.Field(i).IsZero() || slices.Contains(allowed, name) {
			continue
		}
		fp := yamlstrict.JoinPath(path, name)
		d.ErrAt(d.KeyPos(fp, s.Pos), fp, "%s does not apply to a %s step (it takes %s)", name, s.probe.kind(), strings.Join(allowed, ", "))
	}
}

// probeOnlyExpects are the fields of expect that only some probe takes,
// with the kind: an HTTP step refuses them.
var probeOnlyExpects = map[string]string{"rcode": "dns", "answers": "dns", "authenticated": "dns"}

// rejectProbeExpects reports the probe fields of an HTTP step's expect.
func rejectProbeExpects(d *decoder, s *Step, path string) {
	for _, name := range sortedKeys(probeOnlyExpects) {
		fp := yamlstrict.JoinPath(path, name)
		if d.Has(fp) {
			d.ErrAt(d.KeyPos(fp, s.Pos), fp, "%s applies to %s steps, not to an HTTP request", name, probeOnlyExpects[name])
		}
	}
}

// valueAssertion asserts p on the probe observation key, shown as label.
func valueAssertion(label, key string, p *Predicate) assertion {
	return assertion{name: label, eval: func(r *response, data map[string]any) []AssertionResult {
		v, ok := r.observed[key]
		if !ok {
			out := p.eval(r, label, nil, false, false, data)
			if p.hasListKeys() {
				out = append(out, p.evalList(r, label, nil, false, "element", nil, false, data)...)
			}
			return out
		}
		return p.evalNode(r, label, v, data)
	}}
}

// probeStep runs the probe step with index i.
func (r *Runner) probeStep(ctx context.Context, s *Step, i int, data map[string]any, rd *redactor, hist *exchangeHistory) StepResult {
	p := s.probe
	sr := StepResult{Name: s.Name, Kind: p.kind(), Request: p.summary()}
	// The exchange ends before the step's deadline, so that what it got
	// is still evaluated: a peer that answered, but never what was
	// expected, fails the assertion that shows what it said.
	runCtx := ctx
	if t := p.timeout(); t > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, t)
		defer cancel()
	} else if dl, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithDeadline(ctx, dl.Add(-min(time.Second, time.Until(dl)/10)))
		defer cancel()
	}
	pc := &probeCall{data: data, maxEvidence: r.opts.MaxEvidenceBody, headerSecret: func(name, v string, t Template) {
		rd.addHeaderSecret(http.CanonicalHeaderKey(name), v, templateRef(t), i)
	}}
	out := p.run(runCtx, pc)
	if out.request.Method != "" {
		sr.Request = out.request
	}
	sr.Request.Body = rd.cut(sr.Request.Body, r.opts.MaxEvidenceBody)
	sr.Timings, sr.TLS = out.timings, out.tls
	rs := &response{body: out.body, total: out.timings.Total, tls: out.tls, observed: out.observed, ctx: ctx}
	// Secrets of this answer are known before any of it is cut.
	taken := takeSecretCaptures(s, rs, rd, i)
	rs.rd = *rd
	if out.answered {
		sr.Response = &ResponseSummary{Proto: out.proto, Line: out.line, Body: previewBody(out.body, r.opts.MaxEvidenceBody, rd), BodySize: int64(len(out.body))}
	}
	fail := func(reason Reason, msg string) StepResult {
		sr.Passed, sr.Reason, sr.Message = false, reason, msg
		return sr
	}
	if out.reason != ReasonNone {
		if interrupted(ctx) {
			return fail(ReasonInterrupted, interruptedMessage)
		}
		if out.assess {
			assertAll(ctx, s, rs, &sr, data)
		}
		return fail(out.reason, out.message)
	}
	if reason, msg := assertAll(ctx, s, rs, &sr, data); reason != ReasonNone {
		return fail(reason, msg)
	}
	if reason, msg := captureAll(ctx, s, rs, &sr, data, rd, taken, hist); reason != ReasonNone {
		return fail(reason, msg)
	}
	sr.Passed = true
	return sr
}

// probeTimeoutMessage is the message of a probe that ran out of time
// while doing what (connecting, reading the answer).
func probeTimeoutMessage(timeout time.Duration, what string) string {
	if timeout > 0 {
		return fmt.Sprintf("timeout: no complete answer within the step timeout %s (while %s)", timeout, what)
	}
	return fmt.Sprintf("timeout: no complete answer before the check timeout (while %s)", what)
}

// timeout is the step's own timeout: its request's or its probe's.
func (s *Step) timeout() time.Duration {
	if s.probe != nil {
		return s.probe.timeout()
	}
	return s.Request.Timeout.D()
}

// summary is the step's request as written, for a step that was skipped.
func (s *Step) summary() RequestSummary {
	if s.probe != nil {
		return s.probe.summary()
	}
	return RequestSummary{Method: s.Request.Method, URL: s.Request.URL.Raw}
}

// kind is the step's probe kind; empty for an HTTP request.
func (s *Step) kind() string {
	if s.probe != nil {
		return s.probe.kind()
	}
	return ""
}
