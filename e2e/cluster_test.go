//go:build linux

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/assay-monitor/assay/internal/pgtest"
	"github.com/jackc/pgx/v5"
)

// The PostgreSQL of the cluster tests, started on first use.
var (
	pgOnce   sync.Once
	pgServer *pgtest.Server
	pgErr    error
)

func postgresServer(t *testing.T) *pgtest.Server {
	t.Helper()
	pgOnce.Do(func() { pgServer, pgErr = pgtest.Start() })
	if pgErr != nil {
		if pgErr == pgtest.ErrNoPostgres && os.Getenv("CI") != "true" {
			t.Skip(pgErr.Error() + "; skipping")
		}
		t.Fatal(pgErr)
	}
	return pgServer
}

func stopPostgres() {
	if pgServer != nil {
		pgServer.Close()
	}
}

// pageRecorder counts the webhook events it receives, by check, kind and
// idempotency key.
type pageRecorder struct {
	mu   sync.Mutex
	hits []page
}

type page struct{ check, kind, key string }

func (p *pageRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var ev struct {
		Kind  string
		Check struct{ Name string }
	}
	_ = json.Unmarshal(b, &ev)
	p.mu.Lock()
	p.hits = append(p.hits, page{ev.Check.Name, ev.Kind, r.Header.Get("Idempotency-Key")})
	p.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// count returns how many distinct events of kind check received.
func (p *pageRecorder) count(check, kind string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	seen := map[string]bool{}
	for _, h := range p.hits {
		if h.check == check && h.kind == kind {
			seen[h.key] = true
		}
	}
	return len(seen)
}

// firings returns the distinct firing keys of check.
func (p *pageRecorder) firings(check string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var keys []string
	for _, h := range p.hits {
		if h.check == check && h.kind == "firing" && !slices.Contains(keys, h.key) {
			keys = append(keys, h.key)
		}
	}
	return keys
}

// cluster is N replicas of assay run on one PostgreSQL.
type cluster struct {
	t        *testing.T
	dsn      string
	checks   string
	cfg      string
	replicas []*replica
	total    int
}

type replica struct {
	p    *proc
	base string
}

// every1s copies checks.d with every schedule set to @every 1s.
func every1s(t *testing.T, dir string) int {
	t.Helper()
	sched := regexp.MustCompile(`(?m)^(\s*)schedule: .*$`)
	total := 0
	src := filepath.Join(moduleRoot, "checks.d")
	err := filepath.Walk(src, func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		dst := filepath.Join(dir, rel)
		if fi.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if strings.HasSuffix(path, ".yaml") {
			b = sched.ReplaceAll(b, []byte(`${1}schedule: "@every 1s"`))
			total += len(regexp.MustCompile(`(?m)^  - name: `).FindAll(b, -1))
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return total
}

func newCluster(t *testing.T, fault string, ttl time.Duration, hook string) *cluster {
	t.Helper()
	srv := postgresServer(t)
	c := &cluster{t: t, dsn: srv.NewDatabase(t), checks: filepath.Join(t.TempDir(), "checks")}
	c.total = every1s(t, c.checks)
	c.cfg = filepath.Join(t.TempDir(), "assay.yaml")
	yaml := fmt.Sprintf("storage: { driver: postgres, dsn: %q }\ncluster: { lease_ttl: %s }\n", c.dsn, ttl)
	if hook != "" {
		yaml += fmt.Sprintf("notifiers:\n  hook: { type: webhook, url: %q }\ndefaults:\n  alert: { notify: [hook], failures: 1, successes: 1 }\n", hook)
	}
	if err := os.WriteFile(c.cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DEMO_API_URL", startDemoAPI(t, fault))
	return c
}

func (c *cluster) start(n int, checksDir string) {
	c.t.Helper()
	for range n {
		dir := checksDir
		if dir == "" {
			dir = c.checks
		}
		p, base := startDaemon(c.t, dir, c.cfg)
		c.replicas = append(c.replicas, &replica{p: p, base: base})
	}
}

type clusterInfo struct {
	Self    string   `json:"self"`
	Owned   []string `json:"owned_checks"`
	Members []struct{ ID string }
}

func (r *replica) info(t *testing.T) (clusterInfo, bool) {
	var ci clusterInfo
	resp, err := client.Get(r.base + "/api/v1/cluster")
	if err != nil {
		return ci, false
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return ci, false
	}
	return ci, json.NewDecoder(resp.Body).Decode(&ci) == nil
}

// owners maps every owned check to the replicas (indexes) owning it.
func (c *cluster) owners(live ...int) map[string][]int {
	out := map[string][]int{}
	for _, i := range live {
		ci, ok := c.replicas[i].info(c.t)
		if !ok {
			continue
		}
		for _, ch := range ci.Owned {
			out[ch] = append(out[ch], i)
		}
	}
	return out
}

// awaitOwnedOnce waits until live replicas own every check exactly once
// and each sees exactly the live ones as members (the spread is settled,
// not a replica that joined but has not taken its share yet).
func (c *cluster) awaitOwnedOnce(timeout time.Duration, live ...int) time.Duration {
	c.t.Helper()
	return poll(c.t, timeout, 100*time.Millisecond, "every check owned exactly once", func() (bool, string) {
		for _, i := range live {
			if ci, ok := c.replicas[i].info(c.t); !ok || len(ci.Members) != len(live) {
				return false, fmt.Sprintf("replica %d sees %d members, want %d", i, len(ci.Members), len(live))
			}
		}
		o := c.owners(live...)
		if len(o) != c.total {
			return false, fmt.Sprintf("%d of %d owned: %v", len(o), c.total, o)
		}
		for ch, who := range o {
			if len(who) != 1 {
				return false, fmt.Sprintf("%s owned by %v", ch, who)
			}
		}
		return true, ""
	})
}

// starts returns the start times of check's stored runs since since.
func (c *cluster) starts(check string, since time.Time) []time.Time {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.dsn)
	if err != nil {
		c.t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT started_ms FROM results WHERE check_name = $1 AND started_ms >= $2 ORDER BY started_ms`, check, since.UnixMilli())
	if err != nil {
		c.t.Fatal(err)
	}
	defer rows.Close()
	var out []time.Time
	for rows.Next() {
		var ms int64
		if err := rows.Scan(&ms); err != nil {
			c.t.Fatal(err)
		}
		out = append(out, time.UnixMilli(ms))
	}
	return out
}

// duplicates counts runs of check since since that share a schedule slot
// (@every 1s: two runs less than half a second apart).
func (c *cluster) duplicates(check string, since time.Time) int {
	ts := c.starts(check, since)
	n := 0
	for i := 1; i < len(ts); i++ {
		if ts[i].Sub(ts[i-1]) < 500*time.Millisecond {
			n++
		}
	}
	return n
}

func (c *cluster) checkNames() []string {
	var names []string
	for ch := range c.owners(c.live()...) {
		names = append(names, ch)
	}
	sort.Strings(names)
	return names
}

func (c *cluster) live() []int {
	var out []int
	for i, r := range c.replicas {
		select {
		case <-r.p.done:
		default:
			out = append(out, i)
		}
	}
	return out
}

// ownerOf is the index of the replica owning check.
func (c *cluster) ownerOf(check string, live ...int) int {
	c.t.Helper()
	who := c.owners(live...)[check]
	if len(who) != 1 {
		c.t.Fatalf("%s owned by %v", check, who)
	}
	return who[0]
}

// Three replicas: every check has exactly one owner and no schedule slot
// runs twice.
func TestClusterOneOwnerNoDuplicateRuns(t *testing.T) {
	c := newCluster(t, "", 3*time.Second, "")
	c.start(3, "")
	c.awaitOwnedOnce(30*time.Second, 0, 1, 2)
	since := time.Now()
	time.Sleep(6 * time.Second) // six intervals of steady state to count
	for _, ch := range c.checkNames() {
		if n := len(c.starts(ch, since)); n < 4 {
			t.Errorf("%s ran %d times in 6 s at @every 1s", ch, n)
		}
		if d := c.duplicates(ch, since); d != 0 {
			t.Errorf("%s: %d schedule slots ran twice", ch, d)
		}
	}
	for i, r := range c.replicas {
		if ci, ok := r.info(t); !ok || len(ci.Members) != 3 {
			t.Errorf("replica %d sees members %+v", i, ci.Members)
		}
		// Any replica's API and status page show every check, with a
		// recent result, whoever runs it (from the shared store).
		var list struct {
			Checks []struct {
				Name       string
				LastResult *struct{ Started time.Time } `json:"last_result"`
			}
		}
		code, body := httpDo(t, http.MethodGet, r.base+"/api/v1/checks")
		if err := json.Unmarshal([]byte(body), &list); code != 200 || err != nil || len(list.Checks) != c.total {
			t.Fatalf("replica %d: GET /api/v1/checks: %d, %d checks (%v), want %d", i, code, len(list.Checks), err, c.total)
		}
		for _, ch := range list.Checks {
			if ch.LastResult == nil || ch.LastResult.Started.Before(since) {
				t.Errorf("replica %d shows %s without a result since %s: %+v", i, ch.Name, since.Format("15:04:05"), ch.LastResult)
			}
		}
		_, page := httpDo(t, http.MethodGet, r.base+"/")
		for _, ch := range c.checkNames() {
			if !strings.Contains(page, ch) {
				t.Errorf("replica %d's status page does not show %s", i, ch)
			}
		}
	}
}

// kill -9 of the replica that owns a failing check: the others run it
// again within lease_ttl + one interval, and the receiver sees one firing
// for its incident, never two.
func TestClusterKill9TakesOverWithoutASecondPage(t *testing.T) {
	pages := &pageRecorder{}
	hs := httptest.NewServer(pages)
	defer hs.Close()
	ttl := 3 * time.Second
	c := newCluster(t, "ignore-if-match", ttl, hs.URL)
	c.start(3, "")
	c.awaitOwnedOnce(30*time.Second, 0, 1, 2)
	const failing = "documents-conditional-update"
	poll(t, 20*time.Second, 100*time.Millisecond, "the firing of "+failing, func() (bool, string) {
		return len(pages.firings(failing)) == 1, fmt.Sprint(pages.firings(failing))
	})
	victim := c.ownerOf(failing, 0, 1, 2)
	if err := c.replicas[victim].p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-c.replicas[victim].p.done
	killed := time.Now()
	var others []int
	for i := range 3 {
		if i != victim {
			others = append(others, i)
		}
	}
	took := poll(t, 30*time.Second, 100*time.Millisecond, failing+" run again by another replica", func() (bool, string) {
		return len(c.starts(failing, killed.Add(500*time.Millisecond))) > 0, ""
	})
	if took > ttl+time.Second+2*time.Second {
		t.Errorf("%s ran again %v after kill -9; want within lease_ttl (%v) + one interval (1s), plus 2 s of slack", failing, took, ttl)
	}
	c.awaitOwnedOnce(30*time.Second, others...)
	time.Sleep(3 * time.Second) // three more failing runs on the new owner
	if f := pages.firings(failing); len(f) != 1 {
		t.Fatalf("%d firing events for one incident of %s: %v", len(f), failing, f)
	}
	t.Logf("%s ran again %v after kill -9 (lease_ttl %v)", failing, took.Round(10*time.Millisecond), ttl)
}

// A replica paused (SIGSTOP) past its lease and resumed writes no result
// and sends no notification for a check it no longer owns.
func TestClusterPausedReplicaIsFenced(t *testing.T) {
	pages := &pageRecorder{}
	hs := httptest.NewServer(pages)
	defer hs.Close()
	ttl := 3 * time.Second
	c := newCluster(t, "ignore-if-match", ttl, hs.URL)
	c.start(3, "")
	c.awaitOwnedOnce(30*time.Second, 0, 1, 2)
	const failing = "documents-conditional-update"
	poll(t, 20*time.Second, 100*time.Millisecond, "the firing of "+failing, func() (bool, string) {
		return len(pages.firings(failing)) == 1, ""
	})
	paused := c.ownerOf(failing, 0, 1, 2)
	p := c.replicas[paused].p
	if err := p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	var others []int
	for i := range 3 {
		if i != paused {
			others = append(others, i)
		}
	}
	// The others take its checks once its leases expire.
	poll(t, 30*time.Second, 100*time.Millisecond, "the others own "+failing, func() (bool, string) {
		o := c.owners(others...)
		return len(o[failing]) == 1, fmt.Sprint(o[failing])
	})
	time.Sleep(ttl) // paused well past its lease
	if err := p.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	resumed := time.Now()
	time.Sleep(4 * time.Second) // the woken replica's renewals and runs
	if d := c.duplicates(failing, stopped); d != 0 {
		t.Errorf("%s: %d schedule slots ran twice around the pause", failing, d)
	}
	if f := pages.firings(failing); len(f) != 1 {
		t.Fatalf("%d firing events for one incident of %s after the pause: %v", len(f), failing, f)
	}
	// Woken past its lease's deadline, it ran nothing it had held before
	// renewing: the rows above show no slot twice. (It may own checks
	// again since, under a new epoch, and run them.)
	t.Logf("paused %v, resumed %v ago", resumed.Sub(stopped).Round(100*time.Millisecond), time.Since(resumed).Round(100*time.Millisecond))
}

// PostgreSQL restarts under load: the replicas keep running their checks,
// keep the results in memory meanwhile, page from memory for a check that
// starts failing during the outage, reconnect and write it all: every run,
// and the incident with its one firing (never a second page after).
func TestClusterSurvivesAPostgresRestart(t *testing.T) {
	pages := &pageRecorder{}
	hs := httptest.NewServer(pages)
	defer hs.Close()
	// A lease long enough that the outage ends before the replicas'
	// deadlines: they keep running their checks throughout.
	c := newCluster(t, "", 30*time.Second, hs.URL)
	c.start(3, "")
	c.awaitOwnedOnce(30*time.Second, 0, 1, 2)
	time.Sleep(2 * time.Second)
	down := time.Now()
	srv := postgresServer(t)
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	const failing = "documents-conditional-update"
	setFault(t, os.Getenv("DEMO_API_URL"), "ignore-if-match")
	poll(t, 15*time.Second, 100*time.Millisecond, "the firing of "+failing+" while PostgreSQL is down", func() (bool, string) {
		return len(pages.firings(failing)) == 1, fmt.Sprint(pages.firings(failing))
	})
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	up := time.Now()
	// Buffered results reach the store within a few flushes.
	c.awaitNoGaps(30*time.Second, down.Add(-time.Second), up.Add(2*time.Second))
	poll(t, 20*time.Second, 200*time.Millisecond, "the incident of "+failing+" stored", func() (bool, string) {
		var page struct{ Incidents []struct{ Check, ID string } }
		code, body := httpDo(t, http.MethodGet, c.replicas[0].base+"/api/v1/incidents?open=true&check="+failing)
		if code != 200 || json.Unmarshal([]byte(body), &page) != nil {
			return false, fmt.Sprintf("%d %s", code, body)
		}
		return len(page.Incidents) == 1, body
	})
	for i, r := range c.replicas {
		code, body := httpDo(t, http.MethodGet, r.base+"/metrics")
		for _, m := range []string{"assay_history_dropped_results_total", "assay_alert_events_dropped_total"} {
			if v, ok := metricValue(body, m); code != 200 || !ok || v != 0 {
				t.Errorf("replica %d: %s = %v", i, m, v)
			}
		}
	}
	setFault(t, os.Getenv("DEMO_API_URL"), "")
	poll(t, 15*time.Second, 100*time.Millisecond, "the resolution of "+failing, func() (bool, string) {
		return pages.count(failing, "resolved") == 1, fmt.Sprint(pages.count(failing, "resolved"))
	})
	if f := pages.firings(failing); len(f) != 1 {
		t.Fatalf("%d firing events for one incident of %s across the restart: %v", len(f), failing, f)
	}
}

// setFault switches the demo API's fault (empty: none).
func setFault(t *testing.T, demo, fault string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, demo+"/-/fault", strings.NewReader(fault))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("PUT /-/fault %q: %s", fault, resp.Status)
	}
}

// awaitNoGaps waits until every check has stored runs at most 2.5s apart
// (they run every second) from from to until.
func (c *cluster) awaitNoGaps(timeout time.Duration, from, until time.Time) {
	c.t.Helper()
	poll(c.t, timeout, 500*time.Millisecond, "every check's runs stored without a gap", func() (bool, string) {
		var gaps []string
		for _, ch := range c.checkNames() {
			last := from
			for _, s := range append(c.starts(ch, from), until) {
				if s.After(until) {
					s = until
				}
				if s.Sub(last) > 2500*time.Millisecond {
					gaps = append(gaps, fmt.Sprintf("%s: %v without a run from %s", ch, s.Sub(last).Round(100*time.Millisecond), last.Format("15:04:05.0")))
				}
				last = s
			}
		}
		return len(gaps) == 0 && len(c.checkNames()) == c.total, strings.Join(gaps, "; ")
	})
}

// Runs a replica still holds in memory when it hands checks over (here:
// buffered through an outage of PostgreSQL, then a replica joins) are
// written before the lease moves, so the successor's epoch does not fence
// them; the successor takes each check within about a second of its
// release, so no check misses its schedule.
func TestClusterHandOverKeepsTheRunsHeldInMemory(t *testing.T) {
	c := newCluster(t, "", 10*time.Second, "")
	c.start(1, "")
	c.awaitOwnedOnce(30*time.Second, 0)
	time.Sleep(2 * time.Second)
	from := time.Now().Add(-time.Second)
	srv := postgresServer(t)
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	// Long enough for the recorder to back off past the join below.
	time.Sleep(4 * time.Second)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	c.start(1, "")
	c.awaitOwnedOnce(30*time.Second, 0, 1)
	settled := time.Now()
	c.awaitNoGaps(30*time.Second, from, settled)
	for i, r := range c.replicas {
		_, body := httpDo(t, http.MethodGet, r.base+"/metrics")
		if v, ok := metricValue(body, "assay_cluster_fenced_writes_total"); !ok || v != 0 {
			t.Errorf("replica %d: %v writes fenced", i, v)
		}
	}
	if n := len(c.owners(1)); n == 0 {
		t.Fatal("the replica that joined owns nothing")
	}
}

// A replica whose checks differ from the others' raises the mismatch
// metric; the others do not.
func TestClusterConfigMismatchRaisesTheMetric(t *testing.T) {
	c := newCluster(t, "", 3*time.Second, "")
	odd := filepath.Join(t.TempDir(), "odd")
	every1s(t, odd)
	writeFile(t, odd, "extra.yaml", "checks:\n  - name: only-on-one-replica\n    schedule: \"@every 1s\"\n    steps: [{ request: { url: \"http://127.0.0.1:1/\" } }]\n")
	c.start(2, "")
	c.start(1, odd)
	c.awaitOwnedOnce(30*time.Second, 0, 1, 2)
	poll(t, 15*time.Second, 200*time.Millisecond, "the mismatch metric on the odd replica only", func() (bool, string) {
		var vs []float64
		for _, r := range c.replicas {
			_, body := httpDo(t, http.MethodGet, r.base+"/metrics")
			v, _ := metricValue(body, "assay_cluster_config_mismatch")
			vs = append(vs, v)
		}
		return vs[0] == 0 && vs[1] == 0 && vs[2] == 1, fmt.Sprint(vs)
	})
	if o := c.owners(0, 1, 2); len(o["only-on-one-replica"]) != 0 {
		t.Errorf("a check only one replica has runs: %v", o["only-on-one-replica"])
	}
	c.replicas[2].p.awaitLine(t, 5*time.Second, "the mismatch in the log", func(l string) bool {
		return strings.Contains(l, "differ from the majority")
	})
}
