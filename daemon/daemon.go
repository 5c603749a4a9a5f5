// Package daemon assembles the monitor: it loads the checks, schedules
// them, fans results out to sinks (metrics, the API status, alerting, the
// store), serves the HTTP endpoints, reloads on demand and on file changes,
// and shuts down gracefully. cmd/assay only parses flags and signals.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/cluster"
	"github.com/assay-monitor/assay/config"
	"github.com/assay-monitor/assay/history"
	"github.com/assay-monitor/assay/maintenance"
	"github.com/assay-monitor/assay/metrics"
	"github.com/assay-monitor/assay/scheduler"
	"github.com/assay-monitor/assay/store"
	"github.com/assay-monitor/assay/web"
	"github.com/prometheus/client_golang/prometheus"
)

// CheckSetter is implemented by sinks that need the configured set (to
// create series at 0, to forget removed checks).
type CheckSetter interface {
	SetChecks(cs []*checks.Check)
}

// Validator is implemented by sinks that can reject a set of checks (an
// alert naming an unknown notifier); a rejection rejects the whole load.
type Validator interface {
	Validate(cs []*checks.Check) error
}

// Annotator adds to a result before any sink sees it (the history gives
// it its run id and the diffs of failed steps).
type Annotator interface {
	Annotate(ctx context.Context, r *checks.Result)
}

// Options configure a Daemon.
type Options struct {
	Config *config.Config
	// Load reads the checks; nil means checks.Load(Config.Checks.Dir),
	// with the config's secrets.
	Load     func() ([]*checks.Check, error)
	Logger   *slog.Logger
	Registry *prometheus.Registry
	// CheckSetters are told the checks on every successful load, like
	// the sinks that implement CheckSetter.
	CheckSetters []CheckSetter
	// OwnedSetters are told the checks this replica runs: all of them,
	// or with a Cluster those it holds the lease of (the metrics: each
	// replica exports the checks it owns).
	OwnedSetters []CheckSetter
	// Cluster shares the checks with other replicas (storage.driver
	// postgres); nil runs every check here.
	Cluster *cluster.Coordinator
	// Annotators see every result first, in order.
	Annotators []Annotator
	// Sinks receive every result after metrics and the API status.
	Sinks []checks.Sink
	// History serves the history API and the status page; nil: only the
	// latest results are shown.
	History history.Reader
	// Notifications lets the API retry and drop notifications; nil: the
	// write endpoints answer 501.
	Notifications history.NotificationAdmin
	// NotificationsChanged is called after a notification was retried or
	// dropped through the API.
	NotificationsChanged func()
	// Maintenance is the calendar of maintenance windows and silences
	// (OpenStorage sets it): the silence API and the pages; its
	// Annotate marks results. nil: none.
	Maintenance *maintenance.Calendar
	// Runner executes checks; nil means a new checks.Runner.
	Runner *checks.Runner
	// Clock drives the scheduler; nil means the wall clock.
	Clock scheduler.Clock
	// Observer, if set, is told about scheduling events (lateness,
	// skipped runs) after the metrics; the benchmark uses it.
	Observer scheduler.Observer
	// Version is reported in assay_build_info.
	Version string
	// Health, if set, says why the daemon is degraded (OpenStorage sets
	// it: the store cannot write); /readyz answers 503 with it.
	Health func() error
	// Flush, if set, writes what the storage holds in memory (buffered
	// results, alert steps); OpenStorage sets it. With a Cluster it runs
	// before a check is handed over, so that the successor's epoch does
	// not fence what this replica ran.
	Flush func(ctx context.Context) error
	// StoreOptions are passed to store.Open by OpenStorage (tests give a
	// short busy timeout).
	StoreOptions []store.Option
	// ReloadMinInterval is the least time between the starts of two
	// reloads (default 1s; see reload.go).
	ReloadMinInterval time.Duration
	// HTTPLimits bound the HTTP server; zero fields take
	// web.DefaultLimits, MaxConnections server.max_connections.
	HTTPLimits web.Limits
	// Pings keeps the latest ping of each heartbeat check (OpenStorage
	// sets it to the store); nil keeps them in memory, lost on a restart.
	Pings PingStore
}

