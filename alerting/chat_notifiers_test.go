package alerting

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// hugeEvent is a firing event whose every text is far over every
// provider's limits, to prove the bounds.
func hugeEvent() *Event {
	ev := sampleEvent(KindFiring)
	ev.Check.Name = strings.Repeat("n", 300)
	ev.Check.Description = strings.Repeat("d", 20000)
	ev.Check.Labels = map[string]string{}
	for i := range 40 {
		ev.Check.Labels[fmt.Sprintf("label%02d", i)] = strings.Repeat("v", 100)
	}
	ev.Failure.Message = strings.Repeat("m", 30000)
	ev.Failure.Step = strings.Repeat("s", 2000)
	for i := range 30 {
		ev.Failure.Assertions = append(ev.Failure.Assertions, Assertion{Name: fmt.Sprintf("a%d", i), Expected: strings.Repeat("e", 2000), Actual: strings.Repeat("x", 2000)})
	}
	return ev
}

func decode(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("body is not the expected JSON: %v\n%s", err, b)
	}
}

func runes(s string) int { return utf8.RuneCountInString(s) }

// errorClasses checks a notifier's verdict for each status: 429 and 5xx
// retried, the 4xx client errors dead-lettered, each with its reason,
// and the receiver's secret never in the error.
func errorClasses(t *testing.T, r *receiver, n Notifier, secret string) {
	t.Helper()
	for _, tc := range []struct {
		status int
		retry  bool
		reason string
	}{
		{400, false, Reason4xx}, {401, false, Reason4xx}, {403, false, Reason4xx}, {404, false, Reason4xx},
		{429, true, Reason429}, {500, true, Reason5xx}, {503, true, Reason5xx},
	} {
		r.mu.Lock()
		r.status = tc.status
		r.mu.Unlock()
		retry, err := n.Notify(context.Background(), sampleEvent(KindFiring))
		if err == nil || retry != tc.retry || reasonOf(err) != tc.reason {
			t.Errorf("HTTP %d: retry=%v reason=%q err=%v, want retry=%v reason %s", tc.status, retry, reasonOf(err), err, tc.retry, tc.reason)
		}
		if err != nil && secret != "" && strings.Contains(err.Error(), secret) {
			t.Errorf("HTTP %d: the error shows the secret: %v", tc.status, err)
		}
	}
	// A refused connection is retried.
	r.Close()
	if retry, err := n.Notify(context.Background(), sampleEvent(KindFiring)); !retry || reasonOf(err) != ReasonNetwork {
		t.Errorf("receiver down: retry=%v err=%v", retry, err)
	} else if secret != "" && strings.Contains(err.Error(), secret) {
		t.Errorf("network error shows the secret: %v", err)
	}
}

type teamsBody struct {
	Type        string `json:"type"`
	Attachments []struct {
		ContentType string  `json:"contentType"`
		ContentURL  *string `json:"contentUrl"`
		Content     struct {
			Schema  string `json:"$schema"`
			Type    string `json:"type"`
			Version string `json:"version"`
			Body    []struct {
				Type  string `json:"type"`
				Text  string `json:"text"`
				Color string `json:"color"`
				Facts []struct{ Title, Value string }
			} `json:"body"`
			Actions []struct{ Type, Title, URL string }
		} `json:"content"`
	} `json:"attachments"`
}

