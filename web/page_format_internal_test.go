package web

import (
	"strings"
	"testing"
	"time"

	"github.com/assay-monitor/assay/history"
)

func TestFmtUptimeNeverRoundsAFailureAway(t *testing.T) {
	for _, tc := range []struct {
		runs, failures int64
		text, class    string
	}{
		{0, 0, "—", "none"},
		{1, 0, "100%", "good"},
		{1000000, 1, "99.99%", "good"}, // 99.9999%: a failure is never 100%
		{2016, 1, "99.95%", "good"},
		{1000, 1, "99.90%", "good"},
		{200, 1, "99.50%", "warn"},
		{100, 1, "99.00%", "warn"},
		{1000, 11, "98.9%", "bad"},
		{300, 10, "96.6%", "bad"}, // 96.67 floors, never rounds up
		{10, 4, "60.0%", "bad"},
		{3, 3, "0.0%", "bad"},
		{100, 71, "29.0%", "bad"}, // 0.29 is 0.28999… in binary
	} {
		c := fmtUptime(history.Counts{Runs: tc.runs, Failures: tc.failures})
		if c.Text != tc.text || c.Class != tc.class {
			t.Errorf("%d runs, %d failed = %q %s, want %q %s", tc.runs, tc.failures, c.Text, c.Class, tc.text, tc.class)
		}
	}
}

func TestParseWindow(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		name string
	}{
		{"24h", 24 * time.Hour, "24h"},
		{"1d", 24 * time.Hour, "24h"},
		{"7d", 7 * 24 * time.Hour, "7d"},
		{"30d", 30 * 24 * time.Hour, "30d"},
		{"400d", 400 * 24 * time.Hour, "400d"},
		{"1d12h", 36 * time.Hour, "1d12h"},
		{"90m", 90 * time.Minute, "1h30m"},
		{"1m", time.Minute, "1m"},
		{"1m30s", 90 * time.Second, "1m30s"},
		{"2h", 2 * time.Hour, "2h"},
		{"1.5d", 36 * time.Hour, "1d12h"},
		{"2w", 14 * 24 * time.Hour, "14d"},
	} {
		got, err := parseWindow(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("parseWindow(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
		if name := fmtWindow(got); name != tc.name {
			t.Errorf("fmtWindow(%v) = %q, want %q", got, name, tc.name)
		}
	}
	for _, bad := range []string{"", "abc", "7", "d", "-1d", "7x", "59s", "0s", "401d", "400d1m", "-24h", "1d-1h",
		"99999999999d", "9223372036854775807ns1d"} {
		if d, err := parseWindow(bad); err == nil {
			t.Errorf("parseWindow(%q) = %v, want an error", bad, d)
		}
	}
}

func TestFmtDurAndSpan(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0"},
		{850 * time.Microsecond, "850µs"},
		{3200 * time.Microsecond, "3.2ms"},
		{142 * time.Millisecond, "142ms"},
		{1350 * time.Millisecond, "1.35s"},
		{125 * time.Second, "2m5s"},
	} {
		if got := fmtDur(tc.d); got != tc.want {
			t.Errorf("fmtDur(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{45 * time.Second, "45s"},
		{3*time.Minute + 12*time.Second, "3m 12s"},
		{2 * time.Hour, "2h"},
		{2*time.Hour + 5*time.Minute, "2h 5m"},
		{4*24*time.Hour + 3*time.Hour + 59*time.Minute, "4d 3h"},
	} {
		if got := fmtSpan(tc.d); got != tc.want {
			t.Errorf("fmtSpan(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestNiceScale(t *testing.T) {
	for _, tc := range []struct {
		max   float64
		step  float64
		ticks int
	}{
		{0.25, 0.05, 5},
		{0.094, 0.02, 5},
		{1.2, 0.5, 3},
		{7, 2, 4},
		{0, 0.001, 1},
	} {
		step, ticks := niceScale(tc.max)
		if ticks != tc.ticks || step < tc.step*0.999 || step > tc.step*1.001 {
			t.Errorf("niceScale(%v) = %v × %d, want %v × %d", tc.max, step, ticks, tc.step, tc.ticks)
		}
	}
}

func TestBadgeWidthsGrowWithText(t *testing.T) {
	if a, b := textWidth("passing"), textWidth("failing"); a <= 0 || b <= 0 {
		t.Fatalf("widths %v %v", a, b)
	}
	if textWidth("WWWW") <= textWidth("iiii") {
		t.Errorf("wide glyphs are not wider than narrow ones")
	}
	if got := xmlEscape("a\x00b<&>\"'"); got != "a\uFFFDb&lt;&amp;&gt;&quot;&apos;" {
		t.Errorf("xmlEscape = %q", got)
	}
}

func TestTimeTicksAreRound(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	x := func(time.Time) float64 { return 0 }
	for _, tc := range []struct {
		first, last string
		want        []string
	}{
		{"2025-06-01T11:50:30Z", "2025-06-01T11:59:30Z", []string{"11:52", "11:54", "11:56", "11:58"}},
		{"2025-05-26T21:00:00Z", "2025-06-01T11:59:00Z", []string{"05-27", "05-28", "05-29", "05-30", "05-31", "06-01"}},
		{"2025-06-01T00:10:00Z", "2025-06-01T23:50:00Z", []string{"06-01 06:00", "06-01 12:00", "06-01 18:00"}},
		{"2025-06-01T11:59:00Z", "2025-06-01T11:59:00Z", []string{"11:59"}},
	} {
		var got []string
		for _, tk := range timeTicks(at(tc.first), at(tc.last), x) {
			got = append(got, tk.Label)
		}
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("ticks %s..%s = %q, want %q", tc.first, tc.last, got, tc.want)
		}
	}
}
