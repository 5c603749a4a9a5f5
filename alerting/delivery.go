package alerting

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/assay-monitor/assay/store/outbox"
)

// Delivery outcomes: the values of the outcome label of
// assay_notifications_total.
const (
	OutcomeDelivered = "delivered"
	OutcomeDropped   = "dropped"
	outcomeRetry     = "retry"
)

// idleRescan bounds how long the worker sleeps without a reason to wake.
const idleRescan = time.Minute

// stateFlushEvery is how often alert state changes without events are
// written.
const stateFlushEvery = time.Second

// Run delivers the outbox until ctx ends: the oldest event of each queue
// (one queue per check and notifier) is sent when due; a retryable
// failure reschedules it with exponential backoff and jitter (or the
// receiver's Retry-After), a permanent one moves it to the dead letters
// and lets the queue go on. Sends in flight when ctx ends are abandoned
// without a verdict: the event stays in the outbox and goes out again
// after a restart, under the same idempotency key.
func (m *Manager) Run(ctx context.Context) error {
	defer m.client.CloseIdleConnections()
	var wg sync.WaitGroup
	defer wg.Wait()
	inflight := map[string]bool{}
	done := make(chan string)
	sem := make(chan struct{}, m.opts.Delivery.Concurrency)
	flush := time.NewTicker(stateFlushEvery)
	defer flush.Stop()
	defer func() {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.opts.FlushTimeout)
		defer cancel()
		if err := m.Flush(fctx); err != nil {
			m.log.Error("alerting: the last alert states could not be stored at shutdown", "err", err)
		}
		if n := m.UnsavedEvents(); n > 0 {
			m.log.Error("alerting: alert events that only memory held are lost at shutdown (the store could not write them)", "events", n)
		}
	}()
	for {
		now := m.clock.Now()
		next := now.Add(idleRescan)
		heads, err := m.store.Heads(ctx)
		if err != nil && ctx.Err() == nil {
			m.log.Error("alerting: reading the outbox", "err", err)
			next = now.Add(time.Second)
		}
		if err == nil {
			heads = m.applyMarks(ctx, heads)
		}
		m.mu.Lock()
		if err == nil {
			// Events in memory of a queue wait behind its events in the
			// store; when the store cannot be read, the last read says
			// which queues those are.
			clear(m.storeQueues)
			for _, e := range heads {
				m.storeQueues[queueOf(e)] = true
			}
		}
		heads = append(heads, m.memoryHeads()...)
		m.mu.Unlock()
		for _, e := range heads {
			q := queueOf(e)
			if inflight[q] {
				continue
			}
			if e.Next.After(now) {
				if e.Next.Before(next) {
					next = e.Next
				}
				continue
			}
			inflight[q] = true
			if e.Seq < 0 {
				m.mu.Lock()
				m.setInflight(e.Seq, true)
				m.mu.Unlock()
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				select {
				case sem <- struct{}{}:
					m.deliver(ctx, e)
					<-sem
				case <-ctx.Done():
				}
				if e.Seq < 0 {
					m.mu.Lock()
					m.setInflight(e.Seq, false)
					m.mu.Unlock()
				}
				select {
				case done <- q:
				case <-ctx.Done():
				}
			}()
		}
		m.updateDepth(ctx)
		select {
		case <-ctx.Done():
			return nil
		case q := <-done:
			delete(inflight, q)
		case <-flush.C:
			_ = m.Flush(ctx)
		case <-m.wake:
		case <-m.clock.At(next):
		}
	}
}

