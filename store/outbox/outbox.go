// Package outbox holds the plain records that alerting hands to the store
// and gets back from it: notification events and alert-state changes. It
// has no dependencies, so that alerting (and everything that configures
// it) builds without the SQLite driver.
package outbox

import (
	"context"
	"time"
)

// Event is one notification waiting in the outbox for one notifier.
type Event struct {
	// Seq orders the outbox; the store assigns it, increasing and never
	// reused, so delivery in Seq order is delivery in the order of the
	// alert changes.
	Seq int64
	// Key is the idempotency key; it is unique per notifier.
	Key      string
	Check    string
	Notifier string
	Kind     string
	Payload  []byte
	Created  time.Time
	// Attempts counts failed deliveries so far.
	Attempts int
	// Next is when the event may be tried (again).
	Next      time.Time
	LastError string
	// Supersedes, on an event being added, names a kind whose pending
	// events of the same check and notifier are dropped first: a newer
	// state snapshot makes an undelivered older one pointless.
	Supersedes string
	// DeadReason, on an event being added, stores it straight among the
	// dead letters with this reason and Failed as the time: alerting
	// gave up on it while the store could not write.
	DeadReason string
	Failed     time.Time
}

// Change is one alerting step applied atomically: a check's new alert
// state together with the events the step produced. Either all of it is
// stored or none.
type Change struct {
	Check string
	// State is the check's encoded alert state; nil deletes it.
	State  []byte
	Events []Event
	// Incident, if set, is stored (inserted or updated by ID) too.
	Incident *IncidentRecord
	// Version is the state's version: the store keeps a change only if it
	// is newer than the stored state's (compare-and-set), so that a late
	// or repeated write never goes back. 0 writes unconditionally.
	Version int64
	// Epoch is the lease epoch of the replica that made the change (0
	// without a cluster): a store shared by replicas refuses the whole
	// change, events included, once a newer owner of the check exists.
	Epoch int64
}

// DeadLetter is an event given up on, with why and when.
type DeadLetter struct {
	Event
	Reason string
	Failed time.Time
}

// IncidentRecord is the lasting record of one incident, written with the
// alert state change that opens, updates or resolves it, so that the
// history of incidents outlives the alert state.
type IncidentRecord struct {
	ID    string
	Check string
	// Started is the start of the first failed run; Opened when the alert
	// fired; Resolved is zero while the incident is open.
	Started, Opened, Resolved time.Time
	Resolution                string
	// FirstReason and FirstFailure describe the run that started it,
	// LastFailure the latest failed run.
	FirstReason, FirstFailure, LastFailure string
	Runs, FailedRuns                       int
}

// Claim is an event taken for delivery by one replica: no other replica
// sends it until the claim ends, and its outcome is recorded in the same
// transaction that ends the claim.
type Claim interface {
	Delivered(ctx context.Context) error
	Retry(ctx context.Context, attempts int, next time.Time, lastErr string) error
	DeadLetter(ctx context.Context, attempts int, reason, lastErr string, at time.Time) error
	// Release ends the claim without an outcome (the event stays as it
	// was); it is a no-op after an outcome.
	Release()
}

// Claimer is a store shared by replicas: delivery claims each event.
type Claimer interface {
	// Claim takes the event seq unless another replica holds it (ok
	// false) or it is gone.
	Claim(ctx context.Context, seq int64) (c Claim, ok bool, err error)
}
