package history

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/maphash"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/checks/diff"
	"github.com/assay-monitor/assay/cluster"
	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of the Recorder.
const (
	DefaultRetention     = 720 * time.Hour
	DefaultMaxPerCheck   = 10000
	DefaultFlushInterval = time.Second
	DefaultMaxBatch      = 1000
	// DefaultMaxPending bounds the JSON of runs waiting for the store
	// while it fails; beyond it the oldest runs are dropped and counted.
	DefaultMaxPending = 64 << 20
	// DefaultAggregateRetention is the least time hour aggregates are
	// kept: the page's 30-day uptime needs them whatever the retention.
	DefaultAggregateRetention = 30 * 24 * time.Hour
	// idBlock is how many run ids one reservation takes.
	idBlock = 1000
	// pruneEvery is how often retention runs when nothing else asks.
	pruneEvery = 10 * time.Second
	// pruneLimit bounds the rows one prune statement deletes.
	pruneLimit = 2000
	// rollUpEvery is how often the runs written are added to the
	// aggregates (readers add the runs since, so nothing lags).
	rollUpEvery = time.Minute
	// issuedTTL bounds how long an id given by Annotate may wait for its
	// Record before the roll-up stops waiting for it.
	issuedTTL = 2 * time.Minute
	// maxRetryDelay bounds the backoff of a failing store.
	maxRetryDelay = 30 * time.Second
)

// Options configure a Recorder; zero fields take the defaults.
type Options struct {
	Writer Writer
	Logger *slog.Logger
	// Registerer receives the history metrics; nil registers nowhere.
	Registerer prometheus.Registerer
	// FlushTimeout bounds the last write when Run stops (default 10s);
	// the daemon makes it fit in its shutdown grace.
	FlushTimeout time.Duration
	// Retention: runs older than this are deleted (storage.retention).
	Retention time.Duration
	// MaxPerCheck: at most this many runs per check are kept
	// (storage.max_results_per_check).
	MaxPerCheck int
	// AggregateRetention: hour aggregates are kept at least this long
	// (default 30 days; the retention if longer).
	AggregateRetention time.Duration
	// FlushInterval: pending runs are written at least this often.
	FlushInterval time.Duration
	// MaxBatch: a batch this large is written at once.
	MaxBatch int
	// MaxPending bounds the bytes of runs waiting while the store fails.
	MaxPending int
	// RollUpInterval is how often written runs are added to the
	// aggregates (default 1m); retention deletes only runs added.
	RollUpInterval time.Duration
	// Diff bounds the diffs of failed steps.
	Diff diff.Options
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Recorder is the history sink. Annotate (before the other sinks) gives
// a result its id and diffs its failed steps against their baselines;
// Record queues it; Run writes the queue in batches, retries a failed
// batch with backoff (runs are kept, within MaxPending), and prunes what
// the retention no longer keeps. A slow or failing store never slows a
// check down.
type Recorder struct {
	opts Options
	w    Writer
	log  *slog.Logger
	now  func() time.Time

	mu           sync.Mutex
	pending      []StoredRun
	pendingBytes int
	baselines    map[stepKey]*Baseline // written with the next batch
	hashes       map[stepKey]uint64    // of the baselines stored
	sincePrune   map[string]int        // runs recorded per check since its last prune
	pruneKeep    map[string]int        // checks due for a count prune
	nextID       int64
	lastID       int64               // last id of the reserved block
	issued       map[int64]time.Time // ids given out and not yet written
	maxWritten   int64
	noIDsUntil   time.Time // a reservation failed: don't retry before
	flushNow     chan struct{}
	failing      bool // the last write failed
	checksSeen   bool // SetChecks was called
	backlog      bool // the last prune could not delete everything due
	lastFailLog  time.Time

	metrics recorderMetrics
}

type stepKey struct{ check, step string }

type recorderMetrics struct {
	pending prometheus.GaugeFunc
	dropped prometheus.Counter
	written prometheus.Counter
	flush   prometheus.Histogram
}

// NewRecorder returns a Recorder; call Run to start writing.
func NewRecorder(opts Options) (*Recorder, error) {
	if opts.Writer == nil {
		return nil, errors.New("history: a writer is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Retention <= 0 {
		opts.Retention = DefaultRetention
	}
	if opts.MaxPerCheck <= 0 {
		opts.MaxPerCheck = DefaultMaxPerCheck
	}
	if opts.AggregateRetention <= 0 {
		opts.AggregateRetention = DefaultAggregateRetention
	}
	opts.AggregateRetention = max(opts.AggregateRetention, opts.Retention)
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = DefaultFlushInterval
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = DefaultMaxBatch
	}
	if opts.MaxPending <= 0 {
		opts.MaxPending = DefaultMaxPending
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RollUpInterval <= 0 {
		opts.RollUpInterval = rollUpEvery
	}
	if opts.FlushTimeout <= 0 {
		opts.FlushTimeout = 10 * time.Second
	}
	r := &Recorder{
		opts: opts, w: opts.Writer, log: opts.Logger, now: opts.Now,
		baselines: map[stepKey]*Baseline{}, hashes: map[stepKey]uint64{},
		sincePrune: map[string]int{}, pruneKeep: map[string]int{}, issued: map[int64]time.Time{},
		flushNow: make(chan struct{}, 1),
	}
	r.metrics = recorderMetrics{
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "assay_history_dropped_results_total",
			Help: "Results dropped from the history because the store kept failing and the pending buffer was full.",
		}),
		written: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "assay_history_written_results_total",
			Help: "Results written to the history.",
		}),
		flush: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "assay_history_flush_duration_seconds",
			Help:    "Duration of writing one batch of results to the store.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
	}
	r.metrics.pending = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "assay_history_pending_results",
		Help: "Results waiting to be written to the history.",
	}, func() float64 {
		r.mu.Lock()
		defer r.mu.Unlock()
		return float64(len(r.pending))
	})
	if reg := opts.Registerer; reg != nil {
		// assay_store_write_errors_total is the store's, registered once
		// by whoever opens it (daemon.OpenStorage).
		reg.MustRegister(r.metrics.pending, r.metrics.dropped, r.metrics.written, r.metrics.flush)
	}
	return r, nil
}

