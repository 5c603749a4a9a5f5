package web

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
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

// gatheredStreamer streams what a Gatherer gathers.
type gatheredStreamer struct{ prometheus.Gatherer }

func (s gatheredStreamer) Stream(yield func(*dto.MetricFamily) error) error {
	mfs, err := s.Gather()
	if err != nil {
		return err
	}
	for _, mf := range mfs {
		if err := yield(mf); err != nil {
			return err
		}
	}
	return nil
}

// The streamed /metrics is byte for byte what promhttp writes (once
// gunzipped), in every format and encoding a scraper may ask for, and
// with the name[] filter.
func TestStreamedMetricsAreWhatPromhttpWrites(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "a_total", Help: "A."}, []string{"check"})
	c.WithLabelValues("x").Add(3)
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "b_seconds", Help: "B.", NativeHistogramBucketFactor: 1.1, Buckets: []float64{1}})
	h.Observe(0.5)
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "c", Help: "C with \\ and \n."})
	// A name that is not valid without UTF-8: escaped as promhttp does.
	d := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "d.dotted", Help: "D."}, []string{"lab.el"})
	d.WithLabelValues("v").Set(1)
	reg.MustRegister(c, h, g, d)
	want := promhttp.HandlerFor(reg, promhttp.HandlerOpts{EnableOpenMetrics: true})
	got := streamHandler(gatheredStreamer{reg})
	for _, tc := range []struct{ accept, encoding, query string }{
		{"", "", ""},
		{"", "gzip", "?name[]=a_total&name[]=c"},
		{"application/openmetrics-text;version=1.0.0", "", "?name[]=none"},
		{"text/plain;version=0.0.4", "gzip", ""},
		{"application/openmetrics-text;version=1.0.0;escaping=allow-utf-8", "", ""},
		{"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.7,text/plain;version=0.0.4;q=0.3", "gzip, deflate", ""},
		{"*/*", "identity, gzip;q=0", ""},
	} {
		serve := func(h http.Handler) *httptest.ResponseRecorder {
			r := httptest.NewRequest("GET", "/metrics"+tc.query, nil)
			if tc.accept != "" {
				r.Header.Set("Accept", tc.accept)
			}
			if tc.encoding != "" {
				r.Header.Set("Accept-Encoding", tc.encoding)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			return w
		}
		w, g := serve(want), serve(got)
		for _, k := range []string{"Content-Type", "Content-Encoding"} {
			if g.Header().Get(k) != w.Header().Get(k) {
				t.Errorf("%q %q %q: %s %q, promhttp %q", tc.accept, tc.encoding, tc.query, k, g.Header().Get(k), w.Header().Get(k))
			}
		}
		if g.Code != 200 || !bytes.Equal(body(t, g), body(t, w)) {
			t.Errorf("%q %q %q: %d\n%q\npromhttp:\n%q", tc.accept, tc.encoding, tc.query, g.Code, body(t, g), body(t, w))
		}
	}
}

// body is the response body, gunzipped when it is compressed.
func body(t *testing.T, w *httptest.ResponseRecorder) []byte {
	t.Helper()
	if w.Header().Get("Content-Encoding") != "gzip" {
		return w.Body.Bytes()
	}
	zr, err := gzip.NewReader(w.Body)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A gather that fails answers 500 with the error, as promhttp does.
func TestStreamedMetricsGatherErrorIs500(t *testing.T) {
	failing := gatheredStreamer{prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		return nil, errors.New("collector broke")
	})}
	w := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/metrics", nil)
	r.Header.Set("Accept-Encoding", "gzip")
	streamHandler(failing).ServeHTTP(w, r)
	if w.Code != 500 || w.Body.String() != "An error has occurred while serving metrics:\n\ncollector broke\n" || w.Header().Get("Content-Encoding") != "" {
		t.Errorf("%d %q %q, want 500 naming the error, uncompressed", w.Code, w.Header().Get("Content-Encoding"), w.Body.String())
	}
}

// gzip is chosen exactly when promhttp would choose it.
func TestGzipIsNegotiatedAsPromhttpDoes(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "a", Help: "A."}))
	ref := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	for header, want := range map[string]bool{
		"":                                  false,
		"gzip":                              true,
		"gzip;q=0.5":                        true,
		"deflate, gzip;q=1.0":               true,
		"gzip;q=0":                          false,
		"identity":                          false,
		"identity;q=0.5, gzip;q=0.5":        false,
		"identity;q=0.5, gzip;q=0.6":        true,
		"*":                                 false,
		"*;q=0, gzip":                       true,
		"gzip;q=0, *":                       false,
		"br;q=1, gzip ; q=0.1":              true,
		"gzip;q=2":                          false,
		"GZIP":                              false,
		"x-gzip":                            false,
		strings.Repeat("br, ", 64) + "gzip": false, // past the first 64
	} {
		if got := acceptsGzip([]string{header}); got != want {
			t.Errorf("acceptsGzip(%q) = %v, want %v", header, got, want)
		}
		if strings.Count(header, ",") >= 64 {
			continue // promhttp reads on
		}
		r := httptest.NewRequest("GET", "/metrics", nil)
		r.Header.Set("Accept-Encoding", header)
		w := httptest.NewRecorder()
		ref.ServeHTTP(w, r)
		if promhttpGzip := w.Header().Get("Content-Encoding") == "gzip"; promhttpGzip != want {
			t.Errorf("promhttp chooses gzip for %q: %v, want %v", header, promhttpGzip, want)
		}
	}
	// Values of several header lines count together.
	if !acceptsGzip([]string{"br", "gzip"}) {
		t.Error("gzip in a second Accept-Encoding line is not chosen")
	}
}
