package checks

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"time"
)

// A heartbeat check is the other way round from an HTTP check: instead of
// assay calling a target, a job (a cron job, a batch pipeline) calls
// assay, POST /api/v1/heartbeat/{name}, at least every period. The engine
// makes the verdict from the latest ping (HeartbeatBook), so that the
// result flows to the metrics, alerting, history and page like any other.

// Heartbeat is the heartbeat block of a check, set instead of steps.
type Heartbeat struct {
	// Period is how often the job pings at least.
	Period Duration `yaml:"period"`
	// Grace is how late a ping may be before the check fails; unset
	// means DefaultHeartbeatGrace of the period (the loader fills it in).
	Grace *Duration `yaml:"grace"`
	// Token authenticates the job's pings (Authorization: Bearer TOKEN);
	// it is a secret: never shown in results, logs or pages.
	Token string `yaml:"token"`

	Pos Position `yaml:"-"`
	// tokenSum is the SHA-256 of Token: compared in constant time,
	// whatever the length of what a caller sends.
	tokenSum [32]byte
}

// Heartbeat reasons: the job did not ping in time, or it reported a
// failure itself (POST .../fail).
const (
	ReasonMissedHeartbeat Reason = "missed_heartbeat"
	ReasonHeartbeatFailed Reason = "heartbeat_failed"
)

// Bounds of the heartbeat block.
const (
	// MinHeartbeatPeriod is the shortest period: pings more often than
	// every second are what an HTTP check is for.
	MinHeartbeatPeriod = time.Second
	// MaxHeartbeatPeriod is the longest period (a monthly job, with room).
	MaxHeartbeatPeriod = 45 * 24 * time.Hour
	// MaxHeartbeatMessage bounds the message a failure ping carries.
	MaxHeartbeatMessage = 1 << 10
)

// DefaultHeartbeatGrace is the grace, as a fraction of the period, when
// the check sets none: a job that runs a little long is not a failure.
const DefaultHeartbeatGrace = 0.1

// Ping is the latest heartbeat of a check.
type Ping struct {
	// At is when it arrived; zero when none ever did.
	At time.Time
	// Failed: the job reported a failure (POST .../fail).
	Failed bool
	// Message is what the job said with a failure, one line, at most
	// MaxHeartbeatMessage bytes.
	Message string
}

// HeartbeatState is what the engine judges a heartbeat check by.
type HeartbeatState struct {
	// Last is the latest ping (Last.At zero: none ever came).
	Last Ping
	// Watching is when assay began to expect pings of the check: with
	// no ping, the first deadline counts from it.
	Watching time.Time
}

// HeartbeatBook gives the engine the latest ping of a heartbeat check.
// The daemon keeps it (in the store, shared by replicas); a one-shot run
// has none.
type HeartbeatBook interface {
	Heartbeat(ctx context.Context, check string) (HeartbeatState, error)
}

// IsHeartbeat reports whether the check is a heartbeat check.
func (c *Check) IsHeartbeat() bool { return c.Heartbeat != nil }

// TokenMatches reports whether token is the check's heartbeat token, in
// time that depends on neither value. A check that is not a heartbeat
// check matches nothing.
func (c *Check) TokenMatches(token string) bool {
	if c.Heartbeat == nil || token == "" {
		return false
	}
	got := sha256.Sum256([]byte(token))
	return subtle.ConstantTimeCompare(got[:], c.Heartbeat.tokenSum[:]) == 1
}

// Window is how long after a ping the next one may come: period plus
// grace.
func (h *Heartbeat) Window() time.Duration { return h.Period.D() + h.GraceD() }

// GraceD is the grace as a time.Duration (0 when unset).
func (h *Heartbeat) GraceD() time.Duration {
	if h.Grace == nil {
		return 0
	}
	return h.Grace.D()
}

// Deadlines says when the engine judges a heartbeat check: the first
// deadline is the base (the latest ping, else when watching began) plus
// period and grace; after it, one more every period, so that a job that
// stays silent keeps failing runs and alert thresholds and reminders
// work as for any check. NextDeadline is the first of them after t.
//
// The verdict (runHeartbeat) counts from the same base, so that a run at
// a deadline finds the check late and a run before one finds it in time.
func (h *Heartbeat) NextDeadline(st HeartbeatState, t time.Time) time.Time {
	d := st.base().Add(h.Window())
	if d.After(t) {
		return d
	}
	p := h.Period.D()
	return d.Add((t.Sub(d)/p + 1) * p)
}

// runHeartbeat judges a heartbeat check at now from its latest ping.
func (r *Runner) runHeartbeat(ctx context.Context, c *Check) *Result {
	now := r.opts.Now()
	res := &Result{Check: c.Name, File: c.Pos.File, Labels: c.Labels, Tags: c.Tags, Started: now}
	a := Attempt{Number: 1, Started: now, Steps: []StepResult{}}
	a.Passed, a.Reason, a.Message = r.heartbeatVerdict(ctx, c, now)
	a.Duration = r.opts.Now().Sub(now)
	res.Attempts = []Attempt{a}
	res.Passed, res.Reason, res.Message = a.Passed, a.Reason, a.Message
	res.Duration = a.Duration
	return res
}

