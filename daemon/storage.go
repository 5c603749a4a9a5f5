package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/assay-monitor/assay/alerting"
	"github.com/assay-monitor/assay/cluster"
	"github.com/assay-monitor/assay/config"
	"github.com/assay-monitor/assay/history"
	"github.com/assay-monitor/assay/maintenance"
	"github.com/assay-monitor/assay/store"
	"github.com/assay-monitor/assay/store/postgres"
	"github.com/prometheus/client_golang/prometheus"
)

// Backend is a store driver: SQLite (package store) or PostgreSQL
// (store/postgres). Nothing downstream knows which.
type Backend interface {
	alerting.Store
	history.Writer
	history.Reader
	history.NotificationAdmin
	history.SilenceStore
	PingStore
	// WriteErrors counts the writes that failed so far.
	WriteErrors() float64
	// WriteError is the error of the last write, nil when it succeeded.
	WriteError() error
	// Probe makes a small write to learn whether writes work again.
	Probe(ctx context.Context) error
	Close() error
}

// clusterStore is a store that keeps leases (PostgreSQL).
type clusterStore interface {
	cluster.Store
	FencedWrites() float64
	RoundTrips() float64
}

// connectTimeout bounds how long start-up waits for PostgreSQL.
const connectTimeout = 30 * time.Second

// OpenBackend opens the store that cfg's storage section names; sqlite
// options apply to the SQLite store only.
func OpenBackend(cfg *config.Config, log *slog.Logger, sqlite ...store.Option) (Backend, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Storage.Driver == config.DriverPostgres {
		ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
		defer cancel()
		st, err := postgres.Open(ctx, cfg.Storage.DSN, postgres.WithLogger(log))
		if err != nil {
			return nil, fmt.Errorf("storage.dsn: %w", err)
		}
		return st, nil
	}
	st, err := store.Open(cfg.Storage.Path, append([]store.Option{store.WithLogger(log)}, sqlite...)...)
	if err != nil {
		return nil, fmt.Errorf("storage.path: %w", store.Explain(err))
	}
	return st, nil
}

// ConfigError is a configuration the daemon cannot start with (a bad
// notifier): the CLI reports it as a usage error.
type ConfigError struct{ Err error }

func (e ConfigError) Error() string { return e.Err.Error() }
func (e ConfigError) Unwrap() error { return e.Err }

