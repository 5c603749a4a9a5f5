package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// The soak (`--only soak`, issue 13 item 20) runs the daemon for
// --duration on 10,000 checks, a third of them against the hostile
// targets (hostile.go), with the history on SQLite, alerting to a
// loopback webhook, /metrics scraped and the checks reloaded now and
// then, and samples what the daemon process holds: resident memory,
// goroutines and open files. After the warm-up each must be flat
// (soak_flat.go); the bench exits non-zero when one is not, because a
// leak is a defect, not a slow machine. It runs only when named in
// --only.

var (
	soakDuration = flag.Duration("duration", 0, "soak: how long it runs (default 10m, 2m with --quick)")
	// Child flags.
	lifeFlag    = flag.Duration("life", 0, "internal: how long a child lives at most (default 15m)")
	sampleFlag  = flag.Duration("sample", 0, "internal: sample interval of a soak child")
	soakConfig  = flag.String("soak-config", "", "internal: assay.yaml of a soak child")
	soakProfile = flag.String("soak-profile", "", "internal: profile directory of a soak child")
)

// childLife bounds a child process: -life, or maxChildLife.
func childLife() time.Duration {
	if *lifeFlag > 0 {
		return *lifeFlag
	}
	return maxChildLife
}

// soakNamed reports whether --only names the soak: it never runs
// otherwise, not even in a full run.
func soakNamed(only string) bool {
	return slices.Contains(strings.Split(only, ","), "soak")
}

// The soak's load: 10,000 checks, two thirds healthy every 30 s against
// the demo API (222 runs/s), one third hostile every 60 s spread over the
// six hostile kinds (56 runs/s, of which the hang, the TLS stall and the
// slow body each hold a worker for their whole 3 s timeout: about 85
// runs in flight, under the default concurrency of 256). About 280
// runs/s leaves the machine's second core to others (the soak measures
// leaks, not throughput; bench --only fleet does 1,000/s).
const (
	soakChecks         = 10000
	soakHealthyEvery   = 30 * time.Second
	soakHostileEvery   = 60 * time.Second
	soakHealthyTimeout = 5 * time.Second
	soakHostileTimeout = 3 * time.Second
	soakScrapeEvery    = 30 * time.Second
	// soakNotifyEvery: one hostile check in so many notifies the webhook
	// (333 incidents that fire together, and remind every 5 minutes); the
	// others fire and are recorded without a notifier. With all 3,333
	// notifying, the firing storm stalled every check for up to 30 s on a
	// loaded machine (BENCHMARKS.md): a finding, but noise for a leak.
	soakNotifyEvery = 10
	// soakHookFailEvery: the webhook answers 503 to every tenth delivery,
	// so that the outbox retries all along.
	soakHookFailEvery = 10
)

// soakPlan is the timing of one soak.
type soakPlan struct {
	duration, sample, warmup, reloadEvery time.Duration
}

// planSoak samples every minute, or every 10 s for runs under 10
// minutes; the warm-up is a fifth of the run, at least half of it up to
// 5 minutes (the history's retention of 1 minute is reached, the heap
// has grown to its working size); the checks are reloaded six times.
func planSoak(d time.Duration) soakPlan {
	p := soakPlan{duration: d, sample: time.Minute, warmup: max(d/5, min(d/2, 5*time.Minute)), reloadEvery: d / 6}
	if d < 10*time.Minute {
		p.sample = 10 * time.Second
	}
	return p
}

const soakHealthyYAML = `  - name: soak-healthy-%05[1]d
    schedule: "@every %[2]s"
    timeout: %[3]s
    labels: { team: soak }
    steps:
      - name: get
        request: { method: GET, url: "%[4]s/documents/1" }
        expect:
          status: 200
          json: { $.id: 1 }
`

// The TLS stall's checks carry TLS options, as checks of internal
// endpoints do (a server name, a CA): such a check has a client of its
// own, which a reload must not multiply.
const soakHostileYAML = `  - name: soak-%[1]s-%05[2]d
    schedule: "@every %[3]s"
    timeout: %[4]s
    labels: { team: soak }
%[8]s    steps:
      - name: get
        request: { method: GET, url: "%[5]s://%[6]s/%[1]s"%[7]s }
        expect:
          status: 200
          json: { $.id: 1 }
`