// Annotate gives r its run id and diffs each failed step of the deciding
// attempt against that step's last passing response. It runs before the
// other sinks, so that alerts and logs carry both. It is bounded by a
// short timeout; a store that cannot answer leaves the diff out.
func (rec *Recorder) Annotate(ctx context.Context, r *checks.Result) {
	rec.mu.Lock()
	if r.ID == 0 {
		r.ID = rec.takeID(ctx)
	}
	rec.mu.Unlock()
	if r.Passed || len(r.Attempts) == 0 {
		return
	}
	steps := r.Attempts[len(r.Attempts)-1].Steps
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	for i := range steps {
		s := &steps[i]
		if s.Passed || s.Skipped || s.Response == nil {
			continue
		}
		bl := rec.baseline(ctx, r.Check, s.Name)
		if bl == nil {
			continue
		}
		if d := diff.Responses(&bl.Response, s.Response, rec.opts.Diff); d != nil {
			d.BaselineRunID, d.BaselineTime = bl.RunID, bl.Started
			s.Diff = d
		}
	}
}

// takeID returns the next run id, reserving a block when the last one is
// used up; 0 when the store cannot reserve now (the flush assigns one).
// rec.mu is held.
func (rec *Recorder) takeID(ctx context.Context) int64 {
	if rec.nextID == 0 || rec.nextID > rec.lastID {
		if rec.now().Before(rec.noIDsUntil) {
			return 0
		}
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		first, err := rec.w.ReserveIDs(ctx, idBlock)
		cancel()
		if err != nil {
			rec.noIDsUntil = rec.now().Add(5 * time.Second)
			rec.log.Error("history: reserving run ids failed; ids are given when the store answers again", "err", err)
			return 0
		}
		rec.nextID, rec.lastID = first, first+idBlock-1
	}
	id := rec.nextID
	rec.nextID++
	rec.issued[id] = rec.now()
	return id
}

