package alerting

import (
	"context"
	"strings"
)

// teams posts an Adaptive Card to a Microsoft Teams Workflows (Power
// Automate) webhook, in the message envelope the "Post to a channel when
// a webhook request is received" flow reads:
//
//	{"type":"message","attachments":[{"contentType":"application/vnd.microsoft.card.adaptive","content":{AdaptiveCard}}]}
//
// A Workflows webhook answers 202 Accepted; 429 and 5xx are retried, any
// other status is a dead letter. Its URL holds a signature, so errors
// name it "teams" only.
type teams struct {
	cfg *NotifierConfig
	s   *sender
}

// Teams message limits: a message is at most about 28 KB; the card's
// texts are bounded so that the largest event stays well within it.
const (
	teamsCardVersion = "1.4" // what Teams renders on every client
	teamsSummaryMax  = 2000
)

type teamsMessage struct {
	Type        string            `json:"type"`
	Attachments []teamsAttachment `json:"attachments"`
}

type teamsAttachment struct {
	ContentType string    `json:"contentType"`
	ContentURL  *string   `json:"contentUrl"`
	Content     teamsCard `json:"content"`
}

type teamsCard struct {
	Schema  string         `json:"$schema"`
	Type    string         `json:"type"`
	Version string         `json:"version"`
	Body    []teamsElement `json:"body"`
	Actions []teamsAction  `json:"actions,omitempty"`
	MSTeams map[string]any `json:"msteams,omitempty"`
}

// teamsElement is a TextBlock or a FactSet.
type teamsElement struct {
	Type     string      `json:"type"`
	Text     string      `json:"text,omitempty"`
	Size     string      `json:"size,omitempty"`
	Weight   string      `json:"weight,omitempty"`
	Color    string      `json:"color,omitempty"`
	FontType string      `json:"fontType,omitempty"`
	IsSubtle bool        `json:"isSubtle,omitempty"`
	Wrap     bool        `json:"wrap,omitempty"`
	Facts    []teamsFact `json:"facts,omitempty"`
}

type teamsFact struct {
	Title string `json:"title"`
	Value string `json:"value"`
}

type teamsAction struct {
	Type  string `json:"type"`
	Title string `json:"title"`
	URL   string `json:"url"`
}

// teamsMessageFor renders an event as an Adaptive Card.
func teamsMessageFor(ev *Event) teamsMessage {
	color := "Attention" // red
	switch {
	case ev.Kind == KindTest:
		color = "Accent"
	case ev.Status == StatusResolved:
		color = "Good"
	case ev.Kind == KindReminder:
		color = "Warning"
	}
	body := []teamsElement{
		{Type: "TextBlock", Text: truncateRunes(eventTitle(ev), 256), Size: "Large", Weight: "Bolder", Color: color, Wrap: true},
		{Type: "TextBlock", Text: truncateRunes(ev.Summary(), teamsSummaryMax), Wrap: true},
	}
	var facts []teamsFact
	for _, f := range eventFacts(ev) {
		facts = append(facts, teamsFact{Title: f.Name, Value: f.Value})
	}
	body = append(body, teamsElement{Type: "FactSet", Facts: facts})
	if ls := assertionLines(ev); len(ls) > 0 {
		body = append(body,
			teamsElement{Type: "TextBlock", Text: "Failed assertions", Weight: "Bolder", Wrap: true},
			teamsElement{Type: "TextBlock", Text: strings.Join(ls, "\n\n"), FontType: "Monospace", Wrap: true})
	}
	if ls := diffLines(ev); len(ls) > 0 {
		body = append(body,
			teamsElement{Type: "TextBlock", Text: "Changed since the last passing run", Weight: "Bolder", Wrap: true},
			teamsElement{Type: "TextBlock", Text: strings.Join(ls, "\n\n"), FontType: "Monospace", Wrap: true})
	}
	body = append(body, teamsElement{Type: "TextBlock", Text: eventFooter(ev), Size: "Small", IsSubtle: true, Wrap: true})
	card := teamsCard{
		Schema:  "http://adaptivecards.io/schemas/adaptive-card.json",
		Type:    "AdaptiveCard",
		Version: teamsCardVersion,
		Body:    body,
		MSTeams: map[string]any{"width": "Full"},
	}
	for _, l := range eventLinks(ev) {
		card.Actions = append(card.Actions, teamsAction{Type: "Action.OpenUrl", Title: l.Title, URL: l.URL})
	}
	return teamsMessage{Type: "message", Attachments: []teamsAttachment{{
		ContentType: "application/vnd.microsoft.card.adaptive", Content: card,
	}}}
}

func (n *teams) Notify(ctx context.Context, ev *Event) (bool, error) {
	body, err := marshal(teamsMessageFor(ev))
	if err != nil {
		return false, &DeliveryError{Reason: ReasonInvalid, Msg: err.Error()}
	}
	const target = "teams"
	status, respBody, h, err := n.s.post(ctx, target, n.cfg.URL, "application/json", body, nil)
	if err != nil {
		return transportRetry(err), err
	}
	return n.s.classify(target, status, respBody, h)
}