const soakConfigYAML = `server:
  listen: 127.0.0.1:0
  shutdown_grace: 10s
storage:
  path: %[1]q
  retention: 1m
checks:
  dir: %[2]q
defaults:
  alert:
    failures: 2
    repeat: 5m
notifiers:
  hook:
    type: webhook
    url: %[3]q
    timeout: 5s
`

// writeSoak writes the checks (1,000 a file) and assay.yaml under dir;
// it returns the config's path. Every third check is hostile, and every
// soakNotifyEvery-th hostile one notifies.
func writeSoak(dir string, n int, target string, hostile map[string]string, hook string) (string, error) {
	checksDir := filepath.Join(dir, "checks")
	if err := os.MkdirAll(checksDir, 0o755); err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Join(dir, "store"), 0o755); err != nil {
		return "", err
	}
	var b strings.Builder
	for i := range n {
		if i%3 == 2 {
			k := hostileKinds[(i/3)%len(hostileKinds)]
			tls := ""
			if k.scheme == "https" {
				tls = ", tls: { server_name: localhost }"
			}
			alert := ""
			if (i/3)%soakNotifyEvery == 0 {
				alert = "    alert: { notify: [hook] }\n"
			}
			fmt.Fprintf(&b, soakHostileYAML, k.name, i, soakHostileEvery, soakHostileTimeout, k.scheme, hostile[k.name], tls, alert)
		} else {
			fmt.Fprintf(&b, soakHealthyYAML, i, soakHealthyEvery, soakHealthyTimeout, target)
		}
		if (i+1)%1000 == 0 || i == n-1 {
			if err := os.WriteFile(filepath.Join(checksDir, fmt.Sprintf("soak-%02d.yaml", i/1000)), []byte("checks:\n"+b.String()), 0o644); err != nil {
				return "", err
			}
			b.Reset()
		}
	}
	path := filepath.Join(dir, "assay.yaml")
	text := fmt.Sprintf(soakConfigYAML, filepath.Join(dir, "store", "assay.db"), checksDir, hook)
	return path, os.WriteFile(path, []byte(text), 0o644)
}

func soakHostileCount() int { return soakChecks / 3 }

// soakOffered is the runs per second the soak's schedules ask for.
func soakOffered() float64 {
	h := soakHostileCount()
	return float64(soakChecks-h)/soakHealthyEvery.Seconds() + float64(h)/soakHostileEvery.Seconds()
}

