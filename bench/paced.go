package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"hash/fnv"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/config"
	"github.com/assay-monitor/assay/daemon"
	"github.com/prometheus/client_golang/prometheus"
)

// The idle-paced scenario (issue 13 item 22): 100 simple checks each every
// second, which leaves the process idle between runs, through assay's
// daemon and through a plain net/http client pacing 100 loops with
// time.Ticker, each in a child process of its own so that each side's CPU
// (getrusage of the child: user + system, every thread) is its own and
// the target's is excluded. Both children then fire the same checks back
// to back (a burst) for reference: the difference is what pacing costs.

// pacedTarget is the demo API's URL, for the plain child.
var pacedTarget = flag.String("target", "", "internal: target URL of a paced child")

// pacedResult is what a paced child reports, as one line of JSON.
type pacedResult struct {
	Runs       int64   `json:"runs"`
	Failed     int64   `json:"failed"`
	FirstFail  string  `json:"first_failure,omitempty"`
	WindowSecs float64 `json:"window_seconds"`
	CPUSecs    float64 `json:"cpu_seconds"`
	// Context switches over the window (getrusage): voluntary ones are
	// the process's threads going to sleep, so about its wake-ups.
	VCSW  int64 `json:"voluntary_context_switches"`
	IVCSW int64 `json:"involuntary_context_switches"`
	// GC cycles and heap bytes allocated over the window.
	GCs   uint64 `json:"gc_cycles"`
	Alloc uint64 `json:"alloc_bytes"`
	// Lateness over the window: actual start minus planned start.
	Samples int     `json:"lateness_samples"`
	LateP50 float64 `json:"lateness_p50_seconds"`
	LateP99 float64 `json:"lateness_p99_seconds"`
	LateMax float64 `json:"lateness_max_seconds"`
	// The same checks back to back, after the window.
	BurstRuns int64   `json:"burst_runs"`
	BurstCPU  float64 `json:"burst_cpu_seconds"`
}

// usage is the process's CPU, context switches, GC cycles and heap
// allocation so far.
type usage struct {
	cpu         time.Duration
	vcsw, ivcs  int64
	gcs, allocs uint64
}

func getUsage() usage {
	var u usage
	ms := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}, {Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(ms)
	u.gcs, u.allocs = ms[0].Value.Uint64(), ms[1].Value.Uint64()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		u.cpu, u.vcsw, u.ivcs = time.Duration(ru.Utime.Nano()+ru.Stime.Nano()), ru.Nvcsw, ru.Nivcsw
	}
	return u
}

// window measures the process over the observation window.
func (r *pacedResult) window(u0, u1 usage, w time.Duration) {
	r.CPUSecs, r.WindowSecs = (u1.cpu - u0.cpu).Seconds(), w.Seconds()
	r.VCSW, r.IVCSW = u1.vcsw-u0.vcsw, u1.ivcs-u0.ivcs
	r.GCs, r.Alloc = u1.gcs-u0.gcs, u1.allocs-u0.allocs
}

func (r *pacedResult) lateness(ds []time.Duration) {
	slices.Sort(ds)
	r.Samples = len(ds)
	r.LateP50, r.LateP99 = percentile(ds, 0.50).Seconds(), percentile(ds, 0.99).Seconds()
	if len(ds) > 0 {
		r.LateMax = ds[len(ds)-1].Seconds()
	}
}

// burstRounds is how many times a child fires its checks back to back.
const burstRounds = 20

// burst runs fs back to back burstRounds times, after a warm-up round
// and a GC, and notes the runs and the CPU they used in r.
func (r *pacedResult) burst(fs []func() error) error {
	for _, f := range fs {
		if err := f(); err != nil {
			return err
		}
	}
	runtime.GC()
	c0 := cpuTime()
	for range burstRounds {
		for _, f := range fs {
			if err := f(); err != nil {
				return err
			}
		}
	}
	r.BurstRuns, r.BurstCPU = int64(burstRounds*len(fs)), (cpuTime() - c0).Seconds()
	return nil
}

// startProfile starts a CPU profile into path ("" none); the returned
// function stops it.
func startProfile(path string) func() {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return func() {}
	}
	return func() { pprof.StopCPUProfile(); f.Close() }
}

