package alerting

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	notifications *prometheus.CounterVec
	failures      *prometheus.CounterVec
	outbox        *prometheus.GaugeVec
	delivery      *prometheus.HistogramVec
	request       *prometheus.HistogramVec
	dropped       prometheus.Counter
}

// newMetrics registers the alerting metrics; the counters of every
// configured notifier exist at 0 from the start.
func newMetrics(reg prometheus.Registerer, notifiers []string, firing, unsaved func() float64) *metrics {
	m := &metrics{
		notifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "assay_notifications_total",
			Help: "Notification events that left the outbox, by notifier and outcome (delivered, or dropped after a permanent failure or expiry).",
		}, []string{"notifier", "outcome"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "assay_notification_failures_total",
			Help: "Failed notification delivery attempts by notifier and reason (network, timeout, http_429, http_5xx, http_4xx, redirect, rejected, invalid, expired, unknown_notifier).",
		}, []string{"notifier", "reason"}),
		outbox: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "assay_outbox_events",
			Help: "Notification events waiting in the outbox, by notifier.",
		}, []string{"notifier"}),
		delivery: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "assay_notification_delivery_seconds",
			Help:    "Time from an alert transition to the delivery of its notification (retries included), by notifier.",
			Buckets: []float64{0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 14400},
		}, []string{"notifier"}),
		request: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "assay_notification_request_duration_seconds",
			Help:    "Duration of one notification delivery attempt, by notifier.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
		}, []string{"notifier"}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "assay_alert_events_dropped_total",
			Help: "Alert events dropped from memory, oldest first, because more than 10,000 waited for a store that could not write them.",
		}),
	}
	for _, n := range notifiers {
		for _, o := range []string{OutcomeDelivered, OutcomeDropped} {
			m.notifications.WithLabelValues(n, o)
		}
		for _, r := range FailureReasons {
			m.failures.WithLabelValues(n, r)
		}
		m.outbox.WithLabelValues(n)
	}
	if reg != nil {
		reg.MustRegister(m.notifications, m.failures, m.outbox, m.delivery, m.request, m.dropped,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "assay_alerts_firing",
				Help: "Checks whose alert is firing (failing past their failure threshold).",
			}, firing),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "assay_alert_events_unsaved",
				Help: "Alert events held in memory because the store could not write them; they are sent from memory and stored when it works again.",
			}, unsaved))
	}
	return m
}
