package alerting

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"time"
)

// pagerDuty sends PagerDuty Events API v2 events: trigger on firing (and
// on reminders, which PagerDuty folds into the open alert), resolve on
// recovery. The dedup_key is "assay/<check>/<incident id>": the same on
// every replica of assay, retry and restart, so one incident of a check
// is one PagerDuty incident.
type pagerDuty struct {
	cfg *NotifierConfig
	s   *sender
}

type pdEvent struct {
	RoutingKey  string     `json:"routing_key"`
	EventAction string     `json:"event_action"`
	DedupKey    string     `json:"dedup_key"`
	Payload     *pdPayload `json:"payload,omitempty"`
	Client      string     `json:"client,omitempty"`
	ClientURL   string     `json:"client_url,omitempty"`
	Links       []pdLink   `json:"links,omitempty"`
}

type pdPayload struct {
	Summary       string         `json:"summary"`
	Source        string         `json:"source"`
	Severity      string         `json:"severity"`
	Timestamp     string         `json:"timestamp,omitempty"`
	Component     string         `json:"component,omitempty"`
	Group         string         `json:"group,omitempty"`
	Class         string         `json:"class,omitempty"`
	CustomDetails map[string]any `json:"custom_details,omitempty"`
}

type pdLink struct {
	Href string `json:"href"`
	Text string `json:"text"`
}

// DedupKey is the PagerDuty dedup_key of an incident: "assay/<check>/<id>".
// It comes from the incident, so that every replica, retry and restart
// triggers and resolves the same PagerDuty incident, and a new incident
// of the check is a new one there.
func DedupKey(check, incident string) string {
	// The id is kept whole: a long check name is cut instead.
	suffix := "/" + incident
	return truncateRunes("assay/"+check, pagerDutyDedupKeyMaxRunes-len([]rune(suffix))) + suffix
}

// pagerDutyEvents renders an event; a test event is a trigger followed by
// its resolve, so that a test leaves no open incident.
func (n *pagerDuty) events(ev *Event) []pdEvent {
	dedup := DedupKey(ev.Check.Name, ev.Incident.ID)
	if ev.Kind == KindTest {
		dedup = truncateRunes("assay/notify-test/"+n.cfg.Name, pagerDutyDedupKeyMaxRunes)
	}
	if ev.Status == StatusResolved {
		return []pdEvent{{RoutingKey: n.cfg.RoutingKey, EventAction: "resolve", DedupKey: dedup}}
	}
	severity := n.cfg.Severity
	if s := ev.Check.Labels["severity"]; slices.Contains(pdSeverities, s) {
		severity = s
	}
	if ev.Kind == KindTest {
		severity = "info"
	}
	source := "assay"
	details := map[string]any{
		"check":       ev.Check.Name,
		"incident":    ev.Incident.ID,
		"started":     ev.Incident.Started.UTC().Format(time.RFC3339),
		"runs":        ev.Incident.Runs,
		"failed_runs": ev.Incident.FailedRuns,
	}
	if len(ev.Check.Labels) > 0 {
		details["labels"] = ev.Check.Labels
	}
	p := &pdPayload{
		Summary:   truncateRunes(ev.Summary(), pagerDutySummaryMaxRunes),
		Source:    source,
		Severity:  severity,
		Timestamp: ev.Incident.Started.UTC().Format(time.RFC3339),
		Component: ev.Check.Name,
		Group:     ev.Check.Labels["team"],
	}
	if f := ev.Failure; f != nil {
		p.Class = f.Reason
		details["reason"] = f.Reason
		details["message"] = f.Message
		if f.Step != "" {
			details["step"] = f.Step
		}
		if len(f.Assertions) > 0 {
			details["assertions"] = f.Assertions
		}
	}
	p.CustomDetails = details
	e := pdEvent{RoutingKey: n.cfg.RoutingKey, EventAction: "trigger", DedupKey: dedup, Payload: p, Client: "assay", ClientURL: ev.Check.URL}
	if ev.Check.URL != "" {
		e.Links = []pdLink{{Href: ev.Check.URL, Text: "Check " + ev.Check.Name + " in assay"}}
	}
	out := []pdEvent{e}
	if ev.Kind == KindTest {
		out = append(out, pdEvent{RoutingKey: n.cfg.RoutingKey, EventAction: "resolve", DedupKey: dedup})
	}
	return out
}

func (n *pagerDuty) Notify(ctx context.Context, ev *Event) (bool, error) {
	target := "pagerduty"
	if u, err := url.Parse(n.cfg.URL); err == nil && n.cfg.URL != DefaultPagerDutyURL {
		target = u.Host
	}
	for _, e := range n.events(ev) {
		body, err := marshal(e)
		if err != nil {
			return false, &DeliveryError{Reason: ReasonInvalid, Msg: err.Error()}
		}
		// PagerDuty answers 202 {"status":"success",...}; 400 is an
		// invalid event (not retried); 429 and 5xx are retried.
		status, respBody, h, err := n.s.post(ctx, target, n.cfg.URL, "application/json", body, nil)
		if err != nil {
			return transportRetry(err), err
		}
		if retry, err := n.s.classify(target, status, respBody, h); err != nil {
			return retry, fmt.Errorf("%s: %w", e.EventAction, err)
		}
	}
	return false, nil
}

func truncateRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
