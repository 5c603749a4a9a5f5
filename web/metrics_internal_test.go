package web

import (
	"context"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// A /metrics scrape waits for the one in progress (two never hold their
// series at once), and a scraper that gives up while waiting costs no
// gather.
func TestMetricsScrapesOneAtATime(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	var gathers, inside, most atomic.Int32
	h := metricsHandler(prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		gathers.Add(1)
		if n := inside.Add(1); n > most.Load() {
			most.Store(n)
		}
		defer inside.Add(-1)
		entered <- struct{}{}
		<-release
		return nil, nil
	}))
	scrape := func(ctx context.Context) <-chan int {
		done := make(chan int, 1)
		go func() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil).WithContext(ctx))
			done <- w.Code
		}()
		return done
	}
	first := scrape(context.Background())
	<-entered // the first scrape is gathering

	// A second scrape waits; its scraper gives up: it returns without a gather.
	ctx, cancel := context.WithCancel(context.Background())
	second := scrape(ctx)
	cancel()
	<-second
	// A third waits, then gathers once the first is done.
	third := scrape(context.Background())
	release <- struct{}{}
	if code := <-first; code != 200 {
		t.Errorf("first scrape: %d", code)
	}
	<-entered
	release <- struct{}{}
	if code := <-third; code != 200 {
		t.Errorf("third scrape: %d", code)
	}
	if n := gathers.Load(); n != 2 {
		t.Errorf("%d gathers, want 2 (the scrape that gave up gathered nothing)", n)
	}
	if n := most.Load(); n != 1 {
		t.Errorf("%d gathers at once, want 1", n)
	}
}
