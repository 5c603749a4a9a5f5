package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"time"

	"github.com/assay-monitor/assay/checks"
)

// The two checks of the CPU comparison, as a user writes them. The
// contract is the one of ARCHITECTURE.md: read the ETag, update with
// If-Match (204, a new ETag, no body), replay the stale ETag (412).
const simpleYAML = `checks:
  - name: bench-simple
    timeout: 10s
    vars: { base: "%[1]s" }
    steps:
      - name: get
        request: { method: GET, url: "{{ .vars.base }}/documents/%[2]d" }
        expect:
          status: 200
          json: { $.id: %[2]d }
`

const contractYAML = `checks:
  - name: bench-contract-%[2]d
    timeout: 10s
    vars: { base: "%[1]s" }
    steps:
      - name: read current version
        request: { method: GET, url: "{{ .vars.base }}/documents/%[2]d" }
        expect:
          status: 200
          headers:
            ETag: { matches: '^(W/)?"[^"]*"$' }
          json: { $.id: %[2]d }
        capture: { etag: { header: ETag } }
      - name: conditional update
        request:
          method: PATCH
          url: "{{ .vars.base }}/documents/%[2]d"
          headers: { If-Match: "{{ .etag }}" }
          json: { title: "synthetic probe" }
        expect:
          status: 204
          body: { empty: true }
          headers: { ETag: { exists: true, not_equals: "{{ .etag }}" } }
      - name: stale If-Match is rejected
        request:
          method: PATCH
          url: "{{ .vars.base }}/documents/%[2]d"
          headers: { If-Match: "{{ .etag }}" }
          json: { title: "stale write" }
        expect: { status: 412 }
`

// parseOne loads one check from YAML text.
func parseOne(text string) (*checks.Check, error) {
	cs, err := checks.Parse("bench.yaml", []byte(text))
	if err != nil {
		return nil, err
	}
	if len(cs) != 1 {
		return nil, fmt.Errorf("want 1 check, got %d", len(cs))
	}
	return cs[0], nil
}

// engineFunc runs c through assay's engine and fails unless it passed.
func engineFunc(r *checks.Runner, c *checks.Check) func() error {
	ctx := context.Background()
	return func() error {
		res := r.Run(ctx, c)
		if !res.Passed {
			return fmt.Errorf("assay engine: %s failed: %s", c.Name, res.Message)
		}
		return nil
	}
}

// plainClient is what a Go programmer writes without assay: one
// http.Client with a timeout, on a transport like the engine's.
func plainClient() *http.Client {
	tr := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
	}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

const plainMaxBody = 10 << 20

// plainDo sends one request and reads the whole (bounded) body.
func plainDo(c *http.Client, method, url string, h http.Header, body []byte) (*http.Response, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return nil, nil, err
	}
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, plainMaxBody+1))
	resp.Body.Close()
	if err == nil && len(b) > plainMaxBody {
		err = errors.New("body too large")
	}
	return resp, b, err
}

type docID struct {
	ID int `json:"id"`
}

// plainSimple is the simple check by hand: GET, status 200, $.id.
func plainSimple(c *http.Client, base string, id int) func() error {
	url := fmt.Sprintf("%s/documents/%d", base, id)
	return func() error {
		resp, body, err := plainDo(c, http.MethodGet, url, nil, nil)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("plain: status %d", resp.StatusCode)
		}
		var d docID
		if err := json.Unmarshal(body, &d); err != nil || d.ID != id {
			return fmt.Errorf("plain: id %d, %v", d.ID, err)
		}
		return nil
	}
}

var etagRe = regexp.MustCompile(`^(W/)?"[^"]*"$`)

// plainContract is the contract check by hand, with the same assertions.
func plainContract(c *http.Client, base string, id int) func() error {
	url := fmt.Sprintf("%s/documents/%d", base, id)
	probe := []byte(`{"title":"synthetic probe"}`)
	stale := []byte(`{"title":"stale write"}`)
	return func() error {
		resp, body, err := plainDo(c, http.MethodGet, url, nil, nil)
		if err != nil {
			return err
		}
		etag := resp.Header.Get("ETag")
		var d docID
		if resp.StatusCode != http.StatusOK || !etagRe.MatchString(etag) {
			return fmt.Errorf("plain: GET status %d etag %q", resp.StatusCode, etag)
		}
		if err := json.Unmarshal(body, &d); err != nil || d.ID != id {
			return fmt.Errorf("plain: id %d, %v", d.ID, err)
		}
		h := http.Header{"If-Match": {etag}, "Content-Type": {"application/json"}}
		resp, body, err = plainDo(c, http.MethodPatch, url, h, probe)
		if err != nil {
			return err
		}
		if ne := resp.Header.Get("ETag"); resp.StatusCode != http.StatusNoContent || len(body) != 0 || ne == "" || ne == etag {
			return fmt.Errorf("plain: PATCH status %d etag %q body %d bytes", resp.StatusCode, ne, len(body))
		}
		resp, _, err = plainDo(c, http.MethodPatch, url, h, stale)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusPreconditionFailed {
			return fmt.Errorf("plain: stale PATCH status %d", resp.StatusCode)
		}
		return nil
	}
}

// cpuPer runs f n times in a row and returns the process CPU time and the
// wall time per run. A GC first, so that no garbage of the previous phase
// is collected on this one's account.
func cpuPer(n int, f func() error) (cpu, wall time.Duration, err error) {
	cpu, wall, _, err = cpuAllocPer(n, f)
	return cpu, wall, err
}