// Rule: the teams notifier POSTs the Workflows message envelope with one
// Adaptive Card holding the state, the summary, the facts, the failed
// assertions and a link to the check.
func TestTeamsRequest(t *testing.T) {
	r := newReceiver(t, http.StatusAccepted, "")
	secret := "sig=S3CRETSIGNATURE"
	n := notifierFor(t, &NotifierConfig{Type: TypeTeams, URL: r.URL + "/workflows/abc/triggers/manual/paths/invoke?api-version=1&" + secret})
	notify(t, n, sampleEvent(KindFiring))
	notify(t, n, sampleEvent(KindResolved))
	reqs := r.got()
	golden(t, "teams_firing", reqs[0].body)
	golden(t, "teams_resolved", reqs[1].body)
	req := reqs[0]
	if req.method != http.MethodPost || req.path != "/workflows/abc/triggers/manual/paths/invoke" || !strings.Contains(req.query, secret) ||
		req.header.Get("Content-Type") != "application/json" {
		t.Errorf("request %s %s?%s %v", req.method, req.path, req.query, req.header)
	}
	for i, want := range []struct{ title, color string }{{"[FIRING] documents-conditional-update", "Attention"}, {"[RESOLVED] documents-conditional-update", "Good"}} {
		var m teamsBody
		decode(t, reqs[i].body, &m)
		if m.Type != "message" || len(m.Attachments) != 1 {
			t.Fatalf("envelope: %s", reqs[i].body)
		}
		a := m.Attachments[0]
		c := a.Content
		if a.ContentType != "application/vnd.microsoft.card.adaptive" || a.ContentURL != nil || c.Type != "AdaptiveCard" ||
			c.Version != "1.4" || c.Schema != "http://adaptivecards.io/schemas/adaptive-card.json" {
			t.Errorf("card header: %+v", a)
		}
		if c.Body[0].Text != want.title || c.Body[0].Color != want.color {
			t.Errorf("title %q %q, want %q %q", c.Body[0].Text, c.Body[0].Color, want.title, want.color)
		}
		if len(c.Actions) == 0 || c.Actions[0].Type != "Action.OpenUrl" || c.Actions[0].URL != sampleEvent(KindFiring).Check.URL {
			t.Errorf("actions: %+v", c.Actions)
		}
	}
	var m teamsBody
	decode(t, reqs[0].body, &m)
	facts := map[string]string{}
	texts := ""
	for _, b := range m.Attachments[0].Content.Body {
		for _, f := range b.Facts {
			facts[f.Title] = f.Value
		}
		texts += b.Text + "\n"
	}
	if facts["Step"] != "conditional update" || facts["Reason"] != "assertion" || facts["Failed runs"] != "3 of 3" ||
		facts["Incident"] != sampleEvent(KindFiring).Incident.ID || facts["Labels"] != "severity=page, team=docs" {
		t.Errorf("facts: %v", facts)
	}
	if !strings.Contains(texts, "status: expected 204, got 500") || !strings.Contains(texts, `step "conditional update": status: expected 204, got 500`) {
		t.Errorf("texts miss the message or the assertion:\n%s", texts)
	}
	// Bounded: the largest event stays under Teams' 28 KB.
	notify(t, n, hugeEvent())
	if b := r.got()[2].body; len(b) > 28<<10 {
		t.Errorf("a huge event makes a %d-byte Teams message", len(b))
	}
	errorClasses(t, r, n, secret)
}

type discordBody struct {
	Username string `json:"username"`
	Content  string `json:"content"`
	Embeds   []struct {
		Title       string `json:"title"`
		Description string `json:"description"`
		URL         string `json:"url"`
		Color       int    `json:"color"`
		Timestamp   string `json:"timestamp"`
		Fields      []struct {
			Name   string `json:"name"`
			Value  string `json:"value"`
			Inline bool   `json:"inline"`
		} `json:"fields"`
		Footer struct {
			Text string `json:"text"`
		} `json:"footer"`
	} `json:"embeds"`
	AllowedMentions *struct {
		Parse []string `json:"parse"`
	} `json:"allowed_mentions"`
}