// rollUpMark is the highest id under which every id given out is
// written: the aggregates may count up to it. rec.mu is held.
func (rec *Recorder) rollUpMark() int64 {
	now := rec.now()
	mark := rec.maxWritten
	if rec.nextID > 0 {
		mark = max(mark, rec.nextID-1)
	}
	for id, at := range rec.issued {
		if now.Sub(at) > issuedTTL {
			delete(rec.issued, id) // its Record never came (a dropped run)
			continue
		}
		mark = min(mark, id-1)
	}
	return mark
}

// baseline is the newest last passing response of a step: one waiting
// for the next flush, else the stored one.
func (rec *Recorder) baseline(ctx context.Context, check, step string) *Baseline {
	rec.mu.Lock()
	bl := rec.baselines[stepKey{check, step}]
	rec.mu.Unlock()
	if bl != nil {
		return bl
	}
	bl, err := rec.w.Baseline(ctx, check, step)
	if err != nil {
		if !errors.Is(err, ErrNotFound) {
			rec.log.Warn("history: reading a baseline failed; no diff for this run", "check", check, "step", step, "err", err)
		}
		return nil
	}
	return bl
}

// Record implements checks.Sink: the run is queued for the next flush,
// with the lease epoch ctx carries (cluster.WithEpoch).
func (rec *Recorder) Record(ctx context.Context, r *checks.Result) {
	data, err := EncodeRun(r)
	if err != nil {
		rec.log.Error("history: encoding a result", "check", r.Check, "err", err)
		return
	}
	sum := RunSummary{ID: r.ID, Check: r.Check, Started: r.Started, DurationSeconds: r.Duration.Seconds(),
		Passed: r.Passed, Reason: r.Reason, Message: r.Message, InMaintenance: r.InMaintenance}
	if fs := r.FailedStep(); fs != nil {
		sum.FailingStep = fs.Name
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.pending = append(rec.pending, StoredRun{RunSummary: sum, Data: data, Epoch: cluster.EpochFrom(ctx)})
	rec.pendingBytes += len(data)
	// A run without an id (the store could not reserve one) cannot be a
	// baseline; the next passing run will be.
	if r.Passed && r.ID != 0 && len(r.Attempts) > 0 {
		for _, s := range r.Attempts[len(r.Attempts)-1].Steps {
			if !s.Passed || s.Response == nil {
				continue
			}
			k := stepKey{r.Check, s.Name}
			h := responseHash(s.Response)
			if old, ok := rec.hashes[k]; ok && old == h {
				continue
			}
			rec.hashes[k] = h
			rec.baselines[k] = &Baseline{Check: r.Check, Step: s.Name, RunID: r.ID, Started: r.Started, Response: *s.Response}
		}
	}
	rec.sincePrune[r.Check]++
	// A check is pruned to its limit every tenth of it (at least every
	// 10 runs): it never holds more than about 10% extra.
	if rec.sincePrune[r.Check] >= max(rec.opts.MaxPerCheck/10, 10) {
		rec.pruneKeep[r.Check] = rec.opts.MaxPerCheck
		rec.sincePrune[r.Check] = 0
	}
	rec.dropOverflow()
	if len(rec.pending) >= rec.opts.MaxBatch {
		select {
		case rec.flushNow <- struct{}{}:
		default:
		}
	}
}

// dropOverflow keeps the pending runs within MaxPending bytes, dropping
// the oldest. rec.mu is held.
func (rec *Recorder) dropOverflow() {
	n := 0
	for rec.pendingBytes > rec.opts.MaxPending && n < len(rec.pending)-1 {
		rec.pendingBytes -= len(rec.pending[n].Data)
		n++
	}
	if n > 0 {
		rec.pending = slices.Delete(rec.pending, 0, n)
		rec.metrics.dropped.Add(float64(n))
	}
}

// hashSeed keys responseHash; the hashes live only in this process.
var hashSeed = maphash.MakeSeed()

// responseHash identifies a response for baseline purposes: the status,
// the headers a diff would show and the body. A collision only keeps an
// older baseline a little longer. It runs for every passing step, so it
// neither sorts nor allocates: each header is hashed on its own and the
// hashes are added, which does not depend on the map's order.
func responseHash(r *checks.ResponseSummary) uint64 {
	var h maphash.Hash
	h.SetSeed(hashSeed)
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(r.Status))
	h.Write(b[:])
	var headers, n uint64
	for k, vs := range r.Headers {
		if diff.IgnoredHeader(k) {
			continue
		}
		var hh maphash.Hash
		hh.SetSeed(hashSeed)
		// Canonical, as the diff compares names; no allocation when the
		// name is canonical already (as net/http makes them).
		hh.WriteString(http.CanonicalHeaderKey(k))
		hh.WriteByte(0)
		for _, v := range vs {
			hh.WriteString(v)
			hh.WriteByte(0)
		}
		headers += hh.Sum64()
		n++
	}
	binary.BigEndian.PutUint64(b[:], headers)
	h.Write(b[:])
	binary.BigEndian.PutUint64(b[:], n)
	h.Write(b[:])
	h.WriteString(r.Body)
	return h.Sum64()
}

