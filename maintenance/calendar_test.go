package maintenance_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assay-monitor/assay/alerting"
	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/internal/clocktest"
	"github.com/assay-monitor/assay/maintenance"
	"github.com/assay-monitor/assay/store"
	"github.com/prometheus/client_golang/prometheus"
)

func parseChecks(t *testing.T, src string) []*checks.Check {
	t.Helper()
	cs, err := checks.Parse("c.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "assay.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// receiver is a webhook on loopback that records the kinds it gets.
type receiver struct {
	mu    sync.Mutex
	kinds []string
	srv   *httptest.Server
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.mu.Lock()
		rc.kinds = append(rc.kinds, r.Header.Get(alerting.HeaderEvent))
		rc.mu.Unlock()
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) got() string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return strings.Join(rc.kinds, " ")
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A window crossing the start and the end of an incident: the incident
// opens inside it (state failing, results marked, nothing sent), the
// window ends with it open (one firing, sent by the calendar's timer at
// the end), then it recovers (resolved).
func TestWindowCrossingAnIncident(t *testing.T) {
	st := openStore(t)
	hook := newReceiver(t)
	m, err := alerting.New(alerting.Options{Store: st,
		Notifiers: map[string]*alerting.NotifierConfig{"hook": {Type: alerting.TypeWebhook, URL: hook.srv.URL}}})
	if err != nil {
		t.Fatal(err)
	}
	clock := clocktest.New(time.Date(2026, 6, 1, 1, 50, 0, 0, time.UTC))
	reg := prometheus.NewRegistry()
	cal := maintenance.New(maintenance.Options{Store: st, Clock: clock, Registerer: reg})
	cs := parseChecks(t, `checks:
  - name: db
    maintenance: [{ schedule: "0 2 * * *", duration: 1h }]
    alert: { notify: [hook], failures: 2, successes: 1 }
    steps: [{ request: { url: "http://127.0.0.1:1/" } }]
  - name: web
    alert: { notify: [hook], failures: 1 }
    steps: [{ request: { url: "http://127.0.0.1:1/" } }]
`)
	cal.SetChecks(cs)
	cal.Owned().SetChecks(cs)
	m.SetChecks(cs)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	released := make(chan time.Time, 100)
	wg.Add(2)
	go func() { defer wg.Done(); _ = m.Run(ctx) }()
	go func() {
		defer wg.Done()
		cal.Run(ctx, func(active func(string) bool) { m.ReleaseMaintenance(ctx, active); released <- clock.Now() })
	}()
	<-released // the first call, at once

	record := func(check string, passed bool) *checks.Result {
		r := &checks.Result{Check: check, Started: clock.Now(), Passed: passed}
		if !passed {
			r.Reason, r.Message = checks.ReasonTimeout, "timeout"
		}
		cal.Annotate(ctx, r)
		m.Record(ctx, r)
		return r
	}
	pending := func() int {
		es, err := st.Pending(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return len(es)
	}
	if r := record("db", true); r.InMaintenance {
		t.Fatal("01:50 is marked in maintenance")
	}
	clock.Set(time.Date(2026, 6, 1, 2, 0, 0, 0, time.UTC))
	for i := range 3 {
		if r := record("db", false); !r.InMaintenance {
			t.Fatalf("run %d at %s is not marked in maintenance", i, r.Started)
		}
		clock.Advance(10 * time.Minute)
	}
	if s, _ := m.State("db"); s != alerting.StateFailing {
		t.Fatalf("state = %s, want failing: the state machine moves in maintenance", s)
	}
	if n := pending(); n != 0 || hook.got() != "" {
		t.Fatalf("inside the window: %d events in the outbox, receiver got %q; want nothing", n, hook.got())
	}
	waitFor(t, "the gauge at 1", func() bool {
		return gauge(t, reg, "db") == 1 && gauge(t, reg, "web") == 0
	})
	// web, not covered, pages as usual meanwhile.
	record("web", false)
	waitFor(t, "web's page", func() bool { return hook.got() == "firing" })

	// The end of the window: the calendar's timer fires at 03:00.
	clock.Set(time.Date(2026, 6, 1, 3, 0, 0, 0, time.UTC))
	for at := range released {
		if !at.Before(time.Date(2026, 6, 1, 3, 0, 0, 0, time.UTC)) {
			break
		}
	}
	waitFor(t, "the firing at the end of the window", func() bool { return hook.got() == "firing firing" })
	if s := cal.Check("db", clock.Now()); s.InMaintenance || s.Next == nil || !s.Next.Starts.Equal(time.Date(2026, 6, 2, 2, 0, 0, 0, time.UTC)) {
		t.Errorf("after the window: %+v, want the next one tomorrow 02:00", s)
	}
	waitFor(t, "the gauge at 0", func() bool { return gauge(t, reg, "db") == 0 })
	// A second call (a reload, a silence write) sends nothing again.
	m.ReleaseMaintenance(ctx, func(string) bool { return false })
	clock.Advance(time.Minute)
	record("db", true)
	waitFor(t, "the recovery", func() bool { return hook.got() == "firing firing resolved" })
	waitFor(t, "the outbox empty once delivered", func() bool { return pending() == 0 })
}

// gauge is assay_check_in_maintenance{check=name}, -1 when absent.
func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, mt := range mf.GetMetric() {
			if mf.GetName() == "assay_check_in_maintenance" && mt.GetLabel()[0].GetValue() == name {
				return mt.GetGauge().GetValue()
			}
		}
	}
	return -1
}

// assay.yaml's windows select by name glob and label; a window in
// America/New_York keeps its wall-clock start across DST, and its
// transitions are its starts and ends.
func TestConfigWindowsSelectAndFollowDST(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	cfgChecks := parseChecks(t, `checks:
  - name: db-main
    labels: { team: data }
    steps: [{ request: { url: "http://127.0.0.1:1/" } }]
  - name: db-replica
    labels: { team: web }
    steps: [{ request: { url: "http://127.0.0.1:1/" } }]
  - name: api
    labels: { team: data }
    steps: [{ request: { url: "http://127.0.0.1:1/" } }]
  - name: carrier
    maintenance: [{ schedule: "0 1 * * SUN", duration: 2h }]
    steps: [{ request: { url: "http://127.0.0.1:1/" } }]
`)
	windows := parseChecks(t, `checks:
  - name: carrier
    maintenance: [{ schedule: "0 1 * * SUN", duration: 2h }]
    steps: [{ request: { url: "http://127.0.0.1:1/" } }]
`)[0].Maintenance
	w := *windows[0]
	w.Checks, w.Labels = []string{"db-*"}, map[string]string{"team": "data"}
	cal := maintenance.New(maintenance.Options{Windows: []*checks.MaintenanceWindow{&w}, Location: ny})
	cal.SetChecks(cfgChecks)
	// Sunday 8 March 2026, DST starts at 02:00: 01:00 EST is 06:00 UTC,
	// and two elapsed hours end at 08:00 UTC (04:00 EDT).
	in := time.Date(2026, 3, 8, 6, 30, 0, 0, time.UTC)
	for name, want := range map[string]bool{"db-main": true, "db-replica": false, "api": false, "carrier": true} {
		if got := cal.Active(name, in); got != want {
			t.Errorf("%s active at %s = %v, want %v", name, in, got, want)
		}
	}
	var got []string
	at := time.Date(2026, 3, 7, 0, 0, 0, 0, time.UTC)
	for range 4 {
		at = cal.NextTransition(at)
		got = append(got, at.Format(time.RFC3339))
	}
	// The week after, EDT: 01:00 is 05:00 UTC.
	want := "2026-03-08T06:00:00Z 2026-03-08T08:00:00Z 2026-03-15T05:00:00Z 2026-03-15T07:00:00Z"
	if strings.Join(got, " ") != want {
		t.Errorf("transitions = %v\nwant %s", got, want)
	}
	if cal.Active("carrier", time.Date(2026, 3, 8, 8, 0, 0, 0, time.UTC)) {
		t.Error("the window is still active at its end")
	}
}

// A restart inside a window: a new calendar on the same store reads the
// silences at once, so the first result after the restart is marked.
func TestSilencesSurviveARestart(t *testing.T) {
	st := openStore(t)
	clock := clocktest.New(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	cs := parseChecks(t, "checks:\n  - name: db\n    labels: { team: data }\n    steps: [{ request: { url: \"http://127.0.0.1:1/\" } }]\n")
	cal := maintenance.New(maintenance.Options{Store: st, Clock: clock})
	cal.SetChecks(cs)
	s, err := cal.CreateSilence(context.Background(), maintenance.NewSilence{
		Matchers: []maintenance.Matcher{{Name: "team", Value: "da.a", IsRegex: true, IsEqual: true}},
		Ends:     clock.Now().Add(time.Hour), Comment: "migration"})
	if err != nil {
		t.Fatal(err)
	}
	again := maintenance.New(maintenance.Options{Store: st, Clock: clock})
	again.SetChecks(cs)
	r := &checks.Result{Check: "db", Started: clock.Now().Add(time.Minute)}
	again.Annotate(context.Background(), r)
	if !r.InMaintenance {
		t.Fatal("a silence made before the restart does not mark results after it")
	}
	neg := maintenance.NewSilence{Matchers: []maintenance.Matcher{{Name: "check", Value: "db", IsEqual: false}},
		Ends: clock.Now().Add(time.Hour), Comment: "all but db"}
	if _, err := again.CreateSilence(context.Background(), neg); err != nil {
		t.Fatal(err)
	}
	if n := again.NextTransition(clock.Now()); !n.Equal(s.Ends) {
		t.Errorf("next transition = %s, want the silences' end %s", n, s.Ends)
	}
}

// A reload that drops a window under way ends the maintenance at once:
// Run calls back with the check out of it.
func TestReloadDroppingAWindowEndsIt(t *testing.T) {
	clock := clocktest.New(time.Date(2026, 6, 1, 2, 30, 0, 0, time.UTC))
	cal := maintenance.New(maintenance.Options{Clock: clock})
	with := parseChecks(t, "checks:\n  - name: db\n    maintenance: [{ schedule: \"0 2 * * *\", duration: 1h }]\n    steps: [{ request: { url: \"http://127.0.0.1:1/\" } }]\n")
	without := parseChecks(t, "checks:\n  - name: db\n    steps: [{ request: { url: \"http://127.0.0.1:1/\" } }]\n")
	cal.SetChecks(with)
	calls := make(chan bool, 10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		cal.Run(ctx, func(active func(string) bool) { calls <- active("db") })
	}()
	defer func() { cancel(); <-done }()
	if in := <-calls; !in {
		t.Fatal("db is not in maintenance at 02:30")
	}
	cal.SetChecks(without)
	// Calls from before the reload may still come (the first SetChecks
	// woke Run too); one after it must say db is out.
	deadline := time.After(10 * time.Second)
	for {
		select {
		case in := <-calls:
			if !in {
				return
			}
		case <-deadline:
			t.Fatal("the reload did not wake the calendar with db out of maintenance")
		}
	}
}

// A run is in maintenance when a window or a silence is active at its
// start or at its end: a run with retries that starts at 01:59:50 and
// fails at 02:01 against a 02:00 window does not page inside it. The end
// is Started+Duration, or the calendar's now without a duration.
func TestRunEndingInsideAWindowIsInMaintenance(t *testing.T) {
	st := openStore(t)
	clock := clocktest.New(time.Date(2026, 6, 1, 1, 59, 50, 0, time.UTC))
	cal := maintenance.New(maintenance.Options{Store: st, Clock: clock})
	cal.SetChecks(parseChecks(t, `checks:
  - name: db
    maintenance: [{ schedule: "0 2 * * *", duration: 1h }]
    steps: [{ request: { url: "http://127.0.0.1:1/" } }]
  - name: web
    steps: [{ request: { url: "http://127.0.0.1:1/" } }]
`))
	at := func(h, m, s int) time.Time { return time.Date(2026, 6, 1, h, m, s, 0, time.UTC) }
	if _, err := cal.CreateSilence(context.Background(), maintenance.NewSilence{
		Matchers: []maintenance.Matcher{{Name: "check", Value: "web", IsEqual: true}},
		Starts:   at(12, 0, 0), Ends: at(13, 0, 0), Comment: "deploy"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		check   string
		started time.Time
		dur     time.Duration
		now     time.Time // the calendar's clock when it marks the result
		want    bool
	}{
		{"starts before, ends inside (retries)", "db", at(1, 59, 50), 70 * time.Second, at(2, 1, 0), true},
		{"starts before, ends at the start", "db", at(1, 59, 0), time.Minute, at(2, 0, 0), true},
		{"starts and ends before", "db", at(1, 58, 0), time.Minute, at(2, 0, 0), false},
		{"no duration: the calendar's now is its end", "db", at(1, 59, 50), 0, at(2, 0, 30), true},
		{"no duration, marked before the window", "db", at(1, 59, 50), 0, at(1, 59, 55), false},
		{"starts inside, ends after", "db", at(2, 59, 30), time.Minute, at(3, 0, 30), true},
		{"starts at the end", "db", at(3, 0, 0), time.Minute, at(3, 1, 0), false},
		{"a silence: starts before, ends inside", "web", at(11, 59, 50), 30 * time.Second, at(12, 0, 20), true},
		{"a silence: starts and ends before", "web", at(11, 58, 0), time.Minute, at(11, 59, 0), false},
	} {
		clock.Set(tc.now)
		r := &checks.Result{Check: tc.check, Started: tc.started, Duration: tc.dur}
		cal.Annotate(context.Background(), r)
		if r.InMaintenance != tc.want {
			t.Errorf("%s: in_maintenance = %v, want %v", tc.name, r.InMaintenance, tc.want)
		}
	}
}

// A page before the window whose incident recovers inside it: nothing is
// sent inside; the calendar's timer at the window's end sends the
// resolve, once.
func TestWindowHoldsTheResolveOfAnEarlierPage(t *testing.T) {
	st := openStore(t)
	hook := newReceiver(t)
	m, err := alerting.New(alerting.Options{Store: st,
		Notifiers: map[string]*alerting.NotifierConfig{"hook": {Type: alerting.TypeWebhook, URL: hook.srv.URL}}})
	if err != nil {
		t.Fatal(err)
	}
	clock := clocktest.New(time.Date(2026, 6, 1, 1, 50, 0, 0, time.UTC))
	cal := maintenance.New(maintenance.Options{Store: st, Clock: clock})
	cs := parseChecks(t, `checks:
  - name: db
    maintenance: [{ schedule: "0 2 * * *", duration: 1h }]
    alert: { notify: [hook], failures: 1, successes: 1 }
    steps: [{ request: { url: "http://127.0.0.1:1/" } }]
`)
	cal.SetChecks(cs)
	m.SetChecks(cs)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	released := make(chan bool, 100) // whether db was in maintenance at each call
	wg.Add(2)
	go func() { defer wg.Done(); _ = m.Run(ctx) }()
	go func() {
		defer wg.Done()
		cal.Run(ctx, func(active func(string) bool) { m.ReleaseMaintenance(ctx, active); released <- active("db") })
	}()
	<-released
	// The calendar sleeps on the fake clock: move it only once the
	// calendar waits, so that it sees the new time (not a timer armed from
	// a time read before the move).
	parked := func() { waitFor(t, "the calendar waiting", func() bool { return clock.Waiting() == 1 }) }
	record := func(passed bool) *checks.Result {
		r := &checks.Result{Check: "db", Started: clock.Now(), Duration: time.Second, Passed: passed}
		if !passed {
			r.Reason, r.Message = checks.ReasonTimeout, "timeout"
		}
		cal.Annotate(ctx, r)
		m.Record(ctx, r)
		return r
	}
	record(false)
	waitFor(t, "the page before the window", func() bool { return hook.got() == "firing" })
	waitFor(t, "the outbox empty", func() bool { es, _ := st.Pending(ctx); return len(es) == 0 })
	parked()
	clock.Set(time.Date(2026, 6, 1, 2, 10, 0, 0, time.UTC))
	if r := record(true); !r.InMaintenance {
		t.Fatal("02:10 is not in maintenance")
	}
	if es, err := st.Pending(ctx); err != nil || len(es) != 0 {
		t.Fatalf("inside the window: %d events in the outbox (%v), want none", len(es), err)
	}
	parked()
	clock.Set(time.Date(2026, 6, 1, 3, 0, 0, 0, time.UTC))
	for in := range released {
		if !in {
			break // the call at the window's end
		}
	}
	waitFor(t, "the resolve at the end of the window", func() bool { return hook.got() == "firing resolved" })
	m.ReleaseMaintenance(ctx, func(string) bool { return false })
	record(true)
	waitFor(t, "the outbox empty", func() bool { es, _ := st.Pending(ctx); return len(es) == 0 })
	if got := hook.got(); got != "firing resolved" {
		t.Fatalf("receiver got %q, want one resolve", got)
	}
}
