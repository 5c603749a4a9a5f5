package web

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/assay-monitor/assay/history"
)

// Bounds of what a page renders: a stored result is already bounded by the
// engine, but the page must stay small even when a reader returns more.
const (
	maxBodyRender   = 64 << 10 // bytes of one request or response body
	maxCellText     = 4 << 10  // bytes of a header value, message, expected or actual
	maxRowMessage   = 240      // bytes of a message in a table row
	maxHeaderRows   = 200      // header lines of one request or response
	maxAssertions   = 200      // assertions of one step
	maxFindings     = 100      // semantics findings of one step
	maxSteps        = 100      // steps of one attempt
	maxDiffRows     = 500      // header or JSON changes of one diff
	maxDiffLines    = 2000     // lines of a unified text diff
	maxOverviewRows = 1000     // checks on the overview
	maxOpenIncident = 50       // open incidents on the overview
	maxLabels       = 20       // label chips of one check
)

// clip cuts s to at most n bytes on a rune boundary and says whether it did.
func clip(s string, n int) (string, bool) {
	if len(s) <= n {
		return s, false
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n], true
}

// short cuts s to n bytes, marking the cut with an ellipsis.
func short(s string, n int) string {
	if c, cut := clip(s, n); cut {
		return c + "…"
	}
	return s
}

// fmtTime is the one way a page shows an instant: UTC, to the second, so
// that two pages (and two people on a call) read the same text.
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// fmtAgo says how far t is from now: "12s ago", "in 3m".
func fmtAgo(now, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	d := now.Sub(t)
	if d < 0 {
		return "in " + fmtSpan(-d)
	}
	if d < time.Second {
		return "just now"
	}
	return fmtSpan(d) + " ago"
}

// fmtSpan is a coarse length of time with at most two units: "45s",
// "3m 12s", "2h 5m", "4d 3h".
func fmtSpan(d time.Duration) string {
	s := int64(d / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return twoUnits(s/60, "m", s%60, "s")
	case s < 86400:
		return twoUnits(s/3600, "h", s%3600/60, "m")
	default:
		return twoUnits(s/86400, "d", s%86400/3600, "h")
	}
}

func twoUnits(a int64, ua string, b int64, ub string) string {
	if b == 0 {
		return fmt.Sprintf("%d%s", a, ua)
	}
	return fmt.Sprintf("%d%s %d%s", a, ua, b, ub)
}

// fmtDur shows a request or run duration with the precision that matters
// at its size: 850µs, 3.2ms, 142ms, 1.35s, 2m5s.
func fmtDur(d time.Duration) string {
	switch {
	case d <= 0:
		return "0"
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d/time.Microsecond)
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		return fmt.Sprintf("%dms", d/time.Millisecond)
	case d < time.Minute:
		return fmt.Sprintf("%.2fs", d.Seconds())
	default:
		return d.Round(time.Second).String()
	}
}

// uptimeCell is one uptime figure as a page shows it.
type uptimeCell struct {
	Window string // "24h", set where a table needs it as a label
	Text   string // "99.95%", or "—" when there were no runs
	Title  string // "2016 runs, 1 failed"
	Class  string // good, warn, bad or none
}

// fmtUptime turns counts into a percentage that never rounds a failure
// away: any failure shows below 100%, and the digits grow as the figure
// nears 100 (99.95%, not 100.0%).
func fmtUptime(c history.Counts) uptimeCell {
	a, ok := c.Availability()
	if !ok {
		return uptimeCell{Text: "—", Title: "no runs in this window", Class: "none"}
	}
	title := fmt.Sprintf("%d runs, %d failed", c.Runs, c.Failures)
	return uptimeCell{Text: fmtPercent(a, c.Failures > 0), Title: title, Class: uptimeClass(a)}
}

// fmtPercent formats an availability in [0,1]; failed says whether any run
// failed, so that 99.9996% with a failure shows as 99.99%, not 100%.
func fmtPercent(a float64, failed bool) string {
	if !failed {
		return "100%"
	}
	digits := 1
	if a >= 0.99 {
		digits = 2
	}
	scale := math.Pow(10, float64(digits))
	// floor: never round up to a better figure; the epsilon absorbs binary
	// fractions such as 0.29*1000 = 289.99999999999994.
	p := math.Floor(a*100*scale+1e-9) / scale
	return fmt.Sprintf("%.*f%%", digits, p)
}

// uptimeClass picks the colour of an availability figure.
func uptimeClass(a float64) string {
	switch {
	case a >= 0.999:
		return "good"
	case a >= 0.99:
		return "warn"
	default:
		return "bad"
	}
}

// headerRows lists a header map as name, value lines sorted by name,
// bounded in count and value length.
func headerRows(h map[string][]string) []kv {
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, k)
	}
	slices.Sort(names)
	var out []kv
	for _, k := range names {
		for _, v := range h[k] {
			if len(out) == maxHeaderRows {
				out = append(out, kv{K: "…", V: fmt.Sprintf("%d more header lines not shown", countValues(h)-maxHeaderRows)})
				return out
			}
			out = append(out, kv{K: short(k, 256), V: short(v, maxCellText)})
		}
	}
	return out
}

func countValues(h map[string][]string) int {
	n := 0
	for _, vs := range h {
		n += len(vs)
	}
	return n
}

// kv is one row of a two-column table.
type kv struct{ K, V string }

// plural is "1 check", "2 checks".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// oneLine folds a multi-line message into one line for table cells.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\r\n\t") {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}
