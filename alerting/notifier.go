package alerting

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/assay-monitor/assay/checks"
)

// Notifier sends one event to one receiver and says whether a failure is
// worth retrying. It never retries, waits or stores anything itself: the
// outbox, backoff, jitter and metrics are shared and live in Manager.
// A Notifier is safe for concurrent use.
type Notifier interface {
	// Notify delivers ev. On failure, retry reports whether the same
	// event may succeed later (network error, 5xx, 429); the error may
	// be a *DeliveryError carrying a bounded reason and Retry-After.
	Notify(ctx context.Context, ev *Event) (retry bool, err error)
}

// Failure reasons of a delivery attempt: the values of the reason label of
// assay_notification_failures_total.
const (
	ReasonNetwork  = "network"          // connection refused, reset, DNS, TLS
	ReasonTimeout  = "timeout"          // the attempt's timeout passed
	Reason429      = "http_429"         // rate limited (retried, honouring Retry-After)
	Reason5xx      = "http_5xx"         // server error (retried)
	Reason4xx      = "http_4xx"         // rejected (not retried)
	ReasonRedirect = "redirect"         // a 3xx: redirects are not followed (a POST would turn into a GET)
	ReasonRejected = "rejected"         // a 2xx answer that refuses the event (Slack without "ok"), or an SMTP server without STARTTLS or a usable AUTH
	ReasonSMTP4xx  = "smtp_4xx"         // an SMTP transient failure (4yz reply: retried)
	ReasonSMTP5xx  = "smtp_5xx"         // an SMTP permanent failure (5yz reply: not retried)
	ReasonInvalid  = "invalid"          // the event could not be rendered (template error)
	ReasonExpired  = "expired"          // retried for longer than the maximum event age
	ReasonUnknown  = "unknown_notifier" // the outbox names a notifier no longer configured
)

// FailureReasons lists every reason, for metrics that expose each from the start.
var FailureReasons = []string{ReasonNetwork, ReasonTimeout, Reason429, Reason5xx, Reason4xx,
	ReasonRedirect, ReasonRejected, ReasonInvalid, ReasonExpired, ReasonUnknown, ReasonSMTP4xx, ReasonSMTP5xx}

// DeliveryError is a failed delivery attempt.
type DeliveryError struct {
	// Reason is one of the Reason constants.
	Reason string
	// Status is the HTTP status, 0 when there was no response.
	Status int
	// RetryAfter is the receiver's Retry-After, 0 when absent.
	RetryAfter time.Duration
	// Msg describes the failure; it never holds the receiver's URL.
	Msg string
}

func (e *DeliveryError) Error() string { return e.Msg }

// reasonOf classifies any error returned by a notifier.
func reasonOf(err error) string {
	var de *DeliveryError
	if errors.As(err, &de) && de.Reason != "" {
		return de.Reason
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return ReasonTimeout
	}
	return ReasonNetwork
}

// Response is what a receiver answered, as `assay notify test` shows it.
type Response struct {
	Target string // which receiver (for Alertmanager: the base URL's host)
	Status int
	Body   string // the start of the body, one line
	Err    string // a transport error instead of a response
}

type recorderKey struct{}

type recorder struct {
	mu        sync.Mutex
	responses []Response
}

// withRecorder makes every request sent with ctx note its answer in rec.
func withRecorder(ctx context.Context, rec *recorder) context.Context {
	return context.WithValue(ctx, recorderKey{}, rec)
}

func record(ctx context.Context, r Response) {
	if rec, ok := ctx.Value(recorderKey{}).(*recorder); ok {
		rec.mu.Lock()
		rec.responses = append(rec.responses, r)
		rec.mu.Unlock()
	}
}

// sender posts requests for notifiers. It keeps receivers' URLs (which can
// hold tokens) out of errors.
type sender struct {
	client  *http.Client
	timeout time.Duration
	now     func() time.Time
}

// maxErrorBody bounds how much of a refusal is kept for logs.
const maxErrorBody = 512

// post sends body and returns the status and the start of the response
// body. A transport failure is a retryable *DeliveryError.
func (s *sender) post(ctx context.Context, target, rawURL, contentType string, body []byte, header func(http.Header)) (int, string, http.Header, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		return 0, "", nil, &DeliveryError{Reason: ReasonInvalid, Msg: "building the request failed (check the notifier's URL)"}
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("User-Agent", "assay/"+checks.Version)
	if header != nil {
		header(req.Header)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // drop the URL: it may hold a token
		}
		reason := reasonOf(err)
		record(ctx, Response{Target: target, Err: err.Error()})
		return 0, "", nil, &DeliveryError{Reason: reason, Msg: fmt.Sprintf("POST %s: %v", target, err)}
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // let the connection be reused
	snippet := oneLine(string(data), maxErrorBody)
	record(ctx, Response{Target: target, Status: resp.StatusCode, Body: snippet})
	return resp.StatusCode, string(data), resp.Header, nil
}