// SetChecks tells the recorder the configured checks: the history of a
// removed check stays until the retention removes it, but its baselines
// are forgotten in memory.
func (rec *Recorder) SetChecks(cs []*checks.Check) {
	keep := make(map[string]bool, len(cs))
	for _, c := range cs {
		keep[c.Name] = true
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for k := range rec.hashes {
		if !keep[k.check] {
			delete(rec.hashes, k)
		}
	}
	for name := range rec.sincePrune {
		if !keep[name] {
			delete(rec.sincePrune, name)
		}
	}
	// A lowered max_results_per_check applies to every check at start.
	if !rec.checksSeen {
		rec.checksSeen = true
		for _, c := range cs {
			rec.pruneKeep[c.Name] = rec.opts.MaxPerCheck
		}
	}
}

// Run writes pending runs every FlushInterval (or when a batch is full)
// until ctx ends, then writes what is left within FlushTimeout.
func (rec *Recorder) Run(ctx context.Context) error {
	t := time.NewTimer(rec.opts.FlushInterval)
	defer t.Stop()
	delay := rec.opts.FlushInterval
	lastPrune, lastRollUp := time.Time{}, rec.now()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rec.opts.FlushTimeout)
			defer cancel()
			if err := rec.Flush(fctx); err != nil {
				rec.mu.Lock()
				n := len(rec.pending)
				rec.mu.Unlock()
				rec.log.Error("history: the last results could not be written at shutdown", "results", n, "err", err)
				return err
			}
			return rec.RollUp(fctx)
		case <-t.C:
		case <-rec.flushNow:
			if !t.Stop() {
				select {
				case <-t.C:
				default:
				}
			}
		}
		if err := rec.Flush(ctx); err != nil {
			delay = min(max(2*delay, time.Second), maxRetryDelay)
		} else {
			delay = rec.opts.FlushInterval
			if now := rec.now(); now.Sub(lastRollUp) >= rec.opts.RollUpInterval {
				if err := rec.RollUp(ctx); err == nil {
					lastRollUp = now
				}
			}
			if now := rec.now(); now.Sub(lastPrune) >= pruneEvery || rec.prunesDue() {
				rec.prune(ctx)
				lastPrune = now
			}
		}
		t.Reset(delay)
	}
}

func (rec *Recorder) prunesDue() bool {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return len(rec.pruneKeep) > 0 || rec.backlog
}

