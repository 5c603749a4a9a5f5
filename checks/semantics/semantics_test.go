package semantics

import (
	"net/http"
	"reflect"
	"sort"
	"strings"
	"testing"
)

const (
	date  = "Mon, 01 Jan 2024 00:00:00 GMT"
	later = "Tue, 02 Jan 2024 00:00:00 GMT"
)

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func ids(fs []Finding) []string {
	out := []string{}
	for _, f := range fs {
		out = append(out, f.Rule)
	}
	return out
}

// breaking lists, for every rule, exchanges that break it and only it.
var breaking = []struct {
	name string
	ex   Exchange
	rule string
}{
	{"204 with content", Exchange{Method: "PATCH", Status: 204, Body: []byte(`{"ok":true}`)}, "rfc9110/204-no-content"},
	{"204 with Content-Length", Exchange{Method: "PATCH", Status: 204, Header: hdr("Content-Length", "20")}, "rfc9110/204-content-length"},
	{"304 with content", Exchange{Method: "GET", Status: 304, Header: hdr("ETag", `"a"`), Body: []byte("x")}, "rfc9110/304-no-content"},
	{"304 without the 200's ETag", Exchange{Method: "GET", Status: 304, Previous: hdr("ETag", `"a"`)}, "rfc9110/304-validators"},
	{"304 with another ETag", Exchange{Method: "GET", Status: 304, Header: hdr("ETag", `"b"`), Previous: hdr("ETag", `"a"`)}, "rfc9110/304-validators"},
	{"304 without the 200's Cache-Control", Exchange{Method: "GET", Status: 304, Header: hdr("ETag", `"a"`), Previous: hdr("ETag", `"a"`, "Cache-Control", "no-cache")}, "rfc9110/304-validators"},
	{"304 to If-None-Match without ETag", Exchange{Method: "GET", RequestHeader: hdr("If-None-Match", `"a"`), Status: 304}, "rfc9110/304-validators"},
	{"HEAD with content", Exchange{Method: "HEAD", Status: 200, Header: hdr("Content-Length", "5"), Body: []byte("hello")}, "rfc9110/head-no-body"},
	{"short body", Exchange{Method: "GET", Status: 200, Header: hdr("Content-Length", "100"), Body: []byte("short"), Incomplete: true}, "rfc9110/content-length-mismatch"},
	{"long body", Exchange{Method: "GET", Status: 200, Header: hdr("Content-Length", "2"), Body: []byte("long")}, "rfc9110/content-length-mismatch"},
	{"ETag unquoted", Exchange{Method: "GET", Status: 200, Header: hdr("ETag", "abc")}, "rfc9110/etag-syntax"},
	{"ETag lower-case weak prefix", Exchange{Method: "GET", Status: 200, Header: hdr("ETag", `w/"abc"`)}, "rfc9110/etag-syntax"},
	{"ETag with a space", Exchange{Method: "GET", Status: 200, Header: hdr("ETag", `"a b"`)}, "rfc9110/etag-syntax"},
	{"two ETags", Exchange{Method: "GET", Status: 200, Header: hdr("ETag", `"a"`, "ETag", `"b"`)}, "rfc9110/etag-syntax"},
	{"405 without Allow", Exchange{Method: "POST", Status: 405}, "rfc9110/405-allow"},
	{"401 without WWW-Authenticate", Exchange{Method: "GET", Status: 401}, "rfc9110/401-www-authenticate"},
	{"301 without Location", Exchange{Method: "GET", Status: 301}, "rfc9110/3xx-location"},
	{"308 without Location", Exchange{Method: "GET", Status: 308}, "rfc9110/3xx-location"},
	{"201 to POST without Location", Exchange{Method: "POST", Status: 201}, "rfc9110/201-location"},
	{"206 without Content-Range", Exchange{Method: "GET", Status: 206, Body: []byte("ab")}, "rfc9110/206-content-range"},
	{"206 with a bad Content-Range", Exchange{Method: "GET", Status: 206, Header: hdr("Content-Range", "bytes 5-2/10")}, "rfc9110/206-content-range"},
	{"416 without Content-Range", Exchange{Method: "GET", RequestHeader: hdr("Range", "bytes=100-"), Status: 416}, "rfc9110/416-content-range"},
	{"Date not IMF-fixdate", Exchange{Method: "GET", Status: 200, Header: hdr("Date", "2024-01-01T00:00:00Z")}, "rfc9110/date-syntax"},
	{"Last-Modified in RFC 850 form", Exchange{Method: "GET", Status: 200, Header: hdr("Last-Modified", "Monday, 01-Jan-24 00:00:00 GMT")}, "rfc9110/date-syntax"},
	{"Date not in GMT", Exchange{Method: "GET", Status: 200, Header: hdr("Date", "Mon, 01 Jan 2024 00:00:00 CET")}, "rfc9110/date-syntax"},
	{"Retry-After neither seconds nor date", Exchange{Method: "GET", Status: 503, Header: hdr("Retry-After", "soon")}, "rfc9110/date-syntax"},
	{"Last-Modified after Date", Exchange{Method: "GET", Status: 200, Header: hdr("Date", date, "Last-Modified", later)}, "rfc9110/last-modified-future"},
	{"Cache-Control quoted max-age", Exchange{Method: "GET", Status: 200, Header: hdr("Cache-Control", `max-age="60"`)}, "rfc9111/cache-control-syntax"},
	{"Cache-Control max-age not a number", Exchange{Method: "GET", Status: 200, Header: hdr("Cache-Control", "max-age=1h")}, "rfc9111/cache-control-syntax"},
	{"Cache-Control max-age without argument", Exchange{Method: "GET", Status: 200, Header: hdr("Cache-Control", "public, max-age")}, "rfc9111/cache-control-syntax"},
	{"Cache-Control semicolons", Exchange{Method: "GET", Status: 200, Header: hdr("Cache-Control", "no-cache; no-store")}, "rfc9111/cache-control-syntax"},
	{"Cache-Control empty element", Exchange{Method: "GET", Status: 200, Header: hdr("Cache-Control", "no-cache,,no-store")}, "rfc9111/cache-control-syntax"},
	{"Expires 0", Exchange{Method: "GET", Status: 200, Header: hdr("Expires", "0")}, "rfc9111/expires-syntax"},
}