// Daemon is the running monitor.
type Daemon struct {
	opts    Options
	log     *slog.Logger
	metrics *metrics.Metrics
	status  *web.Status
	sched   *scheduler.Scheduler
	runner  *checks.Runner
	sinks   []checks.Sink
	// hb takes the pings of heartbeat checks and tells the engine and
	// the scheduler about them (heartbeat.go).
	hb *heartbeats

	reloadMu sync.Mutex
	reloads  *reloader
	mu       sync.RWMutex
	current  []*checks.Check
	lastErr  error
	// owned are the names of the checks this replica runs (nil: all).
	owned map[string]bool

	// inflight counts the runs of each check under way, and idle is
	// broadcast when one ends: a handover waits for them.
	inflightMu sync.Mutex
	inflight   map[string]int
	idle       *sync.Cond

	// verdicts remembers each check's consecutive failed runs, to log
	// a recovery.
	verdictMu sync.Mutex
	verdicts  map[string]int

	// hardStop ends when the shutdown grace is over: the sinks of a run
	// that finishes then are cut short too.
	hardStop   context.Context
	cancelHard context.CancelFunc

	webConfig web.WebConfig
	access    web.Access
	listener  net.Listener
	server    *http.Server
}

// New loads the checks once (an error here is a configuration error) and
// prepares everything; Run starts it.
func New(opts Options) (*Daemon, error) {
	if opts.Config == nil {
		opts.Config = config.Default()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	if opts.Load == nil {
		dir := opts.Config.Checks.Dir
		lo := checks.LoadOptions{Secrets: opts.Config.Secrets}
		opts.Load = func() ([]*checks.Check, error) { return lo.Load(followRoot(dir)) }
	}
	d := &Daemon{opts: opts, log: opts.Logger, runner: opts.Runner, verdicts: map[string]int{}, inflight: map[string]int{}}
	d.idle = sync.NewCond(&d.inflightMu)
	d.hardStop, d.cancelHard = context.WithCancel(context.Background())
	d.reloads = newReloader(d.reload, opts.ReloadMinInterval)
	wc, err := web.LoadWebConfig(opts.Config.Server.WebConfigFile)
	if err != nil {
		return nil, fmt.Errorf("server.web_config_file: %w", err)
	}
	d.webConfig = wc
	d.access = accessOf(opts.Config, wc)
	now := time.Now
	if opts.Clock != nil {
		now = opts.Clock.Now
	}
	d.hb = newHeartbeats(opts.Pings, now, opts.Logger)
	lctx, lcancel := context.WithTimeout(context.Background(), connectTimeout)
	err = d.hb.load(lctx)
	lcancel()
	if err != nil {
		// Not fatal: each run reads the store again.
		opts.Logger.Warn("heartbeats: reading the stored pings", "err", err)
	}
	if d.runner == nil {
		// The engine's clock is the scheduler's, so that deadlines and
		// verdicts agree.
		d.runner = checks.NewRunner(checks.RunnerOptions{Logger: opts.Logger, Semantics: opts.Config.Defaults.Semantics,
			MaxEvidenceBody: int(opts.Config.Storage.MaxEvidenceBody), Heartbeats: d.hb, Now: now})
	}
	d.metrics = metrics.New(opts.Registry, metrics.Options{
		UserLabels: opts.Config.Metrics.Labels, Version: opts.Version, GoCollectors: true,
		ClassicHistograms: opts.Config.Metrics.ClassicHistograms})
	d.sched = scheduler.New(scheduler.Options{
		Run:         d.runCheck,
		Observer:    observers{d.metrics, opts.Observer},
		Clock:       opts.Clock,
		Concurrency: opts.Config.Checks.Concurrency,
		Logger:      opts.Logger,
		CancelWait:  flushBudget(opts.Config.Server.ShutdownGrace.D()),
		Custom:      d.hb.schedule,
	})
	d.hb.trigger = d.sched.Trigger
	opts.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "assay_scheduler_unschedulable_checks",
		Help: "Checks whose schedule yields no future run time (such as Feb 30); they are not run.",
	}, func() float64 { return float64(d.sched.Unschedulable()) }))
	d.status = web.NewStatus(d.sched.NextRun)
	if opts.Cluster != nil {
		// Another replica runs most checks: their latest results are in
		// the shared store.
		d.status.SetHistory(opts.History)
		opts.Cluster.OnChange(func([]string) { d.ownershipChanged() })
		opts.Cluster.BeforeRelease(d.handOver)
	}
	d.sinks = append([]checks.Sink{d.metrics, d.status}, opts.Sinks...)
	if err := d.reloads.now(); err != nil {
		return nil, err
	}
	return d, nil
}

