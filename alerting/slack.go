package alerting

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"
)

// slack posts to a Slack incoming webhook: a text (the notification and
// fallback) plus Block Kit blocks. Slack answers 200 with the body "ok";
// any other answer is a failure.
type slack struct {
	cfg *NotifierConfig
	s   *sender
}

type slackMessage struct {
	Text   string       `json:"text"`
	Blocks []slackBlock `json:"blocks"`
}

type slackBlock struct {
	Type     string       `json:"type"`
	Text     *slackText   `json:"text,omitempty"`
	Fields   []*slackText `json:"fields,omitempty"`
	Elements []*slackText `json:"elements,omitempty"`
}

type slackText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// slackDiffLines bounds the diff shown in a message.
const slackDiffLines = 10

func mrkdwn(s string) *slackText { return &slackText{Type: "mrkdwn", Text: s} }

// slackEscape escapes the three characters Slack's mrkdwn reserves.
var slackEscape = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// slackMessageFor renders an event.
func slackMessageFor(ev *Event) slackMessage {
	icon := ":red_circle:"
	switch {
	case ev.Kind == KindTest:
		icon = ":white_circle:"
	case ev.Status == StatusResolved:
		icon = ":large_green_circle:"
	case ev.Kind == KindReminder:
		icon = ":warning:"
	}
	title := strings.ToUpper(string(ev.Kind))
	if ev.Kind == KindResolved {
		title = "RESOLVED"
	}
	text := fmt.Sprintf("%s [%s] %s", icon, title, ev.Summary())
	if f := ev.Failure; f != nil && f.Diff != nil && ev.Status == StatusFiring {
		if lines := f.Diff.Lines(3); len(lines) > 0 {
			text += " (changed: " + strings.Join(lines, "; ") + ")"
		}
	}
	name := slackEscape.Replace(ev.Check.Name)
	if ev.Check.URL != "" {
		name = "<" + ev.Check.URL + "|" + name + ">"
	}
	head := fmt.Sprintf("%s *[%s]* %s", icon, title, name)
	blocks := []slackBlock{{Type: "section", Text: mrkdwn(head + "\n" + slackEscape.Replace(ev.Summary()))}}

	var fields []*slackText
	if f := ev.Failure; f != nil {
		if f.Step != "" {
			fields = append(fields, mrkdwn("*Step*\n"+slackEscape.Replace(f.Step)))
		}
		fields = append(fields, mrkdwn("*Reason*\n"+slackEscape.Replace(f.Reason)))
	}
	fields = append(fields,
		mrkdwn("*Failing since*\n"+ev.Incident.Started.UTC().Format(time.RFC3339)),
		mrkdwn(fmt.Sprintf("*Failed runs*\n%d of %d", ev.Incident.FailedRuns, ev.Incident.Runs)))
	if len(ev.Check.Labels) > 0 {
		keys := make([]string, 0, len(ev.Check.Labels))
		for k := range ev.Check.Labels {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = slackEscape.Replace(k + "=" + ev.Check.Labels[k])
		}
		fields = append(fields, mrkdwn("*Labels*\n"+strings.Join(parts, ", ")))
	}
	blocks = append(blocks, slackBlock{Type: "section", Fields: fields})
	if f := ev.Failure; f != nil && len(f.Assertions) > 0 && ev.Status == StatusFiring {
		var b strings.Builder
		for _, a := range f.Assertions {
			fmt.Fprintf(&b, "%s: expected %s, got %s\n", a.Name, a.Expected, a.Actual)
		}
		blocks = append(blocks, slackBlock{Type: "section", Text: mrkdwn("```" + slackEscape.Replace(strings.TrimSuffix(b.String(), "\n")) + "```")})
	}
	if f := ev.Failure; f != nil && f.Diff != nil && ev.Status == StatusFiring {
		if lines := f.Diff.Lines(slackDiffLines); len(lines) > 0 {
			blocks = append(blocks, slackBlock{Type: "section", Text: mrkdwn("*Changed since the last passing run*\n```" +
				slackEscape.Replace(strings.Join(lines, "\n")) + "```")})
		}
	}
	blocks = append(blocks, slackBlock{Type: "context", Elements: []*slackText{
		mrkdwn(fmt.Sprintf("assay · incident %s · event %d", ev.Incident.ID, ev.Sequence)),
	}})
	return slackMessage{Text: text, Blocks: blocks}
}

func (n *slack) Notify(ctx context.Context, ev *Event) (bool, error) {
	body, err := marshal(slackMessageFor(ev))
	if err != nil {
		return false, &DeliveryError{Reason: ReasonInvalid, Msg: err.Error()}
	}
	target := "slack"
	status, respBody, h, err := n.s.post(ctx, target, n.cfg.URL, "application/json", body, nil)
	if err != nil {
		return transportRetry(err), err
	}
	if retry, err := n.s.classify(target, status, respBody, h); err != nil {
		return retry, err
	}
	if strings.TrimSpace(respBody) != "ok" {
		return false, &DeliveryError{Reason: ReasonRejected, Status: status,
			Msg: fmt.Sprintf("POST slack: HTTP %d without \"ok\": %s", status, oneLine(respBody, maxErrorBody))}
	}
	return false, nil
}
