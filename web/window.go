package web

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/assay-monitor/assay/checks"
)

// Bounds of a window a badge or page may ask for: below a minute the
// aggregates say nothing, past 400 days they are no longer kept.
const (
	minWindow = time.Minute
	maxWindow = 400 * 24 * time.Hour
)

// parseWindow reads a window: Go duration units plus d (24h) and w (7d),
// combinable ("24h", "7d", "30d", "1d12h", "2w", "90m"), within 1m and 400d.
func parseWindow(s string) (time.Duration, error) {
	if s == "" || len(s) > 32 {
		return 0, errors.New("window must be a duration such as 24h, 7d or 30d")
	}
	d, err := checks.ParseWindow(s)
	if err != nil {
		return 0, fmt.Errorf("window %q is not a duration such as 24h, 7d or 30d", s)
	}
	if d < minWindow || d > maxWindow {
		return 0, fmt.Errorf("window %q is out of range: it must be between 1m and 400d", s)
	}
	return d, nil
}

// fmtWindow names a window the way a person writes it: 7d, 24h, 1d12h, 90m
// as 1h30m.
func fmtWindow(d time.Duration) string {
	if d == 24*time.Hour {
		return "24h"
	}
	var b strings.Builder
	for _, u := range []struct {
		size time.Duration
		name string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if n := d / u.size; n > 0 {
			b.WriteString(strconv.FormatInt(int64(n), 10) + u.name)
			d -= n * u.size
		}
	}
	if b.Len() == 0 {
		return "0s"
	}
	return b.String()
}