// followRoot makes a symlinked checks directory walkable (WalkDir does
// not descend into a root that is a symlink; a trailing separator makes
// the path name the directory), keeping the names in errors as written.
func followRoot(dir string) string {
	if st, err := os.Lstat(dir); err == nil && st.Mode()&os.ModeSymlink != 0 {
		return dir + string(os.PathSeparator)
	}
	return dir
}

// accessOf is who may call the endpoints: the token, the web config's
// basic auth, and the Host names of this server (the listen host unless
// it is a wildcard, external_url's host, server.allowed_hosts).
func accessOf(cfg *config.Config, wc web.WebConfig) web.Access {
	a := web.Access{Token: cfg.Server.APIToken, BasicAuth: wc.BasicAuth, Hosts: append([]string(nil), cfg.Server.AllowedHosts...)}
	if h, _, err := net.SplitHostPort(cfg.Server.Listen); err == nil && h != "" {
		a.Hosts = append(a.Hosts, h)
	}
	if u, err := url.Parse(cfg.Server.ExternalURL); err == nil && u.Host != "" {
		a.Hosts = append(a.Hosts, u.Hostname())
		a.Origins = append(a.Origins, u.Scheme+"://"+u.Host)
	}
	return a
}

// observers tells the metrics, then the optional extra observer.
type observers struct {
	metrics *metrics.Metrics
	extra   scheduler.Observer
}

func (o observers) Lateness(check string, d time.Duration) {
	o.metrics.Lateness(check, d)
	if o.extra != nil {
		o.extra.Lateness(check, d)
	}
}

func (o observers) Skipped(check string) {
	o.metrics.Skipped(check)
	if o.extra != nil {
		o.extra.Skipped(check)
	}
}

// Metrics returns the daemon's metrics (for tests and extra sinks).
func (d *Daemon) Metrics() *metrics.Metrics { return d.metrics }

// Gatherer gathers what /metrics serves: Options.Registry and the
// per-check series, which are not in the registry.
func (d *Daemon) Gatherer() prometheus.Gatherer { return d.metrics.Gatherer(d.opts.Registry) }

// Checks returns the checks currently scheduled.
func (d *Daemon) Checks() []*checks.Check {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.current
}

// Reload re-reads the checks. An invalid set is rejected whole: the
// running checks go on unchanged, the error is logged line by line and
// assay_config_last_reload_successful drops to 0. Concurrent reloads are
// coalesced and spaced (reload.go): forty requests at once make one or
// two reloads.
func (d *Daemon) Reload() error { return d.reloads.do(context.Background()) }

