package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/history"
)

// evidenceView is what a run sent, received and concluded, step by step.
// It is built only for the operators' page, never in public mode.
type evidenceView struct {
	ID       int64
	Href     string
	Default  bool // shown because the latest run failed, not asked for
	Started  string
	Duration string
	Passed   bool
	Reason   string
	Message  string
	Attempt  int
	Attempts int
	Earlier  []attemptBrief
	Steps    []stepView
	// SummaryOnly is a stored run kept without its evidence.
	SummaryOnly bool
	FailingStep string
	CutSteps    int
	diffs       []*diffView
}

// attemptBrief is an attempt before the last one.
type attemptBrief struct {
	Number   int
	Duration string
	Reason   string
	Message  string
}

// stepView is one step of the deciding attempt.
type stepView struct {
	Name string
	// Finally marks a teardown step (the check's finally:).
	Finally       bool
	State         string // passed, failed or skipped
	Open          bool   // failed steps are unfolded
	Reason        string
	Message       string
	Assertions    []assertionView
	CutAssertions int
	Failed        int // failed assertions
	Findings      []findingView
	Request       requestView
	Response      *responseView
	Timings       []timingRow
	TLS           *tlsView
	Captures      []kv
	Diff          *diffView
}

type assertionView struct {
	Name, Expected, Actual, Message string
	Passed                          bool
}

type findingView struct {
	Rule, Section, Level, Expected, Actual, Message string
	Failed                                          bool
}

type requestView struct {
	Method, URL string
	Headers     []kv
	Body        bodyView
	Auth        string
}

type responseView struct {
	StatusLine string
	// Outcome is the status code, or a probe's line: what the step's
	// summary shows after the method.
	Outcome string
	// Bad colours the status line: an HTTP error status, or a probe's
	// answer that failed the step.
	Bad       bool
	Headers   []kv
	Body      bodyView
	Size      string
	Truncated bool
}

// bodyView is a body as the page shows it: pretty-printed when it is JSON,
// cut at maxBodyRender.
type bodyView struct {
	Text  string
	JSON  bool
	Cut   bool
	Empty bool
}

type tlsView struct {
	Version, Subject, Issuer, NotAfter string
	Days                               string
	Soon                               bool
}

// timingRow is a phase of a request, drawn as a bar on a shared scale.
type timingRow struct {
	Phase, Value string
	X, W         string // the bar, in percent of the total
}

// diffView is a step's response against its last passing one.
type diffView struct {
	BaselineID   int64
	BaselineHref string
	BaselineTime string
	Status       *changeView
	Headers      []changeView
	JSON         []changeView
	Text         []diffLine
	CutText      bool
	Truncated    bool
	Empty        bool
}

type changeView struct {
	Name, Change, From, To string
}

// diffLine is a line of a unified diff with its role: add, del, hunk, meta
// or ctx.
type diffLine struct {
	Class, Text string
}

// storedEvidence is the evidence of a run read from the history.
func storedEvidence(run *history.Run, byDefault bool) *evidenceView {
	if run.Result == nil {
		return &evidenceView{ID: run.ID, Default: byDefault, Started: fmtTime(run.Started),
			Duration: fmtDur(secs(run.DurationSeconds)), Passed: run.Passed, Reason: string(run.Reason),
			Message: short(run.Message, maxCellText), FailingStep: short(run.FailingStep, 200), SummaryOnly: true}
	}
	ev := newEvidence(run.Result, byDefault)
	if ev.ID == 0 {
		ev.ID = run.ID
	}
	return ev
}

// newEvidence builds the view of a full result.
func newEvidence(r *checks.Result, byDefault bool) *evidenceView {
	ev := &evidenceView{ID: r.ID, Default: byDefault, Started: fmtTime(r.Started), Duration: fmtDur(r.Duration),
		Passed: r.Passed, Reason: string(r.Reason), Message: short(r.Message, maxCellText), Attempts: len(r.Attempts)}
	if n := len(r.Attempts); n > 0 {
		ev.Attempt = r.Attempts[n-1].Number
		for _, a := range r.Attempts[:n-1] {
			ev.Earlier = append(ev.Earlier, attemptBrief{Number: a.Number, Duration: fmtDur(a.Duration),
				Reason: reasonText(string(a.Reason)), Message: short(oneLine(a.Message), maxRowMessage)})
		}
	}
	steps := r.Steps()
	if len(steps) > maxSteps {
		ev.CutSteps = len(steps) - maxSteps
		steps = steps[:maxSteps]
	}
	for i := range steps {
		sv := newStepView(&steps[i])
		if sv.Diff != nil {
			ev.diffs = append(ev.diffs, sv.Diff)
		}
		ev.Steps = append(ev.Steps, sv)
	}
	if len(ev.Steps) == 0 && !r.Passed {
		ev.SummaryOnly = true
	}
	return ev
}

