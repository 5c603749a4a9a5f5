package report

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strings"

	"github.com/assay-monitor/assay/checks"
)

// curlSkipHeaders are request headers curl must not be given: Go sends
// none of them from a request's header map (it computes Content-Length
// and Transfer-Encoding itself, as curl does).
var curlSkipHeaders = map[string]bool{"Content-Length": true, "Transfer-Encoding": true, "Trailer": true}

// The engine's marks of a request body it did not record in full.
var (
	cutBody    = regexp.MustCompile(`…\((\d+) more bytes\)$`)
	binaryBody = regexp.MustCompile(`^\((\d+) bytes of binary data\)$`)
)

// Curl writes the steps of a result as curl command lines, one per step that ran.
//
// Each command is preceded by comments: the step and its verdict, the
// environment variables and captures it refers to as ${NAME} (the shell
// expands them; set them first), and a warning where a secret of unknown
// source shows as [REDACTED]. The request is the engine's summary: a
// reference stands for the value as sent, so a secret that the request
// carried percent-encoded or JSON-escaped is expanded as it is. Skipped
// steps and requests that could not be built are comments only.
func Curl(w io.Writer, r *checks.Result) error {
	if r == nil {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# check %s", commentText(r.Check))
	if r.ID != 0 {
		fmt.Fprintf(&b, " (run %d)", r.ID)
	}
	b.WriteString(": " + verdict(r.Passed, false, r.Reason, ""))
	if n := len(r.Attempts); n > 1 {
		fmt.Fprintf(&b, "; the steps of the last of %d attempts", n)
	}
	b.WriteByte('\n')
	steps := r.Steps()
	if len(steps) == 0 {
		b.WriteString("# no step ran\n")
	}
	capturedBy := map[string]int{} // capture name -> number of the last step that took it
	for i := range steps {
		s := &steps[i]
		b.WriteByte('\n')
		curlStep(&b, i+1, s, capturedBy)
		for name := range s.Captures {
			capturedBy[name] = i + 1
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func verdict(passed, skipped bool, reason checks.Reason, msg string) string {
	switch {
	case skipped:
		return "skipped (an earlier step failed)"
	case passed:
		return "passed"
	}
	v := "failed"
	if reason != "" {
		v += " (" + string(reason) + ")"
	}
	if msg != "" {
		v += ": " + commentText(truncate(msg, 200))
	}
	return v
}

func curlStep(b *strings.Builder, n int, s *checks.StepResult, capturedBy map[string]int) {
	v := verdict(s.Passed, s.Skipped, s.Reason, s.Message)
	name := commentText(s.Name)
	if s.Finally {
		name = finallyPrefix + name
		if s.Skipped {
			v = commentText(skippedMessage(s))
		}
	}
	fmt.Fprintf(b, "# step %d: %s: %s\n", n, name, v)
	if s.Skipped {
		return
	}
	if s.Reason == checks.ReasonTemplate {
		b.WriteString("# the request could not be built: nothing was sent\n")
		return
	}
	if s.Kind != "" {
		// curl speaks HTTP: a probe is told as what it asked.
		fmt.Fprintf(b, "# a %s probe, not an HTTP request: %s\n", s.Kind, commentText(s.Request.URL))
		if s.Request.Body != "" {
			fmt.Fprintf(b, "# it sent: %s\n", commentText(truncate(s.Request.Body, 200)))
		}
		return
	}
	req := &s.Request
	var notes []string
	var args []string // after the URL, one shell word or option and word each
	var values []string
	add := func(opt, v string) {
		args = append(args, opt+" "+shellQuote(v))
		values = append(values, v)
	}

	names := make([]string, 0, len(req.Headers))
	for k := range req.Headers {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		ck := http.CanonicalHeaderKey(k)
		if curlSkipHeaders[ck] || ck == "Authorization" && req.Auth != nil {
			continue
		}
		for _, v := range req.Headers[k] {
			if v == "" {
				add("-H", k+";") // "Name:" would tell curl to send no such header
			} else {
				add("-H", k+": "+v)
			}
		}
	}
	if a := req.Auth; a != nil {
		switch a.Type {
		case "basic":
			add("-u", a.Username+":"+a.Secret)
		case "bearer":
			add("-H", "Authorization: Bearer "+a.Secret)
		default:
			notes = append(notes, fmt.Sprintf("# auth of type %q is not rendered", commentText(a.Type)))
		}
	}
	body := req.Body
	if m := binaryBody.FindStringSubmatch(body); m != nil {
		notes = append(notes, "# the request body ("+m[1]+" bytes of binary data) was not recorded: the command sends none")
		body = ""
	} else if m := cutBody.FindStringSubmatchIndex(body); m != nil {
		notes = append(notes, "# the request body was cut to a preview ("+body[m[2]:m[3]]+" more bytes were not recorded): the command sends the preview only")
		body = body[:m[0]]
	}
	if body != "" {
		// A body starting with @ (or with a reference that might) would
		// make --data-binary read a file.
		opt := "--data-binary"
		if strings.HasPrefix(body, "@") || refLen(body) > 0 {
			opt = "--data-raw"
		}
		add(opt, body)
	}

	method := req.Method
	var first []string
	switch {
	case method == http.MethodHead && body == "":
		first = append(first, "-I")
	case method == "" || method == http.MethodGet && body == "":
	default:
		// GET with a body too: curl would POST it.
		first = append(first, "-X "+shellWord(method))
	}
	// curl reads [] and {} in a URL as globs; the engine sent them as is.
	if strings.ContainsAny(req.URL, "[]{}") {
		first = append(first, "-g")
	}
	first = append(first, shellQuote(req.URL))
	values = append(values, req.URL)

	if hasRedacted(values, req.URL) {
		b.WriteString("# [REDACTED] stands for a secret whose source assay does not know: replace it before running")
		if strings.Contains(strings.ReplaceAll(req.URL, checks.Redacted, ""), "REDACTED") {
			b.WriteString(" (in the URL it reads REDACTED)")
		}
		b.WriteByte('\n')
	}
	if needs := needsComment(values, capturedBy); needs != "" {
		b.WriteString(needs + "\n")
	}
	for _, note := range notes {
		b.WriteString(note + "\n")
	}
	b.WriteString("curl " + strings.Join(first, " "))
	for _, a := range args {
		b.WriteString(" \\\n  " + a)
	}
	b.WriteByte('\n')
}

// hasRedacted reports whether a value holds a secret the engine could not
// refer to: [REDACTED], or REDACTED in the URL's userinfo or query.
func hasRedacted(values []string, url string) bool {
	for _, v := range values {
		if strings.Contains(v, checks.Redacted) {
			return true
		}
	}
	return strings.Contains(url, "REDACTED")
}

// needsComment lists the references of the values: captures of earlier
// steps, else environment variables.
func needsComment(values []string, capturedBy map[string]int) string {
	seen := map[string]bool{}
	var env, captured []string
	for _, v := range values {
		for _, name := range refs(v) {
			if seen[name] {
				continue
			}
			seen[name] = true
			if _, ok := capturedBy[name]; ok {
				captured = append(captured, name)
			} else {
				env = append(env, name)
			}
		}
	}
	if len(env)+len(captured) == 0 {
		return ""
	}
	sort.Strings(env)
	sort.Strings(captured)
	var parts []string
	for _, name := range env {
		parts = append(parts, name+" (environment)")
	}
	for _, name := range captured {
		parts = append(parts, fmt.Sprintf("%s (captured by step %d: export it first)", name, capturedBy[name]))
	}
	return "# needs: " + strings.Join(parts, ", ")
}
