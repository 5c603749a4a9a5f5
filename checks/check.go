// Package checks defines assay's check format, loads and validates check
// files, and runs a check into a Result. It knows nothing of scheduling,
// metrics, alerting or storage: those consume Results downstream.
package checks

import (
	"crypto/tls"
	"regexp"
	"time"
)

// File is the top level of a check file.
type File struct {
	// Defaults apply to every check of the file (see defaults.go).
	Defaults *FileDefaults `yaml:"defaults"`
	Checks   []*Check      `yaml:"checks"`
	// Secrets names more environment variables whose values are secrets,
	// whatever they are called (see secret_names.go).
	Secrets []string `yaml:"secrets"`
}

// Check is one declarative check: ordered steps run as one attempt,
// retried as configured. The loader fills the unexported compiled state.
type Check struct {
	Name        string            `yaml:"name"`
	Description string            `yaml:"description"`
	Schedule    string            `yaml:"schedule"`
	Timeout     Duration          `yaml:"timeout"`
	Retries     Retries           `yaml:"retries"`
	Labels      map[string]string `yaml:"labels"`
	Tags        []string          `yaml:"tags"`
	Vars        map[string]string `yaml:"vars"`
	// Request holds request fields applied to every step (see defaults.go).
	Request *SharedRequest `yaml:"request"`
	Steps   []*Step        `yaml:"steps"`
	// Finally are teardown steps, run after Steps in every attempt
	// whatever Steps did (see finally.go).
	Finally []*Step `yaml:"finally"`
	// Contract expands into steps run before Steps (see contract.go).
	Contract *Contract `yaml:"contract"`
	// Semantics says what HTTP semantics findings do: strict, warn or off
	// (empty: the runner's default).
	Semantics SemanticsMode `yaml:"semantics"`
	// OpenAPI validates every response of the check against a spec.
	OpenAPI *OpenAPIRef `yaml:"openapi"`
	// Alert is the check's alerting policy; the alerting package reads it,
	// the engine ignores it.
	Alert *AlertPolicy `yaml:"alert"`
	// SLO is the check's availability objective (see slo.go); the engine
	// ignores it, the SLO metrics read it through EffectiveSLO.
	SLO *SLO `yaml:"slo"`
	// Cookies: false turns off the cookie jar each attempt has (see
	// cookies.go).
	Cookies *bool `yaml:"cookies"`
	// Maintenance are the check's own maintenance windows (see
	// maintenance.go); the engine ignores them, the maintenance package
	// reads them.
	Maintenance []*MaintenanceWindow `yaml:"maintenance"`
	// Heartbeat makes the check one that a job pings, instead of steps
	// that assay runs (see heartbeat.go).
	Heartbeat *Heartbeat `yaml:"heartbeat"`

	// Pos is where the check starts in its file.
	Pos Position `yaml:"-"`
	// Fingerprint identifies the definition (after ${VAR} expansion): a
	// reload keeps the state of checks whose fingerprint did not change.
	Fingerprint string `yaml:"-"`

	// secrets are values that must never appear in output: values of
	// secret-looking environment variables and auth credentials, each
	// with where it came from.
	secrets []secretValue
	// tmplVars holds vars as template data (vars are plain strings).
	tmplVars map[string]any
}

// AlertPolicy says whom to notify and when. Zero fields take the global
// defaults.
type AlertPolicy struct {
	// Notify names notifiers defined in the global config.
	Notify []string `yaml:"notify"`
	// Failures is the number of consecutive failed runs before alerting.
	Failures int `yaml:"failures"`
	// Successes is the number of consecutive passing runs before recovery.
	Successes int `yaml:"successes"`
	// Repeat re-sends a reminder this often while failing (0: never).
	Repeat Duration `yaml:"repeat"`

	Pos Position `yaml:"-"`
}