// link sets the evidence's own links once the page knows where it is.
func (ev *evidenceView) link(l linker, name string, cq checkQuery) {
	self := func(id int64) string {
		return "./" + url.PathEscape(name) + l.query(url.Values{"run": {strconv.FormatInt(id, 10)}}) + "#evidence"
	}
	if ev.ID > 0 {
		ev.Href = self(ev.ID)
	}
	for _, d := range ev.diffs {
		if d.BaselineID > 0 {
			d.BaselineHref = self(d.BaselineID)
		}
	}
}

func newStepView(s *checks.StepResult) stepView {
	sv := stepView{Name: short(s.Name, 300), Finally: s.Finally, Reason: string(s.Reason), Message: short(s.Message, maxCellText)}
	switch {
	case s.Skipped:
		sv.State = "skipped"
	case s.Passed:
		sv.State = "passed"
	default:
		sv.State, sv.Open = "failed", true
	}
	as := s.Assertions
	if len(as) > maxAssertions {
		sv.CutAssertions = len(as) - maxAssertions
		as = as[:maxAssertions]
	}
	for _, a := range as {
		if !a.Passed {
			sv.Failed++
		}
		sv.Assertions = append(sv.Assertions, assertionView{Name: short(a.Name, 300), Expected: short(a.Expected, maxCellText),
			Actual: short(a.Actual, maxCellText), Message: short(a.Message, maxCellText), Passed: a.Passed})
	}
	for _, f := range s.Findings[:min(len(s.Findings), maxFindings)] {
		sv.Findings = append(sv.Findings, findingView{Rule: short(f.Rule, 100), Section: short(f.Section, 100), Level: short(f.Level, 20),
			Expected: short(f.Expected, maxCellText), Actual: short(f.Actual, maxCellText), Message: short(f.Message, maxCellText), Failed: f.Failed})
	}
	sv.Request = requestView{Method: short(s.Request.Method, 20), URL: short(s.Request.URL, maxCellText),
		Headers: headerRows(s.Request.Headers), Body: newBody(s.Request.Body, headerValue(s.Request.Headers, "Content-Type"))}
	if a := s.Request.Auth; a != nil {
		sv.Request.Auth = short(a.Type, 20)
		if a.Username != "" {
			sv.Request.Auth += " " + short(a.Username, 200)
		}
		sv.Request.Auth += " " + short(a.Secret, 200)
	}
	if resp := s.Response; resp != nil {
		outcome := strconv.Itoa(resp.Status)
		if resp.Line != "" {
			outcome = short(resp.Line, 80)
		}
		rv := &responseView{Outcome: outcome, Bad: resp.Status >= 400 || resp.Line != "" && !s.Passed, StatusLine: statusLine(resp), Headers: headerRows(resp.Headers),
			Body: newBody(resp.Body, headerValue(resp.Headers, "Content-Type")), Truncated: resp.Truncated,
			Size: fmt.Sprintf("%d bytes", resp.BodySize)}
		sv.Response = rv
	}
	sv.Timings = timingRows(s.Timings)
	if t := s.TLS; t != nil {
		sv.TLS = &tlsView{Version: short(t.Version, 40), Subject: short(t.Subject, 500), Issuer: short(t.Issuer, 500),
			NotAfter: fmtTime(t.NotAfter), Days: fmt.Sprintf("%.1f", t.DaysRemaining), Soon: t.DaysRemaining < 14}
	}
	names := make([]string, 0, len(s.Captures))
	for k := range s.Captures {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names[:min(len(names), 100)] {
		sv.Captures = append(sv.Captures, kv{K: short(k, 100), V: short(s.Captures[k], maxCellText)})
	}
	sv.Diff = newDiffView(s.Diff)
	return sv
}

func statusLine(r *checks.ResponseSummary) string {
	proto := r.Proto
	if proto == "" {
		proto = "HTTP"
	}
	if r.Line != "" { // a probe's answer
		return short(proto, 20) + " " + short(r.Line, maxCellText)
	}
	line := short(proto, 20) + " " + strconv.Itoa(r.Status)
	if t := http.StatusText(r.Status); t != "" {
		line += " " + t
	}
	return line
}

func headerValue(h map[string][]string, name string) string {
	for k, vs := range h {
		if strings.EqualFold(k, name) && len(vs) > 0 {
			return vs[0]
		}
	}
	return ""
}

// newBody prepares a body: JSON (by content type or by its first byte) is
// indented when it parses whole; anything is cut at maxBodyRender.
func newBody(body, ctype string) bodyView {
	if body == "" {
		return bodyView{Empty: true}
	}
	var b bodyView
	text := body
	if len(body) <= maxBodyRender && looksJSON(body, ctype) {
		var buf bytes.Buffer
		if err := json.Indent(&buf, []byte(body), "", "  "); err == nil {
			text, b.JSON = buf.String(), true
		}
	}
	b.Text, b.Cut = clip(text, maxBodyRender)
	return b
}

func looksJSON(body, ctype string) bool {
	ct := strings.ToLower(ctype)
	if strings.Contains(ct, "json") {
		return true
	}
	t := strings.TrimSpace(body)
	return t != "" && (t[0] == '{' || t[0] == '[')
}

// timingRows draws the phases of a request on one scale: DNS, connect and
// TLS take their own time one after the other, the server answers by the
// first byte, the rest is the transfer.
func timingRows(t checks.Timings) []timingRow {
	if t.Total <= 0 {
		return nil
	}
	total := float64(t.Total)
	pct := func(d time.Duration) string {
		return strconv.FormatFloat(min(100, max(0, float64(d)/total*100)), 'f', 1, 64)
	}
	var rows []timingRow
	at := time.Duration(0)
	add := func(phase string, d time.Duration) {
		if d <= 0 {
			return
		}
		rows = append(rows, timingRow{Phase: phase, Value: fmtDur(d), X: pct(at), W: pct(d)})
		at += d
	}
	add("DNS", t.DNS)
	add("connect", t.Connect)
	add("TLS", t.TLS)
	if t.FirstByte > at {
		add("waiting", t.FirstByte-at)
	}
	if t.Total > at {
		add("transfer", t.Total-at)
	}
	rows = append(rows, timingRow{Phase: "total", Value: fmtDur(t.Total), X: "0", W: "100"})
	return rows
}

// newDiffView bounds a diff for the page.
func newDiffView(d *checks.ResponseDiff) *diffView {
	if d == nil {
		return nil
	}
	v := &diffView{BaselineID: d.BaselineRunID, Truncated: d.Truncated}
	if !d.BaselineTime.IsZero() {
		v.BaselineTime = fmtTime(d.BaselineTime)
	}
	if d.Status != nil {
		c := change(*d.Status)
		v.Status = &c
	}
	for _, c := range d.Headers[:min(len(d.Headers), maxDiffRows)] {
		v.Headers = append(v.Headers, change(c))
	}
	for _, c := range d.JSON[:min(len(d.JSON), maxDiffRows)] {
		v.JSON = append(v.JSON, change(c))
	}
	if len(d.Headers) > maxDiffRows || len(d.JSON) > maxDiffRows {
		v.Truncated = true
	}
	text, cut := clip(d.Text, maxBodyRender)
	v.CutText = cut
	if text != "" {
		for i, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
			if i == maxDiffLines {
				v.CutText = true
				break
			}
			v.Text = append(v.Text, diffLine{Class: diffClass(line), Text: line})
		}
	}
	v.Empty = v.Status == nil && len(v.Headers) == 0 && len(v.JSON) == 0 && len(v.Text) == 0
	return v
}

func change(c checks.FieldChange) changeView {
	return changeView{Name: short(c.Name, 500), Change: short(c.Change, 20), From: short(c.From, maxCellText), To: short(c.To, maxCellText)}
}

func diffClass(line string) string {
	switch {
	case strings.HasPrefix(line, "+++"), strings.HasPrefix(line, "---"):
		return "meta"
	case strings.HasPrefix(line, "@@"):
		return "hunk"
	case strings.HasPrefix(line, "+"):
		return "add"
	case strings.HasPrefix(line, "-"):
		return "del"
	}
	return "ctx"
}
