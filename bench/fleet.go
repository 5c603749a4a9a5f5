package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/config"
	"github.com/assay-monitor/assay/daemon"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// A fleet scenario is `assay run` on n generated simple checks in a child
// process of its own (so that its resident memory is its own), against
// the target. The child reports what it saw as one line of JSON.

const fleetCheckYAML = `  - name: %[1]s
    schedule: "@every %[2]s"
    timeout: 10s
    labels: { team: bench }
    vars: { base: "%[3]s" }
    steps:
      - name: get
        request: { method: GET, url: "{{ .vars.base }}/documents/1" }
        expect:
          status: 200
          json: { $.id: 1 }
`

// writeFleet writes n simple checks into dir, 1,000 per file.
func writeFleet(dir string, n int, every time.Duration, target string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var b strings.Builder
	flush := func(i int) error {
		if b.Len() == 0 {
			return nil
		}
		err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("fleet-%03d.yaml", i/1000)), []byte("checks:\n"+b.String()), 0o644)
		b.Reset()
		return err
	}
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, fleetCheckYAML, fleetName(i), every, target)
		if (i+1)%1000 == 0 {
			if err := flush(i); err != nil {
				return err
			}
		}
	}
	return flush(n - 1)
}

func fleetName(i int) string { return fmt.Sprintf("simple-%05d", i) }

type fleetResult struct {
	Checks   int     `json:"checks"`
	Every    float64 `json:"every_seconds"`
	LoadSecs float64 `json:"load_seconds"`
	// ReadySecs: from the start of the daemon until every check is
	// loaded, validated and queued in the running scheduler.
	ReadySecs float64 `json:"ready_seconds"`
	// AllRunSecs: from the start until every check has run once (-1: not
	// within the observation).
	AllRunSecs float64 `json:"all_run_seconds"`
	// Throughput over the observation window (after the warm-up).
	Runs          int64   `json:"runs"`
	Failed        int64   `json:"failed"`
	Skipped       int64   `json:"skipped"`
	WindowSecs    float64 `json:"window_seconds"`
	ChecksPerSec  float64 `json:"checks_per_second"`
	CPUPerRunSecs float64 `json:"cpu_per_run_seconds"`
	// Lateness after the warm-up.
	Samples int     `json:"lateness_samples"`
	LateP50 float64 `json:"lateness_p50_seconds"`
	LateP99 float64 `json:"lateness_p99_seconds"`
	LateMax float64 `json:"lateness_max_seconds"`
	// The same before the first /metrics scrape.
	QuietSamples int     `json:"quiet_lateness_samples"`
	QuietP99     float64 `json:"quiet_lateness_p99_seconds"`
	QuietMax     float64 `json:"quiet_lateness_max_seconds"`
	// The same while a /metrics scrape is in flight (and 100 ms after).
	ScrapeSamples int     `json:"scrape_lateness_samples"`
	ScrapeP99     float64 `json:"scrape_lateness_p99_seconds"`
	ScrapeMax     float64 `json:"scrape_lateness_max_seconds"`
	// Per-check series at the end (see countSeries).
	CheckSeries      int `json:"check_series"`
	CheckTextSamples int `json:"check_text_samples"`
	// Memory.
	RSSIdle int64 `json:"rss_idle_bytes"`
	// RSSRunning is the largest resident size sampled (every 100 ms) from
	// the start of the scheduler until the first /metrics scrape.
	RSSRunning int64  `json:"rss_running_bytes"`
	HeapIdle   uint64 `json:"heap_idle_bytes"`
	RSSPeak    int64  `json:"rss_peak_bytes"`
	RSSEnd     int64  `json:"rss_end_bytes"`
	FirstFail  string `json:"first_failure,omitempty"`
	Scrapes    int    `json:"scrapes"`
	// Go memory at the end of the window.
	HeapEnd    uint64 `json:"heap_inuse_end_bytes"`
	StackEnd   uint64 `json:"stack_inuse_end_bytes"`
	SysEnd     uint64 `json:"sys_end_bytes"`
	Goroutines int    `json:"goroutines_end"`
	// With storage: the database (file and WAL) at the start and at the
	// end of the window, and the results written over the window.
	DBStart     int64   `json:"db_start_bytes,omitempty"`
	DBEnd       int64   `json:"db_end_bytes,omitempty"`
	DBWritten   float64 `json:"db_written_results,omitempty"`
	StoreErrors float64 `json:"store_write_errors,omitempty"`
	// With PostgreSQL: requests sent to the server over the window, and
	// the checks this replica owned at its end.
	RoundTrips float64 `json:"db_round_trips,omitempty"`
	Owned      float64 `json:"owned_checks,omitempty"`
}

