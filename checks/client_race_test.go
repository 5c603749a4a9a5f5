package checks

import (
	"context"
	"net/http"
	"sync"
	"testing"
)

// Rule: requests with and without content share a connection pool but
// not an http.Client, so that the first request with content, made while
// one without is in flight, changes nothing the other reads (go test
// -race tells).
func TestRequestsWithAndWithoutContentRunTogether(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {})
	cs := loadChecks(t, `
checks:
  - name: get
    steps: [{ request: { url: "${BASE}/a" } }]
  - name: post
    steps: [{ request: { method: POST, url: "${BASE}/b", json: { a: 1 } } }]
`, "BASE", srv.URL)
	r := newTestRunner(t)
	for range 20 {
		var wg sync.WaitGroup
		for _, c := range cs {
			wg.Go(func() {
				if res := r.Run(context.Background(), c); !res.Passed {
					t.Errorf("%s: %s", c.Name, res.Message)
				}
			})
		}
		wg.Wait()
		r.Close()
		r.mu.Lock()
		clear(r.clients) // a fresh pair of clients each round
		r.mu.Unlock()
	}
}
