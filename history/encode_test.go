package history_test

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/history"
)

// legacyRead is what a reader gave for a run stored as the JSON of
// Compact(r), as every run was stored before the compact form: the API,
// replay and the page must keep giving exactly that.
func legacyRead(t *testing.T, r *checks.Result) []byte {
	t.Helper()
	data, err := json.Marshal(history.Compact(r))
	if err != nil {
		t.Fatal(err)
	}
	var back checks.Result
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	back.ID = r.ID
	out, err := json.Marshal(&back)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func summaryOf(r *checks.Result) history.RunSummary {
	sum := history.RunSummary{ID: r.ID, Check: r.Check, Started: r.Started.Truncate(time.Millisecond),
		DurationSeconds: r.Duration.Seconds(), Passed: r.Passed, Reason: r.Reason, Message: r.Message, InMaintenance: r.InMaintenance}
	if fs := r.FailedStep(); fs != nil {
		sum.FailingStep = fs.Name
	}
	return sum
}

// pieces of the random strings: JSON's escapes, HTML's, line separators,
// multi-byte runes and invalid UTF-8.
var pieces = []string{"a", "Z", "0", " ", `"`, `\`, "/", "\n", "\r", "\t", "\x00", "\x1f", "\x7f", "<", ">", "&",
	"\u2028", "\u2029", "é", "日本", "😀", "\xff", "\xc3", "\xe2\x82", "\ufffd", "${API_TOKEN}", "[REDACTED]"}

func randString(rnd *rand.Rand) string {
	var b strings.Builder
	for range rnd.IntN(6) {
		b.WriteString(pieces[rnd.IntN(len(pieces))])
	}
	return b.String()
}

func randStrings(rnd *rand.Rand) []string {
	if rnd.IntN(3) == 0 {
		return nil
	}
	out := make([]string, rnd.IntN(4))
	for i := range out {
		out[i] = randString(rnd)
	}
	return out
}

var zones = []*time.Location{time.UTC, time.Local, time.FixedZone("CET", 3600), time.FixedZone("", -(4*3600 + 30*60)), time.FixedZone("Z0", 0)}

func randTime(rnd *rand.Rand, base time.Time) time.Time {
	return base.Add(time.Duration(rnd.Int64N(int64(400 * 24 * time.Hour)))).In(zones[rnd.IntN(len(zones))])
}

// randResult is a passing run (of a check whose name is UTF-8, as YAML
// makes it) with every field a result can hold, the
// ones Compact drops included, each set or not at random.
func randResult(rnd *rand.Rand) *checks.Result {
	started := randTime(rnd, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	r := &checks.Result{ID: rnd.Int64N(1 << 40), Check: "check-" + strings.ToValidUTF8(randString(rnd), "?"), File: randString(rnd), Tags: randStrings(rnd),
		Started: started, Duration: time.Duration(rnd.Int64N(int64(time.Minute))), Passed: true, InMaintenance: rnd.IntN(4) == 0}
	if rnd.IntN(2) == 0 {
		r.Labels = map[string]string{}
		for range rnd.IntN(12) {
			r.Labels[randString(rnd)] = randString(rnd)
		}
	}
	if rnd.IntN(4) == 0 {
		r.Reason, r.Message = checks.Reason(randString(rnd)), randString(rnd)
	}
	r.Attempts = make([]checks.Attempt, 1+rnd.IntN(3))
	for i := range r.Attempts {
		a := &r.Attempts[i]
		a.Number, a.Started, a.Passed = i+1, started.Add(time.Duration(rnd.Int64N(int64(time.Second)))), rnd.IntN(2) == 0
		if rnd.IntN(5) == 0 {
			a.Number = rnd.IntN(10)
		}
		if rnd.IntN(5) == 0 {
			a.Started = started // the same instant: no offset
		}
		if rnd.IntN(3) != 0 {
			a.Duration = time.Duration(rnd.Int64N(int64(time.Minute)))
		}
		if rnd.IntN(2) == 0 {
			a.Reason, a.Message = checks.Reason(randString(rnd)), randString(rnd)
		}
		if rnd.IntN(8) != 0 {
			a.Steps = make([]checks.StepResult, rnd.IntN(4))
		}
		for j := range a.Steps {
			a.Steps[j] = randStep(rnd)
		}
	}
	return r
}

func randStep(rnd *rand.Rand) checks.StepResult {
	b := func() bool { return rnd.IntN(2) == 0 }
	d := func() time.Duration {
		if b() {
			return 0
		}
		return time.Duration(rnd.Int64N(int64(10 * time.Second)))
	}
	s := checks.StepResult{Name: randString(rnd), Passed: b(), Skipped: b(), Finally: b(),
		Request: checks.RequestSummary{Method: randString(rnd), URL: randString(rnd),
			Headers: map[string][]string{"Accept": {"*/*"}}, Body: randString(rnd)},
		Timings:    checks.Timings{DNS: d(), Connect: d(), TLS: d(), FirstByte: d(), Total: d()},
		Assertions: []checks.AssertionResult{{Name: "status", Passed: true, Expected: "200", Actual: "200"}},
		Captures:   map[string]string{"etag": `"v1"`},
	}
	if b() {
		s.Kind = randString(rnd)
	}
	if b() {
		s.Reason, s.Message = checks.Reason(randString(rnd)), randString(rnd)
	}
	if b() {
		s.Request.Auth = &checks.AuthSummary{Type: randString(rnd), Username: randString(rnd), Secret: randString(rnd)}
	}
	if rnd.IntN(5) != 0 {
		s.Response = &checks.ResponseSummary{Headers: map[string][]string{"Content-Type": {"text/plain"}}, Body: randString(rnd)}
		if b() {
			s.Response.Status, s.Response.Proto = 100+rnd.IntN(500), randString(rnd)
		}
		if b() {
			s.Response.Line = randString(rnd)
		}
		if b() {
			s.Response.BodySize = rnd.Int64N(1 << 30)
		}
		s.Response.Truncated = b()
	}
	if rnd.IntN(3) == 0 {
		s.TLS = &checks.TLSInfo{Version: randString(rnd), Subject: randString(rnd), Issuer: randString(rnd),
			NotAfter: randTime(rnd, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)).UTC(), DaysRemaining: rnd.Float64() * 1000, SANs: randStrings(rnd)}
		if b() {
			s.TLS.DaysRemaining = -s.TLS.DaysRemaining / 7
		}
	}
	if rnd.IntN(3) == 0 {
		s.Findings = make([]checks.Finding, rnd.IntN(3))
		for i := range s.Findings {
			s.Findings[i] = checks.Finding{Rule: randString(rnd), Section: randString(rnd), Level: randString(rnd),
				Expected: randString(rnd), Actual: randString(rnd), Message: randString(rnd), Failed: b()}
		}
	}
	if rnd.IntN(4) == 0 {
		s.Diff = &checks.ResponseDiff{Text: "never kept for a passing run"}
	}
	return s
}

// A passing run is stored in the compact form, and reads back as the
// same result, field for field, as its JSON form did: for every field a
// result may hold, every zone, and strings JSON must escape or repair.
func TestCompactFormReadsBackAsTheJSONForm(t *testing.T) {
	rnd := rand.New(rand.NewPCG(10, 2026))
	for i := range 3000 {
		r := randResult(rnd)
		data, err := history.EncodeRun(r)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(data, []byte(`{"v":2,`)) {
			t.Fatalf("run %d: a passing run is stored as %.40s..., want the compact form", i, data)
		}
		if !json.Valid(data) {
			t.Fatalf("run %d: the compact form is not JSON: %s", i, data)
		}
		got, err := history.DecodeRun(summaryOf(r), data)
		if err != nil {
			t.Fatalf("run %d: %v\n%s", i, err, data)
		}
		gotJSON, err := json.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		if want := legacyRead(t, r); !bytes.Equal(gotJSON, want) {
			t.Fatalf("run %d reads back as\n%s\nwant (the JSON form)\n%s\nstored\n%s", i, gotJSON, want, data)
		}
	}
}

// Failed runs keep the JSON form (their evidence), and rows written in
// the JSON form before the compact one existed still read back.
func TestJSONFormStillReads(t *testing.T) {
	rnd := rand.New(rand.NewPCG(11, 2026))
	for i := range 300 {
		r := randResult(rnd)
		if i%2 == 0 {
			r.Passed, r.Reason, r.Message = false, checks.ReasonAssertion, "step: failed"
		}
		want := legacyRead(t, r)
		old, err := json.Marshal(history.Compact(r))
		if err != nil {
			t.Fatal(err)
		}
		data, err := history.EncodeRun(r)
		if err != nil {
			t.Fatal(err)
		}
		if !r.Passed && !bytes.Equal(data, old) {
			t.Fatalf("failed run %d stored as %.60s..., want its JSON form", i, data)
		}
		for _, d := range [][]byte{old, data} {
			got, err := history.DecodeRun(summaryOf(r), d)
			if err != nil {
				t.Fatal(err)
			}
			if gotJSON, _ := json.Marshal(got); !bytes.Equal(gotJSON, want) {
				t.Fatalf("run %d reads back as\n%s\nwant\n%s", i, gotJSON, want)
			}
		}
	}
}

// What the compact form cannot hold exactly (a time whose Unix
// nanoseconds overflow) is stored in the JSON form instead.
func TestRunsTheCompactFormCannotHoldKeepTheJSONForm(t *testing.T) {
	for name, mod := range map[string]func(*checks.Result){
		"zero start": func(r *checks.Result) { r.Started = time.Time{} },
		"certificate to 9999": func(r *checks.Result) {
			r.Attempts[0].Steps[0].TLS = &checks.TLSInfo{NotAfter: time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)}
		},
		"attempt in another zone": func(r *checks.Result) {
			r.Attempts[0].Started = r.Attempts[0].Started.In(time.FixedZone("", 7200))
		},
	} {
		r := benchResult("a", t0)
		r.ID = 7
		mod(r)
		data, err := history.EncodeRun(r)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if bytes.HasPrefix(data, []byte(`{"v":2`)) {
			t.Fatalf("%s: stored in the compact form: %s", name, data)
		}
		got, err := history.DecodeRun(summaryOf(r), data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if gotJSON, _ := json.Marshal(got); !bytes.Equal(gotJSON, legacyRead(t, r)) {
			t.Fatalf("%s: reads back as %s", name, gotJSON)
		}
	}
}

// The compact form of the common run is less than half its JSON form.
func TestCompactFormIsSmall(t *testing.T) {
	r := benchResult("simple-00042", t0)
	r.ID = 123456
	old, _ := json.Marshal(history.Compact(r))
	data, _ := history.EncodeRun(r)
	if len(data)*2 > len(old) {
		t.Fatalf("compact form %d bytes, JSON form %d: want less than half\n%s", len(data), len(old), data)
	}
	t.Logf("compact form %d bytes, JSON form %d\n%s\n%s", len(data), len(old), data, old)
}

// A stored run of a newer form than this build knows is an error, not a
// result with fields missing.
func TestNewerFormIsRefused(t *testing.T) {
	if _, err := history.DecodeRun(history.RunSummary{ID: 1, Check: "a"}, []byte(`{"v":3,"s":1}`)); err != nil {
		t.Fatalf("a {\"v\":3 prefix is not the compact form's and reads as JSON: %v", err)
	}
}