func (d *Daemon) reload() error {
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()
	cs, err := d.opts.Load()
	if err == nil {
		for _, s := range d.sinks {
			if v, ok := s.(Validator); ok {
				if verr := v.Validate(cs); verr != nil {
					err = verr
					break
				}
			}
		}
	}
	now := time.Now()
	if err != nil {
		d.metrics.Reloaded(false, now)
		d.mu.Lock()
		d.lastErr = err
		d.mu.Unlock()
		var les checks.LoadErrors
		if errors.As(err, &les) {
			for _, e := range les {
				d.log.Error("configuration rejected, keeping the running checks", "pos", e.Pos.String(), "field", e.Field, "err", e.Msg)
			}
		} else {
			d.log.Error("configuration rejected, keeping the running checks", "err", err.Error())
		}
		return err
	}
	if cs == nil {
		// An empty directory is a loaded configuration: Ready tells
		// "loaded" by a non-nil set.
		cs = []*checks.Check{}
	}
	if d.opts.Cluster != nil {
		d.opts.Cluster.SetChecks(cs)
	}
	ownedCS := d.ownedOf(cs)
	for _, s := range d.sinks {
		if cs2, ok := s.(CheckSetter); ok {
			if s == checks.Sink(d.metrics) {
				cs2.SetChecks(ownedCS)
				continue
			}
			cs2.SetChecks(cs)
		}
	}
	for _, s := range d.opts.CheckSetters {
		s.SetChecks(cs)
	}
	for _, s := range d.opts.OwnedSetters {
		s.SetChecks(ownedCS)
	}
	if d.opts.Cluster != nil {
		d.status.KeepResultsOf(ownedCS)
	}
	d.forgetVerdicts(cs)
	d.hb.setChecks(d.hardStop, cs)
	// Parsing left garbage several times the size of what it built (YAML
	// trees, the previous set): return it to the OS now rather than keep
	// it resident until the heap grows into it (10,000 checks: about 40
	// MB). This and the sinks come before the scheduler plans the first
	// runs of new checks, which their time would otherwise make late.
	debug.FreeOSMemory()
	diff := d.sched.Update(ownedCS)
	d.judgeKnownPings(diff.Added)
	d.mu.Lock()
	d.current, d.lastErr = cs, nil
	d.mu.Unlock()
	d.metrics.Reloaded(true, now)
	d.log.Info("checks loaded", "checks", len(cs), "added", len(diff.Added), "changed", len(diff.Changed),
		"removed", len(diff.Removed), "unchanged", len(diff.Unchanged))
	return nil
}

// ownedOf keeps the checks this replica runs.
func (d *Daemon) ownedOf(cs []*checks.Check) []*checks.Check {
	if d.opts.Cluster == nil {
		return cs
	}
	owned := map[string]bool{}
	for _, name := range d.opts.Cluster.Owned() {
		owned[name] = true
	}
	out := make([]*checks.Check, 0, len(owned))
	for _, c := range cs {
		if owned[c.Name] {
			out = append(out, c)
		}
	}
	return out
}

// ownershipChanged follows the cluster's leases: the scheduler, the
// metrics and the owned setters get the checks now owned.
func (d *Daemon) ownershipChanged() {
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()
	d.mu.RLock()
	cs := d.current
	d.mu.RUnlock()
	if cs == nil {
		return // not loaded yet: Reload will do it
	}
	owned := d.ownedOf(cs)
	d.metrics.SetChecks(owned)
	for _, s := range d.opts.OwnedSetters {
		s.SetChecks(owned)
	}
	// A check that moved away: its latest result is the new owner's, in
	// the store, not the last one run here.
	d.status.KeepResultsOf(owned)
	diff := d.sched.Update(owned)
	d.judgeKnownPings(diff.Added)
	d.log.Info("cluster: running the checks this replica owns", "owned", len(owned), "of", len(cs),
		"added", len(diff.Added), "removed", len(diff.Removed))
}

// handOver is called by the coordinator before it releases checks (no
// new runs of them start by then): it waits for their runs under way and
// writes what the storage holds, so that they are stored under this
// replica's epoch before the successor's begins.
func (d *Daemon) handOver(ctx context.Context, names []string) error {
	stop := context.AfterFunc(ctx, func() {
		d.inflightMu.Lock()
		d.idle.Broadcast()
		d.inflightMu.Unlock()
	})
	defer stop()
	d.inflightMu.Lock()
	for busy := true; busy && ctx.Err() == nil; {
		busy = false
		for _, n := range names {
			if d.inflight[n] > 0 {
				busy = true
				d.idle.Wait()
				break
			}
		}
	}
	d.inflightMu.Unlock()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("waiting for runs under way: %w", err)
	}
	if d.opts.Flush == nil {
		return nil
	}
	return d.opts.Flush(ctx)
}

