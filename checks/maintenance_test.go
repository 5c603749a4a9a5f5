package checks_test

import (
	"strings"
	"testing"
	"time"

	"github.com/assay-monitor/assay/checks"
)

// maintCheck is a check file with the given maintenance list lines
// (indented by six spaces, starting on line 5).
func maintCheck(schedule string, lines ...string) string {
	src := "checks:\n  - name: c1\n    schedule: \"" + schedule + "\"\n    maintenance:\n"
	for _, l := range lines {
		src += "      " + l + "\n"
	}
	return src + "    steps:\n      - request: { url: \"http://example.com/\" }\n"
}

func TestMaintenanceWindowLoads(t *testing.T) {
	c, err := checks.Parse("c.yaml", []byte(maintCheck("CRON_TZ=America/New_York @every 1m",
		`- { schedule: "0 2 * * SUN", duration: 2h }`,
		`- { schedule: "30 1 * * *", duration: 1d, timezone: Europe/Berlin }`)))
	if err != nil {
		t.Fatal(err)
	}
	ws := c[0].Maintenance
	if len(ws) != 2 || !ws[0].Ready() || ws[0].Duration.D() != 2*time.Hour {
		t.Fatalf("windows = %+v", ws)
	}
	// The first takes the schedule's CRON_TZ, the second its own zone.
	if got := ws[0].Location(time.UTC).String(); got != "America/New_York" {
		t.Errorf("zone = %s, want the check's America/New_York", got)
	}
	if got := ws[1].Location(time.UTC).String(); got != "Europe/Berlin" {
		t.Errorf("zone = %s, want Europe/Berlin", got)
	}
	if ws[0].Pos.String() != "c.yaml:5:9" {
		t.Errorf("pos = %s", ws[0].Pos)
	}
}

func TestMaintenanceWindowErrors(t *testing.T) {
	for _, tc := range []struct{ line, want string }{
		{`- { duration: 2h }`, "c.yaml:5:9: checks[0].maintenance[0].schedule: a maintenance window needs a schedule"},
		{`- { schedule: "0 2 * * SUN" }`, "c.yaml:5:9: checks[0].maintenance[0].duration: a maintenance window needs a duration"},
		{`- { schedule: "0 2 * * XYZ", duration: 2h }`, "c.yaml:5:21: checks[0].maintenance[0].schedule: invalid cron spec"},
		{`- { schedule: "0 0 30 2 *", duration: 2h }`, "never fires"},
		{`- { schedule: "CRON_TZ=UTC 0 2 * * *", duration: 2h }`, "checks[0].maintenance[0].schedule: set the time zone with timezone:"},
		{`- { schedule: "0 2 * * *", duration: 30s }`, "c.yaml:5:44: checks[0].maintenance[0].duration: must be between 1m and 31d, got 30s"},
		{`- { schedule: "0 2 * * *", duration: 32d }`, "checks[0].maintenance[0].duration: must be between 1m and 31d"},
		{`- { schedule: "0 2 * * *", duration: 2h, timezone: Mars/Olympus }`, "c.yaml:5:58: checks[0].maintenance[0].timezone: unknown time zone"},
		{`- { schedule: "0 2 * * *", duration: 2h, checks: [other] }`, "c.yaml:5:9: checks[0].maintenance[0]: a check's own window covers that check"},
		{`- { schedule: "0 2 * * *", duration: 2h, every: 1h }`, "checks[0].maintenance[0].every"},
		{`- "0 2 * * *"`, "c.yaml:5:9: checks[0].maintenance[0]: expected a mapping"},
	} {
		t.Run(tc.line, func(t *testing.T) {
			_, err := checks.Parse("c.yaml", []byte(maintCheck("@every 1m", tc.line)))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v\nwant %q", err, tc.want)
			}
			if strings.Count(err.Error(), "\n") != 0 {
				t.Errorf("one mistake, one line: %v", err)
			}
		})
	}
}

