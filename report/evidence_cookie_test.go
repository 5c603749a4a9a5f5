package report

import (
	"testing"

	"github.com/assay-monitor/assay/checks"
)

// TestCookieAssertionsMarkSetCookie: a failed cookie assertion marks the
// Set-Cookie lines of the response, as a header assertion marks its header.
func TestCookieAssertionsMarkSetCookie(t *testing.T) {
	got := failedHeaders([]checks.AssertionResult{
		{Name: "cookie sid http_only", Passed: false},
		{Name: "header ETag", Passed: true},
	})
	if len(got) != 1 || !got["Set-Cookie"] {
		t.Errorf("marked %v, want Set-Cookie only", got)
	}
}
