package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/config"
	"github.com/assay-monitor/assay/daemon"
)

// The soak child is `assay run` as cmd/assay assembles it (the config
// file, daemon.OpenStorage, daemon.New, Run), plus a counting sink. It
// speaks one JSON line at a time on stdout: ready, then a sample every
// interval, then, once stdin closes and the daemon has stopped, final.

// soakLine is one line of the soak child's output.
type soakLine struct {
	Ready  *soakReady  `json:"ready,omitempty"`
	Sample *soakSample `json:"sample,omitempty"`
	Final  *soakFinal  `json:"final,omitempty"`
}

type soakReady struct {
	Addr     string  `json:"addr"`
	Checks   int     `json:"checks"`
	LoadSecs float64 `json:"load_seconds"`
}

// soakSample is what the child sees of itself; the parent adds what
// /proc says of it from outside.
//
// Resident memory, goroutines, open files and the live heap are read
// every second;
// a sample holds the least and the most of each since the last sample.
// The least is the one judged: runs in flight, a scrape's garbage or a
// reload come and go, a leak raises the floor.
type soakSample struct {
	Elapsed    float64 `json:"t"`
	Goroutines minMax  `json:"goroutines"`
	HeapLive   minMax  `json:"heap_live_bytes"`
	Runs       int64   `json:"runs"`
	Failed     int64   `json:"failed"`
	DBBytes    int64   `json:"db_bytes"`

	// Set by the parent.
	RSS       minMax `json:"-"`
	OpenFiles minMax `json:"-"`
	Threads   int64  `json:"-"`
	// From the latest scrape.
	Outbox, NativeBuckets float64 `json:"-"`
}

// minMax is the range of a resource over a sample's interval.
type minMax struct {
	Min int64 `json:"min"`
	Max int64 `json:"max"`
	n   int
}

func (m *minMax) add(v int64) {
	if m.n == 0 || v < m.Min {
		m.Min = v
	}
	if m.n == 0 || v > m.Max {
		m.Max = v
	}
	m.n++
}

// resourcePoll is how often the resources are read between samples.
const resourcePoll = time.Second

// soakFinal is the child's account once the daemon has stopped.
type soakFinal struct {
	Kinds       []soakKindCount `json:"kinds"`
	Skipped     int64           `json:"skipped"`
	LateMaxSecs float64         `json:"late_max_seconds"`
	Warnings    int64           `json:"warnings"`
	Errors      int64           `json:"errors"`
	FirstLogs   []string        `json:"first_logs,omitempty"`
}

// soakKindCount is the runs against one kind of target.
type soakKindCount struct {
	Kind    string           `json:"kind"`
	Runs    int64            `json:"runs"`
	Passed  int64            `json:"passed"`
	Reasons map[string]int64 `json:"reasons,omitempty"`
	// Example is one failure message per reason (the engine redacts).
	Example map[string]string `json:"example,omitempty"`
}

// runSoakChild runs the daemon of configPath until stdin closes. With
// profile (a directory), it writes the heap and goroutine profiles there
// at every sample after the warm-up: soak-heap.pprof, soak-goroutines.txt
// (the last), and the same with -warm for the first.
func runSoakChild(configPath string, sample, warmup time.Duration, profile string) error {
	ctx, cancel := stdinContext(childLife())
	defer cancel()
	cfg, err := config.Load(configPath)
	if err != nil {
		return err
	}
	logs := &countingHandler{}
	sink := &soakSink{kinds: map[string]*soakKindCount{}}
	opts := daemon.Options{Config: cfg, Logger: slog.New(logs), Sinks: []checks.Sink{sink}, Observer: sink, Version: "bench"}
	daemon.RouteStandardLog(opts.Logger)
	start := time.Now()
	stopStorage, err := daemon.OpenStorage(&opts)
	if err != nil {
		return err
	}
	defer stopStorage()
	d, err := daemon.New(opts)
	if err != nil {
		return err
	}
	addr, err := d.Listen(cfg.Server.Listen)
	if err != nil {
		return err
	}
	out := json.NewEncoder(os.Stdout)
	if err := out.Encode(soakLine{Ready: &soakReady{Addr: addr.String(), Checks: len(d.Checks()), LoadSecs: time.Since(start).Seconds()}}); err != nil {
		return err
	}
	runDone := make(chan error, 1)
	go func() { runDone <- d.Run(ctx, nil) }()
	live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	tick, poll := time.NewTicker(sample), time.NewTicker(resourcePoll)
	defer tick.Stop()
	defer poll.Stop()
	var gor, heap minMax
	read := func() {
		gor.add(int64(runtime.NumGoroutine()))
		metrics.Read(live)
		if live[0].Value.Kind() == metrics.KindUint64 {
			heap.add(int64(live[0].Value.Uint64()))
		}
	}
	read()
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
			continue
		case <-poll.C:
			read()
			continue
		case <-tick.C:
		}
		read()
		s := soakSample{Elapsed: time.Since(start).Seconds(), Goroutines: gor, HeapLive: heap,
			Runs: sink.runs.Load(), Failed: sink.failed.Load(), DBBytes: dbSize(cfg.Storage.Path)}
		if err := out.Encode(soakLine{Sample: &s}); err != nil {
			return err
		}
		gor, heap = minMax{}, minMax{}
		if profile != "" && s.Elapsed >= warmup.Seconds() {
			writeProfiles(profile, s.Elapsed)
		}
	}
	if err := <-runDone; err != nil {
		return err
	}
	return out.Encode(soakLine{Final: sink.final(logs)})
}

