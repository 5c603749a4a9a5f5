package web

import (
	"net/http"
	"runtime"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metricsHandler serves /metrics one scrape at a time, each after a
// garbage collection. A scrape builds every series before it writes them
// (about 25 MB for 10,000 checks). Begun with the heap near the GC's
// target, it triggers a collection that finds all of that alive, and the
// next target is twice that much more: the daemon's peak resident memory
// was the heap grown to it. Collected first, the heap is at its live size
// and the scrape fits under the target (GOGC). One at a time, two
// scrapes never hold their series together.
func metricsHandler(g prometheus.Gatherer) http.Handler {
	h := promhttp.HandlerFor(g, promhttp.HandlerOpts{EnableOpenMetrics: true})
	one := make(chan struct{}, 1)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case one <- struct{}{}:
		case <-r.Context().Done():
			return // the scraper gave up (its scrape timeout)
		}
		defer func() { <-one }()
		if r.Context().Err() != nil {
			return // gave up while it waited
		}
		runtime.GC()
		h.ServeHTTP(w, r)
	})
}