// fleetStorage is how a fleet child uses the store, from its environment:
// ASSAY_BENCH_STORAGE=history|nohistory opens it as assay run does (alert
// state always; the result history or not), ASSAY_BENCH_MAX_RESULTS and
// ASSAY_BENCH_RETENTION bound the history.
func fleetStorage(cfg *config.Config, dir string) (on bool, err error) {
	// dir is beside the checks directory: the watcher must not see the
	// database's writes.
	mode := os.Getenv("ASSAY_BENCH_STORAGE")
	if mode == "" {
		return false, nil
	}
	cfg.Storage.Path = filepath.Join(dir, "assay.db")
	history := mode != "nohistory"
	cfg.Storage.History = &history
	if mode == "postgres" {
		cfg.Storage.Driver, cfg.Storage.DSN = config.DriverPostgres, os.Getenv("ASSAY_BENCH_DSN")
	}
	if v := os.Getenv("ASSAY_BENCH_MAX_RESULTS"); v != "" {
		if _, err := fmt.Sscan(v, &cfg.Storage.MaxResultsPerCheck); err != nil {
			return false, err
		}
	}
	if v := os.Getenv("ASSAY_BENCH_RETENTION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return false, err
		}
		cfg.Storage.Retention = checks.Window(d)
	}
	return true, nil
}

// dbSize is the database file plus its write-ahead log.
func dbSize(path string) int64 {
	var n int64
	for _, p := range []string{path, path + "-wal"} {
		if fi, err := os.Stat(p); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// gatherValue is the value of an unlabelled counter or gauge, 0 if absent.
func gatherValue(reg *prometheus.Registry, name string) float64 {
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) > 0 {
			m := mf.GetMetric()[0]
			if c := m.GetCounter(); c != nil {
				return c.GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return 0
}

// countSeries counts the series of gathered metrics that have a check
// label (the per-check ones), as a Prometheus with native histograms
// stores them (series: a native histogram is one, a classic one its
// buckets, +Inf, _sum and _count) and as lines of the text exposition
// (text: a histogram is its buckets, +Inf, _sum and _count, native or not).
func countSeries(mfs []*dto.MetricFamily) (series, text int) {
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if !slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool { return l.GetName() == "check" }) {
				continue
			}
			h := m.GetHistogram()
			if h == nil {
				series++
				text++
				continue
			}
			classic := len(h.GetBucket()) + 2 // _sum, _count
			if n := len(h.GetBucket()); n == 0 || !math.IsInf(h.GetBucket()[n-1].GetUpperBound(), 1) {
				classic++ // le="+Inf"
			}
			text += classic
			if h.Schema != nil {
				series++
			}
			if len(h.GetBucket()) > 0 || h.Schema == nil {
				series += classic
			}
		}
	}
	return series, text
}

// scrapeEvery reads url now and then every d until ctx ends, and returns
// how many scrapes succeeded. While a scrape is in flight, and 100 ms
// after, inScrape is in the future.
func scrapeEvery(ctx context.Context, url string, d time.Duration, inScrape *atomic.Int64) int {
	n := 0
	for {
		if ctx.Err() != nil {
			return n
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		inScrape.Store(math.MaxInt64)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err == nil && resp.StatusCode == http.StatusOK {
				n++
			}
		}
		inScrape.Store(time.Now().Add(100 * time.Millisecond).UnixNano())
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return n
		case <-t.C:
		}
	}
}