func (r *Runner) heartbeatVerdict(ctx context.Context, c *Check, now time.Time) (bool, Reason, string) {
	h := c.Heartbeat
	if r.opts.Heartbeats == nil {
		return false, ReasonInternal, "heartbeat: no heartbeat source in this run (heartbeat checks are judged by assay run)"
	}
	ctx, cancel := context.WithTimeout(ctx, c.Timeout.D())
	defer cancel()
	st, err := r.opts.Heartbeats.Heartbeat(ctx, c.Name)
	if err != nil {
		// ctx is the read's own deadline too: only the caller's cancel
		// is an interruption.
		switch {
		case interrupted(ctx):
			return false, ReasonInterrupted, "heartbeat: reading the latest ping: " + err.Error()
		case ctx.Err() != nil:
			return false, ReasonTimeout, "heartbeat: reading the latest ping took longer than the check timeout " + shortDuration(c.Timeout.D())
		}
		return false, ReasonInternal, "heartbeat: reading the latest ping: " + err.Error()
	}
	window := shortDuration(h.Period.D()) + " + grace " + shortDuration(h.GraceD())
	late := !now.Before(st.base().Add(h.Window()))
	switch {
	case late && st.Last.At.IsZero():
		return false, ReasonMissedHeartbeat, fmt.Sprintf("no heartbeat received since assay began watching at %s (expected every %s)",
			st.Watching.UTC().Format(time.RFC3339), window)
	case late:
		last := "the last one"
		if st.Last.Failed {
			last = "the last one, a failure,"
		}
		return false, ReasonMissedHeartbeat, fmt.Sprintf("no heartbeat for %s: %s came at %s (expected every %s)",
			shortDuration(now.Sub(st.Last.At).Truncate(time.Second)), last, st.Last.At.UTC().Format(time.RFC3339), window)
	case st.Last.Failed:
		msg := "the job reported a failure"
		if st.Last.Message != "" {
			msg += ": " + st.Last.Message
		}
		return false, ReasonHeartbeatFailed, msg
	}
	// A ping in time; or none yet and the first deadline still ahead,
	// when nothing is late.
	return true, ReasonNone, ""
}

// compileHeartbeat checks the heartbeat block: it excludes what makes an
// HTTP check, needs a period and a token, and fills in the grace.
func compileHeartbeat(d *decoder, c *Check, path string) {
	h := c.Heartbeat
	hp := path + ".heartbeat"
	at := func(field string) Position { return d.ValuePos(field, h.Pos) }
	if h.Pos == (Position{}) {
		h.Pos = d.ValuePos(hp, c.Pos)
	}
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"steps", len(c.Steps) > 0}, {"finally", len(c.Finally) > 0}, {"contract", c.Contract != nil},
		{"request", c.Request != nil}, {"openapi", c.OpenAPI != nil},
		{"schedule", c.Schedule != ""}, {"retries", c.Retries != (Retries{})},
	} {
		if f.set {
			fp := path + "." + f.name
			d.ErrAt(d.KeyPos(fp, c.Pos), fp, "a heartbeat check has no %s: the job calls assay (POST /api/v1/heartbeat/%s), set either heartbeat or steps", f.name, c.Name)
		}
	}
	c.Request = nil
	switch {
	case h.Period == 0:
		d.ErrAt(h.Pos, hp+".period", "a heartbeat needs a period (how often the job pings at least, e.g. 1h)")
	case h.Period.D() < MinHeartbeatPeriod || h.Period.D() > MaxHeartbeatPeriod:
		d.ErrAt(at(hp+".period"), hp+".period", "must be between %s and %s, got %s",
			shortDuration(MinHeartbeatPeriod), shortDuration(MaxHeartbeatPeriod), shortDuration(h.Period.D()))
	}
	switch {
	case h.Grace == nil:
		g := Duration(time.Duration(float64(h.Period.D()) * DefaultHeartbeatGrace).Truncate(time.Second))
		h.Grace = &g
	case h.Grace.D() > MaxHeartbeatPeriod:
		d.ErrAt(at(hp+".grace"), hp+".grace", "must be at most %s, got %s", shortDuration(MaxHeartbeatPeriod), shortDuration(h.Grace.D()))
	}
	switch {
	case h.Token == "" && !reported(d, hp+".token"):
		d.ErrAt(d.ValuePos(hp+".token", h.Pos), hp+".token", `a heartbeat needs a token the job sends as "Authorization: Bearer TOKEN" (e.g. token: "${NIGHTLY_TOKEN}")`)
	case len(h.Token) > 1024:
		d.ErrAt(d.ValuePos(hp+".token", h.Pos), hp+".token", "a heartbeat token must be at most 1024 characters long, got %d", len(h.Token))
	}
	h.tokenSum = sha256.Sum256([]byte(h.Token))
	if h.Token != "" {
		// A token written in the file has no environment variable to
		// refer to; one from ${VAR} keeps its reference.
		c.secrets = appendSecret(c.secrets, secretValue{value: h.Token, ref: Redacted})
	}
	// The schedule shown (status page, explain) is the period; the
	// scheduler judges the check at its deadlines instead.
	c.Schedule = "@every " + shortDuration(h.Period.D())
	if reported(d, hp+".period") {
		c.Schedule = DefaultSchedule // the period's error is enough
	}
	if c.Timeout == 0 {
		c.Timeout = Duration(10 * time.Second)
	}
}

// base is what a heartbeat check's deadlines count from: the latest
// ping, even one before watching began (a restart); with none, when
// watching began. NextDeadline and the verdict must agree on it.
func (st HeartbeatState) base() time.Time {
	if st.Last.At.IsZero() {
		return st.Watching
	}
	return st.Last.At
}