// Rule: the discord notifier executes the webhook with ?wait=true and one
// embed: title, description, colour by state, fields, footer, timestamp;
// mentions off; every text within Discord's limits.
func TestDiscordRequest(t *testing.T) {
	r := newReceiver(t, http.StatusOK, `{"id":"1"}`)
	token := "T0KENxyz"
	n := notifierFor(t, &NotifierConfig{Type: TypeDiscord, URL: r.URL + "/api/webhooks/123/" + token + "?thread_id=9"})
	notify(t, n, sampleEvent(KindFiring))
	notify(t, n, sampleEvent(KindResolved))
	rem := sampleEvent(KindFiring)
	rem.Kind = KindReminder
	notify(t, n, rem)
	reqs := r.got()
	golden(t, "discord_firing", reqs[0].body)
	golden(t, "discord_resolved", reqs[1].body)
	if req := reqs[0]; req.method != http.MethodPost || req.path != "/api/webhooks/123/"+token || req.query != "thread_id=9&wait=true" ||
		req.header.Get("Content-Type") != "application/json" {
		t.Errorf("request %s %s?%s %v", req.method, req.path, req.query, req.header)
	}
	for i, want := range []struct {
		title string
		color int
	}{{"[FIRING] documents-conditional-update", discordRed}, {"[RESOLVED] documents-conditional-update", discordGreen}, {"[REMINDER] documents-conditional-update", discordAmber}} {
		var m discordBody
		decode(t, reqs[i].body, &m)
		if len(m.Embeds) != 1 || m.AllowedMentions == nil || m.AllowedMentions.Parse == nil || len(m.AllowedMentions.Parse) != 0 {
			t.Fatalf("message: %s", reqs[i].body)
		}
		e := m.Embeds[0]
		if e.Title != want.title || e.Color != want.color || e.URL != sampleEvent(KindFiring).Check.URL || e.Timestamp == "" ||
			!strings.Contains(e.Footer.Text, sampleEvent(KindFiring).Incident.ID) {
			t.Errorf("embed %d: %+v", i, e)
		}
	}
	var m discordBody
	decode(t, reqs[0].body, &m)
	if d := m.Embeds[0].Description; !strings.Contains(d, "status: expected 204, got 500") || !strings.Contains(d, "```") {
		t.Errorf("description: %q", d)
	}

	// Every limit holds for a huge event: title 256, description 4096,
	// field name 256 and value 1024, at most 25 fields, 6000 in all; and
	// when the fields and the footer alone would pass 6000 (a huge
	// incident id and reason), fields go and the summary stays.
	longest := hugeEvent()
	longest.Incident.ID = strings.Repeat("i", 3000)
	longest.Failure.Reason = strings.Repeat("r", 3000)
	for i, ev := range []*Event{hugeEvent(), longest} {
		before := len(r.got())
		notify(t, n, ev)
		decode(t, r.got()[before].body, &m)
		e := m.Embeds[0]
		total := runes(e.Title) + runes(e.Description) + runes(e.Footer.Text)
		if runes(e.Title) > 256 || runes(e.Description) > 4096 || runes(e.Description) < 1000 || len(e.Fields) > 25 || runes(e.Footer.Text) > 2048 {
			t.Errorf("event %d: limits: title %d, description %d, fields %d", i, runes(e.Title), runes(e.Description), len(e.Fields))
		}
		for _, f := range e.Fields {
			total += runes(f.Name) + runes(f.Value)
			if runes(f.Name) > 256 || runes(f.Value) > 1024 || f.Value == "" {
				t.Errorf("event %d: field %q: name %d, value %d", i, f.Name, runes(f.Name), runes(f.Value))
			}
		}
		if total > 6000 {
			t.Errorf("event %d: embed total %d > 6000", i, total)
		}
	}

	// Markdown and mentions in a check's text stay text.
	ev := sampleEvent(KindFiring)
	ev.Failure.Message = "@everyone **bold** ```x```"
	notify(t, n, ev)
	decode(t, r.got()[len(r.got())-1].body, &m)
	if d := m.Embeds[0].Description; !strings.Contains(d, `\*\*bold\*\*`) || strings.Contains(d, "```x```") {
		t.Errorf("markup not escaped: %q", d)
	}
	errorClasses(t, r, n, token)
}