// fleetSink counts results and notes the first run of each check.
type fleetSink struct {
	index    map[string]int
	seen     []atomic.Bool
	distinct atomic.Int64
	allRun   atomic.Int64 // ns since start, once every check ran
	start    time.Time
	runs     atomic.Int64
	failed   atomic.Int64
	mu       sync.Mutex
	firstErr string
}

func (s *fleetSink) Record(_ context.Context, r *checks.Result) {
	s.runs.Add(1)
	if !r.Passed {
		if s.failed.Add(1) == 1 {
			s.mu.Lock()
			s.firstErr = r.Check + ": " + r.Message
			s.mu.Unlock()
		}
	}
	if i, ok := s.index[r.Check]; ok && !s.seen[i].Swap(true) {
		if s.distinct.Add(1) == int64(len(s.seen)) {
			s.allRun.Store(int64(time.Since(s.start)))
		}
	}
}

// latencyRecorder keeps every lateness once recording is on; d holds
// them all, quiet those before the first /metrics scrape, during those
// while one is in flight.
type latencyRecorder struct {
	on       atomic.Bool
	scraping *atomic.Bool
	inScrape atomic.Int64 // see scrapeEvery
	skipped  atomic.Int64
	mu       sync.Mutex
	d, quiet []time.Duration
	during   []time.Duration
}

var traceLate = os.Getenv("BENCH_TRACE") != ""

func (l *latencyRecorder) Lateness(_ string, d time.Duration) {
	if !l.on.Load() {
		return
	}
	if traceLate && d > 10*time.Millisecond {
		fmt.Fprintf(os.Stderr, "late %s at %s\n", d, time.Now().Format("05.000"))
	}
	l.mu.Lock()
	l.d = append(l.d, d)
	if !l.scraping.Load() {
		l.quiet = append(l.quiet, d)
	}
	if time.Now().UnixNano() < l.inScrape.Load() {
		l.during = append(l.during, d)
	}
	l.mu.Unlock()
}

func (l *latencyRecorder) Skipped(string) {
	if l.on.Load() {
		l.skipped.Add(1)
	}
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[int(p*float64(len(sorted)-1)+0.5)]
}

