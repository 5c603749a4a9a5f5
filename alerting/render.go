package alerting

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/assay-monitor/assay/internal/oneline"
)

// The pieces of an event that the email, Opsgenie, Teams, Discord and
// ntfy notifiers show, kept here so that they all show the same things
// the Slack message does: the state, the check, the step, the reason,
// when it started, the run counts, the labels, the failed assertions, the
// diff against the last passing run, and links to the check and the run.

// Bounds of the rendered lists and lines: every provider has a size limit
// and a check's messages come from the responses it saw.
const (
	renderListMax  = 10  // assertions and diff lines shown
	renderLineMax  = 300 // runes of one assertion or diff line
	renderValueMax = 500 // runes of one fact's value
)

// eventState is the event's state in capitals: FIRING, REMINDER,
// RESOLVED or TEST.
func eventState(ev *Event) string {
	switch {
	case ev.Kind == KindTest:
		return "TEST"
	case ev.Status == StatusResolved:
		return "RESOLVED"
	case ev.Kind == KindReminder:
		return "REMINDER"
	}
	return "FIRING"
}

// eventHeadline is "[STATE] summary", one line.
func eventHeadline(ev *Event) string {
	return "[" + eventState(ev) + "] " + oneLineSummary(ev)
}

// eventTitle is "[STATE] check", the title of a chat message.
func eventTitle(ev *Event) string { return "[" + eventState(ev) + "] " + ev.Check.Name }

// oneLineSummary is the event's summary cleaned of control characters.
func oneLineSummary(ev *Event) string { return oneline.Clean(ev.Summary()) }

// fact is one name/value line of an event.
type fact struct {
	Name, Value string
}

// eventFacts are the event's name/value lines, in display order, each
// value one line of at most renderValueMax runes.
func eventFacts(ev *Event) []fact {
	fs := []fact{{"Check", ev.Check.Name}}
	if ev.Check.Description != "" {
		fs = append(fs, fact{"Description", ev.Check.Description})
	}
	if f := ev.Failure; f != nil {
		if f.Step != "" {
			fs = append(fs, fact{"Step", f.Step})
		}
		fs = append(fs, fact{"Reason", f.Reason})
	}
	fs = append(fs,
		fact{"Failing since", ev.Incident.Started.UTC().Format(time.RFC3339)},
		fact{"Failed runs", fmt.Sprintf("%d of %d", ev.Incident.FailedRuns, ev.Incident.Runs)})
	if ev.Incident.Resolved != nil {
		fs = append(fs, fact{"Resolved", ev.Incident.Resolved.UTC().Format(time.RFC3339)})
	}
	if len(ev.Check.Labels) > 0 {
		keys := slices.Sorted(maps.Keys(ev.Check.Labels))
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + "=" + ev.Check.Labels[k]
		}
		fs = append(fs, fact{"Labels", strings.Join(parts, ", ")})
	}
	fs = append(fs, fact{"Incident", ev.Incident.ID})
	for i := range fs {
		fs[i].Value = truncateRunes(oneline.Clean(fs[i].Value), renderValueMax)
	}
	return fs
}

// assertionLines are the failed assertions of a firing event, one line
// each ("status: expected 204, got 500"), at most renderListMax.
func assertionLines(ev *Event) []string {
	f := ev.Failure
	if f == nil || ev.Status != StatusFiring || len(f.Assertions) == 0 {
		return nil
	}
	var out []string
	for i, a := range f.Assertions {
		if i == renderListMax-1 && len(f.Assertions) > renderListMax {
			out = append(out, fmt.Sprintf("... and %d more", len(f.Assertions)-i))
			break
		}
		out = append(out, truncateRunes(oneline.Clean(fmt.Sprintf("%s: expected %s, got %s", a.Name, a.Expected, a.Actual)), renderLineMax))
	}
	return out
}

// diffLines is what changed since the step's last passing run, for a
// firing event, at most renderListMax lines.
func diffLines(ev *Event) []string {
	f := ev.Failure
	if f == nil || f.Diff == nil || ev.Status != StatusFiring {
		return nil
	}
	lines := f.Diff.Lines(renderListMax)
	for i, l := range lines {
		lines[i] = truncateRunes(l, renderLineMax)
	}
	return lines
}

// link is a labelled URL of an event.
type link struct {
	Title, URL string
}

// eventLinks are the check in assay's API and, while firing, the failed
// run with its evidence (server.external_url must be set for either).
func eventLinks(ev *Event) []link {
	var ls []link
	if ev.Check.URL != "" {
		ls = append(ls, link{"Open the check in assay", ev.Check.URL})
	}
	if f := ev.Failure; f != nil && f.RunURL != "" && ev.Status == StatusFiring {
		ls = append(ls, link{"Open the failed run", f.RunURL})
	}
	return ls
}

// eventFooter names the incident and the event, as Slack's context line.
func eventFooter(ev *Event) string {
	return fmt.Sprintf("assay · incident %s · event %d", ev.Incident.ID, ev.Sequence)
}

// eventText is the event as plain text: the headline, the facts, the
// assertions, the diff and the links.
func eventText(ev *Event) string {
	var b strings.Builder
	b.WriteString(eventHeadline(ev))
	b.WriteString("\n\n")
	for _, f := range eventFacts(ev) {
		fmt.Fprintf(&b, "%-14s %s\n", f.Name+":", f.Value)
	}
	if ls := assertionLines(ev); len(ls) > 0 {
		b.WriteString("\nFailed assertions:\n")
		for _, l := range ls {
			b.WriteString("  " + l + "\n")
		}
	}
	if ls := diffLines(ev); len(ls) > 0 {
		b.WriteString("\nChanged since the last passing run:\n")
		for _, l := range ls {
			b.WriteString("  " + l + "\n")
		}
	}
	if ls := eventLinks(ev); len(ls) > 0 {
		b.WriteString("\n")
		for _, l := range ls {
			fmt.Fprintf(&b, "%s: %s\n", l.Title, l.URL)
		}
	}
	b.WriteString("\n-- \n" + eventFooter(ev) + "\n")
	return b.String()
}

// truncateBytes cuts s to at most n bytes of valid UTF-8, marking a cut
// with "…" (for limits counted in bytes, as ntfy's).
func truncateBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:max(0, n-len("…"))]
	for !utf8.ValidString(s) && len(s) > 0 {
		s = s[:len(s)-1]
	}
	return s + "…"
}