func (d *Daemon) runCheck(ctx context.Context, c *checks.Check, _ time.Time) {
	var epoch int64
	if d.opts.Cluster != nil {
		var ok bool
		if epoch, ok = d.opts.Cluster.Owns(c.Name); !ok {
			// The lease ran out (or moved) since this run was planned.
			d.log.Debug("cluster: not running a check this replica no longer owns", "check", c.Name)
			return
		}
		d.inflightMu.Lock()
		d.inflight[c.Name]++
		d.inflightMu.Unlock()
		defer func() {
			d.inflightMu.Lock()
			if d.inflight[c.Name]--; d.inflight[c.Name] <= 0 {
				delete(d.inflight, c.Name)
			}
			d.idle.Broadcast()
			d.inflightMu.Unlock()
		}()
	}
	r := d.runner.Run(ctx, c)
	if errors.Is(ctx.Err(), context.Canceled) {
		// Cut short by shutdown after the grace period: what it saw says
		// nothing about the target, so it must not flip a verdict or page.
		d.log.Warn("run cancelled by shutdown; result discarded", "check", c.Name)
		return
	}
	// Sinks get their own context: a run that ended as shutdown began
	// still records what it saw, until the grace is over.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	defer context.AfterFunc(d.hardStop, cancel)()
	if epoch != 0 {
		sctx = cluster.WithEpoch(sctx, epoch)
	}
	for _, a := range d.opts.Annotators {
		a.Annotate(sctx, r)
	}
	if !r.Passed {
		attrs := []any{"check", c.Name, "reason", string(r.Reason), "message", r.Message, "attempts", len(r.Attempts)}
		if r.ID != 0 {
			attrs = append(attrs, "run_id", r.ID)
		}
		if fs := r.FailedStep(); fs != nil {
			attrs = append(attrs, "step", fs.Name)
			if lines := fs.Diff.Lines(logDiffLines); len(lines) > 0 {
				attrs = append(attrs, "diff", strings.Join(lines, "; "))
			}
		}
		d.log.Warn("check failed", attrs...)
	}
	d.logVerdict(r)
	for _, s := range d.sinks {
		s.Record(sctx, r)
	}
}

// clusterInfo is the cluster endpoint's source (nil without a cluster).
func clusterInfo(c *cluster.Coordinator) func() any {
	if c == nil {
		return nil
	}
	return func() any { return c.Info() }
}

// logDiffLines bounds the diff in a "check failed" log line.
const logDiffLines = 8

// logVerdict logs every run at debug and a recovery (a pass after
// failed runs) at info.
func (d *Daemon) logVerdict(r *checks.Result) {
	d.verdictMu.Lock()
	failed := d.verdicts[r.Check]
	if r.Passed {
		delete(d.verdicts, r.Check)
	} else {
		d.verdicts[r.Check] = failed + 1
	}
	d.verdictMu.Unlock()
	d.log.Debug("check run", "check", r.Check, "passed", r.Passed, "duration_seconds", r.Duration.Seconds(), "attempts", len(r.Attempts))
	if r.Passed && failed > 0 {
		d.log.Info("check recovered", "check", r.Check, "failed_runs", failed)
	}
}

// forgetVerdicts drops the verdicts of checks no longer loaded.
func (d *Daemon) forgetVerdicts(cs []*checks.Check) {
	keep := make(map[string]bool, len(cs))
	for _, c := range cs {
		keep[c.Name] = true
	}
	d.verdictMu.Lock()
	defer d.verdictMu.Unlock()
	for name := range d.verdicts {
		if !keep[name] {
			delete(d.verdicts, name)
		}
	}
}

