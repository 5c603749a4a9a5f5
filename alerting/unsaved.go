package alerting

import (
	"context"
	"time"

	"github.com/assay-monitor/assay/store/outbox"
)

// While the store cannot write (a full disk, a database locked by another
// process), an alert step is not lost: its new state is applied in memory
// and its events wait in the unsaved queue below, from which the delivery
// worker sends them, in order per check and notifier and under their
// idempotency keys, exactly as from the outbox. Flush, every second,
// writes the queue to the store in order, as soon as it can write:
// delivered events are left out, events still pending go to the outbox
// with their attempts, events given up on go to the dead letters. A page
// is neither lost nor sent twice, unless the process stops before the
// store works again: what only memory held is lost then (and logged).
//
// The bookkeeping of events that came from the store (delivered, retry
// at, dead-lettered) is remembered in marks when the store cannot record
// it, so that a delivered event is not sent again nor a failing one
// retried without its backoff; the marks are written again on every scan.

// maxUnsavedEvents bounds the events held in memory; beyond it the
// oldest pending ones are dropped (logged, and counted in
// assay_alert_events_dropped_total).
const maxUnsavedEvents = 10000

// unsavedChange is an alert step the store could not write yet.
type unsavedChange struct {
	change outbox.Change // Events unused: see events
	events []*memEvent
}

// memEvent is an event held in memory; its Seq is negative.
type memEvent struct {
	e         outbox.Event
	inflight  bool
	delivered bool
}

// pending reports whether the event still has to be sent.
func (me *memEvent) pending() bool { return !me.delivered && me.e.DeadReason == "" }

// mark is bookkeeping of a store event that the store could not record.
type mark struct {
	delivered bool
	dead      bool
	attempts  int
	next      time.Time
	lastErr   string
	reason    string
	at        time.Time
}

func queueOf(e outbox.Event) string { return e.Check + "\x00" + e.Notifier }

// commit stores alert steps, or keeps them in memory when the store
// cannot write them or steps before them still wait there (to keep their
// order). It reports whether they reached the store. m.mu is held.
func (m *Manager) commit(ctx context.Context, cs []outbox.Change) bool {
	if len(cs) == 0 {
		return true
	}
	if len(m.unsaved) == 0 {
		err := m.store.ApplyAll(ctx, cs)
		if err == nil {
			return true
		}
		if !m.storeFailing {
			m.storeFailing = true
			m.log.Error("alerting: the store cannot write; alert states and events are kept in memory, sent from there, and stored when it works again",
				"checks", len(cs), "err", err)
		}
	}
	for _, c := range cs {
		m.keep(c)
	}
	m.wakeUp()
	return false
}

// keep queues one step in memory, merging it into the check's latest
// unsaved step when their incidents allow. m.mu is held.
func (m *Manager) keep(c outbox.Change) {
	for _, e := range c.Events {
		if e.Check == "" {
			e.Check = c.Check
		}
		if e.Supersedes != "" {
			m.supersede(queueOf(e), e.Supersedes)
		}
	}
	var u *unsavedChange
	for i := len(m.unsaved) - 1; i >= 0; i-- {
		if m.unsaved[i].change.Check == c.Check {
			u = m.unsaved[i]
			break
		}
	}
	if u == nil || (c.Incident != nil && u.change.Incident != nil && u.change.Incident.ID != c.Incident.ID) {
		u = &unsavedChange{change: outbox.Change{Check: c.Check}}
		m.unsaved = append(m.unsaved, u)
	}
	u.change.State = c.State
	if c.Incident != nil {
		u.change.Incident = c.Incident
	}
	for _, e := range c.Events {
		if e.Check == "" {
			e.Check = c.Check
		}
		m.memSeq--
		e.Seq = m.memSeq
		u.events = append(u.events, &memEvent{e: e})
		m.unsavedEvents++
	}
	m.trimUnsaved()
}

// supersede drops the pending events of a kind from a queue in memory,
// as the store does with Supersedes. m.mu is held.
func (m *Manager) supersede(q, kind string) {
	for _, u := range m.unsaved {
		kept := u.events[:0]
		for _, me := range u.events {
			if !me.inflight && me.pending() && me.e.Kind == kind && queueOf(me.e) == q {
				m.unsavedEvents--
				continue
			}
			kept = append(kept, me)
		}
		u.events = kept
	}
}