// runFleetChild is the child side: assay's daemon on dir for warmup +
// window, then one line of JSON on stdout.
func runFleetChild(dir string, n int, every, warmup, window time.Duration, cpuProfile, heapProfile string) error {
	ctx, cancel := stdinContext(warmup + window + 5*time.Minute)
	defer cancel()
	cfg := config.Default()
	cfg.Checks.Dir = dir
	cfg.Server.Listen = "127.0.0.1:0"
	cfg.Server.ShutdownGrace = checks.Duration(10 * time.Second)
	sink := &fleetSink{index: make(map[string]int, n), seen: make([]atomic.Bool, n)}
	for i := 0; i < n; i++ {
		sink.index[fleetName(i)] = i
	}
	sink.allRun.Store(-1)
	var scraping atomic.Bool
	lat := &latencyRecorder{scraping: &scraping}
	res := fleetResult{Checks: n, Every: every.Seconds()}

	storage, err := fleetStorage(cfg, dir+"-store")
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	opts := daemon.Options{
		Config:   cfg,
		Logger:   slog.New(slog.DiscardHandler),
		Registry: reg,
		Sinks:    []checks.Sink{sink},
		Observer: lat,
	}
	runtime.GC()
	start := time.Now()
	sink.start = start
	if storage {
		stopStorage, err := daemon.OpenStorage(&opts)
		if err != nil {
			return err
		}
		defer stopStorage()
	}
	d, err := daemon.New(opts)
	if err != nil {
		return err
	}
	res.LoadSecs = time.Since(start).Seconds()
	if got := len(d.Checks()); got != n {
		return fmt.Errorf("daemon loaded %d checks, want %d", got, n)
	}
	addr, err := d.Listen(cfg.Server.Listen)
	if err != nil {
		return err
	}
	runDone := make(chan error, 1)
	go func() { runDone <- d.Run(ctx, nil) }()
	for !d.Ready() {
		time.Sleep(50 * time.Microsecond)
	}
	res.ReadySecs = time.Since(start).Seconds()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	res.RSSIdle, res.HeapIdle = rss(), ms.HeapAlloc

	if heapProfile != "" {
		if f, err := os.Create(heapProfile); err == nil {
			_ = pprof.WriteHeapProfile(f)
			f.Close()
		}
	}
	if os.Getenv("BENCH_TRACE") != "" {
		go func() {
			for ctx.Err() == nil {
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				fmt.Fprintf(os.Stderr, "trace %s %6.2fs rss %4d MiB heap %4d MiB inuse %4d MiB stack %3d MiB gc %d runs %d\n", time.Now().Format("05.000"), time.Since(start).Seconds(),
					rss()>>20, ms.HeapAlloc>>20, ms.HeapInuse>>20, ms.StackInuse>>20, ms.NumGC, sink.runs.Load())
				sleepCtx(ctx, 250*time.Millisecond)
			}
		}()
	}
	// Resident size while running, before any scrape.
	var rssRunning atomic.Int64
	go func() {
		for ctx.Err() == nil && !scraping.Load() {
			if r := rss(); r > rssRunning.Load() {
				rssRunning.Store(r)
			}
			sleepCtx(ctx, 100*time.Millisecond)
		}
	}()
	sleepCtx(ctx, warmup)
	if cpuProfile != "" {
		if f, err := os.Create(cpuProfile); err == nil {
			defer f.Close()
			_ = pprof.StartCPUProfile(f)
			defer pprof.StopCPUProfile()
		}
	}
	lat.on.Store(true)
	r0, c0, w0 := sink.runs.Load(), cpuTime(), time.Now()
	written0 := gatherValue(reg, "assay_history_written_results_total")
	trips0 := gatherValue(reg, "assay_store_round_trips_total")
	if storage {
		res.DBStart = dbSize(cfg.Storage.Path)
	}
	// Prometheus scrapes the daemon meanwhile, every 15 s from 7.5 s into
	// the window: its cost is part of the figures (every series of every
	// check).
	scrapeCtx, stopScrapes := context.WithCancel(ctx)
	scrapes := make(chan int, 1)
	go func() {
		sleepCtx(scrapeCtx, 7500*time.Millisecond)
		scraping.Store(scrapeCtx.Err() == nil)
		scrapes <- scrapeEvery(scrapeCtx, "http://"+addr.String()+"/metrics", 15*time.Second, &lat.inScrape)
	}()
	sleepCtx(ctx, window)
	// Give the first runs of every check a chance when the window is
	// shorter than one interval plus loading.
	// (A replica of a cluster runs only its share: it never sees them all.)
	for sink.allRun.Load() < 0 && cfg.Storage.Driver != config.DriverPostgres && time.Since(start) < every+window+warmup+5*time.Second && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	lat.on.Store(false)
	stopScrapes()
	res.Scrapes = <-scrapes
	res.Runs, res.WindowSecs = sink.runs.Load()-r0, time.Since(w0).Seconds()
	cpu := cpuTime() - c0
	if storage {
		res.DBEnd = dbSize(cfg.Storage.Path)
		res.DBWritten = gatherValue(reg, "assay_history_written_results_total") - written0
		res.StoreErrors = gatherValue(reg, "assay_store_write_errors_total")
		res.RoundTrips = gatherValue(reg, "assay_store_round_trips_total") - trips0
		res.Owned = gatherValue(reg, "assay_cluster_owned_checks")
	}
	if res.Runs > 0 {
		res.CPUPerRunSecs = cpu.Seconds() / float64(res.Runs)
	}
	res.ChecksPerSec = float64(res.Runs) / res.WindowSecs
	res.RSSPeak, res.RSSEnd, res.RSSRunning = hwm(), rss(), rssRunning.Load()
	runtime.ReadMemStats(&ms)
	res.HeapEnd, res.StackEnd, res.SysEnd, res.Goroutines = ms.HeapInuse, ms.StackInuse, ms.Sys, runtime.NumGoroutine()
	// After the peak was read: this gather is not part of it.
	if mfs, err := d.Gatherer().Gather(); err == nil {
		res.CheckSeries, res.CheckTextSamples = countSeries(mfs)
	}
	if heapProfile != "" {
		if f, err := os.Create(strings.TrimSuffix(heapProfile, ".pprof") + "-end.pprof"); err == nil {
			_ = pprof.WriteHeapProfile(f)
			f.Close()
		}
	}
	res.Failed, res.Skipped = sink.failed.Load(), lat.skipped.Load()
	res.FirstFail = sink.firstErr
	if a := sink.allRun.Load(); a >= 0 {
		res.AllRunSecs = time.Duration(a).Seconds()
	} else {
		res.AllRunSecs = -1
	}
	lat.mu.Lock()
	ds, quiet, during := slices.Clone(lat.d), slices.Clone(lat.quiet), slices.Clone(lat.during)
	lat.mu.Unlock()
	slices.Sort(ds)
	slices.Sort(quiet)
	slices.Sort(during)
	res.ScrapeSamples, res.ScrapeP99 = len(during), percentile(during, 0.99).Seconds()
	if len(during) > 0 {
		res.ScrapeMax = during[len(during)-1].Seconds()
	}
	res.Samples = len(ds)
	res.LateP50, res.LateP99 = percentile(ds, 0.50).Seconds(), percentile(ds, 0.99).Seconds()
	if len(ds) > 0 {
		res.LateMax = ds[len(ds)-1].Seconds()
	}
	res.QuietSamples, res.QuietP99 = len(quiet), percentile(quiet, 0.99).Seconds()
	if len(quiet) > 0 {
		res.QuietMax = quiet[len(quiet)-1].Seconds()
	}
	cancel()
	if err := <-runDone; err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// fleetScenario describes one run of the daemon.
type fleetScenario struct {
	name           string
	checks         int
	every          time.Duration
	warmup, window time.Duration
	// env configures the child's storage (see fleetStorage).
	env []string
}

// runFleet generates the checks, runs the child and reads its report.
func runFleet(cfg benchConfig, tmp, target string, sc fleetScenario) (fleetResult, error) {
	var res fleetResult
	dir := filepath.Join(tmp, sc.name)
	if err := writeFleet(dir, sc.checks, sc.every, target); err != nil {
		return res, err
	}
	// A side measured again starts as the first did: with no database
	// (which the child keeps beside the checks, in dir-store).
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(filepath.Join(dir+"-store", "assay.db"+suffix)); err != nil && !os.IsNotExist(err) {
			return res, err
		}
	}
	args := []string{"-role=fleet", "-dir=" + dir, fmt.Sprint("-n=", sc.checks), "-every=" + sc.every.String(),
		"-warmup=" + sc.warmup.String(), "-window=" + sc.window.String()}
	if cfg.profileDir != "" {
		args = append(args, "-cpuprofile="+filepath.Join(cfg.profileDir, "fleet-"+sc.name+".pprof"),
			"-heapprofile="+filepath.Join(cfg.profileDir, "heap-"+sc.name+".pprof"))
	}
	c, err := startChild(sc.env, args...)
	if err != nil {
		return res, err
	}
	defer c.stop()
	line, err := c.line(sc.every + sc.warmup + sc.window + 2*time.Minute)
	if err != nil {
		return res, fmt.Errorf("fleet %s: %w", sc.name, err)
	}
	if err := json.Unmarshal([]byte(line), &res); err != nil {
		return res, fmt.Errorf("fleet %s: %q: %w", sc.name, line, err)
	}
	return res, nil
}
