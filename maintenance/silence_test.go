package maintenance_test

import (
	"context"
	"testing"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/internal/clocktest"
	"github.com/assay-monitor/assay/maintenance"
)

// Expired silences, which no count bounds, never push an active one out
// of what a restarted calendar (or another replica) reads, nor out of the
// list: a day of 2*MaxSilences create-and-expire cycles, then one active
// silence, which sorts last by start. (Ported from the review.)
func TestExpiredSilencesNeverPushOutAnActiveOne(t *testing.T) {
	st := openStore(t)
	clock := clocktest.New(time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC))
	cs := parseChecks(t, "checks:\n  - name: db\n    steps: [{ request: { url: \"http://127.0.0.1:1/\" } }]\n")
	cal := maintenance.New(maintenance.Options{Store: st, Clock: clock})
	cal.SetChecks(cs)
	ctx := context.Background()
	other := []maintenance.Matcher{{Name: "check", Value: "other", IsEqual: true}}
	for i := 0; i < 2*maintenance.MaxSilences; i++ {
		s, err := cal.CreateSilence(ctx, maintenance.NewSilence{Matchers: other, Ends: clock.Now().Add(time.Hour), Comment: "deploy"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cal.ExpireSilence(ctx, s.ID); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Second)
	}
	created, err := cal.CreateSilence(ctx, maintenance.NewSilence{Matchers: []maintenance.Matcher{{Name: "check", Value: "db", IsEqual: true}},
		Ends: clock.Now().Add(time.Hour), Comment: "db migration"})
	if err != nil {
		t.Fatal(err)
	}
	again := maintenance.New(maintenance.Options{Store: st, Clock: clock}) // a restart, or another replica
	again.SetChecks(cs)
	r := &checks.Result{Check: "db", Started: clock.Now().Add(time.Minute)}
	again.Annotate(ctx, r)
	if !r.InMaintenance {
		t.Fatal("an active silence is ignored after a restart: the silences expired today fill the read's limit")
	}
	list, err := again.Silences(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) == 0 || list[0].ID != created.ID || list[0].Status.State != maintenance.StateActive {
		t.Fatalf("the list does not start with the active silence %s (%d listed)", created.ID, len(list))
	}
	// The expired ones are bounded, the latest first.
	expired := list[1:]
	if len(expired) != maintenance.MaxSilences {
		t.Fatalf("%d expired silences listed, want the latest %d", len(expired), maintenance.MaxSilences)
	}
	for i := 1; i < len(expired); i++ {
		if expired[i].Status.State != maintenance.StateExpired || expired[i].Ends.After(expired[i-1].Ends) {
			t.Fatalf("expired silences not latest first at %d: %v after %v", i, expired[i].Ends, expired[i-1].Ends)
		}
	}
	if want := clock.Now().Add(-time.Second); !expired[0].Ends.Equal(want) {
		t.Fatalf("first expired silence ends %v, want the latest, %v", expired[0].Ends, want)
	}
}