// deliver makes one attempt at an event and records the verdict.
func (m *Manager) deliver(ctx context.Context, e outbox.Event) {
	// Bookkeeping outlives a shutdown: a send that succeeded must be
	// marked delivered even if ctx ends meanwhile, within FlushTimeout
	// of the end.
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	stopAfter := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(m.opts.FlushTimeout, cancel)
		context.AfterFunc(bctx, func() { t.Stop() })
	})
	defer stopAfter()
	// Replicas sharing the store deliver each event once: the one that
	// claims it sends it and records the outcome as the claim ends.
	var claim outbox.Claim
	if cl, ok := m.store.(outbox.Claimer); ok && e.Seq > 0 {
		c, got, err := cl.Claim(bctx, e.Seq)
		if err != nil {
			m.log.Warn("alerting: claiming an event for delivery failed; tried again later", "check", e.Check, "notifier", e.Notifier, "err", err)
			return
		}
		if !got {
			return // another replica sends it, or it is gone
		}
		claim = c
		defer claim.Release()
		bctx = withClaim(bctx, claim)
	}
	ne := m.notifiers[e.Notifier]
	if ne == nil {
		m.giveUp(bctx, e, ReasonUnknown, "notifier "+e.Notifier+" is not configured any more")
		return
	}
	var ev Event
	if err := json.Unmarshal(e.Payload, &ev); err != nil {
		m.giveUp(bctx, e, ReasonInvalid, "unreadable event: "+err.Error())
		return
	}
	start := time.Now()
	retry, err := ne.n.Notify(ctx, &ev)
	m.metrics.request.WithLabelValues(e.Notifier).Observe(time.Since(start).Seconds())
	if err != nil && ctx.Err() != nil {
		return // shutting down: no verdict, the event stays pending
	}
	now := m.clock.Now()
	if err == nil {
		m.markDelivered(bctx, e)
		m.metrics.notifications.WithLabelValues(e.Notifier, OutcomeDelivered).Inc()
		m.metrics.delivery.WithLabelValues(e.Notifier).Observe(max(0, now.Sub(e.Created).Seconds()))
		m.log.Debug("notification delivered", "check", e.Check, "notifier", e.Notifier, "kind", e.Kind, "id", e.Key, "attempts", e.Attempts+1)
		m.attempted(e, OutcomeDelivered, nil)
		return
	}
	reason := reasonOf(err)
	m.metrics.failures.WithLabelValues(e.Notifier, reason).Inc()
	attempts := e.Attempts + 1
	switch {
	case !retry:
		m.log.Error("notification failed permanently; dead-lettered", "check", e.Check, "notifier", e.Notifier,
			"kind", e.Kind, "id", e.Key, "reason", reason, "attempts", attempts, "err", err.Error())
		m.deadLetter(bctx, e, attempts, reason, err.Error(), now)
		m.attempted(e, OutcomeDropped, err)
	case now.Sub(e.Created) >= m.opts.Delivery.MaxAge:
		m.metrics.failures.WithLabelValues(e.Notifier, ReasonExpired).Inc()
		m.log.Error("notification still failing after the maximum event age; dead-lettered", "check", e.Check,
			"notifier", e.Notifier, "kind", e.Kind, "id", e.Key, "attempts", attempts, "err", err.Error())
		m.deadLetter(bctx, e, attempts, ReasonExpired, err.Error(), now)
		m.attempted(e, OutcomeDropped, err)
	default:
		var retryAfter time.Duration
		var de *DeliveryError
		if errors.As(err, &de) {
			retryAfter = de.RetryAfter
		}
		delay := m.opts.Delivery.backoff(attempts, retryAfter)
		m.log.Warn("notification failed; will retry", "check", e.Check, "notifier", e.Notifier, "kind", e.Kind,
			"id", e.Key, "reason", reason, "attempts", attempts, "retry_in", delay.String(), "err", err.Error())
		m.markRetry(bctx, e, attempts, now.Add(delay), err.Error())
		m.attempted(e, outcomeRetry, err)
	}
}

func (m *Manager) giveUp(ctx context.Context, e outbox.Event, reason, msg string) {
	m.metrics.failures.WithLabelValues(e.Notifier, reason).Inc()
	m.log.Error("notification dropped", "check", e.Check, "notifier", e.Notifier, "id", e.Key, "reason", reason, "err", msg)
	m.deadLetter(ctx, e, e.Attempts, reason, msg, m.clock.Now())
	m.attempted(e, OutcomeDropped, nil)
}

func (m *Manager) deadLetter(ctx context.Context, e outbox.Event, attempts int, reason, msg string, now time.Time) {
	m.metrics.notifications.WithLabelValues(e.Notifier, OutcomeDropped).Inc()
	m.markDead(ctx, e, attempts, reason, msg, now)
}

func (m *Manager) attempted(e outbox.Event, outcome string, err error) {
	if m.onAttempt != nil {
		m.onAttempt(e, outcome, err)
	}
}

func (m *Manager) updateDepth(ctx context.Context) {
	depth, err := m.store.OutboxDepth(ctx)
	if err != nil {
		return
	}
	m.mu.Lock()
	mem := m.unsavedDepth()
	m.mu.Unlock()
	for name := range m.notifiers {
		m.metrics.outbox.WithLabelValues(name).Set(float64(depth[name] + mem[name]))
	}
}

type claimKey struct{}

// withClaim makes the outcome recorders end claim rather than write.
func withClaim(ctx context.Context, c outbox.Claim) context.Context {
	return context.WithValue(ctx, claimKey{}, c)
}

func claimOf(ctx context.Context) outbox.Claim {
	c, _ := ctx.Value(claimKey{}).(outbox.Claim)
	return c
}

// backoff is the delay before attempt+1: Retry-After when the receiver
// gave one (capped), else RetryBase doubled per failed attempt up to
// RetryMax, with equal jitter (half fixed, half random) so that queues
// failing together do not retry in step.
func (o DeliveryOptions) backoff(attempts int, retryAfter time.Duration) time.Duration {
	if retryAfter > 0 {
		return min(retryAfter, o.MaxRetryAfter)
	}
	d := o.RetryBase
	for i := 1; i < attempts && d < o.RetryMax; i++ {
		d *= 2
	}
	d = min(d, o.RetryMax)
	return d/2 + rand.N(d/2+1)
}
