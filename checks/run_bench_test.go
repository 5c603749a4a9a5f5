package checks_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/internal/demoapi"
	"github.com/go-resty/resty/v2"
)

// Benchmarks of one check run through the engine against the demo API in
// this process, beside the same requests made with plain net/http. The
// target's CPU is in these figures; `go run ./bench` excludes it by
// serving from a child process. Use them for profiles:
//
//	go test ./checks -run '^$' -bench . -benchmem -cpuprofile cpu.out

func benchServer(b *testing.B) string {
	b.Helper()
	srv := httptest.NewServer(demoapi.New(demoapi.Options{}))
	b.Cleanup(srv.Close)
	return srv.URL
}

func benchCheck(b *testing.B, src string) *checks.Check {
	b.Helper()
	cs, err := checks.Parse("bench.yaml", []byte(src))
	if err != nil || len(cs) != 1 {
		b.Fatalf("parse: %v", err)
	}
	return cs[0]
}

func benchRun(b *testing.B, c *checks.Check) {
	r := checks.NewRunner(checks.RunnerOptions{})
	defer r.Close()
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if res := r.Run(ctx, c); !res.Passed {
			b.Fatalf("check failed: %s", res.Message)
		}
	}
}

func BenchmarkRunSimple(b *testing.B) {
	url := benchServer(b)
	benchRun(b, benchCheck(b, fmt.Sprintf(`checks:
  - name: simple
    vars: { base: %q }
    steps:
      - request: { url: "{{ .vars.base }}/documents/1" }
        expect: { status: 200, json: { $.id: 1 } }
`, url)))
}

func BenchmarkRunContract(b *testing.B) {
	url := benchServer(b)
	benchRun(b, benchCheck(b, fmt.Sprintf(`checks:
  - name: contract
    vars: { base: %q }
    steps:
      - name: read
        request: { url: "{{ .vars.base }}/documents/42" }
        expect:
          status: 200
          headers: { ETag: { matches: '^(W/)?"[^"]*"$' } }
          json: { $.id: 42 }
        capture: { etag: { header: ETag } }
      - name: update
        request:
          method: PATCH
          url: "{{ .vars.base }}/documents/42"
          headers: { If-Match: "{{ .etag }}" }
          json: { title: "synthetic probe" }
        expect:
          status: 204
          body: { empty: true }
          headers: { ETag: { exists: true, not_equals: "{{ .etag }}" } }
      - name: stale
        request:
          method: PATCH
          url: "{{ .vars.base }}/documents/42"
          headers: { If-Match: "{{ .etag }}" }
          json: { title: "stale write" }
        expect: { status: 412 }
`, url)))
}

// BenchmarkRunSecrets is BenchmarkRunSimple with credentials: a bearer
// token and an X-Api-Key header, both literal, which every output of the
// run is scrubbed of.
func BenchmarkRunSecrets(b *testing.B) {
	url := benchServer(b)
	benchRun(b, benchCheck(b, fmt.Sprintf(`checks:
  - name: secrets
    vars: { base: %q }
    steps:
      - request:
          url: "{{ .vars.base }}/documents/1"
          auth: { bearer: "tok_live_9f8e/7d6c<5b4a>" }
          headers: { X-Api-Key: "key-0a1b&2c3d" }
        expect: { status: 200, json: { $.id: 1 } }
`, url)))
}

// BenchmarkPlainSimple is BenchmarkRunSimple written by hand.
func BenchmarkPlainSimple(b *testing.B) {
	url := benchServer(b) + "/documents/1"
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	defer c.CloseIdleConnections()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		resp, err := c.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		var d struct {
			ID int `json:"id"`
		}
		if err != nil || resp.StatusCode != 200 || json.Unmarshal(body, &d) != nil || d.ID != 1 {
			b.Fatalf("status %d, id %d, %v", resp.StatusCode, d.ID, err)
		}
	}
}

// BenchmarkPlainContract is BenchmarkRunContract written by hand.
func BenchmarkPlainContract(b *testing.B) {
	url := benchServer(b) + "/documents/42"
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	defer c.CloseIdleConnections()
	do := func(method, etag string, body []byte) (*http.Response, []byte) {
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, _ := http.NewRequest(method, url, rd)
		if etag != "" {
			req.Header.Set("If-Match", etag)
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := c.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			b.Fatal(err)
		}
		return resp, data
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		resp, body := do(http.MethodGet, "", nil)
		etag := resp.Header.Get("ETag")
		var d struct {
			ID int `json:"id"`
		}
		if resp.StatusCode != 200 || json.Unmarshal(body, &d) != nil || d.ID != 42 || etag == "" {
			b.Fatalf("GET: %d", resp.StatusCode)
		}
		resp, body = do(http.MethodPatch, etag, []byte(`{"title":"synthetic probe"}`))
		if ne := resp.Header.Get("ETag"); resp.StatusCode != 204 || len(body) != 0 || ne == "" || ne == etag {
			b.Fatalf("PATCH: %d", resp.StatusCode)
		}
		if resp, _ = do(http.MethodPatch, etag, []byte(`{"title":"stale write"}`)); resp.StatusCode != 412 {
			b.Fatalf("stale PATCH: %d", resp.StatusCode)
		}
	}
}

// BenchmarkRestySimple is BenchmarkPlainSimple through a bare resty
// client: the floor for an engine built on resty.
func BenchmarkRestySimple(b *testing.B) {
	url := benchServer(b) + "/documents/1"
	c := resty.NewWithClient(&http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}})
	defer c.GetClient().CloseIdleConnections()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		resp, err := c.R().SetDoNotParseResponse(true).Get(url)
		if err != nil {
			b.Fatal(err)
		}
		body, err := io.ReadAll(resp.RawBody())
		resp.RawBody().Close()
		var d struct {
			ID int `json:"id"`
		}
		if err != nil || resp.StatusCode() != 200 || json.Unmarshal(body, &d) != nil || d.ID != 1 {
			b.Fatalf("status %d, id %d, %v", resp.StatusCode(), d.ID, err)
		}
	}
}
