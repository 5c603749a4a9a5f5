// Package diff compares a step's failed response with its last passing
// one: the status, the headers that changed, and the body (structurally
// by JSONPath for JSON, as a unified diff otherwise). It knows only the
// result types of package checks.
//
// Every diff is bounded: the number of changes, the lines of a text diff,
// the length of each value, the JSON depth walked and the size of a body
// compared line by line. A diff that hit a bound says so with Truncated.
package diff

import (
	"strconv"

	"github.com/assay-monitor/assay/checks"
)

// Options bound a diff; zero fields take the defaults.
type Options struct {
	// MaxChanges bounds the header and JSON changes listed (default 50).
	MaxChanges int
	// MaxTextLines bounds the lines of a unified text diff (default 60).
	MaxTextLines int
	// MaxValueLen bounds each From and To value, and each line of a text
	// diff, in bytes (default 200).
	MaxValueLen int
}

// Defaults of Options.
const (
	DefaultMaxChanges   = 50
	DefaultMaxTextLines = 60
	DefaultMaxValueLen  = 200
)

func (o Options) withDefaults() Options {
	if o.MaxChanges <= 0 {
		o.MaxChanges = DefaultMaxChanges
	}
	if o.MaxTextLines <= 0 {
		o.MaxTextLines = DefaultMaxTextLines
	}
	if o.MaxValueLen <= 0 {
		o.MaxValueLen = DefaultMaxValueLen
	}
	return o
}

// Responses returns what changed from before (the baseline) to after, or
// nil when nothing did (or either is nil). Headers that change on every
// response (volatileHeaders) are not compared. BaselineRunID and
// BaselineTime are left for the caller, which knows where before came from.
func Responses(before, after *checks.ResponseSummary, opts Options) *checks.ResponseDiff {
	if before == nil || after == nil {
		return nil
	}
	opts = opts.withDefaults()
	d := &checks.ResponseDiff{}
	if before.Status != after.Status {
		d.Status = &checks.FieldChange{Name: "status", Change: checks.ChangeChanged,
			From: strconv.Itoa(before.Status), To: strconv.Itoa(after.Status)}
	}
	budget := opts.MaxChanges
	d.Headers = headerChanges(before.Headers, after.Headers, budget, opts.MaxValueLen, &d.Truncated)
	budget -= len(d.Headers)
	bodies(d, before, after, budget, opts)
	if d.Status == nil && len(d.Headers) == 0 && len(d.JSON) == 0 && d.Text == "" {
		return nil
	}
	return d
}

// cut shortens s to at most n bytes on a rune boundary, ending it with "…"
// when it was cut.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "…"
	end := n - len(mark)
	if end < 0 {
		end = 0
	}
	for end > 0 && s[end]&0xC0 == 0x80 {
		end--
	}
	return s[:end] + mark
}

// IgnoredHeader reports whether a header changes on every response (Date,
// Age, request ids, ...) and so is left out of diffs and of what makes a
// new baseline.
func IgnoredHeader(name string) bool {
	// The history asks for every header of every passing response: lower
	// the case in a buffer on the stack rather than with strings.ToLower,
	// which allocates. Header names are ASCII tokens.
	if len(name) > maxVolatileLen {
		return false
	}
	var buf [maxVolatileLen]byte
	for i := range len(name) {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	return volatileHeaders[string(buf[:len(name)])]
}
