package alerting

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"text/template"
	"time"

	"github.com/assay-monitor/assay/checks"
)

// PayloadVersion is the version of the Event JSON document. A field may be
// added within a version; renaming or removing one makes a new version.
const PayloadVersion = "1"

// Kind says why an event was made.
type Kind string

// Event kinds.
const (
	// KindFiring: the check crossed its failure threshold.
	KindFiring Kind = "firing"
	// KindReminder: the check is still failing and repeat has passed
	// since the last notice.
	KindReminder Kind = "reminder"
	// KindResolved: the check recovered (or was removed, or the notifier
	// was dropped from its policy; see Incident.Resolution).
	KindResolved Kind = "resolved"
	// KindTest: sent by `assay notify test`.
	KindTest Kind = "test"
	// KindRefresh re-asserts a firing alert to Alertmanager on every
	// failing run; other notifiers never see it.
	KindRefresh Kind = "refresh"
)

// Status values of an Event.
const (
	StatusFiring   = "firing"
	StatusResolved = "resolved"
)

// Resolutions say why an incident ended.
const (
	ResolutionRecovered       = "recovered"
	ResolutionCheckRemoved    = "check_removed"
	ResolutionNotifierRemoved = "notifier_removed"
)

// Event is one notification: the documented, versioned JSON body of the
// webhook notifier, and what every other notifier renders its own format
// from. An event is written to the outbox before any notifier sees it.
type Event struct {
	Version string `json:"version"`
	// ID is the idempotency key: the same on every retry and after a
	// restart, different for every event. It is also sent as the
	// Idempotency-Key header.
	ID   string `json:"id"`
	Kind Kind   `json:"kind"`
	// Status is firing or resolved.
	Status string `json:"status"`
	// Time is when assay made the event.
	Time time.Time `json:"time"`
	// Sequence increases with every event of the check (per notifier
	// receivers see it in increasing order).
	Sequence int64     `json:"sequence"`
	Check    CheckInfo `json:"check"`
	Incident Incident  `json:"incident"`
	// Failure is the latest failed run of the incident.
	Failure *Failure `json:"failure,omitempty"`
}