// Rule: a Discord 429 is retried after the longer of Retry-After and the
// body's retry_after (fractional seconds, rounded up to the millisecond).
func TestDiscordRateLimit(t *testing.T) {
	for _, tc := range []struct {
		header, body string
		want         time.Duration
	}{
		{"1", `{"message":"You are being rate limited.","retry_after":2.5,"global":false}`, 2500 * time.Millisecond},
		{"7", `{"message":"You are being rate limited.","retry_after":0.3,"global":false}`, 7 * time.Second},
		{"", `{"retry_after":0.0004}`, time.Millisecond},
		{"3", `not json`, 3 * time.Second},
	} {
		r := newReceiver(t, http.StatusTooManyRequests, tc.body)
		if tc.header != "" {
			r.header = map[string]string{"Retry-After": tc.header}
		}
		n := notifierFor(t, &NotifierConfig{Type: TypeDiscord, URL: r.URL + "/api/webhooks/1/x"})
		retry, err := n.Notify(context.Background(), sampleEvent(KindFiring))
		de, ok := err.(*DeliveryError)
		if !retry || !ok || de.Reason != Reason429 || de.RetryAfter != tc.want {
			t.Errorf("Retry-After %q, body %s: retry=%v err=%#v, want RetryAfter %v", tc.header, tc.body, retry, err, tc.want)
		}
	}
}

type opsgenieCreateBody struct {
	Message     string            `json:"message"`
	Alias       string            `json:"alias"`
	Description string            `json:"description"`
	Tags        []string          `json:"tags"`
	Details     map[string]string `json:"details"`
	Entity      string            `json:"entity"`
	Source      string            `json:"source"`
	Priority    string            `json:"priority"`
}

// Rule: the opsgenie notifier creates an alert (POST /v2/alerts) whose
// alias is the incident id, and closes that alias on recovery (POST
// /v2/alerts/ID/close?identifierType=alias), with Authorization: GenieKey.
func TestOpsgenieRequests(t *testing.T) {
	r := newReceiver(t, http.StatusAccepted, `{"result":"Request will be processed","took":0.01,"requestId":"43a29c5c"}`)
	key := "eb243592-faa2-4ba2-a551q-1afdf565c889"
	n := notifierFor(t, &NotifierConfig{Type: TypeOpsgenie, APIKey: key, URL: r.URL + "/"})
	notify(t, n, sampleEvent(KindFiring))
	notify(t, n, sampleEvent(KindResolved))
	reqs := r.got()
	golden(t, "opsgenie_create", reqs[0].body)
	golden(t, "opsgenie_close", reqs[1].body)
	id := sampleEvent(KindFiring).Incident.ID
	for i, want := range []struct{ path, query string }{{"/v2/alerts", ""}, {"/v2/alerts/" + id + "/close", "identifierType=alias"}} {
		req := reqs[i]
		if req.method != http.MethodPost || req.path != want.path || req.query != want.query ||
			req.header.Get("Authorization") != "GenieKey "+key || req.header.Get("Content-Type") != "application/json" {
			t.Errorf("request %d: %s %s?%s %v, want POST %s?%s", i, req.method, req.path, req.query, req.header, want.path, want.query)
		}
	}
	var c opsgenieCreateBody
	decode(t, reqs[0].body, &c)
	if c.Alias != id || c.Priority != "P3" || c.Source != "assay" || c.Entity != "documents-conditional-update" ||
		c.Message != `documents-conditional-update is failing: step "conditional update": status: expected 204, got 500` ||
		c.Details["check"] != "documents-conditional-update" || c.Details["incident"] != id || c.Details["reason"] != "assertion" ||
		c.Details["check_url"] != sampleEvent(KindFiring).Check.URL || !strings.Contains(c.Description, "status: expected 204, got 500") {
		t.Errorf("create: %+v", c)
	}
	var cl struct{ Source, Note string }
	decode(t, reqs[1].body, &cl)
	if cl.Source != "assay" || !strings.Contains(cl.Note, "recovered") {
		t.Errorf("close: %+v", cl)
	}
	// A check's priority label with an Opsgenie value wins; a reminder
	// creates again under the same alias.
	ev := sampleEvent(KindFiring)
	ev.Kind = KindReminder
	ev.Check.Labels = map[string]string{"priority": "P1"}
	notify(t, n, ev)
	decode(t, r.got()[2].body, &c)
	if c.Priority != "P1" || c.Alias != id || r.got()[2].path != "/v2/alerts" {
		t.Errorf("reminder with label priority P1: %+v", c)
	}
	// Bounded: message 130, description 15000, alias 512, at most 20
	// tags of 50, details 8000 in all.
	notify(t, n, hugeEvent())
	decode(t, r.got()[3].body, &c)
	details := 0
	for k, v := range c.Details {
		details += runes(k) + runes(v)
	}
	if runes(c.Message) > 130 || runes(c.Description) > 15000 || runes(c.Entity) > 512 || len(c.Tags) > 20 || details > 8000 {
		t.Errorf("limits: message %d, description %d, entity %d, tags %d, details %d", runes(c.Message), runes(c.Description), runes(c.Entity), len(c.Tags), details)
	}
	for _, tag := range c.Tags {
		if runes(tag) > 50 {
			t.Errorf("tag of %d characters", runes(tag))
		}
	}
	errorClasses(t, r, n, key)
}