// trimUnsaved drops the oldest pending events beyond maxUnsavedEvents.
// m.mu is held.
func (m *Manager) trimUnsaved() {
	dropped := 0
	for _, u := range m.unsaved {
		if m.unsavedEvents <= m.maxUnsaved {
			break
		}
		kept := u.events[:0]
		for _, me := range u.events {
			if m.unsavedEvents > m.maxUnsaved && !me.inflight {
				m.unsavedEvents--
				dropped++
				continue
			}
			kept = append(kept, me)
		}
		u.events = kept
	}
	if dropped > 0 {
		m.metrics.dropped.Add(float64(dropped))
		m.log.Error("alerting: too many alert events wait in memory for the store; the oldest were dropped", "dropped", dropped)
	}
}

// hasUnsaved reports whether a check has a step waiting in memory.
// m.mu is held.
func (m *Manager) hasUnsaved(check string) bool {
	for _, u := range m.unsaved {
		if u.change.Check == check {
			return true
		}
	}
	return false
}

// unsavedPrefix is the steps Flush may write now: those before the first
// one with an event in flight (its verdict decides how it is written).
// m.mu is held.
func (m *Manager) unsavedPrefix() (changes []outbox.Change, n int) {
	for _, u := range m.unsaved {
		c := u.change
		for _, me := range u.events {
			if me.inflight {
				return changes, n
			}
			if !me.delivered {
				e := me.e
				e.Seq = 0
				c.Events = append(c.Events, e)
			}
		}
		changes = append(changes, c)
		n++
	}
	return changes, n
}

// dropUnsaved forgets the first n steps once they are stored. m.mu is held.
func (m *Manager) dropUnsaved(n int) {
	for _, u := range m.unsaved[:n] {
		m.unsavedEvents -= len(u.events)
	}
	m.unsaved = append(m.unsaved[:0], m.unsaved[n:]...)
}

// forgetDelivered drops a delivered event from memory: a step is stored
// without the events it already sent. m.mu is held.
func (m *Manager) forgetDelivered(me *memEvent) {
	me.delivered = true
	for _, u := range m.unsaved {
		for i, x := range u.events {
			if x == me {
				u.events = append(u.events[:i], u.events[i+1:]...)
				m.unsavedEvents--
				return
			}
		}
	}
}

// memEvent finds an event held in memory. m.mu is held.
func (m *Manager) memEvent(seq int64) *memEvent {
	for _, u := range m.unsaved {
		for _, me := range u.events {
			if me.e.Seq == seq {
				return me
			}
		}
	}
	return nil
}

// memoryHeads are the oldest pending events in memory of every queue
// that has none in the store (storeQueues: as of the last read of the
// outbox). They are marked in flight by dispatch. m.mu is held.
func (m *Manager) memoryHeads() []outbox.Event {
	seen := map[string]bool{}
	var out []outbox.Event
	for _, u := range m.unsaved {
		for _, me := range u.events {
			if !me.pending() {
				continue
			}
			q := queueOf(me.e)
			if seen[q] {
				continue
			}
			seen[q] = true
			if !m.storeQueues[q] {
				out = append(out, me.e)
			}
		}
	}
	return out
}

// unsavedDepth counts pending events in memory by notifier. m.mu is held.
func (m *Manager) unsavedDepth() map[string]int {
	out := map[string]int{}
	for _, u := range m.unsaved {
		for _, me := range u.events {
			if me.pending() {
				out[me.e.Notifier]++
			}
		}
	}
	return out
}

// UnsavedEvents is the number of alert events held in memory because the
// store could not write them (assay_alert_events_unsaved).
func (m *Manager) UnsavedEvents() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, u := range m.unsaved {
		for _, me := range u.events {
			if me.pending() {
				n++
			}
		}
	}
	return n
}

// setInflight flags a memory event as being sent. m.mu is held.
func (m *Manager) setInflight(seq int64, on bool) {
	if me := m.memEvent(seq); me != nil {
		me.inflight = on
	}
}

// markDelivered records a delivery.
func (m *Manager) markDelivered(ctx context.Context, e outbox.Event) {
	m.record(ctx, e, mark{delivered: true})
}