// OpenStorage opens the store (storage.path) and adds what lives on it
// to a daemon's options: the history (unless storage.history is false),
// which annotates and records every result, and alerting, which runs
// even without notifiers so that incidents are recorded; Health, which
// makes /readyz say degraded while the store cannot write; and
// assay_store_write_errors_total. Their writers run until stop, which
// flushes the history and alerting within the shutdown's budget
// (shutdown.go) and closes the store.
func OpenStorage(opts *Options) (stop func(), err error) {
	cfg := opts.Config
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	st, err := OpenBackend(cfg, log, opts.StoreOptions...)
	if err != nil {
		return nil, err
	}
	var coordinator *cluster.Coordinator
	if cs, ok := st.(clusterStore); ok && cfg.Storage.Driver == config.DriverPostgres {
		coordinator, err = cluster.New(cluster.Options{Store: cs, TTL: cfg.Cluster.LeaseTTL.D(), Logger: log, Registerer: opts.Registry})
		if err != nil {
			st.Close()
			return nil, err
		}
		opts.Registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "assay_cluster_fenced_writes_total",
			Help: "Writes (runs, alert state changes) the store refused because another replica holds a newer lease of the check.",
		}, cs.FencedWrites), prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "assay_store_round_trips_total",
			Help: "Requests this replica sent to PostgreSQL (statements, BEGIN and COMMIT, and batches sent in one go).",
		}, cs.RoundTrips))
		opts.Cluster = coordinator
		log.Info("cluster: sharing the checks with the other replicas of the store", "member", coordinator.ID(),
			"lease_ttl", cfg.Cluster.LeaseTTL.D().String(), "store", st.(interface{ Path() string }).Path())
	}
	var owns func(string) (int64, bool)
	if coordinator != nil {
		owns = coordinator.Owns
	}
	m, err := alerting.New(alerting.Options{
		Owns:         owns,
		Notifiers:    cfg.Notifiers,
		Defaults:     cfg.Defaults.Alert,
		Store:        st,
		ExternalURL:  cfg.Server.ExternalURL,
		Registerer:   opts.Registry,
		Logger:       log,
		FlushTimeout: flushBudget(cfg.Server.ShutdownGrace.D()),
	})
	if err != nil {
		st.Close()
		return nil, ConfigError{err}
	}
	opts.Registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "assay_store_write_errors_total",
		Help: "Writes to the store that failed (history batches, alert states and events, outbox bookkeeping); each is retried.",
	}, st.WriteErrors))
	opts.Health = func() error {
		if err := st.WriteError(); err != nil {
			return fmt.Errorf("the store cannot write: %w", err)
		}
		return nil
	}
	// The calendar marks every result before the other annotators and
	// sinks see it, and tells alerting when a window ends.
	cal := maintenance.New(maintenance.Options{Windows: cfg.Maintenance, Location: cfg.Location, Store: st,
		Clock: opts.Clock, Logger: log, Registerer: opts.Registry})
	opts.Maintenance = cal
	opts.Annotators = append([]Annotator{cal}, opts.Annotators...)
	opts.CheckSetters = append(opts.CheckSetters, cal)
	opts.OwnedSetters = append(opts.OwnedSetters, cal.Owned())
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		cal.Run(ctx, func(active func(string) bool) { m.ReleaseMaintenance(ctx, active) })
	}()
	var rec *history.Recorder
	if cfg.Storage.HistoryOn() {
		rec, err = history.NewRecorder(history.Options{
			Writer:       st,
			Logger:       log,
			Registerer:   opts.Registry,
			Retention:    cfg.Storage.Retention.D(),
			MaxPerCheck:  cfg.Storage.MaxResultsPerCheck,
			FlushTimeout: flushBudget(cfg.Server.ShutdownGrace.D()),
		})
		if err != nil {
			cancel()
			st.Close()
			return nil, err
		}
		opts.Annotators = append(opts.Annotators, rec)
		opts.Sinks = append(opts.Sinks, rec)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = rec.Run(ctx)
		}()
	}
	opts.Flush = func(ctx context.Context) error {
		if rec != nil {
			if err := rec.Flush(ctx); err != nil {
				return fmt.Errorf("history: %w", err)
			}
		}
		if err := m.Flush(ctx); err != nil {
			return fmt.Errorf("alerting: %w", err)
		}
		return nil
	}
	slos := history.NewSLOs(st, cfg.Defaults.SLO, cfg.Metrics.Labels, log)
	opts.Registry.MustRegister(slos)
	opts.OwnedSetters = append(opts.OwnedSetters, slos)
	opts.History, opts.Notifications, opts.NotificationsChanged = st, st, m.Wake
	opts.Pings = st
	opts.Sinks = append(opts.Sinks, m)
	wg.Add(2)
	go func() {
		defer wg.Done()
		_ = m.Run(ctx)
	}()
	go func() {
		defer wg.Done()
		probeWrites(ctx, st, log)
	}()
	// The coordinator stops after the history and alerting wrote what they
	// hold (under the leases), and leaves the cluster, releasing its
	// leases at once, before the store closes.
	cctx, ccancel := context.WithCancel(context.Background())
	cdone := make(chan struct{})
	if coordinator != nil {
		go func() {
			defer close(cdone)
			_ = coordinator.Run(cctx)
		}()
	} else {
		close(cdone)
	}
	budget := flushBudget(cfg.Server.ShutdownGrace.D())
	return func() {
		cancel()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(budget + 250*time.Millisecond):
			// A write stuck in the database (a lock's busy timeout):
			// closing would wait for it. The process is ending anyway.
			log.Error("the last writes to the store did not finish within the shutdown grace; exiting without them")
			ccancel()
			return
		}
		ccancel()
		<-cdone
		if err := st.Close(); err != nil {
			log.Error("closing the store", "err", err)
		}
	}, nil
}

// probeEvery is how often a store that failed its last write is tried
// again with a small write, so that /readyz recovers even when nothing
// else is due to be written.
const probeEvery = 5 * time.Second

func probeWrites(ctx context.Context, st Backend, log *slog.Logger) {
	t := time.NewTicker(probeEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if st.WriteError() == nil {
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		if err := st.Probe(pctx); err == nil {
			log.Info("the store can write again")
		}
		cancel()
	}
}