// Rule: an Opsgenie test is a create (P5) and its close, so it leaves no
// open alert; both answers are shown.
func TestOpsgenieTest(t *testing.T) {
	r := newReceiver(t, http.StatusAccepted, `{"result":"Request will be processed"}`)
	responses, retry, err := SendTest(context.Background(), &NotifierConfig{Name: "og", Type: TypeOpsgenie, APIKey: "k", URL: r.URL}, "", nil)
	reqs := r.got()
	if err != nil || retry || len(responses) != 2 || len(reqs) != 2 || responses[0].Status != 202 {
		t.Fatalf("test: %v %v %+v", err, retry, responses)
	}
	var c opsgenieCreateBody
	decode(t, reqs[0].body, &c)
	if reqs[0].path != "/v2/alerts" || c.Priority != "P5" || reqs[1].path != "/v2/alerts/"+c.Alias+"/close" || c.Alias == "" {
		t.Errorf("test requests: %s %+v then %s", reqs[0].path, c, reqs[1].path)
	}
}

type ntfyBody struct {
	Topic    string   `json:"topic"`
	Title    string   `json:"title"`
	Message  string   `json:"message"`
	Priority int      `json:"priority"`
	Tags     []string `json:"tags"`
	Click    string   `json:"click"`
	Actions  []struct {
		Action, Label, URL string
	} `json:"actions"`
}