// runSoak runs the soak; violation is set when a resource is not flat.
func runSoak(cfg benchConfig, tmp string, progress func(string, ...any)) (figs []figure, violation, err error) {
	d := *soakDuration
	if d <= 0 {
		d = 10 * time.Minute
		if cfg.quick {
			d = 2 * time.Minute
		}
	}
	plan := planSoak(d)
	life := d + 15*time.Minute
	target, tc, err := startTarget("-life=" + life.String())
	if err != nil {
		return nil, nil, err
	}
	defer tc.stop()
	hostile, hc, err := startHostile(life)
	if err != nil {
		return nil, nil, err
	}
	defer hc.stop()
	hook, err := startHook()
	if err != nil {
		return nil, nil, err
	}
	defer hook.close()
	dir := filepath.Join(tmp, "soak")
	cfgPath, err := writeSoak(dir, soakChecks, target, hostile, hook.url)
	if err != nil {
		return nil, nil, err
	}
	progress("soak: %d checks (%d hostile: %s), %s, sampled every %s, warm-up %s, reload every %s",
		soakChecks, soakHostileCount(), kindNames(), d, plan.sample, plan.warmup, plan.reloadEvery)

	args := []string{"-role=soak", "-soak-config=" + cfgPath, "-sample=" + plan.sample.String(), "-warmup=" + plan.warmup.String(), "-life=" + life.String()}
	if cfg.profileDir != "" {
		args = append(args, "-soak-profile="+cfg.profileDir)
	}
	c, err := startChild(nil, args...)
	if err != nil {
		return nil, nil, err
	}
	defer c.stop()
	var first soakLine
	if err := readSoakLine(c, 2*time.Minute, &first); err != nil || first.Ready == nil {
		return nil, nil, fmt.Errorf("soak: no ready line: %v", err)
	}
	base := "http://" + first.Ready.Addr
	ctx, stopBackground := context.WithCancel(context.Background())
	scr := &scraped{}
	proc := &procPoll{pid: c.cmd.Process.Pid}
	reloads := &reloadCount{}
	var bg sync.WaitGroup
	bg.Add(3)
	go func() { defer bg.Done(); scrapeLoop(ctx, base+"/metrics", scr) }()
	go func() { defer bg.Done(); reloadLoop(ctx, base+"/-/reload", plan.sample/2, plan.reloadEvery, reloads) }()
	go func() { defer bg.Done(); proc.run(ctx) }()

	var samples []soakSample
	for {
		var l soakLine
		if err := readSoakLine(c, 3*plan.sample+30*time.Second, &l); err != nil {
			stopBackground()
			bg.Wait()
			return nil, nil, fmt.Errorf("soak: %w", err)
		}
		if l.Sample == nil {
			continue
		}
		s := *l.Sample
		s.RSS, s.OpenFiles, s.Threads = proc.take()
		s.Outbox, s.NativeBuckets = scr.get("assay_outbox_events"), scr.get(nativeBuckets)
		samples = append(samples, s)
		progress("soak: %6s rss %5.1f-%5.1f MiB, goroutines %4d-%4d, open files %4d-%4d, %8d runs, outbox %.0f",
			fmtSecs(s.Elapsed), float64(s.RSS.Min)/(1<<20), float64(s.RSS.Max)/(1<<20), s.Goroutines.Min, s.Goroutines.Max,
			s.OpenFiles.Min, s.OpenFiles.Max, s.Runs, s.Outbox)
		if s.Elapsed >= d.Seconds() {
			break
		}
	}
	stopBackground()
	bg.Wait()
	_ = c.stdin.Close()
	var last soakLine
	for last.Final == nil {
		if err := readSoakLine(c, 2*time.Minute, &last); err != nil {
			return nil, nil, fmt.Errorf("soak: no final line: %w", err)
		}
	}
	fin := last.Final

	// The fit, over the samples from the end of the warm-up.
	var ts, rssY, gorY, fdY, heapY, nativeY []float64
	var after []soakSample
	for _, s := range samples {
		if s.Elapsed >= plan.warmup.Seconds() {
			after = append(after, s)
			ts = append(ts, s.Elapsed)
			rssY = append(rssY, float64(s.RSS.Min))
			gorY = append(gorY, float64(s.Goroutines.Min))
			fdY = append(fdY, float64(s.OpenFiles.Min))
			heapY = append(heapY, float64(s.HeapLive.Min))
			nativeY = append(nativeY, s.NativeBuckets)
		}
	}
	if len(after) < 3 {
		return nil, nil, fmt.Errorf("soak: %d samples after the warm-up, want at least 3", len(after))
	}
	rssT := fitTrend("resident memory floor (bytes)", ts, rssY, rssRule)
	gorT := fitTrend("goroutines floor", ts, gorY, goroutineRule)
	fdT := fitTrend("open files floor", ts, fdY, openFileRule)
	heapT := fitTrend("live heap floor (bytes)", ts, heapY, flatRule{})
	nativeT := fitTrend("native histogram buckets", ts, nativeY, flatRule{})
	// Resident memory may grow with the native buckets, which are
	// bounded (soak_flat.go); that they stay under their bound is judged.
	nativeAllowance := nativeT.PerHour * rssPerNativeBucket
	rssT.allow(nativeAllowance)
	violation = verdict([]trend{rssT, gorT, fdT})
	// One duration histogram a check, and the scheduler's lateness.
	if err := nativeBucketsBounded(samples[len(samples)-1].NativeBuckets, soakChecks+1); err != nil {
		violation = errors.Join(violation, err)
	}

	printSoakSamples(samples, plan)
	printSoakKinds(fin)

	a, z := after[0], after[len(after)-1]
	runsPerSec := float64(z.Runs-a.Runs) / (z.Elapsed - a.Elapsed)
	var maxDB, maxRSS, maxGor, maxFD int64
	var maxOutbox float64
	for _, s := range after {
		maxDB, maxOutbox = max(maxDB, s.DBBytes), max(maxOutbox, s.Outbox)
		maxRSS, maxGor, maxFD = max(maxRSS, s.RSS.Max), max(maxGor, s.Goroutines.Max), max(maxFD, s.OpenFiles.Max)
	}
	var healthyFailed int64
	reasons := map[string]int64{}
	for _, k := range fin.Kinds {
		if k.Kind == "healthy" {
			healthyFailed = k.Runs - k.Passed
		}
		for r, n := range k.Reasons {
			reasons[r] += n
		}
	}
	add := func(f figure) { figs = append(figs, f) }
	flat := 1.0
	if violation != nil {
		flat = 0
	}
	window := fmt.Sprintf("%d samples from %s to %s", len(after), fmtSecs(a.Elapsed), fmtSecs(z.Elapsed))
	add(figure{name: "soak_duration_seconds", value: d.Seconds(), unit: "seconds", human: d.String(),
		what: fmt.Sprintf("soak: %d checks, %d against hostile targets (%s)", soakChecks, soakHostileCount(), kindNames())})
	add(figure{name: "soak_runs_total", value: float64(z.Runs), unit: "runs", human: fmt.Sprint(z.Runs), what: "runs completed"})
	add(figure{name: "soak_runs_per_second", value: runsPerSec, unit: "runs/s", human: fmt.Sprintf("%.0f/s", runsPerSec),
		what: fmt.Sprintf("runs completed per second after the warm-up (offered: %.0f/s)", soakOffered())})
	add(figure{name: "soak_healthy_failed_total", value: float64(healthyFailed), unit: "runs", human: fmt.Sprint(healthyFailed), target: "0",
		what: "failed runs of healthy checks (hostile targets must not hurt them)"})
	for _, r := range slices.Sorted(maps.Keys(reasons)) {
		add(figure{name: "soak_errors_" + r + "_total", value: float64(reasons[r]), unit: "runs", human: fmt.Sprint(reasons[r]),
			what: "failed runs, reason " + r})
	}
	trendFig := func(name, unit string, t trend, human func(float64) string) {
		target := "<= " + human(t.Allowed) + "/h"
		if t.Noise > 0 {
			target += " + " + human(t.Noise) + "/h noise"
		}
		if !t.Judged {
			target = "not judged (< " + rssRule.MinWindow.String() + ")"
		}
		add(figure{name: "soak_" + name + "_slope_" + unit + "_per_hour", value: t.PerHour, unit: unit + "/h", human: human(t.PerHour) + "/h",
			target: target, what: fmt.Sprintf("%s, least-squares slope over %s", t.Name, window)})
	}
	trendFig("rss", "bytes", rssT, mibf)
	add(figure{name: "soak_rss_native_allowance_bytes_per_hour", value: math.Max(nativeAllowance, 0), unit: "bytes/h", human: mibf(math.Max(nativeAllowance, 0)) + "/h",
		what: fmt.Sprintf("of which allowed for the native buckets gained (%.0f/h at %d B each; bounded)", nativeT.PerHour, rssPerNativeBucket)})
	add(figure{name: "soak_rss_floor_mean_bytes", value: rssT.Mean, unit: "bytes", human: mibf(rssT.Mean), what: "resident memory, the least of each interval, mean after the warm-up"})
	add(figure{name: "soak_rss_max_bytes", value: float64(maxRSS), unit: "bytes", human: mib(maxRSS), what: "resident memory, the most read after the warm-up (scrapes, reloads)"})
	trendFig("goroutines", "goroutines", gorT, countf)
	add(figure{name: "soak_goroutines_max", value: float64(maxGor), unit: "goroutines", human: fmt.Sprint(maxGor), what: fmt.Sprintf("goroutines, the most read (floor mean %.0f)", gorT.Mean)})
	trendFig("open_files", "files", fdT, countf)
	add(figure{name: "soak_open_files_max", value: float64(maxFD), unit: "files", human: fmt.Sprint(maxFD), what: fmt.Sprintf("open files, the most read (floor mean %.0f)", fdT.Mean)})
	add(figure{name: "soak_heap_live_slope_bytes_per_hour", value: heapT.PerHour, unit: "bytes/h", human: mibf(heapT.PerHour) + "/h",
		what: fmt.Sprintf("live heap (marked by the last GC), the least of each interval, slope (mean %s; not judged: RSS is)", mibf(heapT.Mean))})
	add(figure{name: "soak_db_max_bytes", value: float64(maxDB), unit: "bytes", human: mib(maxDB), what: "database and WAL, largest sample after the warm-up (retention 1m)"})
	add(figure{name: "soak_native_buckets_end", value: z.NativeBuckets, unit: "buckets", human: fmt.Sprintf("%.0f (%.1f a histogram)", z.NativeBuckets, z.NativeBuckets/soakChecks),
		what: fmt.Sprintf("native histogram buckets exposed at the end (at the warm-up's end: %.0f)", a.NativeBuckets)})
	add(figure{name: "soak_outbox_max_events", value: maxOutbox, unit: "events", human: fmt.Sprint(maxOutbox), what: "notifications waiting in the outbox, largest sample"})
	add(figure{name: "soak_notifications_received_total", value: float64(hook.received.Load()), unit: "requests", human: fmt.Sprint(hook.received.Load()),
		what: fmt.Sprintf("webhook deliveries received (every %dth answered 503)", soakHookFailEvery)})
	ok, failed, firstFail := reloads.get()
	add(figure{name: "soak_reloads_total", value: float64(ok), unit: "reloads", human: fmt.Sprintf("%d (%d failed%s)", ok, failed, firstFail),
		what: "POST /-/reload of the unchanged checks"})
	add(figure{name: "soak_skipped_runs_total", value: float64(fin.Skipped), unit: "runs", human: fmt.Sprint(fin.Skipped), what: "runs the scheduler skipped"})
	add(figure{name: "soak_lateness_max_seconds", value: fin.LateMaxSecs, unit: "seconds", human: ms(fin.LateMaxSecs), what: "largest lateness of a run"})
	add(figure{name: "soak_daemon_errors_total", value: float64(fin.Errors), unit: "lines", human: fmt.Sprintf("%d (%d warnings)", fin.Errors, fin.Warnings),
		what: "error lines the daemon logged"})
	add(figure{name: "soak_flat", value: flat, unit: "bool", human: map[bool]string{true: "yes", false: "NO"}[violation == nil], target: "yes",
		what: "resident memory, goroutines and open files flat after the warm-up (exit 1 if not)"})
	return figs, violation, nil
}

