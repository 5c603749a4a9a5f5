package main

import (
	"fmt"
	"math"
	"time"
)

// A soak passes when what the daemon holds (resident memory, goroutines,
// open files) is flat after the warm-up: a leak is growth with time, and
// the least-squares slope of the samples is its rate. Noise (a scrape's
// garbage, runs in flight at the instant of a sample) moves single
// samples but hardly the slope of many.

// flatRule is how much growth a resource may show and still be flat.
type flatRule struct {
	// Fraction of the mean and Floor (in the resource's unit), whichever
	// is larger, are the growth allowed over an hour.
	Fraction, Floor float64
	// MinWindow: a shorter window is reported, not judged.
	MinWindow time.Duration
}

// The rules the soak holds the daemon to: over an hour, growth of at
// most a tenth of the mean (16 MiB, 20 goroutines, 10 files for small
// means). A leak of one goroutine or one file per hostile run (about 56
// a second), or of 100 bytes per run (280 a second), is far beyond them:
// 200,000 goroutines or 100 MB an hour; so is one per check and reload.
// Tighter rules would read the noise of a 1-hour run as a leak: the
// floor of resident memory moves by tens of MiB with the scrapes.
//
// Resident memory settles for minutes after the start (the history
// fills up to its retention, the heap grows to what the scrapes and
// reloads need): it is judged over windows of 4 minutes or more, so in
// runs of 10 minutes or more, not in the 2-minute run of CI.
var (
	rssRule       = flatRule{Fraction: 0.10, Floor: 16 << 20, MinWindow: 4 * time.Minute}
	goroutineRule = flatRule{Fraction: 0.10, Floor: 20}
	openFileRule  = flatRule{Fraction: 0.10, Floor: 10}
)

// slope is the least-squares slope of ys over xs (per unit of x); 0 with
// fewer than two distinct xs.
func slope(xs, ys []float64) float64 {
	n := float64(len(xs))
	if len(xs) < 2 || len(xs) != len(ys) {
		return 0
	}
	var mx, my float64
	for i := range xs {
		mx += xs[i]
		my += ys[i]
	}
	mx, my = mx/n, my/n
	var sxy, sxx float64
	for i := range xs {
		sxy += (xs[i] - mx) * (ys[i] - my)
		sxx += (xs[i] - mx) * (xs[i] - mx)
	}
	if sxx == 0 {
		return 0
	}
	return sxy / sxx
}

// trend is a resource's fit over the samples after the warm-up.
type trend struct {
	Name      string
	Mean, Max float64
	PerHour   float64 // least-squares slope, per hour
	Allowed   float64 // growth allowed per hour
	// Noise is the slope the samples' scatter alone can make, per hour:
	// noiseSE standard errors of the fitted slope.
	Noise  float64
	Window time.Duration
	// Judged is false for a window shorter than the rule's MinWindow
	// (Flat is then true).
	Judged      bool
	Flat        bool
	Unit, Human string
}

// fitTrend fits ys (sampled at ts, seconds) against rule. A window
// shorter than an hour is held to the growth an hour allows, over the
// window: a 2-minute run may grow as much in its minute as an hour-long
// one in its hour, so that noise in a short run does not read as a leak
// (a leak per run still does: it grows thousands in a minute).
func fitTrend(name string, ts, ys []float64, rule flatRule) trend {
	t := trend{Name: name}
	if len(ts) == 0 {
		return t
	}
	for _, y := range ys {
		t.Mean += y
		t.Max = math.Max(t.Max, y)
	}
	t.Mean /= float64(len(ys))
	t.Window = time.Duration((ts[len(ts)-1] - ts[0]) * float64(time.Second))
	t.PerHour = slope(ts, ys) * 3600
	t.Allowed = math.Max(rule.Fraction*t.Mean, rule.Floor)
	if h := t.Window.Hours(); h > 0 && h < 1 {
		t.Allowed /= h
	}
	t.Noise = noiseSE * slopeSE(ts, ys) * 3600
	t.Judged = t.Window >= rule.MinWindow
	t.Flat = !t.Judged || len(ts) >= 3 && t.PerHour <= t.Allowed+t.Noise
	return t
}

