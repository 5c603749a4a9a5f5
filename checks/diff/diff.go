// Package diff compares a step's failed response with its last passing
// one: the status, the headers that changed, and the body (structurally
// by JSONPath for JSON, as a unified diff otherwise). It knows only the
// result types of package checks.
package diff

import "github.com/assay-monitor/assay/checks"

// Options bound a diff; zero fields take the defaults.
type Options struct {
	// MaxChanges bounds the header and JSON changes listed (default 50).
	MaxChanges int
	// MaxTextLines bounds the lines of a unified text diff (default 60).
	MaxTextLines int
	// MaxValueLen bounds each From and To value, in bytes (default 200).
	MaxValueLen int
}

// Responses returns what changed from before (the baseline) to after, or
// nil when nothing did.
func Responses(before, after *checks.ResponseSummary, opts Options) *checks.ResponseDiff {
	return nil // TODO(h-diff): replaced by the implementation
}

// IgnoredHeader reports whether a header changes on every response (Date,
// Age, request ids, ...) and so is left out of diffs and of what makes a
// new baseline.
func IgnoredHeader(name string) bool {
	return false // TODO(h-diff): replaced by the implementation
}