func readSoakLine(c *child, d time.Duration, l *soakLine) error {
	s, err := c.line(d)
	if err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(s), l); err != nil {
		return fmt.Errorf("%q: %w", cut(s, 200), err)
	}
	return nil
}

func printSoakSamples(samples []soakSample, plan soakPlan) {
	fmt.Printf("soak samples (every %s, each the least-most read every %s since the last; the fit of the least starts at %s):\n", plan.sample, resourcePoll, plan.warmup)
	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "t\tRSS MiB\tgoroutines\topen files\tthreads\tlive heap MiB\truns\truns/s\tDB MiB\toutbox\tnative buckets\t")
	var prev soakSample
	for _, s := range samples {
		rate := float64(s.Runs-prev.Runs) / (s.Elapsed - prev.Elapsed)
		fmt.Fprintf(tw, "%s\t%.1f-%.1f\t%d-%d\t%d-%d\t%d\t%.1f\t%d\t%.0f\t%.1f\t%.0f\t%.0f\t\n", fmtSecs(s.Elapsed),
			float64(s.RSS.Min)/(1<<20), float64(s.RSS.Max)/(1<<20), s.Goroutines.Min, s.Goroutines.Max, s.OpenFiles.Min, s.OpenFiles.Max,
			s.Threads, float64(s.HeapLive.Min)/(1<<20), s.Runs, rate, float64(s.DBBytes)/(1<<20), s.Outbox, s.NativeBuckets)
		prev = s
	}
	tw.Flush()
	fmt.Println()
}

