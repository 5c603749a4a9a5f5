package alerting

import (
	"context"
	"net/http"
	"net/url"
	"strings"
)

// ntfy publishes to an ntfy topic. The notifier is configured with the
// topic URL (https://ntfy.sh/mytopic) and publishes as JSON to the
// server's root with the topic in the body, ntfy's JSON form, rather than
// with X-Title and X-Tags headers, which cannot carry every check name
// and message as they are (headers are not UTF-8). Priority and tags
// follow the state: a firing alert is high (4), or urgent (5) when the
// check's severity label is critical or page; a reminder is high; a
// recovery and a test are default (3). An optional token is sent as
// Authorization: Bearer. ntfy answers 200; 429 (visitor rate limit) and
// 5xx are retried, 4xx (401, 403, 413) are dead letters.
type ntfy struct {
	cfg *NotifierConfig
	s   *sender
}

// ntfy bounds: a message over 4096 bytes becomes an attachment (or is
// refused where attachments are off), so it is cut below that.
const (
	ntfyMessageMax = 4000 // bytes
	ntfyTitleMax   = 250  // runes
)

// ntfy priorities.
const (
	ntfyDefault = 3
	ntfyHigh    = 4
	ntfyUrgent  = 5
)

type ntfyMessage struct {
	Topic    string       `json:"topic"`
	Title    string       `json:"title"`
	Message  string       `json:"message"`
	Priority int          `json:"priority"`
	Tags     []string     `json:"tags"`
	Click    string       `json:"click,omitempty"`
	Actions  []ntfyAction `json:"actions,omitempty"`
}

type ntfyAction struct {
	Action string `json:"action"`
	Label  string `json:"label"`
	URL    string `json:"url"`
}

// ntfyRootAndTopic splits a validated topic URL into the server's root
// (where JSON is published) and the topic.
func ntfyRootAndTopic(raw string) (string, string) {
	u, err := url.Parse(raw)
	if err != nil {
		return raw, ""
	}
	i := strings.LastIndex(u.Path, "/")
	topic := u.Path[i+1:]
	u.Path = u.Path[:i+1]
	u.RawPath = ""
	return u.String(), topic
}

// ntfyMessageFor renders an event for topic.
func ntfyMessageFor(ev *Event, topic string) ntfyMessage {
	prio, tags := ntfyHigh, []string{"rotating_light", "assay"}
	switch {
	case ev.Kind == KindTest:
		prio, tags = ntfyDefault, []string{"test_tube", "assay"}
	case ev.Status == StatusResolved:
		prio, tags = ntfyDefault, []string{"white_check_mark", "assay"}
	case ev.Kind == KindReminder:
		tags = []string{"warning", "assay"}
	case ev.Check.Labels["severity"] == "critical" || ev.Check.Labels["severity"] == "page":
		prio = ntfyUrgent
	}
	// The title is the state and the check; the message, the plain-text
	// rendering from the summary on.
	text := strings.TrimPrefix(eventText(ev), "["+eventState(ev)+"] ")
	m := ntfyMessage{
		Topic:    topic,
		Title:    truncateRunes(eventTitle(ev), ntfyTitleMax),
		Message:  truncateBytes(strings.TrimSpace(text), ntfyMessageMax),
		Priority: prio,
		Tags:     tags,
		Click:    ev.Check.URL,
	}
	for _, l := range eventLinks(ev) {
		m.Actions = append(m.Actions, ntfyAction{Action: "view", Label: l.Title, URL: l.URL})
	}
	return m
}

func (n *ntfy) Notify(ctx context.Context, ev *Event) (bool, error) {
	root, topic := ntfyRootAndTopic(n.cfg.URL)
	body, err := marshal(ntfyMessageFor(ev, topic))
	if err != nil {
		return false, &DeliveryError{Reason: ReasonInvalid, Msg: err.Error()}
	}
	// The topic can be the only secret of a public server: errors name
	// the host alone.
	target := hostOf(n.cfg.URL)
	status, respBody, h, err := n.s.post(ctx, target, root, "application/json", body, func(h http.Header) {
		if n.cfg.Token != "" {
			h.Set("Authorization", "Bearer "+n.cfg.Token)
		}
	})
	if err != nil {
		return transportRetry(err), err
	}
	return n.s.classify(target, status, respBody, h)
}