// soakSink counts results by kind of target (the second word of the
// check's name: soak-hang-00002) and reason, and watches the scheduler.
type soakSink struct {
	runs, failed, skipped atomic.Int64
	lateMax               atomic.Int64
	mu                    sync.Mutex
	kinds                 map[string]*soakKindCount
}

// maxExample bounds the failure messages kept as examples.
const maxExample = 160

func (s *soakSink) Record(_ context.Context, r *checks.Result) {
	s.runs.Add(1)
	kind, _, _ := strings.Cut(strings.TrimPrefix(r.Check, "soak-"), "-")
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.kinds[kind]
	if k == nil {
		k = &soakKindCount{Kind: kind, Reasons: map[string]int64{}, Example: map[string]string{}}
		s.kinds[kind] = k
	}
	k.Runs++
	if r.Passed {
		k.Passed++
		return
	}
	s.failed.Add(1)
	reason := string(r.Reason)
	k.Reasons[reason]++
	if _, ok := k.Example[reason]; !ok {
		k.Example[reason] = cut(r.Message, maxExample)
	}
}

func (s *soakSink) Lateness(_ string, d time.Duration) {
	for {
		old := s.lateMax.Load()
		if int64(d) <= old || s.lateMax.CompareAndSwap(old, int64(d)) {
			return
		}
	}
}

func (s *soakSink) Skipped(string) { s.skipped.Add(1) }

func (s *soakSink) final(logs *countingHandler) *soakFinal {
	f := &soakFinal{Skipped: s.skipped.Load(), LateMaxSecs: time.Duration(s.lateMax.Load()).Seconds()}
	s.mu.Lock()
	for _, k := range s.kinds {
		f.Kinds = append(f.Kinds, *k)
	}
	s.mu.Unlock()
	slices.SortFunc(f.Kinds, func(a, b soakKindCount) int { return strings.Compare(a.Kind, b.Kind) })
	logs.mu.Lock()
	f.Warnings, f.Errors, f.FirstLogs = logs.warnings, logs.errors, slices.Clone(logs.first)
	logs.mu.Unlock()
	return f
}

// cut shortens s to at most n bytes, on a rune boundary.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !isRuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// countingHandler is the daemon's logger in the soak: it counts warnings
// and errors and keeps the first few distinct ones, so that a daemon
// that complains (too many open files, a store that cannot write) shows
// in the report without flooding it.
type countingHandler struct {
	mu               sync.Mutex
	warnings, errors int64
	// first holds the first line of each distinct message, seen their
	// level and message.
	first []string
	seen  []string
}

// maxFirstLogs bounds the distinct log lines kept.
const maxFirstLogs = 8

func (h *countingHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	line := r.Level.String() + " " + r.Message
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "err" || a.Key == "check" {
			line += fmt.Sprintf(" %s=%s", a.Key, a.Value.String())
		}
		return true
	})
	line = cut(line, 240)
	h.mu.Lock()
	defer h.mu.Unlock()
	if r.Level >= slog.LevelError {
		h.errors++
	} else {
		h.warnings++
	}
	key := r.Level.String() + " " + r.Message
	if len(h.seen) < maxFirstLogs && !slices.Contains(h.seen, key) {
		h.seen = append(h.seen, key)
		h.first = append(h.first, line)
	}
	return nil
}

func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countingHandler) WithGroup(string) slog.Handler      { return h }

// writeProfiles writes the heap and goroutine profiles into dir (after a
// GC: profiling perturbs the figures); the first call the -warm ones too.
func writeProfiles(dir string, elapsed float64) {
	names := []string{""}
	if _, err := os.Stat(filepath.Join(dir, "soak-heap-warm.pprof")); errors.Is(err, fs.ErrNotExist) {
		names = append(names, "-warm")
	}
	// The heap profile is as of the last GC, which may have run in the
	// middle of a scrape: collect now, for what the daemon holds.
	runtime.GC()
	for _, n := range names {
		if f, err := os.Create(filepath.Join(dir, "soak-heap"+n+".pprof")); err == nil {
			_ = pprof.Lookup("heap").WriteTo(f, 0)
			f.Close()
		}
		if f, err := os.Create(filepath.Join(dir, "soak-goroutines"+n+".txt")); err == nil {
			fmt.Fprintf(f, "at %.0f s\n", elapsed)
			_ = pprof.Lookup("goroutine").WriteTo(f, 1)
			f.Close()
		}
	}
}
