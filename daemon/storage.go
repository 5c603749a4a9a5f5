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
	// WriteErrors counts the writes that failed so far.
	WriteErrors() float64
	Close() error
}

// clusterStore is a store that keeps leases (PostgreSQL).
type clusterStore interface {
	cluster.Store
	FencedWrites() float64
}

// connectTimeout bounds how long start-up waits for PostgreSQL.
const connectTimeout = 30 * time.Second

// OpenBackend opens the store that cfg's storage section names.
func OpenBackend(cfg *config.Config, log *slog.Logger) (Backend, error) {
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
	st, err := store.Open(cfg.Storage.Path, store.WithLogger(log))
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
// even without notifiers so that incidents are recorded. Their writers
// run until stop, which flushes the history and closes the store.
func OpenStorage(opts *Options) (stop func(), err error) {
	cfg := opts.Config
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	st, err := OpenBackend(cfg, log)
	if err != nil {
		return nil, err
	}
	m, err := alerting.New(alerting.Options{
		Notifiers:   cfg.Notifiers,
		Defaults:    cfg.Defaults.Alert,
		Store:       st,
		ExternalURL: cfg.Server.ExternalURL,
		Registerer:  opts.Registry,
		Logger:      log,
	})
	if err != nil {
		st.Close()
		return nil, ConfigError{err}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	if cfg.Storage.HistoryOn() {
		rec, err := history.NewRecorder(history.Options{
			Writer:      st,
			Logger:      log,
			Registerer:  opts.Registry,
			WriteErrors: st.WriteErrors,
			Retention:   cfg.Storage.Retention.D(),
			MaxPerCheck: cfg.Storage.MaxResultsPerCheck,
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
	} else {
		opts.Registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "assay_store_write_errors_total",
			Help: "Writes to the store that failed (history batches and alert state changes); each failed batch is retried.",
		}, st.WriteErrors))
	}
	slos := history.NewSLOs(st, cfg.Defaults.SLO, cfg.Metrics.Labels, log)
	opts.Registry.MustRegister(slos)
	opts.OwnedSetters = append(opts.OwnedSetters, slos)
	var coordinator *cluster.Coordinator
	if cs, ok := st.(clusterStore); ok && cfg.Storage.Driver == config.DriverPostgres {
		coordinator, err = cluster.New(cluster.Options{Store: cs, TTL: cfg.Cluster.LeaseTTL.D(), Logger: log, Registerer: opts.Registry})
		if err != nil {
			cancel()
			st.Close()
			return nil, err
		}
		opts.Registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "assay_cluster_fenced_writes_total",
			Help: "Runs this replica wrote that the store refused because another replica holds a newer lease of the check.",
		}, cs.FencedWrites))
		opts.Cluster = coordinator
		log.Info("cluster: sharing the checks with the other replicas of the store", "member", coordinator.ID(),
			"lease_ttl", cfg.Cluster.LeaseTTL.D().String(), "store", st.(interface{ Path() string }).Path())
	}
	opts.History, opts.Notifications, opts.NotificationsChanged = st, st, m.Wake
	opts.Sinks = append(opts.Sinks, m)
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = m.Run(ctx)
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
	return func() {
		cancel()
		wg.Wait()
		ccancel()
		<-cdone
		if err := st.Close(); err != nil {
			log.Error("closing the store", "err", err)
		}
	}, nil
}
