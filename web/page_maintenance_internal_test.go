package web

import (
	"testing"
	"time"

	"github.com/assay-monitor/assay/maintenance"
)

// Rule: a window's selectors read the same on every render: its checks
// globs as written, then its labels sorted by name (not in map order).
func TestPeriodSelectorsAreInAStableOrder(t *testing.T) {
	p := &pages{}
	now := time.Date(2026, 12, 2, 2, 0, 0, 0, time.UTC)
	per := maintenance.Period{Kind: "window", Starts: now, Ends: now.Add(time.Hour), Checks: []string{"db-*", "api"},
		Labels: map[string]string{"team": "ops", "env": "prod", "az": "b", "tier": "1", "zone": "eu"}}
	for range 20 {
		if got := p.periodRow(per, now).Selects; got != "db-*, api, az=b, env=prod, team=ops, tier=1, zone=eu" {
			t.Fatalf("selects = %q", got)
		}
	}
}
