package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/assay-monitor/assay/alerting"
	"github.com/assay-monitor/assay/history"
	"github.com/assay-monitor/assay/store"
	"github.com/prometheus/client_golang/prometheus"
)

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
	st, err := store.Open(cfg.Storage.Path, append([]store.Option{store.WithLogger(log)}, opts.StoreOptions...)...)
	if err != nil {
		return nil, fmt.Errorf("storage.path: %w", store.Explain(err))
	}
	m, err := alerting.New(alerting.Options{
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
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	if cfg.Storage.HistoryOn() {
		rec, err := history.NewRecorder(history.Options{
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
	slos := history.NewSLOs(st, cfg.Defaults.SLO, cfg.Metrics.Labels, log)
	opts.Registry.MustRegister(slos)
	opts.CheckSetters = append(opts.CheckSetters, slos)
	opts.History, opts.Notifications, opts.NotificationsChanged = st, st, m.Wake
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
			return
		}
		if err := st.Close(); err != nil {
			log.Error("closing the store", "err", err)
		}
	}, nil
}

// probeEvery is how often a store that failed its last write is tried
// again with a small write, so that /readyz recovers even when nothing
// else is due to be written.
const probeEvery = 5 * time.Second

func probeWrites(ctx context.Context, st *store.Store, log *slog.Logger) {
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
