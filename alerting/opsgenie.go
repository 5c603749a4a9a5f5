package alerting

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// opsgenie uses the Opsgenie Alert API v2: POST /v2/alerts creates an
// alert whose alias is the incident id (on firing and on reminders, which
// Opsgenie folds into the open alert of that alias), and POST
// /v2/alerts/{alias}/close?identifierType=alias closes it on recovery.
// Every replica, retry and restart uses the same alias, so one incident
// is one Opsgenie alert. Requests carry Authorization: GenieKey KEY;
// Opsgenie answers 202 and processes the request asynchronously.
type opsgenie struct {
	cfg *NotifierConfig
	s   *sender
}

// Opsgenie's field limits (characters).
const (
	opsgenieMessageMax     = 130
	opsgenieAliasMax       = 512
	opsgenieDescriptionMax = 15000
	opsgenieEntityMax      = 512
	opsgenieNoteMax        = 25000
	opsgenieTagsMax        = 20
	opsgenieTagMax         = 50
	opsgenieDetailsMax     = 8000 // all keys and values together
)

// opsgenieCreate is the body of POST /v2/alerts.
type opsgenieCreate struct {
	Message     string            `json:"message"`
	Alias       string            `json:"alias"`
	Description string            `json:"description,omitempty"`
	Tags        []string          `json:"tags,omitempty"`
	Details     map[string]string `json:"details,omitempty"`
	Entity      string            `json:"entity,omitempty"`
	Source      string            `json:"source"`
	Priority    string            `json:"priority"`
}

// opsgenieClose is the body of POST /v2/alerts/{alias}/close.
type opsgenieClose struct {
	Source string `json:"source"`
	Note   string `json:"note,omitempty"`
}

type opsgenieRequest struct {
	action string // create or close
	path   string
	body   any
}

// opsgeniePriority is the check's label priority when it is P1..P5, else
// the notifier's.
func (n *opsgenie) priority(ev *Event) string {
	if p := ev.Check.Labels["priority"]; slices.Contains(ogPriorities, p) {
		return p
	}
	return n.cfg.Priority
}

// requests renders an event; a test event is a create followed by its
// close, so that a test leaves no open alert.
func (n *opsgenie) requests(ev *Event) []opsgenieRequest {
	alias := truncateRunes(ev.Incident.ID, opsgenieAliasMax)
	closeReq := opsgenieRequest{"close", "/v2/alerts/" + url.PathEscape(alias) + "/close?identifierType=alias",
		opsgenieClose{Source: "assay", Note: truncateRunes(oneLineSummary(ev), opsgenieNoteMax)}}
	if ev.Status == StatusResolved {
		return []opsgenieRequest{closeReq}
	}
	tags := []string{"assay"}
	if ev.Kind == KindTest {
		tags = append(tags, "test")
	}
	for _, k := range slices.Sorted(maps.Keys(ev.Check.Labels)) {
		if len(tags) == opsgenieTagsMax {
			break
		}
		tags = append(tags, truncateRunes(k+":"+ev.Check.Labels[k], opsgenieTagMax))
	}
	details := map[string]string{
		"check":       ev.Check.Name,
		"incident":    ev.Incident.ID,
		"started":     ev.Incident.Started.UTC().Format(time.RFC3339),
		"runs":        strconv.Itoa(ev.Incident.Runs),
		"failed_runs": strconv.Itoa(ev.Incident.FailedRuns),
	}
	if ev.Check.URL != "" {
		details["check_url"] = ev.Check.URL
	}
	if f := ev.Failure; f != nil {
		details["reason"] = f.Reason
		if f.Step != "" {
			details["step"] = f.Step
		}
		if f.RunURL != "" {
			details["run_url"] = f.RunURL
		}
	}
	boundDetails(details)
	c := opsgenieCreate{
		Message:     truncateRunes(oneLineSummary(ev), opsgenieMessageMax),
		Alias:       alias,
		Description: truncateRunes(eventText(ev), opsgenieDescriptionMax),
		Tags:        tags,
		Details:     details,
		Entity:      truncateRunes(ev.Check.Name, opsgenieEntityMax),
		Source:      "assay",
		Priority:    n.priority(ev),
	}
	if ev.Kind == KindTest {
		c.Priority = "P5"
	}
	out := []opsgenieRequest{{"create", "/v2/alerts", c}}
	if ev.Kind == KindTest {
		out = append(out, closeReq)
	}
	return out
}

// boundDetails cuts the values of details, longest first, until keys and
// values add up to at most opsgenieDetailsMax characters.
func boundDetails(d map[string]string) {
	total := 0
	for k, v := range d {
		d[k] = oneLineValue(v)
		total += len([]rune(k)) + len([]rune(d[k]))
	}
	for total > opsgenieDetailsMax {
		longest := ""
		for _, k := range slices.Sorted(maps.Keys(d)) {
			if len([]rune(d[k])) > len([]rune(d[longest])) {
				longest = k
			}
		}
		r := len([]rune(d[longest]))
		keep := max(1, r-(total-opsgenieDetailsMax))
		d[longest] = truncateRunes(d[longest], keep)
		total -= r - len([]rune(d[longest]))
	}
}

func oneLineValue(s string) string { return strings.Join(strings.Fields(s), " ") }

func (n *opsgenie) Notify(ctx context.Context, ev *Event) (bool, error) {
	target := "opsgenie"
	if n.cfg.URL != DefaultOpsgenieURL {
		target = hostOf(n.cfg.URL)
	}
	base := strings.TrimSuffix(n.cfg.URL, "/")
	for _, r := range n.requests(ev) {
		body, err := marshal(r.body)
		if err != nil {
			return false, &DeliveryError{Reason: ReasonInvalid, Msg: err.Error()}
		}
		// 202 is accepted; 400 (invalid), 401, 403, 404 and 422 are dead
		// letters; 429 and 5xx are retried.
		status, respBody, h, err := n.s.post(ctx, target, base+r.path, "application/json", body, func(h http.Header) {
			h.Set("Authorization", "GenieKey "+n.cfg.APIKey)
		})
		if err != nil {
			return transportRetry(err), err
		}
		if retry, err := n.s.classify(target, status, respBody, h); err != nil {
			return retry, fmt.Errorf("%s: %w", r.action, err)
		}
	}
	return false, nil
}