// Listen binds the HTTP address now, so that a caller learns the port (or
// an address in use) before Run.
func (d *Daemon) Listen(addr string) (net.Addr, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	d.listener = l
	return l.Addr(), nil
}

// Ready reports whether checks are loaded and the scheduler runs.
func (d *Daemon) Ready() bool {
	d.mu.RLock()
	loaded := d.current != nil
	d.mu.RUnlock()
	if d.opts.Cluster != nil && !d.opts.Cluster.Ready() {
		return false // no lease this replica can prove: it runs nothing
	}
	return loaded && d.sched.Running()
}

// Run serves and schedules until ctx ends, then stops taking new runs,
// lets runs in flight finish, and returns within the shutdown grace (see
// shutdown.go). reload receives reload requests (SIGHUP); file changes in
// the checks directory reload too, debounced.
func (d *Daemon) Run(ctx context.Context, reload <-chan struct{}) error {
	if d.listener == nil {
		if _, err := d.Listen(d.opts.Config.Server.Listen); err != nil {
			return err
		}
	}
	limits := d.limits()
	d.server = web.NewServer(web.Handler(web.Options{
		Gatherer: d.Gatherer(), Status: d.status, Ready: d.Ready, Health: d.opts.Health,
		Reload: d.reloads.do, History: d.opts.History, Notifications: d.opts.Notifications,
		NotificationsChanged: d.opts.NotificationsChanged,
		Cluster:              clusterInfo(d.opts.Cluster),
		Public:               d.opts.Config.Web.Public,
		Access:               d.access,
		Maintenance:          d.opts.Maintenance,
		Heartbeats:           d.hb,
	}), limits, d.log)
	d.warnIfOpen()
	watcher := d.newWatcher()
	serveErr := make(chan error, 1)
	l := web.LimitListener(d.listener, limits.MaxConnections)
	go func() { serveErr <- web.Serve(l, d.server, d.webConfig, d.log) }()
	d.sched.Start()

	watchCtx, stopWatch := context.WithCancel(ctx)
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		var wg sync.WaitGroup
		if d.opts.Cluster != nil {
			// Another replica may take the pings of checks owned here.
			wg.Go(func() { d.hb.poll(watchCtx, pingPollEvery) })
		}
		d.watch(watchCtx, reload, watcher)
		wg.Wait()
	}()

	var err error
	select {
	case <-ctx.Done():
	case err = <-serveErr:
	}
	stopWatch()
	d.shutdown(watchDone)
	return err
}

// limits are the HTTP server's: Options.HTTPLimits, defaults for what it
// leaves zero.
func (d *Daemon) limits() web.Limits {
	l, def := d.opts.HTTPLimits, web.DefaultLimits()
	def.MaxConnections = d.opts.Config.Server.MaxConnections
	for _, f := range []struct{ v, def *time.Duration }{
		{&l.ReadHeaderTimeout, &def.ReadHeaderTimeout}, {&l.ReadTimeout, &def.ReadTimeout},
		{&l.WriteTimeout, &def.WriteTimeout}, {&l.IdleTimeout, &def.IdleTimeout},
	} {
		if *f.v <= 0 {
			*f.v = *f.def
		}
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = def.MaxHeaderBytes
	}
	if l.MaxConnections <= 0 {
		l.MaxConnections = def.MaxConnections
	}
	return l
}

// warnIfOpen warns when the server listens beyond loopback with nothing
// to authenticate its clients: anyone who can connect reads the API and
// the metrics (writes answer loopback clients only).
func (d *Daemon) warnIfOpen() {
	if d.access.Token != "" || d.webConfig.BasicAuth {
		return
	}
	ap, err := netip.ParseAddrPort(d.listener.Addr().String())
	if err != nil || ap.Addr().IsLoopback() {
		return
	}
	d.log.Warn("listening beyond loopback without server.api_token or a web config with basic auth: anyone who can connect reads the API and the metrics; write endpoints answer loopback clients only",
		"listen", d.listener.Addr().String())
}