// Step is one exchange and what its answer must satisfy. The exchange is
// an HTTP request, or exactly one of the probes tcp, tls, dns and grpc
// (probe.go).
type Step struct {
	Name    string              `yaml:"name"`
	Request Request             `yaml:"request"`
	TCP     *TCPProbe           `yaml:"tcp"`
	TLS     *TLSProbe           `yaml:"tls"`
	DNS     *DNSProbe           `yaml:"dns"`
	GRPC    *GRPCProbe          `yaml:"grpc"`
	Expect  Expect              `yaml:"expect"`
	Capture map[string]*Capture `yaml:"capture"`
	// OpenAPI validates the response against a spec operation; it
	// overrides the check's openapi block.
	OpenAPI *OpenAPIRef `yaml:"openapi"`

	Pos        Position `yaml:"-"`
	assertions []assertion
	captures   []namedCapture
	// url says how a relative URL becomes absolute (see relative_url.go).
	url urlPlan
	// probe is the step's probe; nil for an HTTP request.
	probe prober
}

// Request describes the HTTP request of a step. String fields may hold
// templates ({{ .vars.base }}, {{ .etag }}) rendered when the step runs.
type Request struct {
	Method          string              `yaml:"method"`
	URL             Template            `yaml:"url"`
	Query           map[string]Template `yaml:"query"`
	Headers         map[string]Template `yaml:"headers"`
	Body            *Template           `yaml:"body"`
	JSON            *Value              `yaml:"json"`
	Form            map[string]Template `yaml:"form"`
	Auth            *Auth               `yaml:"auth"`
	Timeout         Duration            `yaml:"timeout"`
	FollowRedirects *bool               `yaml:"follow_redirects"`
	MaxRedirects    *int                `yaml:"max_redirects"`
	TLS             *TLSOptions         `yaml:"tls"`
	Proxy           string              `yaml:"proxy"`
	MaxBody         ByteSize            `yaml:"max_body"`
}

// Auth is HTTP authentication for a request: basic or bearer, not both.
type Auth struct {
	Basic  *BasicAuth `yaml:"basic"`
	Bearer *Template  `yaml:"bearer"`
}

// BasicAuth is RFC 7617 credentials.
type BasicAuth struct {
	Username Template `yaml:"username"`
	Password Template `yaml:"password"`
}

// TLSOptions configure the client side of TLS for a request.
type TLSOptions struct {
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
	CAFile             string `yaml:"ca_file"`
	CertFile           string `yaml:"cert_file"`
	KeyFile            string `yaml:"key_file"`
	ServerName         string `yaml:"server_name"`

	config *tls.Config
	// id is what the options and the files they name amount to: checks
	// with equal ids share a client (tls_identity.go).
	id tlsIdentity
}

// Expect lists what a response must satisfy. Every field is optional.
type Expect struct {
	Status       *StatusExpect         `yaml:"status"`
	Headers      map[string]*Predicate `yaml:"headers"`
	Body         *BodyExpect           `yaml:"body"`
	JSON         map[string]*Predicate `yaml:"json"`
	JSONSchema   *SchemaRef            `yaml:"json_schema"`
	ResponseTime Duration              `yaml:"response_time"`
	TLS          *TLSExpect            `yaml:"tls"`
	// ETag is "strong" (a strong entity-tag, usable with If-Match) or
	// "valid" (any syntactically valid entity-tag).
	ETag ETagExpect `yaml:"etag"`
	// Allow asserts on the methods the Allow header lists.
	Allow *AllowExpect `yaml:"allow"`
	// Cookies asserts on the cookies the response sets, by name.
	Cookies map[string]*CookieExpect `yaml:"cookies"`
	// Rcode, Answers and Authenticated assert on a DNS answer
	// (probe_dns.go): its response code (NOERROR), its records' data
	// and its AD bit.
	Rcode         *Predicate `yaml:"rcode"`
	Answers       *Predicate `yaml:"answers"`
	Authenticated *Predicate `yaml:"authenticated"`
}

// BodyExpect asserts on the response body as text.
type BodyExpect struct {
	Equals      *Template  `yaml:"equals"`
	Contains    *Template  `yaml:"contains"`
	NotContains *Template  `yaml:"not_contains"`
	Matches     *Template  `yaml:"matches"`
	Empty       *bool      `yaml:"empty"`
	Size        *Predicate `yaml:"size"`
}

