package main

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/config"
)

// TestSoakFilesLoadAsAssayRunLoadsThem: the soak's assay.yaml and checks
// load with the daemon's own loaders, two thirds healthy, a third spread
// evenly over the hostile kinds, one hostile check in ten notifying.
func TestSoakFilesLoadAsAssayRunLoadsThem(t *testing.T) {
	dir := t.TempDir()
	hostile := map[string]string{}
	for _, k := range hostileKinds {
		hostile[k.name] = "127.0.0.1:9"
	}
	// 1,200 checks: two files, the second one cut short as the last.
	const n = 1200
	path, err := writeSoak(dir, n, "http://127.0.0.1:9", hostile, "http://127.0.0.1:9/hook")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	if cfg.Checks.Dir != filepath.Join(dir, "checks") || cfg.Storage.Retention.D().String() != "1m0s" || cfg.Notifiers["hook"] == nil {
		t.Errorf("config: checks %q, retention %s, notifiers %v", cfg.Checks.Dir, cfg.Storage.Retention.D(), cfg.Notifiers)
	}
	cs, err := checks.Load(cfg.Checks.Dir)
	if err != nil {
		t.Fatalf("checks: %v", err)
	}
	kinds, notify, withTLS := map[string]int{}, 0, 0
	for _, c := range cs {
		kind, _, _ := strings.Cut(strings.TrimPrefix(c.Name, "soak-"), "-")
		kinds[kind]++
		if c.Alert != nil && len(c.Alert.Notify) > 0 {
			notify++
		}
		if c.Steps[0].Request.TLS != nil {
			withTLS++
		}
	}
	want := map[string]int{"healthy": 800, "hang": 67, "reset": 67, "slowbody": 67, "tlsstall": 67, "lielong": 66, "lieshort": 66}
	if len(cs) != n || len(kinds) != len(want) {
		t.Fatalf("%d checks of kinds %v, want %d of %v", len(cs), kinds, n, want)
	}
	for k, n := range want {
		if kinds[k] != n {
			t.Errorf("%s: %d checks, want %d", k, kinds[k], n)
		}
	}
	if notify != 40 || withTLS != 67 {
		t.Errorf("%d checks notify, %d carry tls options; want 40 and 67", notify, withTLS)
	}
}

// TestTheSoakLogCountsAndKeepsTheFirstOfEachMessage: the daemon's log in
// the soak is bounded: counts, and one line per distinct message.
func TestTheSoakLogCountsAndKeepsTheFirstOfEachMessage(t *testing.T) {
	h := &countingHandler{}
	l := slog.New(h)
	l.Info("not counted")
	l.Warn("check failed", "check", "a", "other", "dropped")
	l.Warn("check failed", "check", "b")
	l.Error("store", "err", "disk full")
	for i := range 2 * maxFirstLogs {
		l.Error(fmt.Sprintf("message %d", i))
	}
	want := []string{"WARN check failed check=a", "ERROR store err=disk full", "ERROR message 0", "ERROR message 1",
		"ERROR message 2", "ERROR message 3", "ERROR message 4", "ERROR message 5"}
	if h.warnings != 2 || h.errors != 1+2*maxFirstLogs || !slices.Equal(h.first, want) {
		t.Errorf("warnings %d, errors %d, first %q; want 2, %d, %q", h.warnings, h.errors, h.first, 1+2*maxFirstLogs, want)
	}
}