// runPacedAssayChild is `assay run` on the checks in dir for warmup +
// window, then the same checks back to back through a checks.Runner.
func runPacedAssayChild(dir string, n int, warmup, window time.Duration, cpuProfile string) error {
	ctx, cancel := stdinContext(warmup + window + 5*time.Minute)
	defer cancel()
	cfg := config.Default()
	cfg.Checks.Dir = dir
	cfg.Server.Listen = "127.0.0.1:0"
	sink := &fleetSink{index: map[string]int{}, start: time.Now()}
	sink.allRun.Store(-1)
	lat := &latencyRecorder{scraping: new(atomic.Bool)}
	d, err := daemon.New(daemon.Options{
		Config:   cfg,
		Logger:   slog.New(slog.DiscardHandler),
		Registry: prometheus.NewRegistry(),
		Sinks:    []checks.Sink{sink},
		Observer: lat,
	})
	if err != nil {
		return err
	}
	if got := len(d.Checks()); got != n {
		return fmt.Errorf("daemon loaded %d checks, want %d", got, n)
	}
	if _, err := d.Listen(cfg.Server.Listen); err != nil {
		return err
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	runDone := make(chan error, 1)
	go func() { runDone <- d.Run(runCtx, nil) }()
	sleepCtx(ctx, warmup)

	var res pacedResult
	stopProfile := startProfile(cpuProfile)
	lat.on.Store(true)
	r0, f0, u0, w0 := sink.runs.Load(), sink.failed.Load(), getUsage(), time.Now()
	sleepCtx(ctx, window)
	r1, f1, u1, w1 := sink.runs.Load(), sink.failed.Load(), getUsage(), time.Now()
	lat.on.Store(false)
	stopProfile()
	res.window(u0, u1, w1.Sub(w0))
	res.Runs, res.Failed = r1-r0, f1-f0
	sink.mu.Lock()
	res.FirstFail = sink.firstErr
	sink.mu.Unlock()
	lat.mu.Lock()
	res.lateness(slices.Clone(lat.d))
	lat.mu.Unlock()

	cs := d.Checks()
	stop()
	if err := <-runDone; err != nil {
		return err
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	runner := checks.NewRunner(checks.RunnerOptions{})
	defer runner.Close()
	fs := make([]func() error, len(cs))
	for i, c := range cs {
		fs[i] = engineFunc(runner, c)
	}
	if err := res.burst(fs); err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

// pacedStart is when the plain loop of the check named name first runs:
// at an offset within every from a well-mixed hash of its name, aligned
// to the epoch, as assay's scheduler spreads checks (its spread time,
// before rounding up to a slot). It does not ask the scheduler, so that
// the plain side sends at the same moments whichever scheduler is built:
// the before and after figures share one baseline.
func pacedStart(name string, every time.Duration, now time.Time) time.Time {
	h := fnv.New64a()
	h.Write([]byte(name))
	x := h.Sum64()
	// MurmurHash3's finaliser: FNV-1a alone bunches names that differ in
	// their last characters.
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	t := now.Truncate(every).Add(time.Duration(x % uint64(every)))
	for !t.After(now) {
		t = t.Add(every)
	}
	return t
}

// runPacedPlainChild is what a Go programmer writes without assay: n
// goroutines, each with a time.Ticker, each doing the simple check's
// request and assertions with one shared http.Client; then the same
// checks back to back. Each loop starts at its check's spread time.
func runPacedPlainChild(dir, target string, n int, every, warmup, window time.Duration, cpuProfile string) error {
	ctx, cancel := stdinContext(warmup + window + 5*time.Minute)
	defer cancel()
	if target == "" {
		return fmt.Errorf("paced plain child: no -target")
	}
	cs, err := checks.Load(dir)
	if err != nil {
		return err
	}
	if len(cs) != n {
		return fmt.Errorf("paced plain child: %d checks in %s, want %d", len(cs), dir, n)
	}
	client := plainClient()
	defer client.CloseIdleConnections()
	fs := make([]func() error, n)
	for i := range fs {
		fs[i] = plainSimple(client, target, 1)
	}
	var (
		on                bool
		mu                sync.Mutex
		late              []time.Duration
		runs, failed      atomic.Int64
		firstFail         atomic.Value
		loops             sync.WaitGroup
		loopCtx, stopLoop = context.WithCancel(ctx)
	)
	defer stopLoop()
	now := time.Now()
	for i, f := range fs {
		first := pacedStart(fleetName(i), every, now)
		loops.Add(1)
		go func() {
			defer loops.Done()
			t := time.NewTimer(time.Until(first))
			select {
			case <-loopCtx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			tick := time.NewTicker(every)
			defer tick.Stop()
			planned := first
			for {
				d := time.Since(planned)
				err := f()
				mu.Lock()
				if on {
					late = append(late, d)
					runs.Add(1)
					if err != nil && failed.Add(1) == 1 {
						firstFail.Store(err.Error())
					}
				}
				mu.Unlock()
				select {
				case <-loopCtx.Done():
					return
				case planned = <-tick.C: // the tick's planned time
				}
			}
		}()
	}
	sleepCtx(ctx, warmup)
	var res pacedResult
	stopProfile := startProfile(cpuProfile)
	mu.Lock()
	on = true
	mu.Unlock()
	u0, w0 := getUsage(), time.Now()
	sleepCtx(ctx, window)
	mu.Lock()
	on = false
	u1, w1 := getUsage(), time.Now()
	res.lateness(slices.Clone(late))
	mu.Unlock()
	stopProfile()
	res.window(u0, u1, w1.Sub(w0))
	res.Runs, res.Failed = runs.Load(), failed.Load()
	if s, ok := firstFail.Load().(string); ok {
		res.FirstFail = s
	}
	stopLoop()
	loops.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if err := res.burst(fs); err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

// pacedFigures are the scenario's results, summed over its rounds.
type pacedFigures struct {
	assay, plain pacedResult
	ratios       []float64
}

// runPaced runs the paced scenario: rounds of the plain child and the
// daemon child in turn (ABBA, so that a drift of the machine's load
// weighs on both), each for warm-up + window.
func runPaced(cfg benchConfig, tmp, target string, progress func(string, ...any)) (*pacedFigures, error) {
	const n, every = 100, time.Second
	rounds, warmup, window := 2, 3*time.Second, 30*time.Second
	if cfg.quick {
		rounds, warmup, window = 1, 2*time.Second, 15*time.Second
	}
	dir := filepath.Join(tmp, "paced")
	if err := writeFleet(dir, n, every, target); err != nil {
		return nil, err
	}
	common := []string{fmt.Sprint("-n=", n), "-every=" + every.String(), "-warmup=" + warmup.String(), "-window=" + window.String()}
	side := func(name string, round int) (pacedResult, error) {
		var res pacedResult
		args := append([]string{"-role=paced-" + name, "-dir=" + dir, "-target=" + target}, common...)
		if cfg.profileDir != "" && round == 0 {
			args = append(args, "-cpuprofile="+filepath.Join(cfg.profileDir, "paced-"+name+".pprof"))
		}
		progress("  paced %s, round %d: %d checks every %s (warm-up %s, window %s)", name, round+1, n, every, warmup, window)
		c, err := startChild(nil, args...)
		if err != nil {
			return res, err
		}
		defer c.stop()
		line, err := c.line(warmup + window + 2*time.Minute)
		if err != nil {
			return res, fmt.Errorf("paced %s: %w", name, err)
		}
		if err := json.Unmarshal([]byte(line), &res); err != nil {
			return res, fmt.Errorf("paced %s: %q: %w", name, line, err)
		}
		if res.Runs == 0 {
			return res, fmt.Errorf("paced %s: no runs in the window", name)
		}
		if res.Failed > 0 {
			progress("  %d of %d runs failed; first: %s", res.Failed, res.Runs, res.FirstFail)
		}
		return res, nil
	}
	out := &pacedFigures{}
	for r := range rounds {
		order := []string{"plain", "assay"}
		if r%2 == 1 {
			order = []string{"assay", "plain"}
		}
		got := map[string]pacedResult{}
		for _, name := range order {
			res, err := side(name, r)
			if err != nil {
				return nil, err
			}
			got[name] = res
		}
		a, p := got["assay"], got["plain"]
		out.ratios = append(out.ratios, (a.CPUSecs/float64(a.Runs))/(p.CPUSecs/float64(p.Runs)))
		out.assay.add(a)
		out.plain.add(p)
	}
	return out, nil
}

// add sums o into r; lateness keeps the worst round.
func (r *pacedResult) add(o pacedResult) {
	r.Runs += o.Runs
	r.Failed += o.Failed
	r.CPUSecs += o.CPUSecs
	r.WindowSecs += o.WindowSecs
	r.VCSW += o.VCSW
	r.IVCSW += o.IVCSW
	r.GCs += o.GCs
	r.Alloc += o.Alloc
	r.BurstRuns += o.BurstRuns
	r.BurstCPU += o.BurstCPU
	r.Samples += o.Samples
	r.LateP50 = max(r.LateP50, o.LateP50)
	r.LateP99 = max(r.LateP99, o.LateP99)
	r.LateMax = max(r.LateMax, o.LateMax)
}

func (r pacedResult) cpuPerRun() time.Duration {
	return time.Duration(r.CPUSecs / float64(max(r.Runs, 1)) * 1e9)
}

func (r pacedResult) burstPerRun() time.Duration {
	return time.Duration(r.BurstCPU / float64(max(r.BurstRuns, 1)) * 1e9)
}

// figures turns the scenario's results into the bench's figures.
func (pf *pacedFigures) figures() []figure {
	a, p := pf.assay, pf.plain
	ratio := float64(a.cpuPerRun()) / float64(p.cpuPerRun())
	perRun := func(x int64, r pacedResult) float64 { return float64(x) / float64(max(r.Runs, 1)) }
	return []figure{
		{name: "paced_cpu_per_run_assay_seconds", value: a.cpuPerRun().Seconds(), unit: "seconds", human: us(a.cpuPerRun()),
			what: fmt.Sprintf("CPU per run, 100 checks each every 1s, assay's daemon (%d runs)", a.Runs)},
		{name: "paced_cpu_per_run_plain_seconds", value: p.cpuPerRun().Seconds(), unit: "seconds", human: us(p.cpuPerRun()),
			what: fmt.Sprintf("CPU per run, the same paced by 100 time.Tickers with plain net/http (%d runs)", p.Runs)},
		{name: "paced_cpu_ratio", value: ratio, unit: "ratio", human: fmt.Sprintf("%.2fx", ratio), target: "<= 0.5x",
			what: fmt.Sprintf("paced CPU per run, assay / plain (rounds: %s)", formatRatios(pf.ratios))},
		{name: "paced_lateness_p99_seconds", value: a.LateP99, unit: "seconds", human: ms(a.LateP99), target: "< 10 ms",
			what: fmt.Sprintf("lateness p99, assay paced (%d samples; p50 %s, max %s; plain's p99 %s)", a.Samples, ms(a.LateP50), ms(a.LateMax), ms(p.LateP99))},
		{name: "paced_csw_per_run_assay", value: perRun(a.VCSW, a), unit: "switches", human: fmt.Sprintf("%.2f", perRun(a.VCSW, a)),
			what: fmt.Sprintf("voluntary context switches per run, assay paced (involuntary %.2f)", perRun(a.IVCSW, a))},
		{name: "paced_csw_per_run_plain", value: perRun(p.VCSW, p), unit: "switches", human: fmt.Sprintf("%.2f", perRun(p.VCSW, p)),
			what: fmt.Sprintf("voluntary context switches per run, plain paced (involuntary %.2f)", perRun(p.IVCSW, p))},
		{name: "paced_alloc_per_run_assay_bytes", value: perRun(int64(a.Alloc), a), unit: "bytes", human: fmt.Sprintf("%.0f B", perRun(int64(a.Alloc), a)),
			what: fmt.Sprintf("heap allocated per run, assay paced (%d GC cycles)", a.GCs)},
		{name: "paced_alloc_per_run_plain_bytes", value: perRun(int64(p.Alloc), p), unit: "bytes", human: fmt.Sprintf("%.0f B", perRun(int64(p.Alloc), p)),
			what: fmt.Sprintf("heap allocated per run, plain paced (%d GC cycles)", p.GCs)},
		{name: "burst_cpu_per_run_assay_seconds", value: a.burstPerRun().Seconds(), unit: "seconds", human: us(a.burstPerRun()),
			what: "CPU per run, the same 100 checks back to back, assay engine"},
		{name: "burst_cpu_per_run_plain_seconds", value: p.burstPerRun().Seconds(), unit: "seconds", human: us(p.burstPerRun()),
			what: "CPU per run, the same 100 checks back to back, plain net/http"},
	}
}

func formatRatios(rs []float64) string {
	s := ""
	for i, r := range rs {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%.2f", r)
	}
	return s
}
