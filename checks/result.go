package checks

import (
	"context"
	"time"
)

// Reason classifies why a check or step failed. The set is closed so that
// it can be a bounded metric label.
type Reason string

// Failure reasons. ReasonNone means the run passed.
const (
	ReasonNone      Reason = ""
	ReasonAssertion Reason = "assertion"  // an expectation did not hold
	ReasonTimeout   Reason = "timeout"    // step or check deadline passed
	ReasonDNS       Reason = "dns"        // name resolution failed
	ReasonConnect   Reason = "connect"    // TCP connect failed or was refused
	ReasonTLS       Reason = "tls"        // handshake or certificate verification failed
	ReasonNetwork   Reason = "network"    // connection reset or closed mid-exchange
	ReasonProtocol  Reason = "protocol"   // the peer did not speak valid HTTP
	ReasonRedirect  Reason = "redirect"   // too many redirects
	ReasonBodyLimit Reason = "body_limit" // response body larger than max_body
	ReasonCapture   Reason = "capture"    // a capture found nothing
	ReasonTemplate  Reason = "template"   // a template could not be rendered
	ReasonSemantics Reason = "semantics"  // an HTTP semantics rule failed in strict mode
	ReasonInternal  Reason = "internal"   // a bug or unexpected local error
	// ReasonInterrupted: the caller cancelled the run (Ctrl-C, shutdown)
	// before it completed, so the target's health is unknown. The run's
	// own deadlines are ReasonTimeout.
	ReasonInterrupted Reason = "interrupted"
)

// Reasons lists every Reason but ReasonNone, for metrics that must expose
// each label value from the start (the heartbeat reasons are defined in
// heartbeat.go).
var Reasons = []Reason{ReasonAssertion, ReasonTimeout, ReasonDNS, ReasonConnect,
	ReasonTLS, ReasonNetwork, ReasonProtocol, ReasonRedirect, ReasonBodyLimit,
	ReasonCapture, ReasonTemplate, ReasonSemantics, ReasonInternal, ReasonInterrupted,
	ReasonMissedHeartbeat, ReasonHeartbeatFailed}

// Transient reports whether a failure with this reason is a network-level
// problem that a retry with RetryOnNetwork should be spent on.
func (r Reason) Transient() bool {
	switch r {
	case ReasonTimeout, ReasonDNS, ReasonConnect, ReasonTLS, ReasonNetwork, ReasonProtocol:
		return true
	}
	return false
}

// Result is the outcome of running one check once (all its attempts).
type Result struct {
	// ID identifies the run once the daemon's history has taken it (0
	// before, and in `assay test`): GET /api/v1/results/{id}, assay replay.
	ID       int64             `json:"id,omitempty"`
	Check    string            `json:"check"`
	File     string            `json:"file,omitempty"`
	Labels   map[string]string `json:"labels,omitempty"`
	Tags     []string          `json:"tags,omitempty"`
	Started  time.Time         `json:"started"`
	Duration time.Duration     `json:"duration_ns"`
	Passed   bool              `json:"passed"`
	// Reason and Message describe the failure of the last attempt.
	Reason   Reason    `json:"reason,omitempty"`
	Message  string    `json:"message,omitempty"`
	Attempts []Attempt `json:"attempts"`
	// InMaintenance is set by the daemon when a maintenance window or a
	// silence of the check is active at the run's start or at its end:
	// it is recorded as usual, but its state changes notify no one.
	InMaintenance bool `json:"in_maintenance,omitempty"`
}

// Steps returns the step results of the last attempt, the one that decided
// the verdict.
func (r *Result) Steps() []StepResult {
	if len(r.Attempts) == 0 {
		return nil
	}
	return r.Attempts[len(r.Attempts)-1].Steps
}