// Flush writes every pending run now. On failure the runs stay pending
// (bounded by MaxPending) for the next try.
func (rec *Recorder) Flush(ctx context.Context) error {
	rec.mu.Lock()
	runs := rec.pending
	bls := make([]Baseline, 0, len(rec.baselines))
	for _, bl := range rec.baselines {
		bls = append(bls, *bl)
	}
	rec.pending, rec.pendingBytes = nil, 0
	rec.mu.Unlock()
	if len(runs) == 0 && len(bls) == 0 {
		return nil
	}
	err := rec.assignIDs(ctx, runs)
	if err == nil {
		start := time.Now()
		err = rec.w.WriteBatch(ctx, Batch{Runs: runs, Baselines: bls})
		rec.metrics.flush.Observe(time.Since(start).Seconds())
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if err != nil {
		// Put the batch back in front of what came meanwhile.
		rec.pending = append(runs, rec.pending...)
		for _, r := range runs {
			rec.pendingBytes += len(r.Data)
		}
		rec.dropOverflow()
		now := rec.now()
		if !rec.failing || now.Sub(rec.lastFailLog) >= 30*time.Second {
			rec.log.Error("history: writing results failed; they stay pending and are retried", "results", len(rec.pending), "err", err)
			rec.lastFailLog = now
		}
		rec.failing = true
		return err
	}
	if rec.failing {
		rec.log.Info("history: writing results works again", "results", len(runs))
		rec.failing = false
	}
	rec.metrics.written.Add(float64(len(runs)))
	for _, r := range runs {
		delete(rec.issued, r.ID)
		rec.maxWritten = max(rec.maxWritten, r.ID)
	}
	for _, bl := range bls {
		k := stepKey{bl.Check, bl.Step}
		if cur := rec.baselines[k]; cur != nil && cur.RunID == bl.RunID {
			delete(rec.baselines, k)
		}
	}
	return nil
}

// RollUp adds the runs written so far to the aggregates, up to the
// first id still on its way to the store.
func (rec *Recorder) RollUp(ctx context.Context) error {
	rec.mu.Lock()
	mark := rec.rollUpMark()
	rec.mu.Unlock()
	if mark <= 0 {
		return nil
	}
	if err := rec.w.RollUp(ctx, mark); err != nil {
		rec.log.Warn("history: adding runs to the aggregates failed; retried later", "err", err)
		return err
	}
	return nil
}

// assignIDs gives runs recorded while no id could be reserved their ids.
func (rec *Recorder) assignIDs(ctx context.Context, runs []StoredRun) error {
	missing := 0
	for _, r := range runs {
		if r.ID == 0 {
			missing++
		}
	}
	if missing == 0 {
		return nil
	}
	first, err := rec.w.ReserveIDs(ctx, missing)
	if err != nil {
		return err
	}
	for i := range runs {
		if runs[i].ID == 0 {
			runs[i].ID = first
			first++
		}
	}
	return nil
}

// prune deletes what the retention no longer keeps, a bounded amount per
// call so that the writer is never held for long.
func (rec *Recorder) prune(ctx context.Context) {
	rec.mu.Lock()
	keep := rec.pruneKeep
	rec.pruneKeep = map[string]int{}
	rec.mu.Unlock()
	now := rec.now()
	p := PrunePolicy{
		Before:       now.Add(-rec.opts.Retention),
		Keep:         keep,
		MinuteBefore: now.Add(-MinuteWindow),
		HourBefore:   now.Add(-rec.opts.AggregateRetention),
		Limit:        pruneLimit,
	}
	more := false
	for range 5 {
		var err error
		if _, more, err = rec.w.Prune(ctx, p); err != nil {
			rec.log.Warn("history: pruning failed; retried later", "err", err)
			more = true
			break
		}
		if !more {
			break
		}
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.backlog = more
	if more {
		// More to delete than five passes allow: go on after the next
		// flush.
		for k, v := range keep {
			rec.pruneKeep[k] = v
		}
	}
}
