package checks

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/go-resty/resty/v2"
)

// Version is reported in the User-Agent; cmd/assay sets it at build time.
var Version = "dev"

// RunnerOptions configure a Runner. The zero value is usable.
type RunnerOptions struct {
	// UserAgent defaults to "assay/<Version>".
	UserAgent string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives debug lines; nil discards.
	Logger *slog.Logger
	// Semantics is the HTTP semantics mode of checks that set none;
	// empty means DefaultSemantics (warn).
	Semantics SemanticsMode
	// MaxEvidenceBody bounds the request and response bodies kept in a
	// result (the evidence of a failure, the baseline of a pass); 0 means
	// DefaultMaxEvidenceBody. Assertions always see the whole body.
	MaxEvidenceBody int
	// Heartbeats gives the latest ping of heartbeat checks (the
	// daemon's); nil fails them with ReasonInternal.
	Heartbeats HeartbeatBook
}

// DefaultMaxEvidenceBody is how much of a body a result keeps.
const DefaultMaxEvidenceBody = 64 << 10

// Runner executes checks. It keeps one resty client (and so one connection
// pool) per distinct transport setting, so connections are reused across
// runs. It is safe for concurrent use.
type Runner struct {
	opts    RunnerOptions
	mu      sync.Mutex
	clients map[clientKey]*resty.Client
}

// NewRunner returns a Runner.
func NewRunner(opts RunnerOptions) *Runner {
	if opts.UserAgent == "" {
		opts.UserAgent = "assay/" + Version
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxEvidenceBody <= 0 {
		opts.MaxEvidenceBody = DefaultMaxEvidenceBody
	}
	return &Runner{opts: opts, clients: map[clientKey]*resty.Client{}}
}

// Close drops idle connections.
func (r *Runner) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.clients {
		c.GetClient().CloseIdleConnections()
	}
}

// clientKey identifies a transport configuration; requests with equal keys
// share a connection pool.
type clientKey struct {
	// tls is the TLS options' identity, not the options: every load
	// (every reload) makes new ones.
	tls          tlsIdentity
	proxy        string
	follow       bool
	maxRedirects int
	// getBody lets a GET carry content. Requests without content use a
	// second resty client on the same http.Client (the same pool) that
	// does not: for a method that may carry content, resty gives a request
	// without any a body of unknown length, which costs an allocation and,
	// were it not for noContentNoBody, a probe by net/http.
	getBody bool
}

var errTooManyRedirects = errors.New("too many redirects")