func TestEachRuleBrokenAlone(t *testing.T) {
	covered := map[string]bool{}
	for _, c := range breaking {
		t.Run(c.name, func(t *testing.T) {
			ex := c.ex
			fs := Evaluate(&ex)
			if got := ids(fs); !reflect.DeepEqual(got, []string{c.rule}) {
				t.Fatalf("findings %v, want exactly [%s]: %+v", got, c.rule, fs)
			}
			f := fs[0]
			r, _ := Lookup(c.rule)
			if f.Level != r.Level || !strings.HasPrefix(f.Section, "RFC 911") || f.Message == "" || f.Expected == "" || f.Actual == "" {
				t.Errorf("incomplete finding %+v", f)
			}
		})
		covered[c.rule] = true
	}
	for _, id := range IDs() {
		if !covered[id] {
			t.Errorf("rule %s has no breaking case", id)
		}
	}
}

// wellBehaved are correct responses, including the edge cases each rule
// must not flag: no false positives.
var wellBehaved = []struct {
	name string
	ex   Exchange
}{
	{"plain 200", Exchange{Method: "GET", Status: 200, Header: hdr("Content-Length", "2", "Content-Type", "application/json", "Date", date,
		"Last-Modified", date, "ETag", `"v1-abc"`, "Cache-Control", "no-cache"), Body: []byte("{}")}},
	{"weak ETag", Exchange{Method: "GET", Status: 200, Header: hdr("ETag", `W/"x"`)}},
	{"empty ETag", Exchange{Method: "GET", Status: 200, Header: hdr("ETag", `""`)}},
	{"ETag with obs-text", Exchange{Method: "GET", Status: 200, Header: hdr("ETag", "\"caf\xc3\xa9\"")}},
	{"chunked 200 without Content-Length", Exchange{Method: "GET", Status: 200, Body: []byte("hello")}},
	{"204 without Content-Length", Exchange{Method: "PATCH", Status: 204, Header: hdr("ETag", `"v2"`)}},
	{"204 with Content-Length: 0", Exchange{Method: "DELETE", Status: 204, Header: hdr("Content-Length", "0")}},
	{"304 repeating the validators", Exchange{Method: "GET", RequestHeader: hdr("If-None-Match", `"a"`), Status: 304,
		Header: hdr("ETag", `"a"`, "Cache-Control", "no-cache", "Content-Length", "120"), Previous: hdr("ETag", `"a"`, "Cache-Control", "no-cache", "Content-Length", "120")}},
	{"304 to If-Modified-Since without ETag", Exchange{Method: "GET", RequestHeader: hdr("If-Modified-Since", date), Status: 304}},
	{"304 to If-None-Match *", Exchange{Method: "GET", RequestHeader: hdr("If-None-Match", "*"), Status: 304}},
	{"HEAD with the GET's Content-Length", Exchange{Method: "HEAD", Status: 200, Header: hdr("Content-Length", "1234")}},
	{"body cut at the cap", Exchange{Method: "GET", Status: 200, Header: hdr("Content-Length", "100000"), Body: []byte("abc"), Truncated: true}},
	{"prefix kept, length counted", Exchange{Method: "GET", Status: 200, Header: hdr("Content-Length", "10"), Body: []byte("abc"), BodyLen: 10}},
	{"405 with Allow", Exchange{Method: "POST", Status: 405, Header: hdr("Allow", "GET, HEAD")}},
	{"405 with an empty Allow", Exchange{Method: "POST", Status: 405, Header: hdr("Allow", "")}},
	{"401 with a challenge", Exchange{Method: "GET", Status: 401, Header: hdr("WWW-Authenticate", `Bearer realm="api"`)}},
	{"302 with Location", Exchange{Method: "GET", Status: 302, Header: hdr("Location", "/elsewhere")}},
	{"300 without Location", Exchange{Method: "GET", Status: 300}},
	{"201 to PUT without Location", Exchange{Method: "PUT", Status: 201}},
	{"201 to POST with Location", Exchange{Method: "POST", Status: 201, Header: hdr("Location", "/documents/5")}},
	{"206 with Content-Range", Exchange{Method: "GET", Status: 206, Header: hdr("Content-Range", "bytes 0-1/10", "Content-Length", "2"), Body: []byte("ab")}},
	{"206 with unknown length", Exchange{Method: "GET", Status: 206, Header: hdr("Content-Range", "bytes 0-1/*")}},
	{"206 multipart", Exchange{Method: "GET", Status: 206, Header: hdr("Content-Type", "multipart/byteranges; boundary=X")}},
	{"416 with the length", Exchange{Method: "GET", RequestHeader: hdr("Range", "bytes=100-"), Status: 416, Header: hdr("Content-Range", "bytes */10")}},
	{"416 without a Range request", Exchange{Method: "GET", Status: 416}},
	{"Retry-After seconds", Exchange{Method: "GET", Status: 503, Header: hdr("Retry-After", "120")}},
	{"Retry-After date", Exchange{Method: "GET", Status: 503, Header: hdr("Retry-After", later)}},
	{"Last-Modified equal to Date", Exchange{Method: "GET", Status: 200, Header: hdr("Date", date, "Last-Modified", date)}},
	{"rich Cache-Control", Exchange{Method: "GET", Status: 200, Header: hdr("Cache-Control", `private="Set-Cookie, X-Token", max-age=0, s-maxage=99999999999, must-revalidate, stale-while-revalidate=30, x-ext="a, b"`)}},
	{"Cache-Control on two lines", Exchange{Method: "GET", Status: 200, Header: hdr("Cache-Control", "no-cache", "Cache-Control", "no-store")}},
	{"Expires date", Exchange{Method: "GET", Status: 200, Header: hdr("Expires", later)}},
	{"no header at all", Exchange{Method: "GET", Status: 200}},
	{"CONNECT 200", Exchange{Method: "CONNECT", Status: 200, Header: hdr("Content-Length", "5")}},
}

