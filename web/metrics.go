package web

import (
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Streamer is a Gatherer that can also hand out its families one at a
// time, each built only when it is to be written (metrics.Exposition).
// /metrics then holds one family at a time instead of all of them.
type Streamer interface {
	prometheus.Gatherer
	// Stream calls yield with each family in turn and stops at its
	// first error; the families of a failed gather are not streamed.
	Stream(yield func(*dto.MetricFamily) error) error
}

// metricsHandler serves /metrics one scrape at a time: two scrapes never
// hold their series together.
//
// A gatherer that streams (Streamer, as the daemon's does) holds one
// family at a time: at 10,000 checks about 8 MB at most and 18 MB
// allocated a scrape, where a gather for promhttp allocates 33 MB and
// holds 25 MB until all is written. Any other is gathered after a
// garbage collection: begun with the heap near the GC's target, a
// gather of all the series triggers a collection that finds them alive,
// and the next target is twice that much more (the daemon's peak
// resident memory). A streamed scrape is not worth that collection:
// forced, it marks the whole heap while the checks wait (a burst of runs
// 20 ms late at every scrape).
func metricsHandler(g prometheus.Gatherer) http.Handler {
	h, gcFirst := promhttp.HandlerFor(g, promhttp.HandlerOpts{EnableOpenMetrics: true}), true
	if s, ok := g.(Streamer); ok {
		h, gcFirst = streamHandler(s), false
	}
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
		if gcFirst {
			runtime.GC()
		}
		h.ServeHTTP(w, r)
	})
}

// streamHandler writes what promhttp.HandlerFor writes (the format and
// the escaping of names negotiated with expfmt, gzip when accepted, the
// name[] filter, a 500 for a failed gather), but encodes each family as
// s streams it. Two things differ, both for the checks that run while a
// scrape is written: gzip at its fastest level (a scrape of 10,000
// checks is 9.5 MB of text: 0.12 s of CPU at the default level, 0.04 s
// at this one, for a body 4 % larger, 450 kB), and the encoder lets the
// other goroutines run between its writes.
func streamHandler(s Streamer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		format := expfmt.NegotiateIncludingOpenMetrics(r.Header)
		var only map[string]bool // promhttp's name[] filter
		if r.URL != nil {
			for _, n := range r.URL.Query()["name[]"] {
				if only == nil {
					only = map[string]bool{}
				}
				only[n] = true
			}
		}
		// The headers and the encoders come with the first family: a
		// gather that fails before it is a plain 500.
		var enc, plain expfmt.Encoder
		var gz *gzip.Writer
		defer func() {
			if gz != nil {
				// Also after a failed write: the client then reads a
				// complete gzip stream of what was written.
				_ = gz.Close()
				gzipPool.Put(gz)
			}
		}()
		begin := func() {
			h := w.Header()
			h.Add("Vary", "Accept")
			h.Add("Vary", "Accept-Encoding")
			h.Set("Content-Type", string(format))
			var out io.Writer = w
			if acceptsGzip(r.Header.Values("Accept-Encoding")) {
				h.Set("Content-Encoding", "gzip")
				gz = gzipPool.Get().(*gzip.Writer)
				gz.Reset(w)
				out = gz
			}
			out = yielder{out}
			enc = expfmt.NewEncoder(out, format)
			// Escaping a family copies it; a family whose names need
			// none is written the same without (most of a scrape's
			// garbage otherwise). The encoders keep no state but
			// OpenMetrics' EOF, which enc writes.
			plain = expfmt.NewEncoder(out, format.WithEscapingScheme(model.NoEscaping))
		}
		err := s.Stream(func(mf *dto.MetricFamily) error {
			if enc == nil {
				begin()
			}
			if only != nil && !only[mf.GetName()] {
				return nil
			}
			if legacyNames(mf) {
				return plain.Encode(mf)
			}
			return enc.Encode(mf)
		})
		switch {
		case err != nil && enc == nil:
			http.Error(w, fmt.Sprintf("An error has occurred while serving metrics:\n\n%v", err), http.StatusInternalServerError)
			return
		case err != nil:
			return // after a partial write all one can do is stop
		case enc == nil:
			begin() // not one family: the headers (and OpenMetrics' EOF)
		}
		if c, ok := enc.(expfmt.Closer); ok {
			_ = c.Close() // OpenMetrics' "# EOF"
		}
	})
}

// gzipPool keeps the writers of past scrapes (a compressor is about
// 1 MB of state).
var gzipPool = sync.Pool{New: func() any {
	gz, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed) // a valid level: no error
	return gz
}}

// yielder lets the goroutines that wait run before each write: the
// encoder writes 4 kB at a time (text) or a family at a time (protobuf),
// and a scrape of 10,000 checks keeps a core busy for 0.1 s or more, in
// which the scheduler's goroutines would otherwise wait for the runtime
// to preempt it (every 10 ms). A cheap guard: its effect on the bench's
// lateness was within the noise of a shared machine.
type yielder struct{ w io.Writer }

func (y yielder) Write(p []byte) (int, error) {
	runtime.Gosched()
	return y.w.Write(p)
}

// legacyNames reports whether the names of mf and of its labels are all
// valid without UTF-8 support, so that no escaping scheme changes them.
func legacyNames(mf *dto.MetricFamily) bool {
	if !model.IsValidLegacyMetricName(mf.GetName()) {
		return false
	}
	for _, m := range mf.GetMetric() {
		for _, l := range m.GetLabel() {
			if !model.IsValidLegacyMetricName(l.GetName()) {
				return false
			}
		}
	}
	return true
}

// acceptsGzip reports whether the Accept-Encoding values choose gzip
// over identity as promhttp negotiates them: by the higher q (a "*"
// counts for both, a tie is identity's), and never at q=0. As there,
// codings are compared exactly. Only the first 64 codings are read.
func acceptsGzip(values []string) bool {
	identityQ, gzipQ := -1.0, -1.0
	for i, part := range strings.Split(strings.Join(values, ","), ",") {
		if i == 64 {
			break
		}
		coding, params, hasParams := strings.Cut(part, ";")
		q := 1.0
		if hasParams {
			k, v, _ := strings.Cut(params, "=")
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if strings.TrimSpace(k) != "q" || err != nil || f < 0 || f > 1 {
				continue
			}
			q = f
		}
		switch strings.TrimSpace(coding) {
		case "*":
			identityQ, gzipQ = max(identityQ, q), max(gzipQ, q)
		case "identity":
			identityQ = max(identityQ, q)
		case "gzip":
			gzipQ = max(gzipQ, q)
		}
	}
	return gzipQ > identityQ && gzipQ > 0
}