// TLSExpect asserts on the TLS connection and the server certificate.
type TLSExpect struct {
	DaysRemaining *Predicate `yaml:"days_remaining"`
	// Version is the negotiated protocol version, as "1.2" or "1.3".
	Version *Predicate `yaml:"version"`
	// Issuer is the leaf certificate's issuer distinguished name.
	Issuer *Predicate `yaml:"issuer"`
	// SANs are the leaf certificate's subject alternative names (DNS
	// names, IP addresses, URIs and e-mail addresses), a list.
	SANs *Predicate `yaml:"sans"`
}

// Predicate is the right-hand side of an assertion. A bare scalar or list
// in YAML is shorthand for equals. Several keys may be combined; all must hold.
type Predicate struct {
	Equals      *Value     `yaml:"equals"`
	NotEquals   *Value     `yaml:"not_equals"`
	Exists      *bool      `yaml:"exists"`
	Absent      *bool      `yaml:"absent"`
	Type        string     `yaml:"type"`
	Length      *Predicate `yaml:"length"`
	Gt          *Value     `yaml:"gt"`
	Gte         *Value     `yaml:"gte"`
	Lt          *Value     `yaml:"lt"`
	Lte         *Value     `yaml:"lte"`
	Contains    *Value     `yaml:"contains"`
	NotContains *Value     `yaml:"not_contains"`
	Matches     *Template  `yaml:"matches"`
	In          []*Value   `yaml:"in"`
	Empty       *bool      `yaml:"empty"`
	// The list predicates (jsonpath_list.go) see the nodes a non-singular
	// query selects, or the elements of an array value.
	Count    *Predicate    `yaml:"count"`
	Includes *Value        `yaml:"includes"`
	Any      *Predicate    `yaml:"any"`
	All      *Predicate    `yaml:"all"`
	Nth      NthPredicates `yaml:"nth"`

	Pos Position `yaml:"-"`
	// re is Matches compiled at load when it is not a template.
	re *regexp.Regexp
}

// Capture takes a value from a response for later steps. Exactly one
// source is set.
type Capture struct {
	Header string   `yaml:"header"`
	JSON   JSONPath `yaml:"json"`
	Regex  string   `yaml:"regex"`
	Group  int      `yaml:"group"`
	Status bool     `yaml:"status"`
	// Cookie is the name of a cookie the response sets; its value is
	// always secret.
	Cookie string `yaml:"cookie"`
	// Secret keeps the captured value out of every output; captures whose
	// name looks like a credential (token, secret, password, key) are
	// secret by default.
	Secret *bool `yaml:"secret"`

	Pos Position `yaml:"-"`
}

type namedCapture struct {
	name   string
	c      *Capture
	re     *regexp.Regexp
	secret bool
	// ref is ${name}, how a request summary refers to a secret capture.
	ref string
}

// RetryOn says which failures a retry is spent on.
type RetryOn string

// Retry policies.
const (
	RetryOnNetwork RetryOn = "network" // DNS, connect, TLS, timeout, reset, protocol errors
	RetryOnAny     RetryOn = "any"     // any failure, assertions included
)

// Retries configure re-running a failed check. A bare integer is Count.
type Retries struct {
	Count      int      `yaml:"count"`
	Backoff    Duration `yaml:"backoff"`
	MaxBackoff Duration `yaml:"max_backoff"`
	On         RetryOn  `yaml:"on"`
}

// Defaults applied by the loader where a check leaves a field empty.
const (
	DefaultSchedule     = "@every 1m"
	DefaultTimeout      = 30 * time.Second
	DefaultMaxBody      = 10 << 20
	DefaultMaxRedirects = 10
	DefaultBackoff      = time.Second
	DefaultMaxBackoff   = 30 * time.Second
)

// Duration is a time.Duration written as a Go duration string ("1m30s").
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// ByteSize is a size in bytes, written as an integer or with a unit
// (KB, MB, KiB, MiB, GiB).
type ByteSize int64
