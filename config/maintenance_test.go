package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/assay-monitor/assay/config"
)

func TestMaintenanceWindowsAndTimezone(t *testing.T) {
	c, err := config.Parse("assay.yaml", []byte(`timezone: Europe/Berlin
maintenance:
  - schedule: "0 2 * * SUN"
    duration: 2h
    checks: ["db-*"]
  - { schedule: "0 3 1 * *", duration: 1d, labels: { team: docs }, timezone: America/New_York }
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Location.String() != "Europe/Berlin" || len(c.Maintenance) != 2 {
		t.Fatalf("location %s, windows %+v", c.Location, c.Maintenance)
	}
	w := c.Maintenance[0]
	if w.Location(c.Location).String() != "Europe/Berlin" || c.Maintenance[1].Location(c.Location).String() != "America/New_York" {
		t.Errorf("zones: %s %s", w.Location(c.Location), c.Maintenance[1].Location(c.Location))
	}
	// Sunday 1 March 2026 02:30 in Berlin (CET, UTC+1) is 01:30 UTC.
	if _, _, ok := w.Covering(time.Date(2026, 3, 1, 1, 30, 0, 0, time.UTC), c.Location); !ok {
		t.Error("02:30 Berlin on a Sunday is not covered")
	}
	if d := config.Default(); d.Location != time.UTC {
		t.Errorf("default location %s, want UTC", d.Location)
	}
	if c, _ := config.Parse("assay.yaml", []byte("checks: { dir: x }\n")); c.Location != time.UTC {
		t.Errorf("no timezone: %s, want UTC", c.Location)
	}
}

func TestMaintenanceConfigErrors(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"timezone: Mars/Base\n", "assay.yaml:1:11: timezone: unknown time zone"},
		{"maintenance:\n  - { schedule: \"0 2 * * *\", duration: 2h }\n", "assay.yaml:2:5: maintenance[0]: a window of assay.yaml needs checks:"},
		{"maintenance:\n  - { schedule: \"0 2 * * *\", duration: 0s, checks: [\"*\"] }\n", "assay.yaml:2:40: maintenance[0].duration: must be between 1m and 31d"},
		{"maintenance:\n  - { schedule: \"61 2 * * *\", duration: 1h, checks: [\"*\"] }\n", "assay.yaml:2:17: maintenance[0].schedule: invalid cron spec"},
		{"maintenance:\n  - { schedule: \"0 2 * * *\", duration: 1h, checks: [\"[a\"] }\n", "assay.yaml:2:53: maintenance[0].checks[0]: invalid glob"},
		{"maintenance:\n  - { schedule: \"0 2 * * *\", duration: 1h, checks: [\"*\"], until: 3h }\n", "assay.yaml:2:59: maintenance[0].until: unknown field \"until\""},
		{"maintenance: { schedule: x }\n", "assay.yaml:1:14: maintenance: expected a list"},
	} {
		_, err := config.Parse("assay.yaml", []byte(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error = %v\nwant %q", tc.yaml, err, tc.want)
		}
	}
}
