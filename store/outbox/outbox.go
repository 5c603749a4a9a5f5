// Package outbox holds the plain records that alerting hands to the store
// and gets back from it: notification events and alert-state changes. It
// has no dependencies, so that alerting (and everything that configures
// it) builds without the SQLite driver.
package outbox

import "time"

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
