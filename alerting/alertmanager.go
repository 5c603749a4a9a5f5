package alerting

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// alertmanager posts to Alertmanager's API v2 (/api/v2/alerts) on every
// configured Alertmanager, as Prometheus does:
//
//   - labels are alertname, check and the check's labels (plus the
//     notifier's static labels), identical on every replica of assay, so
//     Alertmanager deduplicates replicas; there is no host label;
//   - a firing alert is re-sent on every failing run (KindRefresh) with
//     endsAt = now + ResendFactor x max(check interval, MinResendInterval),
//     so it stays active while assay keeps seeing the failure and expires
//     on its own if assay stops;
//   - a resolved alert is sent with endsAt = the time of recovery.
//
// The event counts as delivered when at least one Alertmanager accepted
// it (an Alertmanager cluster gossips alerts); the next refresh reaches
// the others.
type alertmanager struct {
	cfg *NotifierConfig
	s   *sender
}

// Alertmanager endsAt rule.
const (
	ResendFactor      = 4
	MinResendInterval = time.Minute
)

// postableAlert is an element of the POST /api/v2/alerts body.
type postableAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// alertTTL is how long past now a firing alert is asserted.
func alertTTL(interval string) time.Duration {
	d, err := time.ParseDuration(interval)
	if err != nil || d < MinResendInterval {
		d = MinResendInterval
	}
	return ResendFactor * d
}

// alertFor renders an event at now.
func (n *alertmanager) alertFor(ev *Event, now time.Time) postableAlert {
	labels := maps.Clone(n.cfg.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	maps.Copy(labels, ev.Check.Labels)
	labels["alertname"] = n.cfg.Alertname
	labels["check"] = ev.Check.Name
	// One alert per incident: every replica, retry and refresh of an
	// incident posts the same label set.
	labels["incident"] = ev.Incident.ID
	if ev.Kind == KindTest {
		labels["alertname"] = "AssayNotifyTest"
		labels["notifier"] = n.cfg.Name
	}
	ann := map[string]string{
		"summary":     ev.Summary(),
		"incident":    ev.Incident.ID,
		"failed_runs": strconv.Itoa(ev.Incident.FailedRuns),
	}
	if ev.Check.Description != "" {
		ann["description"] = ev.Check.Description
	}
	if f := ev.Failure; f != nil {
		ann["reason"] = f.Reason
		ann["message"] = f.Message
		if f.Step != "" {
			ann["step"] = f.Step
		}
	}
	a := postableAlert{Labels: labels, Annotations: ann, StartsAt: ev.Incident.Started.UTC(), GeneratorURL: ev.Check.URL}
	switch {
	case ev.Status == StatusResolved && ev.Incident.Resolved != nil:
		a.EndsAt = ev.Incident.Resolved.UTC()
	case ev.Status == StatusResolved:
		a.EndsAt = ev.Time.UTC()
	case ev.Kind == KindTest:
		a.EndsAt = now.Add(5 * time.Minute).UTC()
	default:
		a.EndsAt = now.Add(alertTTL(ev.Check.Interval)).UTC()
	}
	if a.EndsAt.Before(a.StartsAt) {
		a.StartsAt = a.EndsAt
	}
	return a
}

func (n *alertmanager) Notify(ctx context.Context, ev *Event) (bool, error) {
	body, err := marshal([]postableAlert{n.alertFor(ev, n.s.now())})
	if err != nil {
		return false, &DeliveryError{Reason: ReasonInvalid, Msg: err.Error()}
	}
	var errs []error
	retry := false
	for _, base := range n.cfg.URLs {
		target := hostOf(base)
		status, respBody, h, err := n.s.post(ctx, target, strings.TrimSuffix(base, "/")+"/api/v2/alerts", "application/json", body,
			func(h http.Header) { n.cfg.headers(h) })
		if err == nil {
			var r bool
			r, err = n.s.classify(target, status, respBody, h)
			if err == nil {
				return false, nil // one Alertmanager has it
			}
			retry = retry || r
		} else {
			retry = retry || transportRetry(err)
		}
		errs = append(errs, err)
	}
	if len(errs) == 1 {
		return retry, errs[0]
	}
	// Report the most retryable failure's class.
	for _, e := range errs {
		var de *DeliveryError
		if errors.As(e, &de) && (!retry || de.Reason != Reason4xx) {
			de2 := *de
			de2.Msg = fmt.Sprintf("no Alertmanager accepted the alert: %v", errors.Join(errs...))
			de2.Msg = strings.ReplaceAll(de2.Msg, "\n", "; ")
			return retry, &de2
		}
	}
	return retry, errors.Join(errs...)
}