// markRetry records a failed attempt and when to try again.
func (m *Manager) markRetry(ctx context.Context, e outbox.Event, attempts int, next time.Time, lastErr string) {
	m.record(ctx, e, mark{attempts: attempts, next: next, lastErr: lastErr})
}

// markDead records that an event was given up on.
func (m *Manager) markDead(ctx context.Context, e outbox.Event, attempts int, reason, lastErr string, at time.Time) {
	m.record(ctx, e, mark{dead: true, attempts: attempts, reason: reason, lastErr: lastErr, at: at})
}

// record applies a verdict to a memory event, or writes it to the store,
// remembering it when the store cannot.
func (m *Manager) record(ctx context.Context, e outbox.Event, mk mark) {
	if c := claimOf(ctx); c != nil && e.Seq > 0 {
		var err error
		switch {
		case mk.delivered:
			err = c.Delivered(ctx)
		case mk.dead:
			err = c.DeadLetter(ctx, mk.attempts, mk.reason, mk.lastErr, mk.at)
		default:
			err = c.Retry(ctx, mk.attempts, mk.next, mk.lastErr)
		}
		if err == nil {
			return
		}
		// The claim's transaction is gone: remember the outcome, as when
		// the store cannot write, so that the event is not sent again.
		m.log.Warn("alerting: recording a delivery outcome failed; kept in memory", "check", e.Check, "notifier", e.Notifier, "err", err)
	}
	if e.Seq < 0 {
		m.mu.Lock()
		defer m.mu.Unlock()
		me := m.memEvent(e.Seq)
		if me == nil {
			return
		}
		switch {
		case mk.delivered:
			m.forgetDelivered(me)
		case mk.dead:
			me.e.Attempts, me.e.DeadReason, me.e.LastError, me.e.Failed = mk.attempts, mk.reason, mk.lastErr, mk.at
		default:
			me.e.Attempts, me.e.Next, me.e.LastError = mk.attempts, mk.next, mk.lastErr
		}
		return
	}
	if err := m.writeMark(ctx, e.Seq, mk); err != nil {
		m.log.Error("alerting: the store cannot record a notification's outcome; it is remembered and written again",
			"check", e.Check, "notifier", e.Notifier, "id", e.Key, "err", err)
		m.mu.Lock()
		m.marks[e.Seq] = mk
		m.mu.Unlock()
	}
}

func (m *Manager) writeMark(ctx context.Context, seq int64, mk mark) error {
	switch {
	case mk.delivered:
		return m.store.Delivered(ctx, seq)
	case mk.dead:
		return m.store.DeadLetter(ctx, seq, mk.attempts, mk.reason, mk.lastErr, mk.at)
	default:
		return m.store.Retry(ctx, seq, mk.attempts, mk.next, mk.lastErr)
	}
}

// applyMarks writes remembered bookkeeping of the store's heads again and
// returns the heads to consider: a delivered or dead one is dropped (the
// store still holding it must not send it again), a retried one takes
// its remembered attempts and time.
func (m *Manager) applyMarks(ctx context.Context, heads []outbox.Event) []outbox.Event {
	m.mu.Lock()
	if len(m.marks) == 0 {
		m.mu.Unlock()
		return heads
	}
	// A mark's event is the head of its queue while the store has it; a
	// mark whose event is gone (dropped through the API) is forgotten.
	inHeads := make(map[int64]bool, len(heads))
	for _, e := range heads {
		inHeads[e.Seq] = true
	}
	marks := make(map[int64]mark, len(m.marks))
	for seq, mk := range m.marks {
		if inHeads[seq] {
			marks[seq] = mk
		} else {
			delete(m.marks, seq)
		}
	}
	m.mu.Unlock()
	out := heads[:0]
	for _, e := range heads {
		mk, ok := marks[e.Seq]
		if !ok {
			out = append(out, e)
			continue
		}
		if err := m.writeMark(ctx, e.Seq, mk); err == nil {
			m.mu.Lock()
			delete(m.marks, e.Seq)
			m.mu.Unlock()
		}
		if mk.delivered || mk.dead {
			continue
		}
		e.Attempts, e.Next, e.LastError = mk.attempts, mk.next, mk.lastErr
		out = append(out, e)
	}
	return out
}