// FailedStep returns the first failed step of the last attempt, or nil.
func (r *Result) FailedStep() *StepResult {
	if len(r.Attempts) == 0 {
		return nil
	}
	a := &r.Attempts[len(r.Attempts)-1]
	for i := range a.Steps {
		if !a.Steps[i].Passed && !a.Steps[i].Skipped {
			return &a.Steps[i]
		}
	}
	return nil
}

// Attempt is one pass through the check's steps.
type Attempt struct {
	Number   int           `json:"number"`
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"duration_ns"`
	Passed   bool          `json:"passed"`
	Reason   Reason        `json:"reason,omitempty"`
	Message  string        `json:"message,omitempty"`
	Steps    []StepResult  `json:"steps"`
}

// StepResult is what one step sent, received and concluded.
type StepResult struct {
	Name string `json:"name"`
	// Kind is the step's probe (tcp, tls, dns, grpc); empty for an HTTP
	// request. Request and Response have the same shape for every kind.
	Kind string `json:"kind,omitempty"`
	// Passed is false for a failed or a skipped step.
	Passed bool `json:"passed"`
	// Skipped is true when an earlier step failed and this one never ran
	// (a finally step: when a capture it needs was not taken, or the run
	// was interrupted; Message says which).
	Skipped bool `json:"skipped,omitempty"`
	// Finally marks a teardown step, one of the check's finally: steps.
	Finally    bool              `json:"finally,omitempty"`
	Reason     Reason            `json:"reason,omitempty"`
	Message    string            `json:"message,omitempty"`
	Request    RequestSummary    `json:"request"`
	Response   *ResponseSummary  `json:"response,omitempty"`
	Timings    Timings           `json:"timings"`
	TLS        *TLSInfo          `json:"tls,omitempty"`
	Assertions []AssertionResult `json:"assertions,omitempty"`
	Findings   []Finding         `json:"findings,omitempty"`
	Captures   map[string]string `json:"captures,omitempty"`
	// Diff compares a failed step's response with the step's last passing
	// response; the daemon's history sets it (nil when there is none).
	Diff *ResponseDiff `json:"diff,omitempty"`
}

// RequestSummary is the request as sent, with secrets hidden: a secret
// whose source is known is written as a shell reference, ${API_TOKEN} for
// the environment variable, ${token} for a capture of an earlier step,
// so that the request can be replayed; any other is [REDACTED] (REDACTED
// in a URL's userinfo and query). Credential-bearing headers stay
// [REDACTED] unless their whole value is one reference. For a probe,
// Method is the kind in capitals (TCP, TLS, DNS, GRPC), URL names the
// target (tcp://127.0.0.1:6379, dns://127.0.0.1:53/example.org?type=A)
// and Body is what the probe sent, if anything.
type RequestSummary struct {
	Method  string              `json:"method"`
	URL     string              `json:"url"`
	Headers map[string][]string `json:"headers,omitempty"`
	Body    string              `json:"body,omitempty"`
	// Auth describes the credentials of auth: (never their value).
	Auth *AuthSummary `json:"auth,omitempty"`
}

// AuthSummary describes the credentials a request carried, for reports
// and for replaying the request: never the secret itself.
type AuthSummary struct {
	// Type is "basic" or "bearer".
	Type string `json:"type"`
	// Username is the basic user name.
	Username string `json:"username,omitempty"`
	// Secret is how the password or token is referred to: ${NAME} when it
	// came from the environment variable NAME, ${name} when a step
	// captured it as name, else [REDACTED].
	Secret string `json:"secret"`
}

// ResponseDiff is what changed between a step's last passing response
// (the baseline) and the response that failed it. Values are redacted
// like the rest of the result.
type ResponseDiff struct {
	// BaselineRunID is the stored run the baseline response comes from.
	BaselineRunID int64     `json:"baseline_run_id,omitempty"`
	BaselineTime  time.Time `json:"baseline_time"`
	// Status is set when the status code changed (Name "status").
	Status *FieldChange `json:"status,omitempty"`
	// Headers that were added, removed or changed, by name; headers that
	// change on every response (Date, Age, ...) are left out.
	Headers []FieldChange `json:"headers,omitempty"`
	// JSON lists changes of a JSON body by normalized JSONPath
	// ($.items[2].price), when both bodies are JSON.
	JSON []FieldChange `json:"json,omitempty"`
	// Text is a unified diff of bodies that are not both JSON, after a
	// note for each body that was cut short; or one note when the bodies
	// cannot be diffed by line (binary, too large).
	Text string `json:"text,omitempty"`
	// Truncated is true when changes were left out to keep the diff small.
	Truncated bool `json:"truncated,omitempty"`
}

// Field change kinds.
const (
	ChangeAdded   = "added"
	ChangeRemoved = "removed"
	ChangeChanged = "changed"
)

// FieldChange is one difference: a header, a JSON value or the status.
type FieldChange struct {
	// Name is the header name, the JSONPath or "status".
	Name string `json:"name"`
	// Change is added, removed or changed.
	Change string `json:"change"`
	// From and To are the values before and after, as text (JSON values
	// as compact JSON: 10, "10", {"a":1}); empty for the absent side.
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
}

// ResponseSummary is what came back. Body holds the text of the body, cut
// at the evidence cap (RunnerOptions.MaxEvidenceBody; it then ends with
// "…(N more bytes)"), or "(N bytes of binary data)"; BodySize is the
// number of bytes read; Truncated is true when reading stopped at
// max_body.
type ResponseSummary struct {
	// Status is the HTTP status code; 0 for a probe's answer, which Line
	// sums up instead.
	Status int    `json:"status"`
	Proto  string `json:"proto"`
	// Line sums up a probe's answer in one line ("NOERROR, 1 answer",
	// "SERVING", "24 bytes"), what a status line is to HTTP.
	Line      string              `json:"line,omitempty"`
	Headers   map[string][]string `json:"headers,omitempty"`
	Body      string              `json:"body,omitempty"`
	BodySize  int64               `json:"body_size"`
	Truncated bool                `json:"body_truncated,omitempty"`
}

// Timings are the phases of one request. A phase that did not happen (a
// reused connection has no DNS, connect or TLS) is zero.
type Timings struct {
	DNS       time.Duration `json:"dns_ns"`
	Connect   time.Duration `json:"connect_ns"`
	TLS       time.Duration `json:"tls_ns"`
	FirstByte time.Duration `json:"first_byte_ns"`
	Total     time.Duration `json:"total_ns"`
}

// TLSInfo describes the server certificate of a TLS response.
type TLSInfo struct {
	Version       string    `json:"version"`
	Subject       string    `json:"subject"`
	Issuer        string    `json:"issuer"`
	NotAfter      time.Time `json:"not_after"`
	DaysRemaining float64   `json:"days_remaining"`
	// SANs are the certificate's subject alternative names.
	SANs []string `json:"sans,omitempty"`
}

// AssertionResult is one evaluated expectation.
type AssertionResult struct {
	// Name is the query, e.g. "status", "header ETag", "json $.id".
	Name     string `json:"name"`
	Passed   bool   `json:"passed"`
	Expected string `json:"expected"`
	Actual   string `json:"actual"`
	// Message is one line, e.g. `status: expected 204, got 200`.
	Message string `json:"message,omitempty"`
}

// Finding is an HTTP semantics rule violated by a response.
type Finding struct {
	Rule     string `json:"rule"`
	Section  string `json:"section"`
	Level    string `json:"level"`
	Expected string `json:"expected"`
	Actual   string `json:"actual"`
	Message  string `json:"message"`
	// Failed is true when the finding failed the step (strict mode, MUST).
	Failed bool `json:"failed"`
}

// Sink consumes results. Metrics, alerting, the store and report writers
// implement it; adding a sink touches no other package.
type Sink interface {
	Record(ctx context.Context, r *Result)
}
