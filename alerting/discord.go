package alerting

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// discord executes a Discord webhook with one embed, coloured by state.
// It asks for ?wait=true, so that Discord answers 200 only once the
// message is saved and reports a refused one (without it a message that
// is not saved returns no error). A 429 carries Retry-After and the JSON
// field retry_after (seconds, fractional); the longer of the two is
// honoured. Mentions are disabled: a check's message cannot ping
// @everyone. The URL holds the webhook's token, so errors name it
// "discord" only.
type discord struct {
	cfg *NotifierConfig
	s   *sender
}

// Discord's embed limits (characters; the total counts title,
// description, field names and values, footer and author).
const (
	discordTitleMax       = 256
	discordDescriptionMax = 4096
	discordFieldNameMax   = 256
	discordFieldValueMax  = 1024
	discordFieldsMax      = 25
	discordFooterMax      = 2048
	discordTotalMax       = 6000
	discordFooterRunes    = 256 // ours: the incident and the event
)

// Embed colours by state.
const (
	discordRed   = 0xD92D20
	discordAmber = 0xF79009
	discordGreen = 0x12B76A
	discordGrey  = 0x6B7280
)

type discordMessage struct {
	Username        string          `json:"username"`
	Embeds          []discordEmbed  `json:"embeds"`
	AllowedMentions discordMentions `json:"allowed_mentions"`
}

type discordMentions struct {
	Parse []string `json:"parse"`
}

type discordEmbed struct {
	Title       string         `json:"title"`
	Description string         `json:"description,omitempty"`
	URL         string         `json:"url,omitempty"`
	Color       int            `json:"color"`
	Fields      []discordField `json:"fields,omitempty"`
	Footer      *discordFooter `json:"footer,omitempty"`
	Timestamp   string         `json:"timestamp,omitempty"`
}

type discordField struct {
	Name   string `json:"name"`
	Value  string `json:"value"`
	Inline bool   `json:"inline"`
}

type discordFooter struct {
	Text string `json:"text"`
}

// discordEscape keeps text from the responses from turning into markup.
var discordEscape = strings.NewReplacer(`\`, `\\`, "*", `\*`, "_", `\_`, "~", `\~`, "`", "\\`", "|", `\|`, "[", `\[`, "]", `\]`)

// discordCode is a code block whose lines cannot close it early.
func discordCode(lines []string) string {
	return "```\n" + strings.ReplaceAll(strings.Join(lines, "\n"), "```", "`\u200b``") + "\n```"
}

// discordMessageFor renders an event.
func discordMessageFor(ev *Event) discordMessage {
	color := discordRed
	switch {
	case ev.Kind == KindTest:
		color = discordGrey
	case ev.Status == StatusResolved:
		color = discordGreen
	case ev.Kind == KindReminder:
		color = discordAmber
	}
	e := discordEmbed{
		Title:     truncateRunes(eventTitle(ev), discordTitleMax),
		URL:       ev.Check.URL,
		Color:     color,
		Footer:    &discordFooter{Text: truncateRunes(eventFooter(ev), min(discordFooterRunes, discordFooterMax))},
		Timestamp: ev.Time.UTC().Format(time.RFC3339),
	}
	for _, f := range eventFacts(ev) {
		if len(e.Fields) == discordFieldsMax {
			break
		}
		v := discordEscape.Replace(f.Value)
		if v == "" {
			v = "-" // Discord refuses an empty field value
		}
		e.Fields = append(e.Fields, discordField{Name: truncateRunes(f.Name, discordFieldNameMax),
			Value: truncateRunes(v, discordFieldValueMax), Inline: f.Name != "Description" && f.Name != "Labels"})
	}
	desc := discordEscape.Replace(oneLineSummary(ev))
	if ls := assertionLines(ev); len(ls) > 0 {
		desc += "\n\n**Failed assertions**\n" + discordCode(ls)
	}
	if ls := diffLines(ev); len(ls) > 0 {
		desc += "\n\n**Changed since the last passing run**\n" + discordCode(ls)
	}
	if f := ev.Failure; f != nil && f.RunURL != "" && ev.Status == StatusFiring {
		desc += "\n\n[Open the failed run](" + f.RunURL + ")"
	}
	// The total bounds everything: what is left of it goes to the
	// description, cut at a rune. The title, the footer and the facts
	// (at most 10 of renderValueMax) leave it well over 1000.
	used := len([]rune(e.Title)) + len([]rune(e.Footer.Text))
	for _, f := range e.Fields {
		used += len([]rune(f.Name)) + len([]rune(f.Value))
	}
	e.Description = truncateRunes(desc, min(discordDescriptionMax, discordTotalMax-used))
	return discordMessage{Username: "assay", Embeds: []discordEmbed{e}, AllowedMentions: discordMentions{Parse: []string{}}}
}

// discordURL adds wait=true to the webhook URL, keeping its other
// parameters (thread_id).
func discordURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	q := u.Query()
	q.Set("wait", "true")
	u.RawQuery = q.Encode()
	return u.String()
}

func (n *discord) Notify(ctx context.Context, ev *Event) (bool, error) {
	body, err := marshal(discordMessageFor(ev))
	if err != nil {
		return false, &DeliveryError{Reason: ReasonInvalid, Msg: err.Error()}
	}
	const target = "discord"
	status, respBody, h, err := n.s.post(ctx, target, discordURL(n.cfg.URL), "application/json", body, nil)
	if err != nil {
		return transportRetry(err), err
	}
	retry, err := n.s.classify(target, status, respBody, h)
	if de, ok := err.(*DeliveryError); ok && status == http.StatusTooManyRequests {
		var rl struct {
			RetryAfter float64 `json:"retry_after"`
		}
		if json.Unmarshal([]byte(respBody), &rl) == nil && rl.RetryAfter > 0 && rl.RetryAfter < 86400 {
			if d := time.Duration(math.Ceil(rl.RetryAfter*1000)) * time.Millisecond; d > de.RetryAfter {
				de.RetryAfter = d
			}
		}
	}
	return retry, err
}