// noiseSE is how many standard errors of the slope count as noise. The
// 2-minute soak of CI fits 7 samples of open files whose floor moves by
// ±15 with the hostile targets' connections: its slope alone ranged from
// -218 to +835 an hour with no leak, past the 720 an hour its rule
// allows. Four standard errors (5 degrees of freedom: a false alarm in
// about 0.5 % of flat runs) leave a leak of one file per hostile run
// (200,000 an hour, on a clean ramp) far outside.
const noiseSE = 4

// slopeSE is the standard error of the least-squares slope of ys over xs
// (per unit of x): the residuals' scatter over the spread of xs; 0 with
// fewer than three points.
func slopeSE(xs, ys []float64) float64 {
	n := len(xs)
	if n < 3 || n != len(ys) {
		return 0
	}
	b := slope(xs, ys)
	var mx, my float64
	for i := range xs {
		mx += xs[i]
		my += ys[i]
	}
	mx /= float64(n)
	my /= float64(n)
	var ssr, sxx float64
	for i := range xs {
		r := ys[i] - my - b*(xs[i]-mx)
		ssr += r * r
		sxx += (xs[i] - mx) * (xs[i] - mx)
	}
	if sxx == 0 {
		return 0
	}
	return math.Sqrt(ssr / float64(n-2) / sxx)
}

// allow adds growth explained by something bounded (perHour, in the
// trend's unit, never less than 0) to what the trend may grow, and
// judges it again.
func (t *trend) allow(perHour float64) {
	t.Allowed += math.Max(perHour, 0)
	t.Flat = !t.Judged || t.PerHour <= t.Allowed+t.Noise
}

// The native duration histograms grow by design after the warm-up:
// each check's histogram gains a bucket whenever a run lands where none
// of its few runs so far did, up to maxNativeBucketsPerHistogram (the
// metrics package's cap; past it the resolution halves), and a check
// that runs twice a minute is far from that cap after an hour. The
// metrics package keeps a bucket in two slices (an int32 key and a
// uint64 count: 12 B), up to twice that as the slices grow by doubling,
// and twice again resident with GOGC=100: 48 B. (client_golang's own
// histograms held about 220 B a bucket live, in sync.Maps: an hour of
// soak on them grew more than the rule allowed; BENCHMARKS.md.)
// The resident memory floor may grow by rssPerNativeBucket for each
// bucket gained, and only while the buckets stay under their cap: 100 a
// histogram is a bound, not a leak.
const (
	rssPerNativeBucket           = 48
	maxNativeBucketsPerHistogram = 100
)

// nativeBucketsBounded says whether n buckets exposed by histograms
// histograms are within the metrics package's cap.
func nativeBucketsBounded(n float64, histograms int) error {
	if limit := float64(maxNativeBucketsPerHistogram * histograms); n > limit {
		return &soakViolation{[]string{fmt.Sprintf("native histogram buckets: %.0f, more than %d histograms may hold (%.0f)", n, histograms, limit)}}
	}
	return nil
}

// verdict says which trends are not flat, nil when all are.
func verdict(ts []trend) error {
	var bad []string
	for _, t := range ts {
		if !t.Flat {
			bad = append(bad, fmt.Sprintf("%s grows %.4g per hour (allowed %.4g, noise %.4g, mean %.4g)", t.Name, t.PerHour, t.Allowed, t.Noise, t.Mean))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return &soakViolation{bad}
}

// soakViolation is a soak that found growth: a leak, not a slow machine.
type soakViolation struct{ what []string }

func (v *soakViolation) Error() string {
	s := "soak: not flat after the warm-up:"
	for _, w := range v.what {
		s += "\n  " + w
	}
	return s
}