func printSoakKinds(f *soakFinal) {
	fmt.Println("soak runs by target (failure reasons; one message each, quoted):")
	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TARGET\tRUNS\tPASSED\tFAILED BY REASON")
	for _, k := range f.Kinds {
		var rs []string
		for _, r := range slices.Sorted(maps.Keys(k.Reasons)) {
			rs = append(rs, fmt.Sprintf("%s %d %s", r, k.Reasons[r], strconv.Quote(k.Example[r])))
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", k.Kind, k.Runs, k.Passed, strings.Join(rs, "; "))
	}
	tw.Flush()
	if len(f.FirstLogs) > 0 {
		fmt.Printf("daemon: %d errors, %d warnings logged; first of each:\n", f.Errors, f.Warnings)
		for _, l := range f.FirstLogs {
			fmt.Println("  " + strconv.Quote(l))
		}
	}
	fmt.Println()
}

func kindNames() string {
	var ns []string
	for _, k := range hostileKinds {
		ns = append(ns, k.name)
	}
	return strings.Join(ns, ", ")
}

func fmtSecs(s float64) string {
	return time.Duration(s * float64(time.Second)).Round(time.Second).String()
}
func mibf(b float64) string   { return fmt.Sprintf("%.2f MiB", b/(1<<20)) }
func countf(v float64) string { return fmt.Sprintf("%.1f", v) }

// pidStatus reads a numeric field of /proc/PID/status (VmRSS in kB,
// Threads); 0 where it cannot.
func pidStatus(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		k, v, ok := strings.Cut(line, ":")
		if !ok || k != field {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return 0
		}
		return n
	}
	return 0
}

