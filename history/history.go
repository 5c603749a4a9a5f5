// Package history keeps what happened: every result of the daemon, the
// last passing response of every step (the baseline a failure is diffed
// against), per-minute and per-hour aggregates for uptime and SLOs, and
// read access to incidents and notifications for the API and the page.
//
// It knows no SQL: a store driver implements Writer and Reader. The
// Recorder is a results sink that batches writes; it never blocks or
// fails a check run.
package history

import (
	"context"
	"errors"
	"time"

	"github.com/assay-monitor/assay/checks"
)

// ErrNotFound is returned by Reader methods for an id or name that is not stored.
var ErrNotFound = errors.New("not found")

// RunSummary is one stored run in brief: a row of
// GET /api/v1/checks/{name}/results.
type RunSummary struct {
	ID              int64         `json:"id"`
	Check           string        `json:"check"`
	Started         time.Time     `json:"started"`
	DurationSeconds float64       `json:"duration_seconds"`
	Passed          bool          `json:"passed"`
	Reason          checks.Reason `json:"reason,omitempty"`
	Message         string        `json:"message,omitempty"`
	// FailingStep is the first failed step of a failed run.
	FailingStep string `json:"failing_step,omitempty"`
	// InMaintenance: a maintenance window or silence was active at the
	// run's start or end.
	InMaintenance bool `json:"in_maintenance,omitempty"`
}

// Run is a stored run whole: GET /api/v1/results/{id}. A failed run keeps
// its full evidence (requests, response headers and bodies up to the
// evidence cap, assertions, the diff); a passing run its summary and
// timings.
type Run struct {
	RunSummary
	Result *checks.Result `json:"result"`
}

// Status filters of ResultQuery.
const (
	StatusAny    = ""
	StatusFailed = "failed"
	StatusPassed = "passed"
)

// ResultQuery selects stored runs of one check, newest first.
type ResultQuery struct {
	// Limit bounds the rows (the reader caps it; 0 means its default).
	Limit int
	// Before keeps runs with an id below it (pagination); 0: no bound.
	Before int64
	// Status is StatusAny, StatusFailed or StatusPassed.
	Status string
	// Since keeps runs started at or after it; zero: no bound.
	Since time.Time
}

// Uptime is a check's availability over a window:
// GET /api/v1/checks/{name}/uptime.
type Uptime struct {
	Check  string    `json:"check"`
	Window string    `json:"window"`
	From   time.Time `json:"from"`
	To     time.Time `json:"to"`
	Runs   int64     `json:"runs"`
	// Failures counts the failed runs.
	Failures int64 `json:"failures"`
	// Availability is passing runs over runs; nil when there were none.
	Availability *float64 `json:"availability"`
	// P50Seconds and P95Seconds are run durations over the runs of the
	// window still kept in the history; nil when none is.
	P50Seconds *float64 `json:"p50_seconds"`
	P95Seconds *float64 `json:"p95_seconds"`
}

// Counts are runs and failures over a window, from the aggregates.
type Counts struct {
	Runs     int64
	Failures int64
}

// Availability is passing runs over runs, and false when there were none.
func (c Counts) Availability() (float64, bool) {
	if c.Runs <= 0 {
		return 0, false
	}
	return float64(c.Runs-c.Failures) / float64(c.Runs), true
}

// Incident is one failing episode of a check as alerting saw it:
// GET /api/v1/incidents.
type Incident struct {
	ID    string `json:"id"`
	Check string `json:"check"`
	// Started is the start of the first failed run; Opened is when the
	// alert fired (the failure threshold was reached).
	Started time.Time `json:"started"`
	Opened  time.Time `json:"opened"`
	// Resolved is nil while the incident is open.
	Resolved *time.Time `json:"resolved"`
	// Resolution is recovered, check_removed or notifier_removed.
	Resolution string `json:"resolution,omitempty"`
	// FirstFailure is the message of the run that started the incident;
	// LastFailure that of the latest failed run.
	FirstFailure string `json:"first_failure"`
	FirstReason  string `json:"first_reason,omitempty"`
	LastFailure  string `json:"last_failure,omitempty"`
	Runs         int    `json:"runs"`
	FailedRuns   int    `json:"failed_runs"`
}

// IncidentQuery selects incidents, newest first.
type IncidentQuery struct {
	// Check keeps one check's incidents; "" keeps all.
	Check string
	// Open keeps only incidents not resolved.
	Open bool
	// Limit bounds the rows (the reader caps it; 0: its default).
	Limit int
}

// Notification states.
const (
	NotificationPending = "pending"
	NotificationDead    = "dead"
)

// Notification is an event in the outbox (pending) or given up on (dead):
// GET /api/v1/notifications.
type Notification struct {
	// ID is the outbox sequence number, kept when an event becomes a dead
	// letter: `assay notifications retry ID`.
	ID       int64     `json:"id"`
	Status   string    `json:"status"`
	EventKey string    `json:"event_key"`
	Check    string    `json:"check"`
	Notifier string    `json:"notifier"`
	Kind     string    `json:"kind"`
	Created  time.Time `json:"created"`
	Attempts int       `json:"attempts"`
	// Next is when a pending event is tried again.
	Next      *time.Time `json:"next,omitempty"`
	LastError string     `json:"last_error,omitempty"`
	// Reason and Failed say why and when a dead letter was given up on.
	Reason string     `json:"reason,omitempty"`
	Failed *time.Time `json:"failed,omitempty"`
}

// Reader is what the API, the page and the CLI read. Implementations are
// safe for concurrent use.
type Reader interface {
	// Results lists a check's runs, newest first.
	Results(ctx context.Context, check string, q ResultQuery) ([]RunSummary, error)
	// Result returns one run whole, or ErrNotFound.
	Result(ctx context.Context, id int64) (*Run, error)
	// Counts sums runs and failures of a check from the aggregates over
	// [from, to). Minute aggregates serve windows within the last 48
	// hours, hour aggregates longer ones (to the hour).
	Counts(ctx context.Context, check string, from, to time.Time) (Counts, error)
	// CountsAll is Counts for every check with runs in the window.
	CountsAll(ctx context.Context, from, to time.Time) (map[string]Counts, error)
	// Durations returns the durations of a check's runs started in
	// [from, to) that are still kept, for percentiles.
	Durations(ctx context.Context, check string, from, to time.Time) ([]time.Duration, error)
	// Incidents lists incidents, newest first.
	Incidents(ctx context.Context, q IncidentQuery) ([]Incident, error)
	// Notifications lists the outbox (status pending), the dead letters
	// (status dead) or both (""), newest first.
	Notifications(ctx context.Context, status string, limit int) ([]Notification, error)
}

// NotificationAdmin lets an operator act on the outbox.
type NotificationAdmin interface {
	// RetryNotification sends a dead letter again (back into the outbox
	// with no attempts) or a pending event at once; ErrNotFound if id is
	// neither.
	RetryNotification(ctx context.Context, id int64) error
	// DropNotification deletes a dead letter or a pending event.
	DropNotification(ctx context.Context, id int64) error
}
