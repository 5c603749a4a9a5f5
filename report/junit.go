package report

import (
	"encoding/xml"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/assay-monitor/assay/checks"
)

// JUnit XML in the common Jenkins / Surefire / GitLab dialect: one
// <testsuite> per check, one <testcase> per step of the deciding attempt.

type junitTestsuites struct {
	XMLName  xml.Name         `xml:"testsuites"`
	Name     string           `xml:"name,attr"`
	Tests    int              `xml:"tests,attr"`
	Failures int              `xml:"failures,attr"`
	Errors   int              `xml:"errors,attr"`
	Time     string           `xml:"time,attr"`
	Suites   []junitTestsuite `xml:"testsuite"`
}

type junitTestsuite struct {
	Name       string           `xml:"name,attr"`
	Tests      int              `xml:"tests,attr"`
	Failures   int              `xml:"failures,attr"`
	Errors     int              `xml:"errors,attr"`
	Skipped    int              `xml:"skipped,attr"`
	Time       string           `xml:"time,attr"`
	Timestamp  string           `xml:"timestamp,attr,omitempty"`
	Properties *junitProperties `xml:"properties,omitempty"`
	Testcases  []junitTestcase  `xml:"testcase"`
	SystemOut  *junitText       `xml:"system-out,omitempty"`
}

type junitProperties struct {
	Property []junitProperty `xml:"property"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitTestcase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	// SystemOut lists the HTTP semantics findings of a step that passed.
	SystemOut *junitText `xml:"system-out,omitempty"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

type junitText struct {
	Text string `xml:",chardata"`
}

// MarshalXML writes the failure body with literal newlines; struct
// chardata would turn every newline into &#xA; and make the file hard to
// read. EncodeToken still escapes <, & and quotes.
func (f junitFailure) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	start.Attr = append(start.Attr,
		xml.Attr{Name: xml.Name{Local: "message"}, Value: f.Message},
		xml.Attr{Name: xml.Name{Local: "type"}, Value: f.Type})
	return encodeText(e, start, f.Text)
}

// MarshalXML writes the text with literal newlines, as for junitFailure.
func (t junitText) MarshalXML(e *xml.Encoder, start xml.StartElement) error {
	return encodeText(e, start, t.Text)
}

func encodeText(e *xml.Encoder, start xml.StartElement, text string) error {
	if err := e.EncodeToken(start); err != nil {
		return err
	}
	if err := e.EncodeToken(xml.CharData(clean(text))); err != nil {
		return err
	}
	return e.EncodeToken(start.End())
}

// junitTimestamp is ISO 8601 without a zone, in UTC, as the JUnit schema's
// timestamp pattern requires.
const junitTimestamp = "2006-01-02T15:04:05"

// maxMessage bounds the failure message attribute; the body has the rest.
const maxMessage = 500

// WriteJUnit writes results as JUnit XML to w. The root <testsuites> is
// named suiteName; each check is a <testsuite>, each step of its deciding
// (last) attempt a <testcase> whose classname is the check name. A failed
// step carries <failure message type="reason"> with the failed assertions,
// findings, the request and the response (status, headers, body excerpt,
// diff against the last passing run) in its body; a step that never ran
// carries <skipped>. The check's finally steps are test cases too, named
// "finally: NAME"; a skipped one says why. A check that failed outside any
// step gets one extra testcase named after the check. Text is escaped, and characters XML 1.0
// forbids are replaced, so the document is always well formed.
func WriteJUnit(w io.Writer, results []*checks.Result, suiteName string) error {
	doc := junitTestsuites{Name: oneLine(suiteName)}
	var total float64
	for _, r := range results {
		if r == nil {
			continue
		}
		ts := junitSuite(r)
		doc.Tests += ts.Tests
		doc.Failures += ts.Failures
		if r.Duration > 0 {
			total += r.Duration.Seconds()
		}
		doc.Suites = append(doc.Suites, ts)
	}
	doc.Time = fmt.Sprintf("%.3f", total)

	if _, err := io.WriteString(w, xml.Header); err != nil {
		return fmt.Errorf("junit report: %w", err)
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("junit report: %w", err)
	}
	if err := enc.Close(); err != nil {
		return fmt.Errorf("junit report: %w", err)
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return fmt.Errorf("junit report: %w", err)
	}
	return nil
}

