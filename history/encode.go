package history

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/assay-monitor/assay/checks"
)

// The stored form of a run (StoredRun.Data) is one of two:
//
//   - a failed run, or one the compact form cannot hold, is the
//     encoding/json form of Compact(r), as every run was before (rows of
//     existing databases are all of it);
//   - a passing run is the compact form, version 2: a hand-written encoding
//     of what Compact keeps of it, with short keys, without what the row's
//     columns already hold (id, check, passed), times as Unix nanoseconds
//     and an attempt's start as its offset from the run's. It costs a
//     fraction of json.Marshal's CPU and about half its bytes, and passing
//     runs are nearly all runs.
//
// DecodeRun reads both. The keys, for the record (all but v and t may be
// left out when empty or zero):
//
//	run:      v 2, f file, l labels, g tags, s started (Unix ns), z zone
//	          offset (s), d duration (ns), r reason, m message, a attempts
//	attempt:  n number (left out when it is its index + 1), s start after
//	          the run's (ns), d duration, p passed, r, m, t steps
//	step:     n name, k kind, p passed, x skipped, f finally, r, m,
//	          q request {m method (left out when GET), u url, a auth {t type,
//	          u user, s secret}}, o response {s status, p proto (left out
//	          when HTTP/1.1), l line, b body size, t truncated},
//	          t timings [dns, connect, tls, first byte, total] (ns),
//	          c tls {v version, s subject, i issuer, e not after (Unix ns),
//	          d days remaining, n sans}, h findings [{r rule, s section,
//	          l level, e expected, a actual, m message, f failed}]
const compactPrefix = `{"v":2`

// bufPool holds the scratch buffers of encodeCompact.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// EncodeRun returns the stored form of r (see DecodeRun): the compact
// form for a passing run, else the JSON of Compact(r).
func EncodeRun(r *checks.Result) ([]byte, error) {
	if data := encodeCompact(r); data != nil {
		return data, nil
	}
	return json.Marshal(Compact(r))
}

// encodeCompact returns the compact form of a passing run, or nil when r
// is not one or holds what the form cannot (a time whose Unix
// nanoseconds overflow, a non-finite number, a check name that is not
// UTF-8, which the JSON form would repair but the column keeps).
func encodeCompact(r *checks.Result) []byte {
	if r == nil || !r.Passed || !utf8.ValidString(r.Check) {
		return nil
	}
	bp := bufPool.Get().(*[]byte)
	b, ok := appendCompact((*bp)[:0], r)
	var out []byte
	if ok {
		out = bytes.Clone(b)
	}
	// A run of many steps grows the buffer; the pool keeps ordinary ones.
	if cap(b) <= 64<<10 {
		*bp = b[:0]
		bufPool.Put(bp)
	}
	return out
}

// appendCompact appends the compact form of a passing r to b.
func appendCompact(b []byte, r *checks.Result) ([]byte, bool) {
	started, ok := unixNano(r.Started)
	if !ok {
		return b, false
	}
	_, zone := r.Started.Zone()
	b = append(b, compactPrefix...)
	if r.File != "" {
		b = appendKeyString(b, "f", r.File)
	}
	if len(r.Labels) > 0 {
		b = append(b, `,"l":{`...)
		// Sorted, as encoding/json writes maps: the form is deterministic.
		var arr [8]string
		keys := arr[:0]
		for k := range r.Labels {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = appendString(b, r.Labels[k])
		}
		b = append(b, '}')
	}
	if len(r.Tags) > 0 {
		b = append(b, `,"g":`...)
		b = appendStrings(b, r.Tags)
	}
	b = appendKeyInt(b, "s", started)
	if zone != 0 {
		b = appendKeyInt(b, "z", int64(zone))
	}
	if r.Duration != 0 {
		b = appendKeyInt(b, "d", int64(r.Duration))
	}
	b = appendReason(b, r.Reason, r.Message)
	b = append(b, `,"a":[`...)
	for i := range r.Attempts {
		a := &r.Attempts[i]
		if i > 0 {
			b = append(b, ',')
		}
		// The offset must give back the same instant and the same zone.
		if _, z := a.Started.Zone(); z != zone {
			return b, false
		}
		as, ok := unixNano(a.Started)
		if !ok {
			return b, false
		}
		b = append(b, '{')
		b = append(b, `"t":[`...)
		for j := range a.Steps {
			if j > 0 {
				b = append(b, ',')
			}
			if b, ok = appendStep(b, &a.Steps[j]); !ok {
				return b, false
			}
		}
		b = append(b, ']')
		if a.Number != i+1 {
			b = appendKeyInt(b, "n", int64(a.Number))
		}
		if d := as - started; d != 0 {
			b = appendKeyInt(b, "s", d)
		}
		if a.Duration != 0 {
			b = appendKeyInt(b, "d", int64(a.Duration))
		}
		if a.Passed {
			b = append(b, `,"p":true`...)
		}
		b = appendReason(b, a.Reason, a.Message)
		b = append(b, '}')
	}
	b = append(b, "]}"...)
	return b, true
}