// openFiles counts the file descriptors of a process (/proc/PID/fd).
func openFiles(pid int) int {
	es, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0
	}
	return len(es)
}

// hookReceiver is the loopback webhook the soak's alerts go to; it
// counts deliveries and fails every soakHookFailEvery-th.
type hookReceiver struct {
	url      string
	srv      *http.Server
	received atomic.Int64
}

func startHook() (*hookReceiver, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	h := &hookReceiver{url: "http://" + l.Addr().String() + "/hook"}
	h.srv = &http.Server{ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, IdleTimeout: 30 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
			if h.received.Add(1)%soakHookFailEvery == 0 {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			w.WriteHeader(http.StatusOK)
		})}
	go func() { _ = h.srv.Serve(l) }()
	return h, nil
}

func (h *hookReceiver) close() { _ = h.srv.Close() }

// scraped holds the latest values of the few series the soak reads from
// the daemon's /metrics, and how many native histogram buckets it
// exposes.
type scraped struct {
	mu     sync.Mutex
	values map[string]float64
}

// scrapedNames are the series the soak keeps (summed over labels).
var scrapedNames = []string{"assay_outbox_events", "assay_alerts_firing", "assay_store_write_errors_total", "go_goroutines"}

// nativeBuckets is the key of scraped.values that counts the native
// histogram buckets of every series.
const nativeBuckets = "native_buckets"

func (s *scraped) get(name string) float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.values[name]
}

