package alerting

import (
	"slices"
	"time"

	"github.com/assay-monitor/assay/store/outbox"
)

// Alert states of a check.
const (
	StateOK      = "ok"
	StateFailing = "failing"
)

// checkState is the persisted alert state of one check. It is stored as
// JSON in the same transaction as the events it produced.
type checkState struct {
	Status string `json:"status"`
	// Failures and Successes count consecutive failed and passing runs.
	Failures  int `json:"failures"`
	Successes int `json:"successes"`
	// Sequence is the number of events made for the check so far.
	Sequence int64 `json:"sequence"`
	// Version counts the writes of this state: the store keeps a write
	// only if it is newer than what it has (compare-and-set), and a
	// replica taking the check over continues from the stored one.
	Version int64 `json:"version,omitempty"`
	// Incident is the current failing episode: pending (status ok, below
	// the failure threshold) or open (status failing).
	Incident *incidentState `json:"incident,omitempty"`
	// Held are incidents that paged before a maintenance and resolved
	// inside it: no notification is sent inside a maintenance, so their
	// resolved events are owed when it ends (release). Persisted with the
	// state, so that a restart inside the window neither forgets nor
	// repeats them. At most one in practice: a new page needs a run out
	// of maintenance, which releases them first.
	Held []*heldResolve `json:"held,omitempty"`
}

// heldResolve is an incident resolved in maintenance whose notifiers are
// owed the resolved event.
type heldResolve struct {
	Incident *incidentState `json:"incident"`
	// Resolved is when it recovered (the event's incident.resolved).
	Resolved time.Time `json:"resolved"`
}

type incidentState struct {
	ID      string    `json:"id"`
	Started time.Time `json:"started"`
	// Check is the check as it was when the alert fired: every event of
	// the incident carries these labels, so Alertmanager sees one alert.
	Check      CheckInfo `json:"check"`
	Runs       int       `json:"runs"`
	FailedRuns int       `json:"failed_runs"`
	// LastNotice is when the last firing or reminder was made.
	LastNotice time.Time `json:"last_notice,omitzero"`
	// Opened is when the alert fired (zero while pending).
	Opened time.Time `json:"opened,omitzero"`
	// Notifiers received the firing event and so are owed the resolved one.
	Notifiers []string `json:"notifiers,omitempty"`
	// Muted: the alert opened while the check was in maintenance, so no
	// one was told; the firing event is owed when the maintenance ends
	// with the incident still open (maintenance.go). Persisted, so that a
	// restart inside the window neither forgets nor repeats it.
	Muted bool `json:"muted,omitempty"`
	// FirstFailure is the run that started the incident.
	FirstFailure *Failure `json:"first_failure,omitempty"`
	LastFailure  *Failure `json:"last_failure,omitempty"`
}

// record is the lasting record of the incident of check; resolved is
// zero while it is open.
func (inc *incidentState) record(check string, resolved time.Time, resolution string) *outbox.IncidentRecord {
	r := &outbox.IncidentRecord{ID: inc.ID, Check: check, Started: inc.Started, Opened: inc.Opened,
		Resolved: resolved, Resolution: resolution, Runs: inc.Runs, FailedRuns: inc.FailedRuns}
	if r.Opened.IsZero() {
		r.Opened = inc.Started // a state persisted before Opened existed
	}
	if f := inc.FirstFailure; f != nil {
		r.FirstReason, r.FirstFailure = f.Reason, f.Message
	} else if f := inc.LastFailure; f != nil {
		r.FirstReason, r.FirstFailure = f.Reason, f.Message
	}
	if f := inc.LastFailure; f != nil {
		r.LastFailure = f.Message
	}
	return r
}

// observe advances the state machine by one run and returns the kinds of
// event the run makes (KindRefresh while the alert stays open):
//
//	ok      --fail, failures reach p.Failures-->      failing  (firing)
//	failing --fail, repeat elapsed since notice-->    failing  (reminder)
//	failing --pass, successes reach p.Successes-->    ok       (resolved)
//
// A pass in ok forgets a pending incident; a fail in failing resets the
// successes, so a flapping check neither pages below its failure threshold
// nor resolves below its success threshold.
func (s *checkState) observe(passed bool, f *Failure, started, now time.Time, p policy) Kind {
	if s.Status == "" {
		s.Status = StateOK
	}
	if !passed {
		s.Successes = 0
		s.Failures++
		if s.Incident == nil {
			s.Incident = &incidentState{ID: newID(), Started: started.UTC(), FirstFailure: f}
		}
		inc := s.Incident
		inc.Runs++
		inc.FailedRuns++
		inc.LastFailure = f
		switch {
		case s.Status == StateOK && s.Failures >= p.Failures:
			s.Status = StateFailing
			inc.LastNotice, inc.Opened = now, now
			return KindFiring
		case s.Status == StateFailing && p.Repeat > 0 && now.Sub(inc.LastNotice) >= p.Repeat:
			inc.LastNotice = now
			return KindReminder
		case s.Status == StateFailing:
			return KindRefresh
		}
		return ""
	}
	s.Failures = 0
	if s.Status == StateOK {
		s.Incident = nil
		s.Successes = min(s.Successes+1, p.Successes)
		return ""
	}
	s.Incident.Runs++
	s.Successes++
	if s.Successes >= p.Successes {
		s.Status = StateOK
		return KindResolved
	}
	return KindRefresh
}

// trivial reports whether the state says nothing a restart would miss:
// a check that only passed, with no event made yet.
func (s *checkState) trivial() bool {
	return (s.Status == StateOK || s.Status == "") && s.Incident == nil && s.Sequence == 0 && s.Failures == 0 && len(s.Held) == 0
}

// owed reports whether the end of a maintenance has something to send:
// the firing of an alert that opened muted and is still open, or the
// resolved events held back.
func (s *checkState) owed() bool {
	return len(s.Held) > 0 || (s.Status == StateFailing && s.Incident != nil && s.Incident.Muted)
}

// addNotifier records that a notifier got the firing event.
func (inc *incidentState) addNotifier(n string) {
	if !slices.Contains(inc.Notifiers, n) {
		inc.Notifiers = append(inc.Notifiers, n)
	}
}