func junitSuite(r *checks.Result) junitTestsuite {
	name := oneLine(r.Check)
	ts := junitTestsuite{
		Name:       name,
		Time:       seconds(r.Duration),
		Properties: junitProps(r),
	}
	if !r.Started.IsZero() {
		ts.Timestamp = r.Started.UTC().Format(junitTimestamp)
	}

	steps := r.Steps()
	failedCase := false
	for i := range steps {
		s := &steps[i]
		tc := junitTestcase{Name: stepName(s, i), Classname: name, Time: seconds(s.Timings.Total)}
		switch {
		case s.Skipped:
			tc.Time = seconds(0)
			tc.Skipped = &junitSkipped{Message: skippedMessage(s)}
			ts.Skipped++
		case !s.Passed:
			tc.Failure = &junitFailure{
				Message: truncate(stepMessage(s), maxMessage),
				Type:    reasonOr(s.Reason, r.Reason),
				Text:    stepFailureText(s),
			}
			ts.Failures++
			failedCase = true
		default:
			tc.SystemOut = findingsText(s)
		}
		ts.Testcases = append(ts.Testcases, tc)
	}
	if !r.Passed && !failedCase {
		// The check failed where no step shows it: before the first step,
		// between steps, or on a deadline. Represent it once, by name.
		ts.Testcases = append(ts.Testcases, junitTestcase{
			Name:      name,
			Classname: name,
			Time:      seconds(r.Duration),
			Failure: &junitFailure{
				Message: truncate(checkMessage(r), maxMessage),
				Type:    reasonOr(r.Reason),
				Text:    checkFailureText(r),
			},
		})
		ts.Failures++
	}
	ts.Tests = len(ts.Testcases)

	if len(r.Attempts) > 1 {
		var b strings.Builder
		fmt.Fprintf(&b, "attempts: %d\n", len(r.Attempts))
		for i, a := range r.Attempts {
			b.WriteString(attemptLine(a, i))
			b.WriteByte('\n')
		}
		ts.SystemOut = &junitText{Text: b.String()}
	}
	return ts
}

// junitProps lists the file, labels (label.KEY) and tags (one "tag"
// property each) of a check, or nil when it has none.
func junitProps(r *checks.Result) *junitProperties {
	var ps []junitProperty
	if r.File != "" {
		ps = append(ps, junitProperty{Name: "file", Value: oneLine(r.File)})
	}
	for _, k := range slices.Sorted(maps.Keys(r.Labels)) {
		ps = append(ps, junitProperty{Name: "label." + oneLine(k), Value: oneLine(r.Labels[k])})
	}
	for _, t := range r.Tags {
		ps = append(ps, junitProperty{Name: "tag", Value: oneLine(t)})
	}
	if len(ps) == 0 {
		return nil
	}
	return &junitProperties{Property: ps}
}

// stepFailureText is the body of a failed step's <failure>.
func stepFailureText(s *checks.StepResult) string {
	var b strings.Builder
	first := true
	for _, a := range s.Assertions {
		if a.Passed {
			continue
		}
		if first && s.Message != "" && oneLine(s.Message) != assertionMessage(a) {
			b.WriteString(clean(s.Message))
			b.WriteByte('\n')
		}
		first = false
		fmt.Fprintf(&b, "assertion failed: %s\n", assertionMessage(a))
		fmt.Fprintf(&b, "  expected: %s\n", indent(clean(a.Expected), "            "))
		fmt.Fprintf(&b, "  actual:   %s\n", indent(clean(a.Actual), "            "))
	}
	if first && s.Message != "" {
		// No failed assertion: the message is the whole story.
		b.WriteString(clean(s.Message))
		b.WriteByte('\n')
	}
	for _, f := range s.Findings {
		fmt.Fprintf(&b, "finding [%s] %s", oneLine(f.Level), oneLine(f.Rule))
		if f.Section != "" {
			fmt.Fprintf(&b, " (%s)", oneLine(f.Section))
		}
		fmt.Fprintf(&b, ": %s\n", oneLine(f.Message))
	}
	fmt.Fprintf(&b, "request: %s\n", requestLine(s.Request))
	if s.Response != nil {
		fmt.Fprintf(&b, "response: %s\n", statusLine(s.Response))
		if ev := stepEvidence(s); ev != nil {
			for _, l := range ev.lines("", "body: ", func(t string) string { return t }) {
				b.WriteString(l)
				b.WriteByte('\n')
			}
		}
	}
	return b.String()
}

// checkFailureText is the body of a check-level <failure>.
func checkFailureText(r *checks.Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", clean(checkMessage(r)))
	for i, a := range r.Attempts {
		if len(r.Attempts) > 1 {
			b.WriteString(attemptLine(a, i))
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// truncate cuts a one-line s to at most n runes.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	rs := []rune(s)
	if len(rs) <= n {
		return s
	}
	return string(rs[:n]) + "..."
}