// scrapeLoop reads url every soakScrapeEvery, as Prometheus would,
// until ctx ends.
func scrapeLoop(ctx context.Context, url string, s *scraped) {
	for {
		if v, err := scrapeSome(ctx, url); err == nil {
			s.mu.Lock()
			s.values = v
			s.mu.Unlock()
		}
		t := time.NewTimer(soakScrapeEvery)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// scrapeSome reads the whole exposition in the protobuf format (as a
// Prometheus with native histograms does: the text format has none of
// their buckets) and keeps the values of scrapedNames and the count of
// native buckets; the rest, hundreds of thousands of series, is decoded
// and dropped.
func scrapeSome(ctx context.Context, url string) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	req.Header.Set("Accept", string(expfmt.NewFormat(expfmt.TypeProtoDelim)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	dec := expfmt.NewDecoder(io.LimitReader(resp.Body, 1<<30), expfmt.ResponseFormat(resp.Header))
	out := map[string]float64{}
	for {
		var mf dto.MetricFamily
		if err := dec.Decode(&mf); errors.Is(err, io.EOF) {
			return out, nil
		} else if err != nil {
			return nil, err
		}
		keep := slices.Contains(scrapedNames, mf.GetName())
		for _, m := range mf.GetMetric() {
			if h := m.GetHistogram(); h != nil {
				for _, sp := range h.GetPositiveSpan() {
					out[nativeBuckets] += float64(sp.GetLength())
				}
				for _, sp := range h.GetNegativeSpan() {
					out[nativeBuckets] += float64(sp.GetLength())
				}
			}
			if !keep {
				continue
			}
			switch {
			case m.GetGauge() != nil:
				out[mf.GetName()] += m.GetGauge().GetValue()
			case m.GetCounter() != nil:
				out[mf.GetName()] += m.GetCounter().GetValue()
			}
		}
	}
}

// reloadCount counts the reloads that worked and those that did not.
type reloadCount struct {
	mu         sync.Mutex
	ok, failed int64
	first      string
}

func (r *reloadCount) get() (ok, failed int64, first string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.first != "" {
		first = "; first: " + strconv.Quote(r.first)
	}
	return r.ok, r.failed, first
}

// reloadLoop POSTs url every d, offset later, until ctx ends; a reload
// cut short by the end of the soak is not counted. The offset keeps the
// reloads (which hold a second set of checks while they load) away from
// the samples and the profiles taken with them.
func reloadLoop(ctx context.Context, url string, offset, d time.Duration, r *reloadCount) {
	select {
	case <-ctx.Done():
		return
	case <-time.After(offset):
	}
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rctx, cancel := context.WithTimeout(ctx, time.Minute)
		req, _ := http.NewRequestWithContext(rctx, http.MethodPost, url, nil)
		resp, err := http.DefaultClient.Do(req)
		var body []byte
		if err == nil {
			body, _ = io.ReadAll(io.LimitReader(resp.Body, 4<<10))
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(body))
			}
		}
		cancel()
		if ctx.Err() != nil {
			return
		}
		r.mu.Lock()
		if err == nil {
			r.ok++
		} else {
			r.failed++
			if r.first == "" {
				r.first = cut(err.Error(), 200)
			}
		}
		r.mu.Unlock()
	}
}

// procPoll reads what /proc says of a process every resourcePoll.
type procPoll struct {
	pid int
	mu  sync.Mutex
	// The range since the last take.
	rss, files minMax
	threads    int64
}

func (p *procPoll) read() {
	rss, threads, files := pidStatus(p.pid, "VmRSS")<<10, pidStatus(p.pid, "Threads"), int64(openFiles(p.pid))
	if rss == 0 {
		return // gone
	}
	p.mu.Lock()
	p.rss.add(rss)
	p.files.add(files)
	p.threads = threads
	p.mu.Unlock()
}

func (p *procPoll) run(ctx context.Context) {
	t := time.NewTicker(resourcePoll)
	defer t.Stop()
	for {
		p.read()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// take returns the range since the last take, a read of now included.
func (p *procPoll) take() (rss, files minMax, threads int64) {
	p.read()
	p.mu.Lock()
	defer p.mu.Unlock()
	rss, files, threads = p.rss, p.files, p.threads
	p.rss, p.files = minMax{}, minMax{}
	return rss, files, threads
}
