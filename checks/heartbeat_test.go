package checks_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/assay-monitor/assay/checks"
)

func TestHeartbeatLoadErrors(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string
	}{
		{
			name: "steps beside a heartbeat",
			src: `checks:
  - name: job
    heartbeat: { period: 1h, token: abc }
    schedule: "@every 1m"
    retries: 2
    steps:
      - request: { url: "http://example.com/" }
`,
			want: []string{
				`c.yaml:4:5: checks[0].schedule: a heartbeat check has no schedule: the job calls assay (POST /api/v1/heartbeat/job), set either heartbeat or steps`,
				`c.yaml:5:5: checks[0].retries: a heartbeat check has no retries: the job calls assay (POST /api/v1/heartbeat/job), set either heartbeat or steps`,
				`c.yaml:6:5: checks[0].steps: a heartbeat check has no steps: the job calls assay (POST /api/v1/heartbeat/job), set either heartbeat or steps`,
			},
		},
		{
			name: "contract, finally and request beside a heartbeat",
			src: `checks:
  - name: job
    heartbeat: { period: 1h, token: abc }
    request: { base_url: "http://example.com/" }
    contract: { type: method-not-allowed, url: "http://example.com/x", allowed: [GET], methods: [POST] }
    finally:
      - request: { url: "http://example.com/" }
`,
			want: []string{
				`c.yaml:4:5: checks[0].request: a heartbeat check has no request: the job calls assay (POST /api/v1/heartbeat/job), set either heartbeat or steps`,
				`c.yaml:5:5: checks[0].contract: a heartbeat check has no contract: the job calls assay (POST /api/v1/heartbeat/job), set either heartbeat or steps`,
				`c.yaml:6:5: checks[0].finally: a heartbeat check has no finally: the job calls assay (POST /api/v1/heartbeat/job), set either heartbeat or steps`,
			},
		},
		{
			name: "period and token are required",
			src: `checks:
  - name: job
    heartbeat: { grace: 1m }
`,
			want: []string{
				`c.yaml:3:16: checks[0].heartbeat.period: a heartbeat needs a period (how often the job pings at least, e.g. 1h)`,
				`c.yaml:3:16: checks[0].heartbeat.token: a heartbeat needs a token the job sends as "Authorization: Bearer TOKEN" (e.g. token: "${NIGHTLY_TOKEN}")`,
			},
		},
		{
			name: "bounds of period and grace",
			src: `checks:
  - name: job
    heartbeat: { period: 500ms, grace: 2000h, token: abc }
  - name: job2
    heartbeat: { period: 1081h, token: abc }
`,
			want: []string{
				`c.yaml:3:26: checks[0].heartbeat.period: must be between 1s and 1080h, got 500ms`,
				`c.yaml:3:40: checks[0].heartbeat.grace: must be at most 1080h, got 2000h`,
				`c.yaml:5:26: checks[1].heartbeat.period: must be between 1s and 1080h, got 1081h`,
			},
		},
		{
			name: "a token from an unset variable is reported once",
			src: `checks:
  - name: job
    heartbeat: { period: 1h, token: "${NO_SUCH_TOKEN}" }
`,
			want: []string{
				`c.yaml:3:37: checks[0].heartbeat.token: environment variable NO_SUCH_TOKEN is not set (use ${NO_SUCH_TOKEN:-default} for a default)`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			writeTree(t, map[string]string{"c.yaml": tt.src})
			got := errorLines(t, "c.yaml")
			if !slices.Equal(got, tt.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestHeartbeatLoadDefaults(t *testing.T) {
	writeTree(t, map[string]string{"c.yaml": `defaults:
  base_url: "http://example.com/"
  schedule: "@every 5m"
  labels: { team: ops }
checks:
  - name: job
    heartbeat: { period: 1h, token: "${JOB_TOKEN}" }
  - name: exact
    heartbeat: { period: 10s, grace: 0s, token: literal-token }
  - name: http
    steps:
      - request: { url: /x }
`})
	cs, err := checks.LoadOptions{LookupEnv: lookup(map[string]string{"JOB_TOKEN": "tok-123"})}.Load("c.yaml")
	if err != nil {
		t.Fatal(err)
	}
	job, exact := cs[0], cs[1]
	if !job.IsHeartbeat() || cs[2].IsHeartbeat() {
		t.Fatalf("IsHeartbeat: %v %v", job.IsHeartbeat(), cs[2].IsHeartbeat())
	}
	// A tenth of the period when unset; 0s is a grace of zero.
	if g := job.Heartbeat.GraceD(); g != 6*time.Minute {
		t.Errorf("default grace = %s, want 6m", g)
	}
	if g := exact.Heartbeat.GraceD(); g != 0 {
		t.Errorf("grace 0s = %s, want 0", g)
	}
	if job.Request != nil {
		t.Errorf("the file's request defaults were kept on a heartbeat check")
	}
	// The file's schedule is for the HTTP checks; its labels apply.
	if job.Schedule != "@every 1h" || job.Timeout.D() != 10*time.Second || job.Labels["team"] != "ops" || cs[2].Schedule != "@every 5m" {
		t.Errorf("schedule %q timeout %s labels %v, want @every 1h, 10s, team=ops", job.Schedule, job.Timeout.D(), job.Labels)
	}
	if !job.TokenMatches("tok-123") || job.TokenMatches("tok-12") || job.TokenMatches("") || job.TokenMatches("tok-1234") {
		t.Error("TokenMatches does not match exactly the token")
	}
	if cs[2].TokenMatches("") || cs[2].TokenMatches("tok-123") {
		t.Error("a check that is no heartbeat check matched a token")
	}
	// The token is a secret: explain hides it, whether it came from the
	// environment or was written in the file.
	for _, c := range []*checks.Check{job, exact} {
		out, err := checks.Explain(c)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(out), "tok-123") || strings.Contains(string(out), "literal-token") ||
			!strings.Contains(string(out), `token: "[REDACTED]"`) {
			t.Errorf("explain shows the token or no redacted token:\n%s", out)
		}
		// What explain prints loads again.
		if _, err := checks.Parse("explained.yaml", out); err != nil {
			t.Errorf("explain's output does not load: %v\n%s", err, out)
		}
	}
}

// book is a HeartbeatBook with a state set by the test.
type book struct {
	st  checks.HeartbeatState
	err error
}

func (b *book) Heartbeat(context.Context, string) (checks.HeartbeatState, error) { return b.st, b.err }

func heartbeatCheck(t *testing.T, period, grace string) *checks.Check {
	t.Helper()
	cs, err := checks.Parse("hb.yaml", []byte(`checks:
  - name: job
    labels: { team: ops }
    heartbeat: { period: `+period+`, grace: `+grace+`, token: abcdef }
`))
	if err != nil {
		t.Fatal(err)
	}
	return cs[0]
}

func TestHeartbeatVerdicts(t *testing.T) {
	c := heartbeatCheck(t, "1h", "10m")
	t0 := time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		st     checks.HeartbeatState
		now    time.Time
		passed bool
		reason checks.Reason
		msg    string
	}{
		{"never pinged, before the first deadline", checks.HeartbeatState{Watching: t0}, t0.Add(70*time.Minute - time.Second), true, "", ""},
		{"never pinged, at the first deadline", checks.HeartbeatState{Watching: t0}, t0.Add(70 * time.Minute), false, checks.ReasonMissedHeartbeat,
			"no heartbeat received since assay began watching at 2026-12-01T02:00:00Z (expected every 1h + grace 10m)"},
		{"pinged in time", checks.HeartbeatState{Watching: t0, Last: checks.Ping{At: t0.Add(time.Hour)}}, t0.Add(2*time.Hour + 9*time.Minute), true, "", ""},
		{"ping late", checks.HeartbeatState{Watching: t0, Last: checks.Ping{At: t0.Add(time.Hour)}}, t0.Add(2*time.Hour + 10*time.Minute), false, checks.ReasonMissedHeartbeat,
			"no heartbeat for 1h10m: the last one came at 2026-12-01T03:00:00Z (expected every 1h + grace 10m)"},
		{"a ping before watching began counts", checks.HeartbeatState{Watching: t0, Last: checks.Ping{At: t0.Add(-30 * time.Minute)}}, t0.Add(40 * time.Minute), false, checks.ReasonMissedHeartbeat,
			"no heartbeat for 1h10m: the last one came at 2026-12-01T01:30:00Z (expected every 1h + grace 10m)"},
		{"failure reported", checks.HeartbeatState{Watching: t0, Last: checks.Ping{At: t0, Failed: true, Message: "disk full"}}, t0.Add(time.Minute), false, checks.ReasonHeartbeatFailed,
			"the job reported a failure: disk full"},
		{"failure reported, then silence", checks.HeartbeatState{Watching: t0, Last: checks.Ping{At: t0, Failed: true}}, t0.Add(3 * time.Hour), false, checks.ReasonMissedHeartbeat,
			"no heartbeat for 3h: the last one, a failure, came at 2026-12-01T02:00:00Z (expected every 1h + grace 10m)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := tt.now
			r := checks.NewRunner(checks.RunnerOptions{Heartbeats: &book{st: tt.st}, Now: func() time.Time { return now }})
			res := r.Run(context.Background(), c)
			if res.Passed != tt.passed || res.Reason != tt.reason || res.Message != tt.msg {
				t.Errorf("got passed=%v reason=%q msg=%q\nwant passed=%v reason=%q msg=%q", res.Passed, res.Reason, res.Message, tt.passed, tt.reason, tt.msg)
			}
			if len(res.Attempts) != 1 || res.Attempts[0].Passed != res.Passed || res.Check != "job" || res.Labels["team"] != "ops" || !res.Started.Equal(now) {
				t.Errorf("result not shaped like any check's: %+v", res)
			}
		})
	}
}

func TestHeartbeatWithoutBookOrStore(t *testing.T) {
	c := heartbeatCheck(t, "1h", "0s")
	res := checks.NewRunner(checks.RunnerOptions{}).Run(context.Background(), c)
	if res.Passed || res.Reason != checks.ReasonInternal {
		t.Errorf("without a heartbeat source: %v %q %q", res.Passed, res.Reason, res.Message)
	}
	res = checks.NewRunner(checks.RunnerOptions{Heartbeats: &book{err: errors.New("database is locked")}}).Run(context.Background(), c)
	if res.Passed || res.Reason != checks.ReasonInternal || !strings.Contains(res.Message, "database is locked") {
		t.Errorf("with a failing store: %v %q %q", res.Passed, res.Reason, res.Message)
	}
}

func TestHeartbeatReasonsAreExported(t *testing.T) {
	for _, r := range []checks.Reason{checks.ReasonMissedHeartbeat, checks.ReasonHeartbeatFailed} {
		if !slices.Contains(checks.Reasons, r) {
			t.Errorf("checks.Reasons lacks %q: its metric series would not exist", r)
		}
	}
}

func TestHeartbeatDeadlines(t *testing.T) {
	c := heartbeatCheck(t, "3s", "1s")
	h := c.Heartbeat
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	st := checks.HeartbeatState{Watching: t0}
	// First deadline period + grace after watching began, then one every
	// period while no ping comes.
	want := []time.Duration{4 * time.Second, 7 * time.Second, 10 * time.Second}
	at := t0
	for i, w := range want {
		at = h.NextDeadline(st, at)
		if got := at.Sub(t0); got != w {
			t.Fatalf("deadline %d at +%s, want +%s", i, got, w)
		}
	}
	// A ping moves the deadline to period + grace after it.
	st.Last = checks.Ping{At: t0.Add(8500 * time.Millisecond)}
	if got := h.NextDeadline(st, t0.Add(8500*time.Millisecond)).Sub(t0); got != 12500*time.Millisecond {
		t.Errorf("after a ping, deadline at +%s, want +12.5s", got)
	}
	// Far past the deadline (the process was paused): the next one is
	// still on the period's grid, after t.
	late := t0.Add(time.Hour + 500*time.Millisecond)
	if got := h.NextDeadline(checks.HeartbeatState{Watching: t0}, late); !got.After(late) || got.Sub(late) > 3*time.Second || got.Sub(t0)%time.Second != 0 {
		t.Errorf("deadline after a pause: %s", got)
	}
}

// slowBook answers when its reader's context ends, as a locked store does.
type slowBook struct{}

func (slowBook) Heartbeat(ctx context.Context, _ string) (checks.HeartbeatState, error) {
	<-ctx.Done()
	return checks.HeartbeatState{}, ctx.Err()
}

// Rule: a read of the latest ping that outlasts the check's timeout is a
// timeout; only the caller's cancel (shutdown) is interrupted.
func TestHeartbeatSlowStoreIsATimeoutNotAnInterruption(t *testing.T) {
	c := heartbeatCheck(t, "1h", "0s")
	c.Timeout = checks.Duration(50 * time.Millisecond)
	r := checks.NewRunner(checks.RunnerOptions{Heartbeats: slowBook{}})
	if res := r.Run(context.Background(), c); res.Passed || res.Reason != checks.ReasonTimeout {
		t.Errorf("a store slower than the timeout: %v %q %q", res.Passed, res.Reason, res.Message)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if res := r.Run(ctx, c); res.Passed || res.Reason != checks.ReasonInterrupted {
		t.Errorf("a cancelled run: %v %q %q", res.Passed, res.Reason, res.Message)
	}
}
