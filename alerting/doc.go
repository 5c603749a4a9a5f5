// Package alerting turns check results into notifications: a state
// machine per check (ok -> failing after N consecutive failed runs ->
// ok after M consecutive passes, with optional reminders), notifiers for a
// generic webhook, Slack, PagerDuty Events API v2, Alertmanager API v2,
// email (SMTP with STARTTLS or implicit TLS), the Opsgenie Alert API v2,
// Microsoft Teams (Workflows webhook, Adaptive Card), Discord (webhook
// embed) and ntfy (JSON publish), and durable delivery through an outbox
// in the embedded store.
//
// # Wiring (the daemon)
//
//	st, err := store.Open(cfg.Storage.Path)           // SQLite, WAL
//	defer st.Close()
//	if err := alerting.ValidatePolicies(cfg.Defaults.Alert, cfg.Notifiers, cs); err != nil { ... } // or m.Validate(cs)
//	m, err := alerting.New(alerting.Options{
//		Notifiers:   cfg.Notifiers,
//		Defaults:    cfg.Defaults.Alert,
//		Store:       st,
//		ExternalURL: cfg.Server.ExternalURL,
//		Registerer:  registry,
//		Logger:      log,
//	})
//	m.SetChecks(cs)            // on start and on every successful reload
//	go m.Run(ctx)              // the delivery worker, until shutdown
//	sinks = append(sinks, m)   // Record(ctx, result) for every result
//
// Manager implements checks.Sink (Record), SetChecks and Validate, so the
// daemon's CheckSetter and Validator interfaces pick it up as a sink.
//
// # Guarantees
//
// Record stores a check's new alert state and the events of the
// transition in one SQLite transaction before it returns, so a crash
// never loses an event nor makes one twice; a restart neither re-pages an
// open incident nor forgets to send its recovery. Each event has an
// idempotency key (Event.ID) stored with it, the same on every retry and
// after a restart. Delivery is in order per check and notifier: only the
// oldest event of a queue is ever in flight.
//
// Delivery is at least once: a crash after a receiver accepted an event
// and before the outbox row was deleted sends it again, under the same
// key. Webhook receivers deduplicate on the key, PagerDuty on dedup_key,
// Opsgenie on the alias and Alertmanager on the label set; a Slack,
// Teams, Discord or ntfy message, or an email (same Message-ID), can
// repeat.
//
// A result marked in_maintenance (package maintenance) moves the state
// but makes no event: an alert that opens is muted, one that paged before
// the window and resolves in it is held, both persisted at once. When
// ReleaseMaintenance (the calendar, at the end of the window) or the
// first run out of maintenance comes, the held resolves are made, then
// the firing of a muted alert still open; an alert that opened and
// resolved inside, or paged before and is still open, makes nothing.
// Like every event, these are written with the state in one transaction
// under a key derived from the incident, so a restart inside the window
// or a second replica neither loses nor repeats them.
//
// A Notifier sends one event and says whether to retry; it never retries
// itself (Alertmanager's notify package has the same split). Backoff,
// jitter, Retry-After, dead letters and metrics are shared, in Run.
package alerting
