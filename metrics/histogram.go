package metrics

import (
	"math"
	"slices"
	"sort"

	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// durationHist is the assay_check_duration_seconds histogram of one check:
// a Prometheus native histogram (exponential buckets, what client_golang
// makes for NativeHistogramBucketFactor 1.1: schema 3, zero threshold
// 2^-128), and classic buckets only when asked for. A client_golang
// histogram child holds its buckets twice (hot and cold) in sync.Maps,
// about 2 KB a check; this keeps one sorted slice of the buckets in use.
// It is guarded by its checkSeries' mutex.
type durationHist struct {
	schema  int32
	count   uint64
	sum     float64
	zero    uint64   // observations at most zeroThreshold
	keys    []int32  // native bucket indexes in use, ascending
	counts  []uint64 // observations per key
	classic []uint64 // per durationBuckets, not cumulative; nil without classic buckets
	created *timestamppb.Timestamp
}

const (
	// nativeSchema is where a histogram starts: buckets grow by 2^(1/8),
	// about 9 %.
	nativeSchema = 3
	// maxNativeBuckets bounds the buckets of a histogram: past it, the
	// resolution halves (as client_golang's NativeHistogramMaxBucketNumber).
	maxNativeBuckets = 100
	// zeroThreshold is client_golang's DefNativeHistogramZeroThreshold, a
	// bucket boundary at every schema.
	zeroThreshold = 2.938735877055719e-39
)

// nativeBounds are the fractions (of a power of two) where the buckets of
// schemas 1 to 3 begin, as client_golang and Prometheus define them.
var nativeBounds = [...][]float64{
	1: {0.5, 0.7071067811865475},
	2: {0.5, 0.5946035575013605, 0.7071067811865475, 0.8408964152537144},
	3: {
		0.5, 0.5452538663326288, 0.5946035575013605, 0.6484197773255048,
		0.7071067811865475, 0.7711054127039704, 0.8408964152537144, 0.9170040432046711,
	},
}

func newDurationHist(classic bool, created *timestamppb.Timestamp) *durationHist {
	h := &durationHist{schema: nativeSchema, created: created}
	if classic {
		h.classic = make([]uint64, len(durationBuckets))
	}
	return h
}

// nativeKey is the index of the bucket holding v > 0 at schema s: bucket
// k holds (2^((k-1)/2^s), 2^(k/2^s)].
func nativeKey(v float64, s int32) int32 {
	frac, exp := math.Frexp(v)
	if s > 0 {
		b := nativeBounds[s]
		return int32(sort.SearchFloat64s(b, frac) + (exp-1)*len(b))
	}
	k := exp
	if frac == 0.5 {
		k--
	}
	off := (1 << -s) - 1
	return int32((k + off) >> -s)
}

// observe counts v (a duration in seconds: finite and not negative).
func (h *durationHist) observe(v float64) {
	if math.IsNaN(v) || v < 0 {
		v = 0
	}
	v = min(v, math.MaxFloat64)
	h.count++
	h.sum += v
	if h.classic != nil {
		if i := sort.SearchFloat64s(durationBuckets, v); i < len(h.classic) {
			h.classic[i]++
		}
	}
	if v <= zeroThreshold {
		h.zero++
		return
	}
	k := nativeKey(v, h.schema)
	i, found := slices.BinarySearch(h.keys, k)
	if found {
		h.counts[i]++
		return
	}
	h.keys = slices.Insert(h.keys, i, k)
	h.counts = slices.Insert(h.counts, i, 1)
	for len(h.keys) > maxNativeBuckets {
		h.halveResolution()
	}
}

// halveResolution merges pairs of buckets: bucket k of schema s lies in
// bucket ceil(k/2) of schema s-1.
func (h *durationHist) halveResolution() {
	h.schema--
	out := 0
	for i, k := range h.keys {
		nk := k / 2 // ceil for k <= 0
		if k > 0 {
			nk = (k + 1) / 2
		}
		if out > 0 && h.keys[out-1] == nk {
			h.counts[out-1] += h.counts[i]
			continue
		}
		h.keys[out], h.counts[out] = nk, h.counts[i]
		out++
	}
	h.keys, h.counts = h.keys[:out], h.counts[:out]
}

// write fills a histogram as client_golang's Write does: spans of
// consecutive buckets (a gap of one or two empty buckets is written as
// zeros rather than a new span), counts as deltas from the previous
// bucket, classic buckets cumulative.
func (h *durationHist) write() *dto.Histogram {
	// Copies of the values: the scrape encodes after the lock is released.
	out := &dto.Histogram{
		SampleCount:      new(h.count),
		SampleSum:        new(h.sum),
		Schema:           new(h.schema),
		ZeroThreshold:    new(float64(zeroThreshold)),
		ZeroCount:        new(h.zero),
		CreatedTimestamp: h.created,
	}
	if h.classic != nil {
		out.Bucket = make([]*dto.Bucket, len(h.classic))
		bs := make([]dto.Bucket, len(h.classic))
		cum := make([]uint64, len(h.classic))
		var c uint64
		for i, n := range h.classic {
			c += n
			cum[i] = c
			bs[i].CumulativeCount, bs[i].UpperBound = &cum[i], &durationBuckets[i]
			out.Bucket[i] = &bs[i]
		}
	}
	var prev int64
	next := int32(0)
	for i, k := range h.keys {
		gap := k - next
		if i == 0 || gap > 2 {
			out.PositiveSpan = append(out.PositiveSpan, &dto.BucketSpan{Offset: new(gap), Length: new(uint32(0))})
		} else {
			for range gap {
				*out.PositiveSpan[len(out.PositiveSpan)-1].Length++
				out.PositiveDelta = append(out.PositiveDelta, -prev)
				prev = 0
			}
		}
		n := int64(h.counts[i])
		*out.PositiveSpan[len(out.PositiveSpan)-1].Length++
		out.PositiveDelta = append(out.PositiveDelta, n-prev)
		prev = n
		next = k + 1
	}
	return out
}
