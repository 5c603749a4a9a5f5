package history

import (
	"testing"

	"github.com/assay-monitor/assay/checks"
)

func benchResponse() *checks.ResponseSummary {
	return &checks.ResponseSummary{Status: 200, Proto: "HTTP/1.1", Body: `{"id":1,"title":"Document 1","version":3,"tags":["a","b"]}`,
		Headers: map[string][]string{"Content-Type": {"application/json"}, "Date": {"Mon, 30 Nov 2026 12:00:00 GMT"},
			"Content-Length": {"58"}, "Etag": {`"v3"`}}}
}

func BenchmarkResponseHash(b *testing.B) {
	r := benchResponse()
	b.ReportAllocs()
	for range b.N {
		responseHash(r)
	}
}

// The hash of a response is the same whatever the order of its headers
// and the case of their names, ignores the headers a diff ignores, and
// changes with anything a diff would show.
func TestResponseHashSeesWhatTheDiffSees(t *testing.T) {
	base := responseHash(benchResponse())
	for range 20 { // map order differs from run to run
		if h := responseHash(benchResponse()); h != base {
			t.Fatal("the same response hashes differently")
		}
	}
	same := map[string]func(*checks.ResponseSummary){
		"another Date":    func(r *checks.ResponseSummary) { r.Headers["Date"] = []string{"Tue, 01 Dec 2026 12:00:00 GMT"} },
		"no Date":         func(r *checks.ResponseSummary) { delete(r.Headers, "Date") },
		"a request id":    func(r *checks.ResponseSummary) { r.Headers["X-Request-Id"] = []string{"abc"} },
		"lower-case name": func(r *checks.ResponseSummary) { r.Headers["etag"] = r.Headers["Etag"]; delete(r.Headers, "Etag") },
	}
	for name, mod := range same {
		r := benchResponse()
		mod(r)
		if responseHash(r) != base {
			t.Errorf("%s: the hash changed", name)
		}
	}
	differs := map[string]func(*checks.ResponseSummary){
		"status":         func(r *checks.ResponseSummary) { r.Status = 201 },
		"body":           func(r *checks.ResponseSummary) { r.Body += " " },
		"a header value": func(r *checks.ResponseSummary) { r.Headers["Etag"] = []string{`"v4"`} },
		"a second value": func(r *checks.ResponseSummary) { r.Headers["Etag"] = append(r.Headers["Etag"], `"v3"`) },
		"a new header":   func(r *checks.ResponseSummary) { r.Headers["Cache-Control"] = []string{"no-store"} },
		"a header less":  func(r *checks.ResponseSummary) { delete(r.Headers, "Content-Length") },
		"values swapped": func(r *checks.ResponseSummary) {
			r.Headers["Etag"], r.Headers["Content-Length"] = r.Headers["Content-Length"], r.Headers["Etag"]
		},
		"value into name": func(r *checks.ResponseSummary) { delete(r.Headers, "Etag"); r.Headers[`Etag"v3"`] = nil },
	}
	for name, mod := range differs {
		r := benchResponse()
		mod(r)
		if responseHash(r) == base {
			t.Errorf("%s: the hash did not change", name)
		}
	}
}

// Hashing a passing response allocates nothing: it runs for every step
// of every passing run.
func TestResponseHashDoesNotAllocate(t *testing.T) {
	r := benchResponse()
	if n := testing.AllocsPerRun(100, func() { responseHash(r) }); n != 0 {
		t.Fatalf("responseHash allocates %v times", n)
	}
}