// A window covers [start, start+duration) of each occurrence, in its
// time zone, and duration is elapsed time even across a DST change.
func TestMaintenanceWindowCoveringAcrossDST(t *testing.T) {
	c, err := checks.Parse("c.yaml", []byte(maintCheck("@every 1m",
		`- { schedule: "30 0 * * *", duration: 3h, timezone: America/New_York }`)))
	if err != nil {
		t.Fatal(err)
	}
	w := c[0].Maintenance[0]
	ny, _ := time.LoadLocation("America/New_York")
	for _, tc := range []struct {
		at         time.Time
		ok         bool
		start, end string // UTC
	}{
		// Winter (EST, UTC-5): 00:30 local is 05:30 UTC.
		{time.Date(2026, 1, 10, 5, 29, 0, 0, time.UTC), false, "", ""},
		{time.Date(2026, 1, 10, 5, 30, 0, 0, time.UTC), true, "2026-01-10T05:30:00Z", "2026-01-10T08:30:00Z"},
		{time.Date(2026, 1, 10, 8, 29, 59, 0, time.UTC), true, "2026-01-10T05:30:00Z", "2026-01-10T08:30:00Z"},
		{time.Date(2026, 1, 10, 8, 30, 0, 0, time.UTC), false, "", ""},
		// Summer (EDT, UTC-4): the same wall time is an hour earlier in UTC.
		{time.Date(2026, 7, 10, 4, 45, 0, 0, time.UTC), true, "2026-07-10T04:30:00Z", "2026-07-10T07:30:00Z"},
		{time.Date(2026, 7, 10, 7, 45, 0, 0, time.UTC), false, "", ""},
		// 8 March 2026, clocks jump 02:00 -> 03:00: the window starts at
		// 00:30 EST and lasts 3 real hours, to 04:30 EDT (08:30 UTC).
		{time.Date(2026, 3, 8, 1, 0, 0, 0, ny), true, "2026-03-08T05:30:00Z", "2026-03-08T08:30:00Z"},
		{time.Date(2026, 3, 8, 4, 29, 0, 0, ny), true, "2026-03-08T05:30:00Z", "2026-03-08T08:30:00Z"},
		{time.Date(2026, 3, 8, 4, 30, 0, 0, ny), false, "", ""},
		// 1 November 2026, clocks fall back 02:00 -> 01:00: 00:30 EDT
		// (04:30 UTC) plus 3h is 02:30 EST (07:30 UTC).
		{time.Date(2026, 11, 1, 7, 29, 0, 0, time.UTC), true, "2026-11-01T04:30:00Z", "2026-11-01T07:30:00Z"},
		{time.Date(2026, 11, 1, 7, 30, 0, 0, time.UTC), false, "", ""},
	} {
		s, e, ok := w.Covering(tc.at, time.UTC)
		if ok != tc.ok || (ok && (s.Format(time.RFC3339) != tc.start || e.Format(time.RFC3339) != tc.end)) {
			t.Errorf("Covering(%s) = %s, %s, %v; want %s, %s, %v", tc.at.UTC().Format(time.RFC3339), s.Format(time.RFC3339), e.Format(time.RFC3339), ok, tc.start, tc.end, tc.ok)
		}
	}
	if n := w.NextStart(time.Date(2026, 3, 8, 9, 0, 0, 0, time.UTC), time.UTC); n.Format(time.RFC3339) != "2026-03-09T04:30:00Z" {
		t.Errorf("next start = %s, want 00:30 EDT on 9 March (04:30 UTC)", n.Format(time.RFC3339))
	}
}

// A start the fall-back night has twice starts twice; the two
// occurrences join into one window.
func TestMaintenanceWindowFallBackJoins(t *testing.T) {
	c, err := checks.Parse("c.yaml", []byte(maintCheck("@every 1m", `- { schedule: "30 1 * * *", duration: 1h, timezone: America/New_York }`)))
	if err != nil {
		t.Fatal(err)
	}
	s, e, ok := c[0].Maintenance[0].Covering(time.Date(2026, 11, 1, 6, 45, 0, 0, time.UTC), nil)
	if !ok || s.Format(time.RFC3339) != "2026-11-01T05:30:00Z" || e.Format(time.RFC3339) != "2026-11-01T07:30:00Z" {
		t.Fatalf("covering = %s %s %v, want 05:30 to 07:30 UTC (01:30 EDT, then 01:30 EST plus 1h)", s, e, ok)
	}
}

// Overlapping occurrences join: a window every hour for 90 minutes never
// ends between them.
func TestMaintenanceWindowOverlapsJoin(t *testing.T) {
	c, err := checks.Parse("c.yaml", []byte(maintCheck("@every 1m", `- { schedule: "0 * * * *", duration: 90m }`)))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 1, 10, 15, 0, 0, time.UTC)
	_, e, ok := c[0].Maintenance[0].Covering(at, nil)
	if !ok || !e.After(at.Add(24*time.Hour)) {
		t.Fatalf("end = %s, %v; want the joined occurrences to reach past a day", e, ok)
	}
}

// assay explain shows a check's windows, in a form that loads again.
func TestExplainShowsMaintenance(t *testing.T) {
	cs, err := checks.Parse("c.yaml", []byte(maintCheck("@every 1m", `- { schedule: "0 2 * * SUN", duration: 2h, timezone: Europe/Berlin }`)))
	if err != nil {
		t.Fatal(err)
	}
	out, err := checks.Explain(cs[0])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "    maintenance:\n      - {schedule: 0 2 * * SUN, duration: 2h, timezone: Europe/Berlin}\n") {
		t.Fatalf("explain:\n%s", out)
	}
	again, err := checks.Parse("e.yaml", out)
	if err != nil || len(again[0].Maintenance) != 1 || again[0].Maintenance[0].Duration.D() != 2*time.Hour {
		t.Fatalf("explain's output does not load back: %v\n%s", err, out)
	}
}

// A check whose schedule is a bare CRON_TZ= (reported) with windows is
// one error, not a crash.
func TestMaintenanceWithABrokenCronTZ(t *testing.T) {
	for _, sched := range []string{"CRON_TZ=", "TZ= ", "CRON_TZ=Nowhere/Else 0 * * * *"} {
		_, err := checks.Parse("c.yaml", []byte(maintCheck(sched, `- { schedule: "0 2 * * *", duration: 1h }`)))
		if err == nil || !strings.Contains(err.Error(), "checks[0].schedule") || strings.Contains(err.Error(), "maintenance") {
			t.Errorf("%q: %v", sched, err)
		}
	}
}