func (r *Runner) client(req *Request, getBody bool) *resty.Client {
	k := clientKey{tls: req.TLS.identity(), proxy: req.Proxy, follow: true, maxRedirects: DefaultMaxRedirects, getBody: getBody}
	if req.FollowRedirects != nil {
		k.follow = *req.FollowRedirects
	}
	if req.MaxRedirects != nil {
		k.maxRedirects = *req.MaxRedirects
	}
	if !k.follow {
		k.maxRedirects = 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.clients[k]; ok {
		return c
	}
	sibling := k
	sibling.getBody = !k.getBody
	if c, ok := r.clients[sibling]; ok {
		// The same pool (the Transport), not the same http.Client:
		// newClient sets its redirect policy, which requests in flight
		// on the sibling read.
		c = r.newClient(k, &http.Client{Transport: c.GetClient().Transport})
		r.clients[k] = c
		return c
	}
	var tlsConfig *tls.Config
	if req.TLS != nil && req.TLS.config != nil {
		tlsConfig = req.TLS.config.Clone()
	}
	tr := newTransport(tlsConfig)
	if k.proxy != "" {
		if u, err := url.Parse(k.proxy); err == nil {
			tr.Proxy = http.ProxyURL(u)
		}
	}
	c := r.newClient(k, &http.Client{Transport: cookieTransport{tr}})
	r.clients[k] = c
	return c
}

func (r *Runner) newClient(k clientKey, hc *http.Client) *resty.Client {
	follow, max := k.follow, k.maxRedirects
	return resty.NewWithClient(hc).
		SetLogger(discardLogger{}).
		SetDisableWarn(true).
		// A body configured on a GET is sent, not silently dropped.
		SetAllowGetMethodPayload(k.getBody).
		SetHeader("User-Agent", r.opts.UserAgent).
		SetRedirectPolicy(resty.RedirectPolicyFunc(func(_ *http.Request, via []*http.Request) error {
			if !follow {
				return http.ErrUseLastResponse
			}
			if len(via) > max {
				return fmt.Errorf("%w: stopped after %d", errTooManyRedirects, max)
			}
			return nil
		})).
		SetPreRequestHook(noContentNoBody)
}

// noContentNoBody gives a request without content the body net/http
// knows to be empty. resty hands a request without one, whose method may
// carry one, a non-nil empty body of unknown length, which net/http then
// probes with a goroutine and a 200 ms timer (GET, DELETE) or sends
// chunked (POST, PUT, PATCH).
func noContentNoBody(_ *resty.Client, r *http.Request) error {
	if r.ContentLength == 0 && r.Body != nil && r.Body != http.NoBody {
		r.Body, r.GetBody = http.NoBody, noBody
	}
	return nil
}

func noBody() (io.ReadCloser, error) { return http.NoBody, nil }

type discardLogger struct{}

func (discardLogger) Errorf(string, ...any) {}
func (discardLogger) Warnf(string, ...any)  {}
func (discardLogger) Debugf(string, ...any) {}

// Run executes the check with its retries and returns the result. It never
// panics on a bad peer and always returns within the check's
// AttemptTimeout per attempt (plus backoff between attempts) or when ctx
// ends.
func (r *Runner) Run(ctx context.Context, c *Check) *Result {
	if c.Heartbeat != nil {
		return r.runHeartbeat(ctx, c)
	}
	res := &Result{Check: c.Name, File: c.Pos.File, Labels: c.Labels, Tags: c.Tags, Started: r.opts.Now()}
	for i := 0; ; i++ {
		a := r.attempt(ctx, c, i+1)
		res.Attempts = append(res.Attempts, a)
		if a.Passed || i >= c.Retries.Count || ctx.Err() != nil {
			break
		}
		if c.Retries.On != RetryOnAny && !a.Reason.Transient() {
			break
		}
		if !sleep(ctx, backoff(c.Retries, i)) {
			break
		}
	}
	last := res.Attempts[len(res.Attempts)-1]
	res.Passed, res.Reason, res.Message = last.Passed, last.Reason, last.Message
	res.Duration = r.opts.Now().Sub(res.Started)
	return res
}

// backoff doubles from the base each retry, capped, with "equal jitter" so
// that replicas retrying the same target do not move in lockstep.
func backoff(rt Retries, i int) time.Duration {
	d := rt.Backoff.D() << min(i, 30)
	if max := rt.MaxBackoff.D(); d > max || d <= 0 {
		d = max
	}
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (r *Runner) attempt(parent context.Context, c *Check, n int) Attempt {
	a := Attempt{Number: n, Started: r.opts.Now(), Passed: true}
	ctx, cancel := context.WithTimeout(parent, c.Timeout.D())
	defer cancel()
	ctx = withCookieJar(ctx, c)
	rd := &redactor{}
	for _, sv := range c.secrets {
		rd.addSecret(sv, outside)
	}
	data := map[string]any{"vars": c.tmplVars}
	hist := newExchangeHistory()
	a.Steps = make([]StepResult, 0, len(c.Steps)+len(c.Finally))
	for i, s := range c.Steps {
		if !a.Passed {
			a.Steps = append(a.Steps, StepResult{Name: s.Name, Kind: s.kind(), Skipped: true, Request: s.summary()})
			continue
		}
		sr := r.step(ctx, c, i, data, rd, hist)
		if !sr.Passed {
			a.Passed = false
			if ctx.Err() != nil && parent.Err() == nil && sr.Reason == ReasonTimeout {
				msg := fmt.Sprintf("timeout: check timeout %s exceeded", c.Timeout.D())
				if w := strings.Index(sr.Message, " (while "); w >= 0 {
					msg += sr.Message[w:]
				}
				sr.Message = msg
			}
			a.Reason = sr.Reason
			a.Message = fmt.Sprintf("step %q: %s", s.Name, sr.Message)
		}
		a.Steps = append(a.Steps, sr)
	}
	r.runFinally(parent, c, &a, data, rd, hist)
	// Captured secrets are known only now; scrub everything once more.
	for i := range a.Steps {
		rd.step(&a.Steps[i], i)
	}
	a.Message = rd.str(a.Message)
	a.Duration = r.opts.Now().Sub(a.Started)
	return a
}

// phaseTimer records request phases from httptrace callbacks, which may run
// on other goroutines.
type phaseTimer struct {
	mu                            sync.Mutex
	dnsStart, connStart, tlsStart time.Time
	t                             Timings
	firstByte                     time.Time
}

func (p *phaseTimer) trace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		DNSStart: func(httptrace.DNSStartInfo) { p.mu.Lock(); p.dnsStart = time.Now(); p.mu.Unlock() },
		DNSDone: func(httptrace.DNSDoneInfo) {
			p.mu.Lock()
			p.t.DNS += time.Since(p.dnsStart)
			p.mu.Unlock()
		},
		ConnectStart: func(string, string) { p.mu.Lock(); p.connStart = time.Now(); p.mu.Unlock() },
		ConnectDone: func(string, string, error) {
			p.mu.Lock()
			p.t.Connect += time.Since(p.connStart)
			p.mu.Unlock()
		},
		TLSHandshakeStart: func() { p.mu.Lock(); p.tlsStart = time.Now(); p.mu.Unlock() },
		TLSHandshakeDone: func(tls.ConnectionState, error) {
			p.mu.Lock()
			p.t.TLS += time.Since(p.tlsStart)
			p.mu.Unlock()
		},
		GotFirstResponseByte: func() {
			p.mu.Lock()
			if p.firstByte.IsZero() {
				p.firstByte = time.Now()
			}
			p.mu.Unlock()
		},
	}
}