// Rule: the ntfy notifier publishes JSON to the server's root with the
// topic in the body; priority and tags follow the state (firing 4, or 5
// for a critical or page severity; reminder 4; resolved and test 3); a
// token goes in Authorization: Bearer.
func TestNtfyRequest(t *testing.T) {
	r := newReceiver(t, http.StatusOK, `{"id":"x","event":"message"}`)
	n := notifierFor(t, &NotifierConfig{Type: TypeNtfy, URL: r.URL + "/ntfy/assay-alerts", Token: "tk_s3cret"})
	notify(t, n, sampleEvent(KindFiring))
	notify(t, n, sampleEvent(KindResolved))
	plain := sampleEvent(KindFiring)
	plain.Check.Labels = map[string]string{"severity": "warning"}
	notify(t, n, plain)
	rem := sampleEvent(KindFiring)
	rem.Kind = KindReminder
	rem.Check.Labels = nil
	notify(t, n, rem)
	reqs := r.got()
	golden(t, "ntfy_firing", reqs[0].body)
	golden(t, "ntfy_resolved", reqs[1].body)
	for i, want := range []struct {
		priority int
		tag      string
		title    string
	}{{5, "rotating_light", "[FIRING] documents-conditional-update"}, {3, "white_check_mark", "[RESOLVED] documents-conditional-update"},
		{4, "rotating_light", "[FIRING] documents-conditional-update"}, {4, "warning", "[REMINDER] documents-conditional-update"}} {
		req := reqs[i]
		if req.method != http.MethodPost || req.path != "/ntfy/" || req.header.Get("Authorization") != "Bearer tk_s3cret" ||
			req.header.Get("Content-Type") != "application/json" {
			t.Errorf("request %d: %s %s %v", i, req.method, req.path, req.header)
		}
		var m ntfyBody
		decode(t, req.body, &m)
		if m.Topic != "assay-alerts" || m.Priority != want.priority || len(m.Tags) == 0 || m.Tags[0] != want.tag || m.Title != want.title ||
			m.Click != sampleEvent(KindFiring).Check.URL {
			t.Errorf("message %d: %+v, want priority %d tag %s", i, m, want.priority, want.tag)
		}
	}
	var m ntfyBody
	decode(t, reqs[0].body, &m)
	if !strings.HasPrefix(m.Message, `documents-conditional-update is failing: step "conditional update"`) || !strings.Contains(m.Message, "status: expected 204, got 500") ||
		len(m.Actions) != 1 || m.Actions[0].Action != "view" || m.Actions[0].URL != sampleEvent(KindFiring).Check.URL {
		t.Errorf("message: %+v", m)
	}
	// Bounded: the message under ntfy's 4096 bytes, valid UTF-8.
	huge := hugeEvent()
	huge.Failure.Message = strings.Repeat("é", 10000)
	notify(t, n, huge)
	decode(t, r.got()[4].body, &m)
	if len(m.Message) > 4096 || !utf8.ValidString(m.Message) || runes(m.Title) > 250 {
		t.Errorf("huge event: message %d bytes (valid %v), title %d", len(m.Message), utf8.ValidString(m.Message), runes(m.Title))
	}
	// Without a token there is no Authorization header.
	open := notifierFor(t, &NotifierConfig{Type: TypeNtfy, URL: r.URL + "/assay-alerts"})
	notify(t, open, sampleEvent(KindFiring))
	if req := r.got()[5]; req.header.Get("Authorization") != "" || req.path != "/" {
		t.Errorf("no token: %s %v", req.path, req.header)
	}
	errorClasses(t, r, n, "tk_s3cret")
}

// Rule: assay notify test works for every new HTTP kind: the test event
// goes out and the receiver's answer comes back.
func TestSendTestThroughNewHTTPNotifiers(t *testing.T) {
	for _, tc := range []struct {
		cfg    NotifierConfig
		status int
		want   int // requests
	}{
		{NotifierConfig{Type: TypeTeams}, http.StatusAccepted, 1},
		{NotifierConfig{Type: TypeDiscord}, http.StatusOK, 1},
		{NotifierConfig{Type: TypeNtfy}, http.StatusOK, 1},
		{NotifierConfig{Type: TypeOpsgenie, APIKey: "k"}, http.StatusAccepted, 2},
	} {
		r := newReceiver(t, tc.status, "")
		cfg := tc.cfg
		cfg.Name = "t-" + cfg.Type
		cfg.URL = r.URL + "/topic"
		responses, retry, err := SendTest(context.Background(), &cfg, "https://assay.example.com", nil)
		if err != nil || retry || len(responses) != tc.want || responses[0].Status != tc.status || len(r.got()) != tc.want {
			t.Errorf("%s: err=%v retry=%v responses=%+v", cfg.Type, err, retry, responses)
			continue
		}
		if b := string(r.got()[0].body); !strings.Contains(b, "TEST") && !strings.Contains(b, "test") {
			t.Errorf("%s: not a test event: %s", cfg.Type, b)
		}
	}
}
