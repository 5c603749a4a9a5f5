package diff

import (
	"net/http"
	"sort"
	"strings"

	"github.com/assay-monitor/assay/checks"
)

// volatileHeaders are left out of a diff because they change on every
// response (dates, request and trace ids, per-request timings, cache hop
// details): listing them would bury what really changed. Names compare
// case-insensitively.
var volatileHeaders = setOf(
	"Date", "Age", "Expires",
	"X-Request-Id", "Request-Id", "X-Correlation-Id", "X-Trace-Id",
	"X-Amzn-Trace-Id", "X-Amzn-Requestid", "X-Amz-Request-Id", "X-Amz-Id-2", "X-Amz-Cf-Id", "X-Amz-Cf-Pop",
	"X-Cloud-Trace-Context", "Traceparent", "Tracestate", "Uber-Trace-Id",
	"X-B3-Traceid", "X-B3-Spanid", "X-B3-Parentspanid", "X-B3-Sampled", "X-Datadog-Trace-Id", "X-Datadog-Parent-Id",
	"Server-Timing", "Cf-Ray", "Report-To", "Nel",
	"X-Runtime", "X-Response-Time", "X-Envoy-Upstream-Service-Time",
	"X-Served-By", "X-Timer", "X-Cache-Hits",
)

// maxVolatileLen bounds the names of volatileHeaders (checked by a test).
const maxVolatileLen = 32

func setOf(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[strings.ToLower(n)] = true
	}
	return m
}

// headerChanges lists the headers added, removed or changed, by canonical
// name, at most max of them (then truncated is set).
func headerChanges(before, after map[string][]string, max, valueLen int, truncated *bool) []checks.FieldChange {
	b, a := joinHeaders(before), joinHeaders(after)
	names := make([]string, 0, len(b)+len(a))
	for n := range b {
		names = append(names, n)
	}
	for n := range a {
		if _, ok := b[n]; !ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var out []checks.FieldChange
	for _, n := range names {
		if volatileHeaders[strings.ToLower(n)] {
			continue
		}
		from, inBefore := b[n]
		to, inAfter := a[n]
		var c checks.FieldChange
		switch {
		case !inBefore:
			c = checks.FieldChange{Name: n, Change: checks.ChangeAdded, To: cut(to, valueLen)}
		case !inAfter:
			c = checks.FieldChange{Name: n, Change: checks.ChangeRemoved, From: cut(from, valueLen)}
		case from != to:
			c = checks.FieldChange{Name: n, Change: checks.ChangeChanged, From: cut(from, valueLen), To: cut(to, valueLen)}
		default:
			continue
		}
		if len(out) >= max {
			*truncated = true
			break
		}
		out = append(out, c)
	}
	return out
}

// joinHeaders maps each canonical header name to its values joined with
// ", ". Keys that differ only in case are merged, in sorted key order so
// that the result does not depend on map iteration.
func joinHeaders(h map[string][]string) map[string]string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	vals := make(map[string][]string, len(h))
	for _, k := range keys {
		n := http.CanonicalHeaderKey(k)
		vals[n] = append(vals[n], h[k]...)
	}
	out := make(map[string]string, len(vals))
	for n, vs := range vals {
		out[n] = strings.Join(vs, ", ")
	}
	return out
}