func TestWellBehavedHasNoFindings(t *testing.T) {
	for _, c := range wellBehaved {
		ex := c.ex
		if fs := Evaluate(&ex); len(fs) != 0 {
			t.Errorf("%s: findings %+v", c.name, fs)
		}
	}
}

func TestRuleTable(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Rules() {
		if seen[r.ID] {
			t.Errorf("duplicate rule %s", r.ID)
		}
		seen[r.ID] = true
		if !strings.HasPrefix(r.ID, "rfc9110/") && !strings.HasPrefix(r.ID, "rfc9111/") {
			t.Errorf("%s: IDs start with the RFC", r.ID)
		}
		if !strings.HasPrefix(r.Section, "RFC 911") || (r.Level != Must && r.Level != Should) || r.Summary == "" || r.Sees == "" || r.check == nil {
			t.Errorf("incomplete rule %+v", r)
		}
	}
	got := IDs()
	if !sort.StringsAreSorted(got) || len(got) != len(Rules()) {
		t.Errorf("IDs() = %v", got)
	}
	if _, ok := Lookup("rfc9110/nope"); ok {
		t.Error("Lookup of an unknown ID")
	}
}

func TestEvaluateZero(t *testing.T) {
	if fs := Evaluate(nil); fs != nil {
		t.Error(fs)
	}
	if fs := Evaluate(&Exchange{}); fs != nil {
		t.Error(fs)
	}
}

func TestFindingDetails(t *testing.T) {
	fs := Evaluate(&Exchange{Method: "PATCH", Status: 204, Header: hdr("Content-Length", "20")})
	want := Finding{Rule: "rfc9110/204-content-length", Section: "RFC 9110 §8.6", Level: Must,
		Expected: "no Content-Length (or 0)", Actual: "Content-Length: 20"}
	if len(fs) != 1 || fs[0].Rule != want.Rule || fs[0].Section != want.Section || fs[0].Level != want.Level ||
		fs[0].Expected != want.Expected || fs[0].Actual != want.Actual {
		t.Fatalf("got %+v", fs)
	}
	fs = Evaluate(&Exchange{Method: "GET", Status: 307})
	if len(fs) != 1 || fs[0].Section != "RFC 9110 §15.4.8" || fs[0].Level != Should {
		t.Fatalf("got %+v", fs)
	}
	fs = Evaluate(&Exchange{Method: "GET", Status: 200, Header: hdr("Date", "Sun, 6 Nov 1994 08:49:37 GMT", "Last-Modified", "Sun Nov  6 08:49:37 1994")})
	if len(fs) != 2 || !strings.Contains(fs[1].Message, "obsolete") {
		t.Fatalf("got %+v", fs)
	}
}

func TestETagHelpers(t *testing.T) {
	for v, want := range map[string][2]bool{`"a"`: {true, false}, `W/"a"`: {true, true}, `a`: {false, false}, `W/a`: {false, true}} {
		if ValidETag(v) != want[0] || IsWeakETag(v) != want[1] {
			t.Errorf("%s: valid %v weak %v", v, ValidETag(v), IsWeakETag(v))
		}
	}
}
