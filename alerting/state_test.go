package alerting

import (
	"strings"
	"testing"
	"time"
)

// TestStateMachine drives observe with one run a minute. runs is a
// string of P (pass) and F (fail); want lists the event of each run
// ("-" for none).
func TestStateMachine(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name   string
		p      policy
		runs   string
		want   string
		status string
	}{
		{"fires at the failure threshold", policy{Failures: 3, Successes: 2}, "FFF",
			"- - firing", StateFailing},
		{"passes reset the failure count", policy{Failures: 3, Successes: 2}, "FFPFFPFF",
			"- - - - - - - -", StateOK},
		{"resolves at the success threshold", policy{Failures: 2, Successes: 2}, "FFPP",
			"- firing refresh resolved", StateOK},
		{"a failure resets the success count", policy{Failures: 2, Successes: 3}, "FFPPFPPP",
			"- firing refresh refresh refresh refresh refresh resolved", StateOK},
		{"flapping inside the thresholds is silent", policy{Failures: 2, Successes: 2}, "FPFPFPFP",
			"- - - - - - - -", StateOK},
		{"flapping while failing does not resolve", policy{Failures: 2, Successes: 2}, "FFPFPFPF",
			"- firing refresh refresh refresh refresh refresh refresh", StateFailing},
		{"thresholds of one follow every flap", policy{Failures: 1, Successes: 1}, "FPFP",
			"firing resolved firing resolved", StateOK},
		{"reminders every repeat while failing", policy{Failures: 1, Successes: 1, Repeat: 3 * time.Minute}, "FFFFFFFP",
			"firing refresh refresh reminder refresh refresh reminder resolved", StateOK},
		{"a new incident after recovery fires again", policy{Failures: 2, Successes: 1}, "FFPFF",
			"- firing resolved - firing", StateFailing},
		{"no reminder without repeat", policy{Failures: 1, Successes: 5}, "FFFFFF",
			"firing refresh refresh refresh refresh refresh", StateFailing},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := &checkState{}
			var got []string
			for i, r := range tc.runs {
				at := t0.Add(time.Duration(i) * time.Minute)
				var f *Failure
				if r == 'F' {
					f = &Failure{Time: at, Reason: "assertion"}
				}
				k := st.observe(r == 'P', f, at, at, tc.p)
				if k == "" {
					got = append(got, "-")
				} else {
					got = append(got, string(k))
				}
				if k == KindResolved {
					st.Incident = nil // as the manager does after fanning out
				}
			}
			if g := strings.Join(got, " "); g != tc.want {
				t.Errorf("runs %s:\n got  %s\n want %s", tc.runs, g, tc.want)
			}
			if st.Status != tc.status {
				t.Errorf("final status %s, want %s", st.Status, tc.status)
			}
		})
	}
}

// The incident starts at the first failed run of the streak that fired,
// and counts its runs.
func TestIncidentBookkeeping(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	p := policy{Failures: 2, Successes: 2}
	st := &checkState{}
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Minute) }
	fail := func(i int) Kind { return st.observe(false, &Failure{Time: at(i), Message: "m"}, at(i), at(i), p) }
	pass := func(i int) Kind { return st.observe(true, nil, at(i), at(i), p) }
	fail(0)
	pass(1) // forgets the pending incident
	if st.Incident != nil {
		t.Fatal("a pass below the threshold kept the pending incident")
	}
	fail(2)
	if k := fail(3); k != KindFiring {
		t.Fatalf("got %q, want firing", k)
	}
	id := st.Incident.ID
	pass(4)
	fail(5)
	if !st.Incident.Started.Equal(at(2)) || st.Incident.Runs != 4 || st.Incident.FailedRuns != 3 || st.Incident.ID != id {
		t.Fatalf("incident = %+v", st.Incident)
	}
	if st.Incident.LastFailure.Time != at(5) {
		t.Fatalf("last failure = %+v", st.Incident.LastFailure)
	}
}
