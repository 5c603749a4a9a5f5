//go:build linux

package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Two replicas on one PostgreSQL: a ping taken by the replica that does
// not own the heartbeat check reaches the owner, which judges it at once
// (a passing run, then a failure reported through /fail) and alone pages.
func TestClusterHeartbeatPingOnAnyReplica(t *testing.T) {
	pages := &pageRecorder{}
	hook := httptest.NewServer(pages)
	defer hook.Close()
	c := newCluster(t, "", 3*time.Second, hook.URL)
	dir := filepath.Join(t.TempDir(), "hb")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "hb.yaml", `checks:
  - name: nightly-job
    heartbeat: { period: 1h, token: cluster-hb-token }
`)
	c.total = 1
	c.start(2, dir)
	c.awaitOwnedOnce(30*time.Second, 0, 1)
	owner := c.ownerOf("nightly-job", 0, 1)
	other := c.replicas[1-owner]

	ping := func(path string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, other.base+path, strings.NewReader("exit status 3"))
		req.Header.Set("Authorization", "Bearer cluster-hb-token")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("ping on the replica that does not own the check: %d", resp.StatusCode)
		}
	}
	success := func(i int) (float64, bool) {
		resp, err := client.Get(c.replicas[i].base + "/metrics")
		if err != nil {
			return 0, false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return metricValue(string(b), "assay_check_success", "check", "nightly-job")
	}
	since := time.Now().Add(-time.Second)
	ping("/api/v1/heartbeat/nightly-job")
	took := poll(t, 10*time.Second, 100*time.Millisecond, "the owner judges the ping", func() (bool, string) {
		v, ok := success(owner)
		return ok && v == 1, fmt.Sprintf("assay_check_success on the owner = %v (%v)", v, ok)
	})
	t.Logf("the owner passed the check %v after the ping on the other replica", took)
	if _, ok := success(1 - owner); ok {
		t.Error("the replica that does not own the check exports its series")
	}
	ping("/api/v1/heartbeat/nightly-job/fail")
	poll(t, 10*time.Second, 100*time.Millisecond, "one page for the failure", func() (bool, string) {
		return pages.count("nightly-job", "firing") == 1, fmt.Sprintf("%d firing pages", pages.count("nightly-job", "firing"))
	})
	// Stored once each: one run per ping, run by the owner only.
	poll(t, 10*time.Second, 100*time.Millisecond, "both runs stored", func() (bool, string) {
		n := len(c.starts("nightly-job", since))
		return n >= 2, fmt.Sprintf("%d stored runs", n)
	})
	if n := len(c.starts("nightly-job", since)); n != 2 {
		t.Errorf("%d stored runs, want 2 (one per ping)", n)
	}
}
