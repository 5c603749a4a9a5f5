// Command bench measures assay's cost and scale against targets of its
// own: CPU per check against a plain net/http client, checks per second
// and scheduler lateness through the daemon, resident memory and start-up
// with 10,000 checks, and `assay test` wall time. Every request goes to a
// demo API on 127.0.0.1 in a child process; every phase is bounded in
// time and the command stops by itself.
//
//	go run ./bench            # full run, a few minutes
//	go run ./bench --quick    # CI smoke test, under a minute
//	go run ./bench --only soak --duration 1h   # leak soak (soak.go); only when named
//
// It prints a table for people, then one `NAME VALUE UNIT` line per
// figure for machines. See BENCHMARKS.md for the targets and figures.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"
)

type benchConfig struct {
	quick      bool
	profileDir string
	assayBin   string
	only       string
	cpuChunk   int
	cpuRounds  int
}

func main() {
	var cfg benchConfig
	role := flag.String("role", "", "internal: run as a child process (target or fleet)")
	flag.BoolVar(&cfg.quick, "quick", false, "short runs for CI (under a minute; figures are noisier)")
	flag.StringVar(&cfg.profileDir, "profile", "", "write CPU and heap profiles into `DIR`")
	flag.StringVar(&cfg.assayBin, "assay", "", "assay binary for the `assay test` figure (default: go build ./cmd/assay)")
	flag.IntVar(&cfg.cpuChunk, "cpu-chunk", 600, "simple checks per CPU round and side (contract: a third)")
	flag.IntVar(&cfg.cpuRounds, "cpu-rounds", 0, "CPU rounds (default 40, quick 16)")
	flag.StringVar(&cfg.only, "only", "", "run only these comma-separated parts: cpu, fleet, history, paced, test, cluster, soak (cluster and soak only when named)")
	// Child flags.
	dir := flag.String("dir", "", "internal: checks directory of a fleet child")
	n := flag.Int("n", 0, "internal: checks in a fleet child")
	every := flag.Duration("every", 0, "internal: schedule interval of a fleet child")
	warmup := flag.Duration("warmup", 0, "internal: warm-up of a fleet child")
	window := flag.Duration("window", 0, "internal: observation window of a fleet child")
	cpuProfile := flag.String("cpuprofile", "", "internal: CPU profile of a fleet child")
	heapProfile := flag.String("heapprofile", "", "internal: heap profile of a fleet child")
	flag.Parse()

	var err error
	switch *role {
	case "target":
		err = serveTarget()
	case "fleet":
		err = runFleetChild(*dir, *n, *every, *warmup, *window, *cpuProfile, *heapProfile)
	case "paced-assay":
		err = runPacedAssayChild(*dir, *n, *warmup, *window, *cpuProfile)
	case "paced-plain":
		err = runPacedPlainChild(*dir, *pacedTarget, *n, *every, *warmup, *window, *cpuProfile)
	case "soak":
		err = runSoakChild(*soakConfig, *sampleFlag, *warmup, *soakProfile)
	case "hostile":
		err = serveHostile()
	case "":
		err = run(cfg)
	default:
		err = fmt.Errorf("unknown role %q", *role)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// figure is one measured value.
type figure struct {
	name  string
	value float64
	unit  string
	// human is the table's rendering; target what it is held against.
	human, target, what string
}

func run(cfg benchConfig) error {
	start := time.Now()
	if cfg.cpuRounds == 0 {
		cfg.cpuRounds = 40
		if cfg.quick {
			cfg.cpuRounds = 16
		}
	}
	want := func(part string) bool {
		return cfg.only == "" || strings.Contains(","+cfg.only+",", ","+part+",")
	}
	if cfg.profileDir != "" {
		if err := os.MkdirAll(cfg.profileDir, 0o755); err != nil {
			return err
		}
	}
	tmp, err := os.MkdirTemp("", "assay-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	target, tc, err := startTarget()
	if err != nil {
		return err
	}
	defer tc.stop()
	// Interrupted: the children stop by themselves when their stdin
	// closes; the temporary checks go too.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		if _, ok := <-sigs; ok {
			tc.stop()
			os.RemoveAll(tmp)
			os.Exit(130)
		}
	}()

	mode := "full"
	if cfg.quick {
		mode = "quick"
	}
	host, _ := os.Hostname()
	fmt.Printf("assay bench (%s) %s: %s, %d CPUs, GOMAXPROCS %d, %s/%s, host %s, load average %s\n", mode,
		time.Now().UTC().Format(time.RFC3339), runtime.Version(), runtime.NumCPU(), runtime.GOMAXPROCS(0),
		runtime.GOOS, runtime.GOARCH, host, loadAvg())
	fmt.Printf("target: demo API %s (child process)\n\n", target)

	var figs []figure
	add := func(f figure) { figs = append(figs, f) }
	progress := func(format string, a ...any) {
		fmt.Fprintf(os.Stderr, "bench: "+format+"\n", a...)
	}

	if want("cpu") {
		progress("CPU per check, engine vs plain net/http (%d rounds of %d simple checks)", cfg.cpuRounds, cfg.cpuChunk)
		rs, err := runCPU(cfg, target)
		if err != nil {
			return err
		}
		for _, r := range rs {
			add(figure{name: "cpu_" + r.name + "_assay_seconds", value: r.assay.Seconds(), unit: "seconds",
				human: us(r.assay), what: "CPU per " + r.name + " check, assay engine (resty)"})
			add(figure{name: "cpu_" + r.name + "_plain_seconds", value: r.plain.Seconds(), unit: "seconds",
				human: us(r.plain), what: "CPU per " + r.name + " check, plain net/http"})
			add(figure{name: "cpu_ratio_" + r.name, value: r.ratio, unit: "ratio",
				human: fmt.Sprintf("%.2fx", r.ratio), target: "<= 1.5x",
				what: fmt.Sprintf("assay CPU / plain CPU, %s (median of %d rounds; range %.2f-%.2f; total/total %.2f)", r.name, r.rounds, r.minRatio, r.maxRatio, r.sumRatio)})
			add(figure{name: "alloc_" + r.name + "_assay_bytes", value: float64(r.assayBytes), unit: "bytes",
				human: fmt.Sprintf("%d B", r.assayBytes), what: "heap allocated per " + r.name + " check, assay engine"})
			add(figure{name: "alloc_" + r.name + "_plain_bytes", value: float64(r.plainBytes), unit: "bytes",
				human: fmt.Sprintf("%d B", r.plainBytes), what: "heap allocated per " + r.name + " check, plain net/http"})
			add(figure{name: "wall_" + r.name + "_assay_seconds", value: r.assayWall.Seconds(), unit: "seconds",
				human: us(r.assayWall), what: "wall time per sequential " + r.name + " check, assay"})
			add(figure{name: "wall_" + r.name + "_plain_seconds", value: r.plainWall.Seconds(), unit: "seconds",
				human: us(r.plainWall), what: "wall time per sequential " + r.name + " check, plain"})
		}
	}

	if want("fleet") {
		scenarios := []fleetScenario{
			// 1,000 checks every second: 1,000 checks/s.
			{name: "1k", checks: 1000, every: time.Second, warmup: 2 * time.Second, window: 20 * time.Second},
			// 10,000 checks every 10 s: 1,000 checks/s with 10,000 loaded;
			// start-up, first runs and memory.
			{name: "10k", checks: 10000, every: 10 * time.Second, warmup: 0, window: 25 * time.Second},
			// 10,000 checks every second: about what this 2-core machine
			// can do with the target on the same cores (20,000 a second
			// only piles runs up): completed runs per second is what the
			// daemon sustains.
			{name: "10k-1s", checks: 10000, every: time.Second, warmup: 3 * time.Second, window: 15 * time.Second},
		}
		if cfg.quick {
			scenarios[0].warmup, scenarios[0].window = time.Second, 3*time.Second
			scenarios[1].window = 11 * time.Second
			scenarios[2].warmup, scenarios[2].window = 2*time.Second, 3*time.Second
		}
		res := map[string]fleetResult{}
		for _, sc := range scenarios {
			progress("daemon: %d checks every %s (warm-up %s, window %s)", sc.checks, sc.every, sc.warmup, sc.window)
			r, err := runFleet(cfg, tmp, target, sc)
			if err != nil {
				return err
			}
			if r.Failed > 0 {
				progress("  %d of %d runs failed; first: %s", r.Failed, r.Runs, r.FirstFail)
			}
			res[sc.name] = r
		}
		r1, r10, rMax := res["1k"], res["10k"], res["10k-1s"]
		add(figure{name: "checks_per_second", value: rMax.ChecksPerSec, unit: "checks/s", human: fmt.Sprintf("%.0f/s", rMax.ChecksPerSec),
			target: ">= 5000/s", what: fmt.Sprintf("simple checks completed per second through the daemon, 10,000 checks every 1s offered (%d failed)", rMax.Failed)})
		add(figure{name: "cpu_per_run_daemon_seconds", value: rMax.CPUPerRunSecs, unit: "seconds", human: us(time.Duration(rMax.CPUPerRunSecs * 1e9)),
			what: "daemon CPU per run at capacity (scheduler, engine, metrics)"})
		add(figure{name: "lateness_p50_seconds", value: r1.LateP50, unit: "seconds", human: ms(r1.LateP50), what: "lateness p50, 1,000 checks at 1,000/s"})
		add(figure{name: "lateness_p99_seconds", value: r1.LateP99, unit: "seconds", human: ms(r1.LateP99), target: "< 10 ms", what: "lateness p99, 1,000 checks at 1,000/s"})
		add(figure{name: "lateness_max_seconds", value: r1.LateMax, unit: "seconds", human: ms(r1.LateMax), what: fmt.Sprintf("lateness max, 1,000 checks at 1,000/s (%d samples)", r1.Samples)})
		add(figure{name: "checks_per_second_1k", value: r1.ChecksPerSec, unit: "checks/s", human: fmt.Sprintf("%.0f/s", r1.ChecksPerSec), what: "runs per second, 1,000 checks every 1s"})
		add(figure{name: "lateness_10k_p50_seconds", value: r10.LateP50, unit: "seconds", human: ms(r10.LateP50), what: "lateness p50, 10,000 checks at 1,000/s"})
		add(figure{name: "lateness_10k_p99_seconds", value: r10.LateP99, unit: "seconds", human: ms(r10.LateP99), target: "< 10 ms", what: "lateness p99, 10,000 checks at 1,000/s"})
		add(figure{name: "lateness_10k_max_seconds", value: r10.LateMax, unit: "seconds", human: ms(r10.LateMax), what: fmt.Sprintf("lateness max, 10,000 checks at 1,000/s (%d samples)", r10.Samples)})
		add(figure{name: "lateness_10k_noscrape_p99_seconds", value: r10.QuietP99, unit: "seconds", human: ms(r10.QuietP99), target: "< 10 ms",
			what: fmt.Sprintf("lateness p99, 10,000 checks at 1,000/s, before the first /metrics scrape (%d samples; max %s)", r10.QuietSamples, ms(r10.QuietMax))})
		add(figure{name: "lateness_overload_p99_seconds", value: rMax.LateP99, unit: "seconds", human: ms(rMax.LateP99), what: "lateness p99, 10,000 checks every 1s (near capacity: runs queue for a worker)"})
		add(figure{name: "rss_10k_idle_bytes", value: float64(r10.RSSIdle), unit: "bytes", human: mib(r10.RSSIdle), target: "< 150 MB", what: "resident memory, 10,000 checks loaded, before the first run"})
		add(figure{name: "rss_10k_bytes", value: float64(r10.RSSRunning), unit: "bytes", human: mib(r10.RSSRunning), target: "< 150 MB", what: "resident memory, 10,000 checks running (1,000/s), largest sample"})
		add(figure{name: "rss_10k_scrape_bytes", value: float64(r10.RSSPeak), unit: "bytes", human: mib(r10.RSSPeak), target: "< 150 MiB",
			what: fmt.Sprintf("peak resident memory (VmHWM) with /metrics scraped (%d scrapes of %d per-check series)", r10.Scrapes, r10.CheckSeries)})
		add(figure{name: "lateness_10k_scrape_p99_seconds", value: r10.ScrapeP99, unit: "seconds", human: ms(r10.ScrapeP99), target: "< 10 ms",
			what: fmt.Sprintf("lateness p99, 10,000 checks at 1,000/s, while a /metrics scrape is in flight (%d samples; max %s)", r10.ScrapeSamples, ms(r10.ScrapeMax))})
		perCheck := float64(r10.CheckSeries) / float64(r10.Checks)
		add(figure{name: "series_per_check", value: perCheck, unit: "series", human: fmt.Sprintf("%.1f", perCheck), target: "<= 12",
			what: fmt.Sprintf("series per one-step check, 10,000 checks (%d in all; a native histogram is one; text exposition: %.1f lines a check)",
				r10.CheckSeries, float64(r10.CheckTextSamples)/float64(r10.Checks))})
		add(figure{name: "rss_10k_capacity_bytes", value: float64(rMax.RSSRunning), unit: "bytes", human: mib(rMax.RSSRunning), what: "resident memory, 10,000 checks every 1s (near capacity), largest sample"})
		add(figure{name: "heap_10k_idle_bytes", value: float64(r10.HeapIdle), unit: "bytes", human: mib(int64(r10.HeapIdle)), what: "Go heap in use, 10,000 checks loaded"})
		add(figure{name: "load_10k_seconds", value: r10.LoadSecs, unit: "seconds", human: ms(r10.LoadSecs), what: "daemon start: read, validate and queue 10,000 checks"})
		add(figure{name: "schedule_all_10k_seconds", value: r10.ReadySecs, unit: "seconds", human: ms(r10.ReadySecs), target: "<= 1 s", what: "daemon start until all 10,000 scheduled and the scheduler runs"})
		add(figure{name: "run_once_all_10k_seconds", value: r10.AllRunSecs, unit: "seconds", human: fmt.Sprintf("%.2f s", r10.AllRunSecs),
			what: fmt.Sprintf("daemon start until every one of 10,000 ran once (interval %.0fs)", r10.Every)})
		afterReady := r10.AllRunSecs - r10.ReadySecs
		if r10.AllRunSecs < 0 {
			afterReady = -1
		}
		add(figure{name: "run_once_all_10k_after_schedule_seconds", value: afterReady, unit: "seconds", human: fmt.Sprintf("%.2f s", afterReady),
			target: fmt.Sprintf("<= %.0f s", r10.Every), what: "all 10,000 scheduled until every one ran once (one interval)"})
	}

	if want("history") {
		// The same daemon with the store open (alert state, as assay run
		// always has it), without and with the result history, 10,000
		// checks at 1,000 results/s. With history on, the retention (1m)
		// is reached during the warm-up, so that the window measures the
		// steady state: writing 1,000 results/s and pruning as many.
		warmup, window := 75*time.Second, 30*time.Second
		n, every, name := 10000, 10*time.Second, "10k"
		if cfg.quick {
			// The same 1,000 results/s from 1,000 checks every second:
			// a smoke test that loads in a fraction of the time, so
			// that --quick stays under a minute with its build.
			warmup, window = 2*time.Second, 5*time.Second
			n, every, name = 1000, time.Second, "1k"
		}
		off := fleetScenario{name: name + "-nohistory", checks: n, every: every, warmup: warmup, window: window,
			env: []string{"ASSAY_BENCH_STORAGE=nohistory"}}
		on := fleetScenario{name: name + "-history", checks: n, every: every, warmup: warmup, window: window,
			env: []string{"ASSAY_BENCH_STORAGE=history", "ASSAY_BENCH_RETENTION=1m"}}
		// The two sides run at the same time, each daemon in a child of
		// its own on the same target, so that both see the same load:
		// this shared machine's speed drifts by up to 2x over the
		// minutes a side takes (the same off side measured 179 and
		// 91 µs a run 5 minutes apart), which sides measured one after
		// the other (off, on, on, off, until Dec 2) turned into the
		// ratio. The full run measures two such pairs and pools them.
		pairs := 2
		if cfg.quick {
			pairs = 1
		}
		res := map[string][]fleetResult{}
		for range pairs {
			progress("daemon with the store, history off and on at the same time: %d checks every %s each (warm-up %s, window %s)", n, every, warmup, window)
			var wg sync.WaitGroup
			var errs [2]error
			var got [2]fleetResult
			for i, sc := range []fleetScenario{off, on} {
				wg.Go(func() { got[i], errs[i] = runFleet(cfg, tmp, target, sc) })
			}
			wg.Wait()
			if err := errors.Join(errs[:]...); err != nil {
				return err
			}
			for i, sc := range []fleetScenario{off, on} {
				r := got[i]
				if r.Failed > 0 {
					progress("  %s: %d of %d runs failed; first: %s", sc.env[0], r.Failed, r.Runs, r.FirstFail)
				}
				progress("  %s: CPU per run %s, lateness p99 %s", sc.env[0], us(time.Duration(r.CPUPerRunSecs*1e9)), ms(r.LateP99))
				res[sc.name] = append(res[sc.name], r)
			}
		}
		rOff, rOn := pooled(res[off.name]), pooled(res[on.name])
		ratio := rOn.CPUPerRunSecs / rOff.CPUPerRunSecs
		add(figure{name: "history_off_cpu_per_run_seconds", value: rOff.CPUPerRunSecs, unit: "seconds", human: us(time.Duration(rOff.CPUPerRunSecs * 1e9)),
			what: fmt.Sprintf("daemon CPU per run, %d checks at %.0f/s, store open, history off", n, float64(n)/every.Seconds())})
		add(figure{name: "history_on_cpu_per_run_seconds", value: rOn.CPUPerRunSecs, unit: "seconds", human: us(time.Duration(rOn.CPUPerRunSecs * 1e9)),
			what: "daemon CPU per run, the same with history on (writing and pruning 1,000 results/s)"})
		add(figure{name: "history_cpu_ratio", value: ratio, unit: "ratio", human: fmt.Sprintf("%.2fx", ratio), target: "<= 1.15x",
			what: "daemon CPU per run, history on / off"})
		add(figure{name: "history_lateness_p99_seconds", value: rOn.LateP99, unit: "seconds", human: ms(rOn.LateP99), target: "< 10 ms",
			what: fmt.Sprintf("lateness p99 with history on (%d samples; off: %s)", rOn.Samples, ms(rOff.LateP99))})
		add(figure{name: "history_written_per_second", value: rOn.DBWritten / rOn.WindowSecs, unit: "results/s", human: fmt.Sprintf("%.0f/s", rOn.DBWritten/rOn.WindowSecs),
			what: fmt.Sprintf("results written to the history per second (%.0f store write errors)", rOn.StoreErrors)})
		add(figure{name: "history_db_start_bytes", value: float64(rOn.DBStart), unit: "bytes", human: mib(rOn.DBStart),
			what: "database and WAL at the start of the window (retention 1m, reached during the warm-up)"})
		add(figure{name: "history_db_end_bytes", value: float64(rOn.DBEnd), unit: "bytes", human: mib(rOn.DBEnd), target: "about the start",
			what: fmt.Sprintf("database and WAL at the end of the window, %.0f s and %.0f results later", rOn.WindowSecs, rOn.DBWritten)})
	}

	// paced takes a minute a side; --quick has it only when asked for.
	if want("paced") && (!cfg.quick || cfg.only != "") {
		progress("idle-paced checks: 100 checks every 1s, assay's daemon vs plain net/http")
		pf, err := runPaced(cfg, tmp, target, progress)
		if err != nil {
			return err
		}
		for _, f := range pf.figures() {
			add(f)
		}
	}

	// Not in a plain run: it needs Debian's PostgreSQL (installed by
	// .ci/run) and takes a few minutes.
	if cfg.only != "" && want("cluster") {
		f, err := runCluster(cfg, tmp, target, progress)
		if err != nil {
			return err
		}
		addClusterFigures(add, f)
	}

	if want("test") {
		progress("assay test: 200 contract checks, --parallel 32")
		bin, err := buildAssay(cfg.assayBin, tmp)
		if err != nil {
			return err
		}
		runs := 3
		if cfg.quick {
			runs = 1
		}
		wall, err := runAssayTest(bin, tmp, target, 200, 32, runs)
		if err != nil {
			return err
		}
		add(figure{name: "assay_test_200_contract_seconds", value: wall.Seconds(), unit: "seconds", human: ms(wall.Seconds()),
			what: "`assay test` wall time, 200 three-step contract checks, --parallel 32"})
	}

	// The soak's verdict is the bench's exit status: a leak is a defect.
	var leak error
	if soakNamed(cfg.only) {
		fs, violation, err := runSoak(cfg, tmp, progress)
		if err != nil {
			return err
		}
		figs, leak = append(figs, fs...), violation
	}

	tw := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WHAT\tVALUE\tTARGET\t(NAME)")
	for _, f := range figs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t(%s)\n", f.what, f.human, f.target, f.name)
	}
	tw.Flush()
	fmt.Println()
	for _, f := range figs {
		fmt.Printf("%s %s %s\n", f.name, formatValue(f.value), f.unit)
	}
	fmt.Printf("bench_wall_seconds %.1f seconds\n", time.Since(start).Seconds())
	fmt.Printf("# load average at the end: %s (other processes share these CPUs)\n", loadAvg())
	return leak
}

// loadAvg is the first three fields of /proc/loadavg, "?" elsewhere.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "?"
}

func formatValue(v float64) string {
	if v == float64(int64(v)) && v > 1e3 {
		return fmt.Sprintf("%d", int64(v))
	}
	return fmt.Sprintf("%.6g", v)
}

func us(d time.Duration) string { return fmt.Sprintf("%.1f µs", float64(d)/1e3) }
func ms(s float64) string       { return fmt.Sprintf("%.2f ms", s*1e3) }
func mib(b int64) string        { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// pooled is the sides of one scenario as one: CPU per run over all their
// runs, the worst lateness p99, and the last side's other figures.
func pooled(rs []fleetResult) fleetResult {
	out := rs[len(rs)-1]
	var cpu float64
	var runs int64
	for _, r := range rs {
		cpu += r.CPUPerRunSecs * float64(r.Runs)
		runs += r.Runs
		out.LateP99 = max(out.LateP99, r.LateP99)
	}
	if runs > 0 {
		out.CPUPerRunSecs = cpu / float64(runs)
	}
	return out
}