// CheckInfo identifies the check.
type CheckInfo struct {
	Name        string            `json:"name"`
	Description string            `json:"description,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	// Interval is how often the check runs (a Go duration, e.g. "1m0s").
	Interval string `json:"interval,omitempty"`
	// URL is the check in assay's API (server.external_url + /api/v1/checks/NAME).
	URL string `json:"url,omitempty"`
}

// Incident is one failing episode of a check, from its first failed run.
type Incident struct {
	ID string `json:"id"`
	// Started is the start of the first failed run.
	Started time.Time `json:"started"`
	// Resolved is when recovery was seen (resolved events only).
	Resolved *time.Time `json:"resolved,omitempty"`
	// Resolution is recovered, check_removed or notifier_removed
	// (resolved events only).
	Resolution string `json:"resolution,omitempty"`
	// Runs counts the runs since Started; FailedRuns those that failed.
	Runs       int `json:"runs"`
	FailedRuns int `json:"failed_runs"`
}

// Failure describes a failed run.
type Failure struct {
	// Time is the start of the failed run.
	Time time.Time `json:"time"`
	// Reason is the bounded failure class (assertion, timeout, connect, ...).
	Reason  string `json:"reason"`
	Message string `json:"message"`
	// Step is the first failed step.
	Step string `json:"step,omitempty"`
	// Assertions are the step's failed assertions.
	Assertions []Assertion `json:"assertions,omitempty"`
	// RunID is the failed run in assay's history (0 when it has none);
	// RunURL is server.external_url + /api/v1/results/RUN_ID.
	RunID  int64  `json:"run_id,omitempty"`
	RunURL string `json:"run_url,omitempty"`
	// Diff is what changed in the failed step's response since the
	// step's last passing run (added in version 1; absent when there is
	// no earlier passing response).
	Diff *checks.ResponseDiff `json:"diff,omitempty"`
}

// Assertion is a failed expectation.
type Assertion struct {
	Name     string `json:"name"`
	Expected string `json:"expected"`
	Actual   string `json:"actual"`
	Message  string `json:"message,omitempty"`
}

// failureOf extracts the failure of a result.
func failureOf(r *checks.Result) *Failure {
	f := &Failure{Time: r.Started.UTC(), Reason: string(r.Reason), Message: r.Message, RunID: r.ID}
	if f.Reason == "" {
		f.Reason = string(checks.ReasonInternal)
	}
	if s := r.FailedStep(); s != nil {
		f.Step = s.Name
		f.Diff = s.Diff
		for _, a := range s.Assertions {
			if !a.Passed {
				f.Assertions = append(f.Assertions, Assertion{Name: a.Name, Expected: a.Expected, Actual: a.Actual, Message: a.Message})
			}
		}
	}
	return f
}

// Summary is a one-line description of the event for chat and pagers.
func (e *Event) Summary() string {
	switch {
	case e.Kind == KindTest:
		return fmt.Sprintf("assay test notification (%s)", e.Check.Name)
	case e.Status == StatusResolved && e.Incident.Resolution == ResolutionCheckRemoved:
		return fmt.Sprintf("%s was removed while failing; its alert is resolved", e.Check.Name)
	case e.Status == StatusResolved && e.Incident.Resolution == ResolutionNotifierRemoved:
		return fmt.Sprintf("%s: this notifier was removed from the check's alert policy; alert resolved here", e.Check.Name)
	case e.Status == StatusResolved:
		d := ""
		if e.Incident.Resolved != nil {
			d = " after " + e.Incident.Resolved.Sub(e.Incident.Started).Round(time.Second).String()
		}
		return fmt.Sprintf("%s recovered%s (%d failed runs)", e.Check.Name, d, e.Incident.FailedRuns)
	}
	s := e.Check.Name + " is failing"
	if e.Kind == KindReminder {
		s = e.Check.Name + " is still failing"
	}
	if e.Failure != nil && e.Failure.Message != "" {
		s += ": " + e.Failure.Message
	} else if e.Failure != nil {
		s += ": " + e.Failure.Reason
	}
	return s
}

// eventID is the idempotency key of an incident's event: a hash of the
// check, the incident id, the kind and the event's sequence number, as 32
// hex digits.
func eventID(check, incident string, kind Kind, sequence int64) string {
	h := sha256.Sum256([]byte(fmt.Sprintf("%s\x00%s\x00%s\x00%d", check, incident, kind, sequence)))
	return hex.EncodeToString(h[:16])
}

// newID returns a random 128-bit identifier as 32 hex digits.
func newID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return hex.EncodeToString(b[:])
}

// templateFuncs are available in webhook body templates.
var templateFuncs = template.FuncMap{
	// json renders a value as JSON: {{ json .Check.Labels }}.
	"json": func(v any) (string, error) {
		b, err := marshal(v)
		return string(b), err
	},
	"upper": strings.ToUpper,
	"lower": strings.ToLower,
}

// TestEvent is the event `assay notify test` sends through a notifier.
func TestEvent(notifier string, now time.Time, externalURL string) *Event {
	now = now.UTC()
	return &Event{
		Version:  PayloadVersion,
		ID:       newID(),
		Kind:     KindTest,
		Status:   StatusFiring,
		Time:     now,
		Sequence: 0,
		Check:    CheckInfo{Name: "assay-notify-test", Description: "test event sent by 'assay notify test " + notifier + "'", URL: checkURL(externalURL, "assay-notify-test")},
		Incident: Incident{ID: newID(), Started: now, Runs: 1, FailedRuns: 1},
		Failure:  &Failure{Time: now, Reason: "test", Message: "this is a test notification from assay; no check is failing"},
	}
}

func checkURL(external, name string) string {
	if external == "" {
		return ""
	}
	return strings.TrimSuffix(external, "/") + "/api/v1/checks/" + name
}

func runURL(external string, id int64) string {
	if external == "" || id == 0 {
		return ""
	}
	return fmt.Sprintf("%s/api/v1/results/%d", strings.TrimSuffix(external, "/"), id)
}