// cpuAllocPer is cpuPer that also tells the bytes allocated per run.
func cpuAllocPer(n int, f func() error) (cpu, wall time.Duration, bytes uint64, err error) {
	runtime.GC()
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	b0 := s[0].Value.Uint64()
	c0, w0 := cpuTime(), time.Now()
	for i := 0; i < n; i++ {
		if err := f(); err != nil {
			return 0, 0, 0, err
		}
	}
	cpu, wall = (cpuTime()-c0)/time.Duration(n), time.Since(w0)/time.Duration(n)
	metrics.Read(s)
	return cpu, wall, (s[0].Value.Uint64() - b0) / uint64(n), nil
}

type cpuResult struct {
	name                 string
	assay, plain         time.Duration // CPU per check (medians of the rounds)
	assayWall, plainWall time.Duration
	// ratio is the median over the rounds of assay CPU / plain CPU, each
	// pair measured back to back; sumRatio is total over total.
	ratio, sumRatio, minRatio, maxRatio float64
	rounds, runs                        int
	// Heap bytes allocated per check.
	assayBytes, plainBytes uint64
}

// compareCPU runs rounds of n engine runs and n plain runs back to back,
// alternating which goes first, and keeps the median ratio: the machine
// may be busy with other work, and a pair of adjacent chunks sees the same
// conditions. Each chunk starts after a GC, so that it pays for the
// collections its own garbage causes, not the other side's.
func compareCPU(name string, n, rounds int, engine, plain func() error) (cpuResult, error) {
	res := cpuResult{name: name, rounds: rounds, runs: n}
	// Warm up: connections, pools, caches, the first GC cycles.
	var err error
	if _, _, res.assayBytes, err = cpuAllocPer(max(n, 50), engine); err != nil {
		return res, err
	}
	if _, _, res.plainBytes, err = cpuAllocPer(max(n, 50), plain); err != nil {
		return res, err
	}
	var ratios []float64
	var ac, pc, aw, pw []time.Duration
	var sumA, sumP time.Duration
	for i := 0; i < rounds; i++ {
		var a, p, wa, wp time.Duration
		var err error
		if i%2 == 0 {
			if p, wp, err = cpuPer(n, plain); err == nil {
				a, wa, err = cpuPer(n, engine)
			}
		} else {
			if a, wa, err = cpuPer(n, engine); err == nil {
				p, wp, err = cpuPer(n, plain)
			}
		}
		if err != nil {
			return res, err
		}
		ratios = append(ratios, float64(a)/float64(p))
		ac, pc, aw, pw = append(ac, a), append(pc, p), append(aw, wa), append(pw, wp)
		sumA, sumP = sumA+a, sumP+p
	}
	res.ratio, res.sumRatio = median(ratios), float64(sumA)/float64(sumP)
	res.minRatio, res.maxRatio = slices.Min(ratios), slices.Max(ratios)
	res.assay, res.plain, res.assayWall, res.plainWall = median(ac), median(pc), median(aw), median(pw)
	return res, nil
}

func median[T int64 | float64 | time.Duration](xs []T) T {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// profileCPU writes a CPU profile of n runs of f to dir/name.pprof.
func profileCPU(dir, name string, n int, f func() error) error {
	fh, err := os.Create(filepath.Join(dir, name+".pprof"))
	if err != nil {
		return err
	}
	defer fh.Close()
	if err := pprof.StartCPUProfile(fh); err != nil {
		return err
	}
	defer pprof.StopCPUProfile()
	for i := 0; i < n; i++ {
		if err := f(); err != nil {
			return err
		}
	}
	return nil
}

// runCPU measures CPU per check for the simple and the contract check.
func runCPU(cfg benchConfig, target string) ([]cpuResult, error) {
	runner := checks.NewRunner(checks.RunnerOptions{})
	defer runner.Close()
	client := plainClient()
	defer client.CloseIdleConnections()

	simple, err := parseOne(fmt.Sprintf(simpleYAML, target, 1))
	if err != nil {
		return nil, err
	}
	// The engine and the plain client each update their own document
	// (same content), so that neither sees the other's ETags.
	var ids [2]int
	for i := range ids {
		if ids[i], err = createDoc(client, target); err != nil {
			return nil, err
		}
	}
	contract, err := parseOne(fmt.Sprintf(contractYAML, target, ids[0]))
	if err != nil {
		return nil, err
	}
	cases := []struct {
		name          string
		n             int
		engine, plain func() error
	}{
		{"simple", cfg.cpuChunk, engineFunc(runner, simple), plainSimple(client, target, 1)},
		{"contract", max(cfg.cpuChunk/3, 10), engineFunc(runner, contract), plainContract(client, target, ids[1])},
	}
	var out []cpuResult
	for _, c := range cases {
		r, err := compareCPU(c.name, c.n, cfg.cpuRounds, c.engine, c.plain)
		if err != nil {
			return nil, fmt.Errorf("cpu %s: %w", c.name, err)
		}
		out = append(out, r)
		if cfg.profileDir != "" {
			for side, f := range map[string]func() error{"assay": c.engine, "plain": c.plain} {
				if err := profileCPU(cfg.profileDir, "cpu-"+c.name+"-"+side, c.n*cfg.cpuRounds/2, f); err != nil {
					return nil, err
				}
			}
		}
	}
	return out, nil
}

// createDoc adds a document to the target and returns its id, so that
// each contract check has a document of its own.
func createDoc(c *http.Client, base string) (int, error) {
	h := http.Header{"Content-Type": {"application/json"}}
	resp, _, err := plainDo(c, http.MethodPost, base+"/documents", h,
		[]byte(`{"title":"benchmark","body":"A document for the conditional-update contract of the benchmark."}`))
	if err != nil {
		return 0, err
	}
	var id int
	if _, err := fmt.Sscanf(resp.Header.Get("Location"), "/documents/%d", &id); err != nil || resp.StatusCode != http.StatusCreated {
		return 0, fmt.Errorf("create document: status %d, location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return id, nil
}