// renderedRequest is a step's request with templates executed.
type renderedRequest struct {
	method, url string
	headers     http.Header
	body        []byte
	basic       *[2]string
	bearer      string
}

func (s *Step) render(ctx context.Context, data map[string]any) (*renderedRequest, error) {
	req := &s.Request
	out := &renderedRequest{method: req.Method, headers: http.Header{}}
	u, err := req.URL.RenderContext(ctx, data)
	if err != nil {
		return nil, err
	}
	if len(req.Query) > 0 {
		pu, err := url.Parse(u)
		if err != nil {
			return nil, fmt.Errorf("url %q: %v", u, err)
		}
		q := pu.Query()
		for _, k := range sortedKeys(req.Query) {
			v, err := req.Query[k].RenderContext(ctx, data)
			if err != nil {
				return nil, err
			}
			q.Add(k, v)
		}
		pu.RawQuery = q.Encode()
		u = pu.String()
	}
	out.url = u
	for _, k := range sortedKeys(req.Headers) {
		v, err := req.Headers[k].RenderContext(ctx, data)
		if err != nil {
			return nil, err
		}
		out.headers.Set(k, v)
	}
	switch {
	case req.Body != nil:
		b, err := req.Body.RenderContext(ctx, data)
		if err != nil {
			return nil, err
		}
		out.body = []byte(b)
	case req.JSON != nil:
		v, err := req.JSON.RenderContext(ctx, data)
		if err != nil {
			return nil, err
		}
		if out.body, err = json.Marshal(v); err != nil {
			return nil, err
		}
		if out.headers.Get("Content-Type") == "" {
			out.headers.Set("Content-Type", "application/json")
		}
	case req.Form != nil:
		f := url.Values{}
		for _, k := range sortedKeys(req.Form) {
			v, err := req.Form[k].RenderContext(ctx, data)
			if err != nil {
				return nil, err
			}
			f.Set(k, v)
		}
		out.body = []byte(f.Encode())
		if out.headers.Get("Content-Type") == "" {
			out.headers.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	}
	if a := req.Auth; a != nil {
		if a.Basic != nil {
			user, err := a.Basic.Username.RenderContext(ctx, data)
			if err != nil {
				return nil, err
			}
			pass, err := a.Basic.Password.RenderContext(ctx, data)
			if err != nil {
				return nil, err
			}
			out.basic = &[2]string{user, pass}
		}
		if a.Bearer != nil {
			if out.bearer, err = a.Bearer.RenderContext(ctx, data); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func (r *Runner) step(ctx context.Context, c *Check, i int, data map[string]any, rd *redactor, hist *exchangeHistory) StepResult {
	s := c.stepAt(i)
	if s.probe != nil {
		return r.probeStep(ctx, s, i, data, rd, hist)
	}
	sr := StepResult{Name: s.Name, Request: RequestSummary{Method: s.Request.Method, URL: s.Request.URL.Raw}}
	fail := func(reason Reason, msg string) StepResult {
		sr.Passed, sr.Reason = false, reason
		sr.Message = msg
		return sr
	}
	rr, err := s.render(ctx, data)
	if err == nil {
		err = s.resolveURL(rr, hist)
	}
	if err != nil {
		return fail(ReasonTemplate, "template: "+err.Error())
	}
	var auth *AuthSummary
	if rr.basic != nil {
		rd.addSecret(secretValue{value: rr.basic[1], ref: templateRef(s.Request.Auth.Basic.Password)}, i-1)
		// A server that echoes the Authorization header shows the
		// credentials base64-encoded.
		rd.add(base64.StdEncoding.EncodeToString([]byte(rr.basic[0] + ":" + rr.basic[1])))
		auth = &AuthSummary{Type: "basic", Username: rr.basic[0], Secret: rd.refOf(rr.basic[1], i)}
	}
	if rr.bearer != "" {
		rd.addSecret(secretValue{value: rr.bearer, ref: templateRef(*s.Request.Auth.Bearer)}, i-1)
		auth = &AuthSummary{Type: "bearer", Secret: rd.refOf(rr.bearer, i)}
	}
	rd.addRequestSecrets(&s.Request, rr, i)

	if t := s.Request.Timeout.D(); t > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t)
		defer cancel()
	}
	rc := &requestContext{Context: ctx}
	pt := &rc.timer
	ctx = httptrace.WithClientTrace(rc, pt.trace())

	req := r.client(&s.Request, rr.body != nil).R().SetContext(ctx).SetDoNotParseResponse(true)
	for k, vs := range rr.headers {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	// resty has its copy: the summary takes rr.headers itself (the
	// redactor replaces any map it changes, so no one else sees it).
	sr.Request = RequestSummary{Method: rr.method, URL: rr.url, Headers: rr.headers, Body: previewBody(rr.body, r.opts.MaxEvidenceBody, rd), Auth: auth}
	if auth != nil {
		sr.Request.Headers["Authorization"] = []string{Redacted}
	}
	noteJarCookies(ctx, rr.url, sr.Request.Headers)
	if rr.body != nil {
		req.SetBody(rr.body)
	}
	if rr.basic != nil {
		req.SetBasicAuth(rr.basic[0], rr.basic[1])
	}
	if rr.bearer != "" {
		req.SetAuthToken(rr.bearer)
	}
	start := time.Now()
	resp, err := req.Execute(rr.method, rr.url)
	if resp != nil && resp.RawResponse != nil && resp.RawResponse.Request != nil {
		hist.requested(resp.RawResponse.Request.URL)
	} else if u, perr := url.Parse(rr.url); perr == nil {
		hist.requested(u)
	}
	if err != nil {
		sr.Timings = pt.finish(start)
		reason, msg := classify(ctx, err, s)
		return fail(reason, msg)
	}
	raw := resp.RawResponse
	body, readErr := readCapped(resp.RawBody(), int64(s.Request.MaxBody), raw.ContentLength)
	sr.Timings = pt.finish(start)
	rs := &response{status: raw.StatusCode, header: raw.Header, body: body, total: sr.Timings.Total, req: raw.Request, ctx: ctx}
	// Secrets of this response are known before any of it is cut.
	rd.addResponseSecrets(raw.Header)
	rd.addRedirectSecrets(raw)
	taken := takeSecretCaptures(s, rs, rd, i)
	// The step adds no secret from here on: the copy is complete.
	rs.rd = *rd
	// The response is ours alone: the summary shares its header map, which
	// nothing changes (the redactor replaces a map it must change).
	sr.Response = &ResponseSummary{Status: raw.StatusCode, Proto: raw.Proto, Headers: raw.Header, Body: previewBody(body, r.opts.MaxEvidenceBody, rd),
		BodySize: int64(len(body))}
	if raw.TLS != nil && len(raw.TLS.PeerCertificates) > 0 {
		sr.TLS = tlsInfo(raw.TLS, time.Now())
		rs.tls = sr.TLS
	}
	semFailed := r.evalSemantics(c, &sr, rr.method, raw, body, readErr, hist, &rs.rd)
	if readErr != nil {
		if errors.Is(readErr, errBodyLimit) {
			sr.Response.Truncated = true
			return fail(ReasonBodyLimit, fmt.Sprintf("body_limit: response body is larger than max_body (%s); read %d bytes and stopped", s.Request.MaxBody, len(body)))
		}
		reason, msg := classify(ctx, readErr, s)
		return fail(reason, msg+" (while reading the body)")
	}

	if reason, msg := assertAll(ctx, s, rs, &sr, data); reason != ReasonNone {
		return fail(reason, msg)
	}
	if semFailed != nil {
		return fail(ReasonSemantics, semanticsMessage(semFailed, &sr))
	}
	if reason, msg := captureAll(ctx, s, rs, &sr, data, rd, taken, hist); reason != ReasonNone {
		return fail(reason, msg)
	}
	sr.Passed = true
	return sr
}

// assertAll evaluates the step's assertions on rs into sr; a failure
// comes back as its reason and message (ReasonNone: all held).
func assertAll(ctx context.Context, s *Step, rs *response, sr *StepResult, data map[string]any) (Reason, string) {
	failed := 0
	if len(s.assertions) > 0 {
		sr.Assertions = make([]AssertionResult, 0, len(s.assertions))
	}
	for _, as := range s.assertions {
		if ctx.Err() != nil {
			return stoppedAt(ctx, s, "the assertion "+as.name)
		}
		results := as.eval(rs, data)
		if rs.stopped { // its results are not a verdict
			return stoppedAt(ctx, s, "the assertion "+as.name)
		}
		for _, ar := range results {
			sr.Assertions = append(sr.Assertions, ar)
			if !ar.Passed {
				if failed == 0 {
					sr.Message = ar.Message
				}
				failed++
			}
		}
	}
	if failed > 0 {
		if failed > 1 {
			sr.Message += fmt.Sprintf(" (and %d more failed assertions)", failed-1)
		}
		return ReasonAssertion, sr.Message
	}
	return ReasonNone, ""
}

// captureAll takes the step's captures from rs into data and sr; taken
// holds the secret ones, taken before anything was cut.
func captureAll(ctx context.Context, s *Step, rs *response, sr *StepResult, data map[string]any, rd *redactor, taken []takenCapture, hist *exchangeHistory) (Reason, string) {
	for k, nc := range s.captures {
		if ctx.Err() != nil {
			return stoppedAt(ctx, s, "the capture "+nc.name)
		}
		var v any
		var err error
		if nc.secret {
			v, err = taken[k].v, taken[k].err
		} else {
			v, err = nc.take(rs)
		}
		if errors.Is(err, errStopped) {
			return stoppedAt(ctx, s, "the capture "+nc.name)
		}
		if err != nil {
			return ReasonCapture, fmt.Sprintf("capture %s: %v", nc.name, err)
		}
		data[nc.name] = v
		hist.captured(nc.name)
		if sr.Captures == nil {
			sr.Captures = map[string]string{}
		}
		if nc.secret {
			sr.Captures[nc.name] = Redacted
		} else {
			text, ok := textOf(v).(string)
			if !ok {
				text = fmt.Sprint(textOf(v))
			}
			sr.Captures[nc.name] = rd.cut(text, actualLimit)
		}
	}
	return ReasonNone, ""
}

// stoppedAt is the failure of a step whose evaluation stopped at what
// because its context ended: the step's or the check's deadline passed
// (timeout), or the run was cancelled (interrupted).
func stoppedAt(ctx context.Context, s *Step, what string) (Reason, string) {
	reason, msg := classify(ctx, context.DeadlineExceeded, s)
	if reason == ReasonTimeout {
		msg = strings.Replace(msg, "no complete response", "the evaluation did not end", 1)
	}
	return reason, msg + " (while evaluating " + what + ")"
}

// takenCapture is a secret capture's value, taken before the response is
// cut anywhere.
type takenCapture struct {
	v   any
	err error
}

// takeSecretCaptures takes the values of the step's secret captures and
// adds them to the secrets, so that no part of them is shown even where
// the response is cut; the capture loop uses them as taken. The slice is
// indexed like s.captures (nil without secret captures).
func takeSecretCaptures(s *Step, rs *response, rd *redactor, step int) []takenCapture {
	var out []takenCapture
	for k, nc := range s.captures {
		if !nc.secret {
			continue
		}
		if out == nil {
			out = make([]takenCapture, len(s.captures))
		}
		v, err := nc.take(rs)
		out[k] = takenCapture{v: v, err: err}
		if err == nil {
			rd.addCaptured(v, nc.ref, step)
		}
	}
	return out
}

func (p *phaseTimer) finish(start time.Time) Timings {
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.t
	if !p.firstByte.IsZero() {
		t.FirstByte = p.firstByte.Sub(start)
	}
	t.Total = time.Since(start)
	return t
}

var errBodyLimit = errors.New("body limit")

// firstBodyBuffer is the most readCapped allocates before data arrives.
const firstBodyBuffer = 64 << 10

// readCapped reads at most limit bytes; a longer body is an error, never a
// silent truncation. size is the Content-Length, -1 when unknown. Memory
// grows with what arrives, not with what is announced: a server that
// announces 9 MiB and sends 3 bytes costs the first buffer, not 9 MiB.
// An honest Content-Length still gives one buffer of exactly that size
// when it is small, and a doubling one capped at it when it is large.
func readCapped(rc io.ReadCloser, limit, size int64) ([]byte, error) {
	defer rc.Close()
	if rc == http.NoBody {
		return nil, nil
	}
	// Reading one byte more than limit tells a body over it from one at it.
	most := limit + 1
	if size >= 0 && size <= limit {
		most = size
	}
	b := make([]byte, 0, min(most, firstBodyBuffer))
	for {
		if len(b) == cap(b) {
			if int64(len(b)) >= most {
				// All that may come has come: a read of one byte more
				// finds the end (or a body longer than announced).
				var one [1]byte
				n, err := rc.Read(one[:])
				if n > 0 {
					b = append(b, one[0])
				}
				if int64(len(b)) > limit {
					return b[:limit], errBodyLimit
				}
				if err == io.EOF {
					return b, nil
				}
				if err != nil {
					return b, err
				}
				if n == 0 {
					continue
				}
				most = limit + 1 // longer than announced: read on to the limit
			}
			grown := make([]byte, len(b), min(most, max(2*int64(cap(b)), firstBodyBuffer)))
			copy(grown, b)
			b = grown
		}
		n, err := rc.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if int64(len(b)) > limit {
			return b[:limit], errBodyLimit
		}
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// previewBody is the text of a body kept in a result, at most limit bytes,
// never cut inside a known secret. Only what is kept becomes a string.
func previewBody(b []byte, limit int, rd *redactor) string {
	if len(b) == 0 {
		return ""
	}
	if !isText(b) {
		return fmt.Sprintf("(%d bytes of binary data)", len(b))
	}
	return rd.cutPrefix(string(b[:rd.window(len(b), limit)]), limit, len(b))
}

func isText(b []byte) bool {
	return !bytes.ContainsRune(b, 0) && utf8.Valid(b)
}

// tlsInfo describes the connection cs and its leaf certificate.
func tlsInfo(cs *tls.ConnectionState, now time.Time) *TLSInfo {
	if len(cs.PeerCertificates) == 0 {
		return &TLSInfo{Version: tls.VersionName(cs.Version)}
	}
	cert := cs.PeerCertificates[0]
	return &TLSInfo{
		Version:       tls.VersionName(cs.Version),
		Subject:       cert.Subject.String(),
		Issuer:        cert.Issuer.String(),
		NotAfter:      cert.NotAfter,
		DaysRemaining: cert.NotAfter.Sub(now).Hours() / 24,
		SANs:          certSANs(cert),
	}
}

// interruptedMessage is the message of a step the caller cancelled.
const interruptedMessage = "interrupted: the run was cancelled before the step completed"

// interrupted reports whether ctx ended because the caller cancelled the
// run (Ctrl-C, shutdown), not because a deadline passed: a deadline of the
// step, of the check or of the caller's run is a timeout.
func interrupted(ctx context.Context) bool {
	return errors.Is(ctx.Err(), context.Canceled)
}

// classify turns a transport error into a bounded reason and a short
// message without the URL (the URL is in the request summary).
func classify(ctx context.Context, err error, s *Step) (Reason, string) {
	return classifyErr(ctx, err, s.timeout())
}

// classifyErr is classify for an exchange whose own timeout is timeout
// (0: it has none but the check's).
func classifyErr(ctx context.Context, err error, timeout time.Duration) (Reason, string) {
	var ue *url.Error
	inner := err
	if errors.As(err, &ue) {
		inner = ue.Err
	}
	var dnsErr *net.DNSError
	var opErr *net.OpError
	var certErr *tls.CertificateVerificationError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalidCert x509.CertificateInvalidError
	var recErr tls.RecordHeaderError
	var alert tls.AlertError
	switch {
	case interrupted(ctx):
		return ReasonInterrupted, interruptedMessage
	case errors.Is(err, errTooManyRedirects):
		return ReasonRedirect, "redirect: " + inner.Error()
	case errors.As(err, &dnsErr) && ctx.Err() == nil:
		// The resolver's own timeout is a DNS failure, not the check's.
		return ReasonDNS, "dns: " + dnsErr.Error()
	case errors.Is(err, context.DeadlineExceeded) || (ue != nil && ue.Timeout()) || ctx.Err() != nil:
		if timeout > 0 {
			return ReasonTimeout, fmt.Sprintf("timeout: no complete response within the step timeout %s", timeout)
		}
		return ReasonTimeout, "timeout: no complete response before the check timeout"
	case errors.As(err, &dnsErr):
		return ReasonDNS, "dns: " + dnsErr.Error()
	case errors.As(err, &certErr), errors.As(err, &unknownCA), errors.As(err, &hostErr),
		errors.As(err, &invalidCert), errors.As(err, &recErr), errors.As(err, &alert):
		return ReasonTLS, "tls: " + strings.TrimPrefix(inner.Error(), "tls: ")
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return ReasonConnect, "connect: " + strings.TrimPrefix(opErr.Err.Error(), "connect: ")
	case errors.Is(err, syscall.ECONNREFUSED):
		return ReasonConnect, "connect: " + inner.Error()
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.EPIPE):
		return ReasonNetwork, "network: connection closed by the server: " + inner.Error()
	case strings.Contains(err.Error(), "malformed HTTP") || strings.Contains(err.Error(), "HTTP/1.x transport connection broken"):
		return ReasonProtocol, "protocol: " + inner.Error()
	case strings.Contains(err.Error(), "tls:") || strings.Contains(err.Error(), "x509:"),
		strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return ReasonTLS, "tls: " + strings.TrimPrefix(inner.Error(), "tls: ")
	}
	return ReasonNetwork, "network: " + inner.Error()
}

// take extracts the capture's value from a response.
func (nc *namedCapture) take(r *response) (any, error) {
	cp := nc.c
	switch {
	case cp.Status:
		return float64(r.status), nil
	case cp.Cookie != "":
		return takeCookie(r, cp.Cookie)
	case cp.Header != "":
		v := r.header.Values(cp.Header)
		if len(v) == 0 {
			return nil, fmt.Errorf("header %s is absent", cp.Header)
		}
		return strings.Join(v, ", "), nil
	case !cp.JSON.IsZero():
		nodes, err := r.selectJSON(cp.JSON.p)
		if err != nil {
			return nil, err
		}
		if len(nodes) == 0 {
			return nil, fmt.Errorf("JSONPath %s matched nothing", cp.JSON.Raw)
		}
		if len(nodes) == 1 || cp.JSON.p.Query().Singular() != nil {
			// One node is that node, as in assertions (jsonpath_list.go).
			return nodes[0], nil
		}
		return []any(nodes), nil
	case nc.re != nil:
		m, err := r.findSubmatch(nc.re, r.body)
		if err != nil {
			return nil, err
		}
		if m == nil {
			return nil, fmt.Errorf("regex %s matched nothing in the body", strconv.Quote(cp.Regex))
		}
		return string(m[cp.Group]), nil
	}
	return nil, errors.New("no source")
}