// appendStep appends what Compact keeps of a step.
func appendStep(b []byte, s *checks.StepResult) ([]byte, bool) {
	b = append(b, `{"n":`...)
	b = appendString(b, s.Name)
	if s.Kind != "" {
		b = appendKeyString(b, "k", s.Kind)
	}
	if s.Passed {
		b = append(b, `,"p":true`...)
	}
	if s.Skipped {
		b = append(b, `,"x":true`...)
	}
	if s.Finally {
		b = append(b, `,"f":true`...)
	}
	b = appendReason(b, s.Reason, s.Message)
	b = append(b, `,"q":{`...)
	q := &s.Request
	// The common method and protocol are left out; an empty one is
	// written.
	if q.Method != http.MethodGet {
		b = append(b, `"m":`...)
		b = appendString(b, q.Method)
		b = append(b, ',')
	}
	b = append(b, `"u":`...)
	b = appendString(b, q.URL)
	if a := q.Auth; a != nil {
		b = append(b, `,"a":{"t":`...)
		b = appendString(b, a.Type)
		if a.Username != "" {
			b = appendKeyString(b, "u", a.Username)
		}
		if a.Secret != "" {
			b = appendKeyString(b, "s", a.Secret)
		}
		b = append(b, '}')
	}
	b = append(b, '}')
	if o := s.Response; o != nil {
		b = append(b, `,"o":{"s":`...)
		b = strconv.AppendInt(b, int64(o.Status), 10)
		if o.Proto != "HTTP/1.1" {
			b = appendKeyString(b, "p", o.Proto)
		}
		if o.Line != "" {
			b = appendKeyString(b, "l", o.Line)
		}
		if o.BodySize != 0 {
			b = appendKeyInt(b, "b", o.BodySize)
		}
		if o.Truncated {
			b = append(b, `,"t":true`...)
		}
		b = append(b, '}')
	}
	t := &s.Timings
	b = append(b, `,"t":[`...)
	for i, d := range [...]time.Duration{t.DNS, t.Connect, t.TLS, t.FirstByte, t.Total} {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(d), 10)
	}
	b = append(b, ']')
	if c := s.TLS; c != nil {
		na, ok := unixNano(c.NotAfter)
		if _, z := c.NotAfter.Zone(); !ok || z != 0 || math.IsNaN(c.DaysRemaining) || math.IsInf(c.DaysRemaining, 0) {
			return b, false
		}
		b = append(b, `,"c":{"v":`...)
		b = appendString(b, c.Version)
		b = appendKeyString(b, "s", c.Subject)
		b = appendKeyString(b, "i", c.Issuer)
		b = appendKeyInt(b, "e", na)
		b = append(b, `,"d":`...)
		b = strconv.AppendFloat(b, c.DaysRemaining, 'g', -1, 64)
		if len(c.SANs) > 0 {
			b = append(b, `,"n":`...)
			b = appendStrings(b, c.SANs)
		}
		b = append(b, '}')
	}
	if len(s.Findings) > 0 {
		b = append(b, `,"h":[`...)
		for i := range s.Findings {
			f := &s.Findings[i]
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"r":`...)
			b = appendString(b, f.Rule)
			b = appendKeyString(b, "s", f.Section)
			b = appendKeyString(b, "l", f.Level)
			b = appendKeyString(b, "e", f.Expected)
			b = appendKeyString(b, "a", f.Actual)
			b = appendKeyString(b, "m", f.Message)
			if f.Failed {
				b = append(b, `,"f":true`...)
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, '}'), true
}

func appendReason(b []byte, reason checks.Reason, msg string) []byte {
	if reason != "" {
		b = appendKeyString(b, "r", string(reason))
	}
	if msg != "" {
		b = appendKeyString(b, "m", msg)
	}
	return b
}

// appendKeyString appends ,"key":"value" (key needs no escaping).
func appendKeyString(b []byte, key, v string) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	return appendString(b, v)
}

func appendKeyInt(b []byte, key string, v int64) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	return strconv.AppendInt(b, v, 10)
}

func appendStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD,
// as encoding/json makes it, so that a run reads back the same whichever
// form stored it.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// unixNano is t's Unix nanoseconds, and false when they overflow (years
// before 1678 or after 2261, the zero time among them).
func unixNano(t time.Time) (int64, bool) {
	if y := t.Year(); y < 1679 || y > 2261 {
		return 0, false
	}
	return t.UnixNano(), true
}

// The compact form as encoding/json reads it back.
type (
	storedRunV2 struct {
		V int               `json:"v"`
		F string            `json:"f"`
		L map[string]string `json:"l"`
		G []string          `json:"g"`
		S int64             `json:"s"`
		Z int               `json:"z"`
		D int64             `json:"d"`
		R checks.Reason     `json:"r"`
		M string            `json:"m"`
		A []storedAttempt   `json:"a"`
	}
	storedAttempt struct {
		N *int          `json:"n"`
		S int64         `json:"s"`
		D int64         `json:"d"`
		P bool          `json:"p"`
		R checks.Reason `json:"r"`
		M string        `json:"m"`
		T []storedStep  `json:"t"`
	}
	storedStep struct {
		N string          `json:"n"`
		K string          `json:"k"`
		P bool            `json:"p"`
		X bool            `json:"x"`
		F bool            `json:"f"`
		R checks.Reason   `json:"r"`
		M string          `json:"m"`
		Q storedRequest   `json:"q"`
		O *storedResponse `json:"o"`
		T [5]int64        `json:"t"`
		C *storedTLS      `json:"c"`
		H []storedFinding `json:"h"`
	}
	storedRequest struct {
		M *string     `json:"m"`
		U string      `json:"u"`
		A *storedAuth `json:"a"`
	}
	storedAuth struct {
		T string `json:"t"`
		U string `json:"u"`
		S string `json:"s"`
	}
	storedResponse struct {
		S int     `json:"s"`
		P *string `json:"p"`
		L string  `json:"l"`
		B int64   `json:"b"`
		T bool    `json:"t"`
	}
	storedTLS struct {
		V string   `json:"v"`
		S string   `json:"s"`
		I string   `json:"i"`
		E int64    `json:"e"`
		D float64  `json:"d"`
		N []string `json:"n"`
	}
	storedFinding struct {
		R string `json:"r"`
		S string `json:"s"`
		L string `json:"l"`
		E string `json:"e"`
		A string `json:"a"`
		M string `json:"m"`
		F bool   `json:"f"`
	}
)

// DecodeRun rebuilds the result of a stored run from its summary columns
// and its data, in either stored form: the compact form of a passing run
// (which leaves the columns' id and check out) or the JSON of the
// compacted result.
func DecodeRun(sum RunSummary, data []byte) (*checks.Result, error) {
	r := &checks.Result{}
	if !bytes.HasPrefix(data, []byte(compactPrefix+",")) {
		if err := json.Unmarshal(data, r); err != nil {
			return nil, err
		}
		r.ID = sum.ID
		return r, nil
	}
	var c storedRunV2
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, err
	}
	if c.V != 2 {
		return nil, fmt.Errorf("stored run form %d is newer than this assay knows", c.V)
	}
	if sum.Check == "" {
		return nil, errors.New("a compact stored run needs its check's name")
	}
	loc := time.UTC
	if c.Z != 0 {
		loc = time.FixedZone("", c.Z)
	}
	// in_maintenance is the row's column, as check and id are.
	r.ID, r.Check, r.File, r.Tags, r.Passed, r.InMaintenance = sum.ID, sum.Check, c.F, c.G, true, sum.InMaintenance
	if len(c.L) > 0 {
		r.Labels = c.L
	}
	r.Started, r.Duration = time.Unix(0, c.S).In(loc), time.Duration(c.D)
	r.Reason, r.Message = c.R, c.M
	r.Attempts = make([]checks.Attempt, len(c.A))
	for i := range c.A {
		ca := &c.A[i]
		a := &r.Attempts[i]
		a.Number = i + 1
		if ca.N != nil {
			a.Number = *ca.N
		}
		a.Started, a.Duration = time.Unix(0, c.S+ca.S).In(loc), time.Duration(ca.D)
		a.Passed, a.Reason, a.Message = ca.P, ca.R, ca.M
		a.Steps = make([]checks.StepResult, len(ca.T))
		for j := range ca.T {
			decodeStep(&a.Steps[j], &ca.T[j])
		}
	}
	return r, nil
}

func decodeStep(s *checks.StepResult, c *storedStep) {
	s.Name, s.Kind, s.Passed, s.Skipped, s.Finally, s.Reason, s.Message = c.N, c.K, c.P, c.X, c.F, c.R, c.M
	s.Request = checks.RequestSummary{Method: http.MethodGet, URL: c.Q.U}
	if c.Q.M != nil {
		s.Request.Method = *c.Q.M
	}
	if a := c.Q.A; a != nil {
		s.Request.Auth = &checks.AuthSummary{Type: a.T, Username: a.U, Secret: a.S}
	}
	if o := c.O; o != nil {
		s.Response = &checks.ResponseSummary{Status: o.S, Proto: "HTTP/1.1", Line: o.L, BodySize: o.B, Truncated: o.T}
		if o.P != nil {
			s.Response.Proto = *o.P
		}
	}
	s.Timings = checks.Timings{DNS: time.Duration(c.T[0]), Connect: time.Duration(c.T[1]), TLS: time.Duration(c.T[2]),
		FirstByte: time.Duration(c.T[3]), Total: time.Duration(c.T[4])}
	if t := c.C; t != nil {
		s.TLS = &checks.TLSInfo{Version: t.V, Subject: t.S, Issuer: t.I, NotAfter: time.Unix(0, t.E).UTC(), DaysRemaining: t.D, SANs: t.N}
	}
	if len(c.H) > 0 {
		s.Findings = make([]checks.Finding, len(c.H))
		for i, f := range c.H {
			s.Findings[i] = checks.Finding{Rule: f.R, Section: f.S, Level: f.L, Expected: f.E, Actual: f.A, Message: f.M, Failed: f.F}
		}
	}
}
