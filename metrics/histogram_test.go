package metrics

import (
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// expand turns spans and deltas back into bucket index -> count.
func expand(t *testing.T, h *dto.Histogram) map[int32]int64 {
	t.Helper()
	out := map[int32]int64{}
	var k int32
	var c int64
	d := h.GetPositiveDelta()
	for _, s := range h.GetPositiveSpan() {
		k += s.GetOffset() // the first from 0, the others from the end of the previous
		for range s.GetLength() {
			if len(d) == 0 {
				t.Fatalf("fewer deltas than the spans' lengths: %v", h)
			}
			c += d[0]
			d = d[1:]
			if c < 0 {
				t.Fatalf("bucket %d: count %d", k, c)
			}
			if c > 0 {
				out[k] = c
			}
			k++
		}
	}
	if len(d) != 0 {
		t.Fatalf("%d deltas left over: %v", len(d), h)
	}
	return out
}

// The compact histogram puts every value in the bucket client_golang's
// native histogram puts it in (same schema, zero bucket, count, sum,
// classic buckets), also after the resolution is halved for too many
// buckets.
func TestDurationHistogramMatchesClientGolang(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	logUniform := func(lo, hi float64) func() float64 {
		return func() float64 { return math.Exp(math.Log(lo) + rng.Float64()*(math.Log(hi)-math.Log(lo))) }
	}
	// Bucket boundaries at schema 3 and the classic bounds exactly.
	var edges []float64
	for k := -80; k <= 60; k++ {
		edges = append(edges, math.Exp2(float64(k)/8))
	}
	edges = append(edges, durationBuckets...)
	edge := func() float64 { return edges[rng.IntN(len(edges))] }
	tests := []struct {
		name       string
		n          int
		value      func() float64
		wantSchema int32
	}{
		{"loopback runs, 0.2 to 20 ms", 5000, logUniform(0.0002, 0.02), 3},
		{"zeros and bucket boundaries", 2000, func() float64 {
			if rng.IntN(10) == 0 {
				return 0
			}
			return edge()
		}, 2},
		{"1 µs to 3 h: the resolution halves twice", 20000, logUniform(1e-6, 1e4), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ref := prometheus.NewHistogram(prometheus.HistogramOpts{
				Name: "ref", Help: "ref", Buckets: durationBuckets,
				NativeHistogramBucketFactor: 1.1, NativeHistogramMaxBucketNumber: maxNativeBuckets,
				NativeHistogramMinResetDuration: 24 * time.Hour,
			})
			ours := newDurationHist(true, nil)
			for range tt.n {
				v := tt.value()
				ref.Observe(v)
				ours.observe(v)
			}
			var m dto.Metric
			if err := ref.Write(&m); err != nil {
				t.Fatal(err)
			}
			want, got := m.GetHistogram(), ours.write()
			if got.GetSchema() != want.GetSchema() || got.GetSchema() != tt.wantSchema {
				t.Errorf("schema %d, client_golang %d, want %d", got.GetSchema(), want.GetSchema(), tt.wantSchema)
			}
			if got.GetSampleCount() != want.GetSampleCount() || got.GetSampleSum() != want.GetSampleSum() ||
				got.GetZeroCount() != want.GetZeroCount() || got.GetZeroThreshold() != want.GetZeroThreshold() {
				t.Errorf("count %d sum %v zero %d (<= %v); client_golang %d %v %d (<= %v)",
					got.GetSampleCount(), got.GetSampleSum(), got.GetZeroCount(), got.GetZeroThreshold(),
					want.GetSampleCount(), want.GetSampleSum(), want.GetZeroCount(), want.GetZeroThreshold())
			}
			if g, w := expand(t, got), expand(t, want); !maps.Equal(g, w) {
				t.Errorf("buckets differ:\n  ours %v\n  client_golang %v", sortedMap(g), sortedMap(w))
			}
			if len(got.GetBucket()) != len(durationBuckets) {
				t.Fatalf("%d classic buckets, want %d", len(got.GetBucket()), len(durationBuckets))
			}
			for i, b := range got.GetBucket() {
				w := want.GetBucket()[i]
				if b.GetUpperBound() != w.GetUpperBound() || b.GetCumulativeCount() != w.GetCumulativeCount() {
					t.Errorf("classic bucket le=%v: %d, client_golang le=%v: %d", b.GetUpperBound(), b.GetCumulativeCount(), w.GetUpperBound(), w.GetCumulativeCount())
				}
			}
		})
	}
}

func sortedMap(m map[int32]int64) string {
	var s []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		s = append(s, fmt.Sprintf("%d:%d", k, m[k]))
	}
	return fmt.Sprint(s)
}

// Spans cover runs of buckets; a gap of one or two empty buckets is
// written as zero counts, a longer one starts a new span.
func TestDurationHistogramSpans(t *testing.T) {
	h := &durationHist{schema: 3, keys: []int32{-3, 1, 2, 5, 9}, counts: []uint64{4, 1, 3, 2, 7}, count: 17}
	got := h.write()
	var spans []string
	for _, s := range got.GetPositiveSpan() {
		spans = append(spans, fmt.Sprintf("%d+%d", s.GetOffset(), s.GetLength()))
	}
	if want := "[-3+1 3+5 3+1]"; fmt.Sprint(spans) != want {
		t.Errorf("spans %v, want %s", spans, want)
	}
	if want := "[4 -3 2 -3 0 2 5]"; fmt.Sprint(got.GetPositiveDelta()) != want {
		t.Errorf("deltas %v, want %s", got.GetPositiveDelta(), want)
	}
	if got.Bucket != nil {
		t.Errorf("classic buckets without asking: %v", got.Bucket)
	}
	if want := map[int32]int64{-3: 4, 1: 1, 2: 3, 5: 2, 9: 7}; !maps.Equal(expand(t, got), want) {
		t.Errorf("expanded %v, want %v", expand(t, got), want)
	}
}

// A histogram keeps at most maxNativeBuckets buckets, however spread the
// values.
func TestDurationHistogramBucketsAreBounded(t *testing.T) {
	h := newDurationHist(false, nil)
	for k := -500; k <= 1000; k++ { // 2^-125 to 2^250: above the zero threshold
		h.observe(math.Exp2(float64(k) / 4))
	}
	h.observe(math.Inf(1))
	h.observe(math.NaN())
	h.observe(-1)
	if len(h.keys) > maxNativeBuckets || h.count != 1504 || h.zero != 2 {
		t.Errorf("%d buckets (schema %d), count %d, zero %d; want <= %d, 1504, 2", len(h.keys), h.schema, h.count, h.zero, maxNativeBuckets)
	}
}