// marshal encodes JSON without escaping <, > and & (Slack links, messages
// with comparisons read better, and every receiver decodes either form).
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// transportRetry says whether a failure of post is worth retrying: all
// are but a request that could not even be built.
func transportRetry(err error) bool {
	return reasonOf(err) != ReasonInvalid
}

// classify turns an HTTP answer into (retry, error), Alertmanager's
// retrier shape: 2xx succeeds; 5xx and 429 are retried, honouring
// Retry-After; any other status fails for good.
func (s *sender) classify(target string, status int, body string, h http.Header) (bool, error) {
	if status >= 200 && status < 300 {
		return false, nil
	}
	e := &DeliveryError{Status: status, Msg: fmt.Sprintf("POST %s: HTTP %d", target, status)}
	if b := oneLine(body, maxErrorBody); b != "" {
		e.Msg += ": " + b
	}
	switch {
	case status == http.StatusTooManyRequests:
		e.Reason = Reason429
	case status >= 500:
		e.Reason = Reason5xx
	case status >= 300 && status < 400:
		e.Reason = ReasonRedirect
		e.Msg = fmt.Sprintf("POST %s: HTTP %d: the receiver redirects; configure the final URL", target, status)
		return false, e
	default:
		e.Reason = Reason4xx
		return false, e
	}
	e.RetryAfter = parseRetryAfter(h.Get("Retry-After"), s.now())
	return true, e
}

// parseRetryAfter reads delay-seconds or an HTTP date (RFC 9110 §10.2.3).
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 {
			return 0
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for !utf8.ValidString(s) && len(s) > 0 {
		s = s[:len(s)-1]
	}
	return s + "…"
}

// hostOf names a receiver in messages without its path or query, which
// may hold tokens (Slack and webhook URLs).
func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "receiver"
	}
	return u.Host
}

// NewNotifier builds the notifier for a validated config. client may be
// nil (a new client per notifier); now may be nil (time.Now).
func NewNotifier(cfg *NotifierConfig, client *http.Client, now func() time.Time) (Notifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if client == nil {
		client = newHTTPClient()
	}
	if now == nil {
		now = time.Now
	}
	s := &sender{client: client, timeout: cfg.Timeout.D(), now: now}
	switch cfg.Type {
	case TypeWebhook:
		return &webhook{cfg: cfg, s: s}, nil
	case TypeSlack:
		return &slack{cfg: cfg, s: s}, nil
	case TypePagerDuty:
		return &pagerDuty{cfg: cfg, s: s}, nil
	case TypeAlertmanager:
		return &alertmanager{cfg: cfg, s: s}, nil
	case TypeEmail:
		return &email{cfg: cfg, now: now}, nil
	case TypeOpsgenie:
		return &opsgenie{cfg: cfg, s: s}, nil
	case TypeTeams:
		return &teams{cfg: cfg, s: s}, nil
	case TypeDiscord:
		return &discord{cfg: cfg, s: s}, nil
	case TypeNtfy:
		return &ntfy{cfg: cfg, s: s}, nil
	}
	return nil, fmt.Errorf("notifier %q: unknown type %q", cfg.Name, cfg.Type)
}

// newHTTPClient is the client notifications go out with: its own
// connection pool, and redirects returned as they are rather than
// followed (following a 301, 302 or 303 turns a POST into a GET).
func newHTTPClient() *http.Client {
	return &http.Client{
		Transport:     http.DefaultTransport.(*http.Transport).Clone(),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// SendTest sends a test event through a notifier now and returns every
// answer the receiver gave (PagerDuty and Opsgenie answer twice: the
// alert and its resolution).
func SendTest(ctx context.Context, cfg *NotifierConfig, externalURL string, client *http.Client) ([]Response, bool, error) {
	n, err := NewNotifier(cfg, client, nil)
	if err != nil {
		return nil, false, err
	}
	rec := &recorder{}
	retry, err := n.Notify(withRecorder(ctx, rec), TestEvent(cfg.Name, time.Now(), externalURL))
	return rec.responses, retry, err
}
