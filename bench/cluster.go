package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/assay-monitor/assay/internal/pgtest"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The cluster scenarios run `assay run` children on one PostgreSQL that
// the bench starts (Debian's server, initdb into a temporary directory):
// 1 replica and 3 replicas on 3,000 checks every 10 s, beside the same
// checks on SQLite, for the CPU per run, and the database round trips per
// run; then 3 replicas again, one of them killed (SIGKILL), for the time
// until every check it held ran on another.

type clusterFigures struct {
	sqlite, one      fleetResult
	three            []fleetResult
	failover         time.Duration
	victimChecks     int
	roundTripsPerRun float64
}

// runFleetGroup runs n children of one scenario side by side (replicas
// sharing the store) and returns their reports.
func runFleetGroup(cfg benchConfig, tmp, target string, sc fleetScenario, n int) ([]fleetResult, error) {
	dir := filepath.Join(tmp, sc.name)
	if err := writeFleet(dir, sc.checks, sc.every, target); err != nil {
		return nil, err
	}
	out := make([]fleetResult, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			args := []string{"-role=fleet", "-dir=" + dir, fmt.Sprint("-n=", sc.checks), "-every=" + sc.every.String(),
				"-warmup=" + sc.warmup.String(), "-window=" + sc.window.String()}
			c, err := startChild(sc.env, args...)
			if err != nil {
				errs[i] = err
				return
			}
			defer c.stop()
			line, err := c.line(sc.every + sc.warmup + sc.window + 2*time.Minute)
			if err != nil {
				errs[i] = fmt.Errorf("replica %d of %s: %w", i, sc.name, err)
				return
			}
			errs[i] = json.Unmarshal([]byte(line), &out[i])
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func runCluster(cfg benchConfig, tmp, target string, progress func(string, ...any)) (*clusterFigures, error) {
	srv, err := pgtest.Start()
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	warmup, window := 25*time.Second, 30*time.Second
	if cfg.quick {
		warmup, window = 12*time.Second, 8*time.Second
	}
	f := &clusterFigures{}
	newDB := func(name string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, srv.DSN("postgres"))
		if err != nil {
			return "", err
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
			return "", err
		}
		return srv.DSN(name), nil
	}
	base := fleetScenario{checks: 3000, every: 10 * time.Second, warmup: warmup, window: window}

	sc := base
	sc.name, sc.env = "3k-sqlite", []string{"ASSAY_BENCH_STORAGE=history"}
	progress("cluster: 3,000 checks every 10s on SQLite (warm-up %s, window %s)", warmup, window)
	rs, err := runFleetGroup(cfg, tmp, target, sc, 1)
	if err != nil {
		return nil, err
	}
	f.sqlite = rs[0]

	dsn, err := newDB("bench_one")
	if err != nil {
		return nil, err
	}
	sc.name, sc.env = "3k-pg-1", []string{"ASSAY_BENCH_STORAGE=postgres", "ASSAY_BENCH_DSN=" + dsn}
	progress("cluster: the same, one replica on PostgreSQL")
	if rs, err = runFleetGroup(cfg, tmp, target, sc, 1); err != nil {
		return nil, err
	}
	f.one = rs[0]

	if dsn, err = newDB("bench_three"); err != nil {
		return nil, err
	}
	sc.name, sc.env = "3k-pg-3", []string{"ASSAY_BENCH_STORAGE=postgres", "ASSAY_BENCH_DSN=" + dsn}
	progress("cluster: the same, three replicas on one PostgreSQL")
	if f.three, err = runFleetGroup(cfg, tmp, target, sc, 3); err != nil {
		return nil, err
	}
	var trips, runs float64
	for _, r := range append([]fleetResult{f.one}, f.three...) {
		trips += r.RoundTrips
		runs += float64(r.Runs)
	}
	if runs > 0 {
		f.roundTripsPerRun = trips / runs
	}

	if dsn, err = newDB("bench_failover"); err != nil {
		return nil, err
	}
	progress("cluster: failover: three replicas, one killed (SIGKILL), default lease TTL 15s")
	f.failover, f.victimChecks, err = failover(tmp, target, dsn, warmup)
	return f, err
}

// failover starts three replicas, waits until they share the checks,
// kills the one owning the most, and measures until each of its checks
// has run on another replica.
func failover(tmp, target, dsn string, warmup time.Duration) (time.Duration, int, error) {
	sc := fleetScenario{name: "3k-failover", checks: 3000, every: 10 * time.Second}
	dir := filepath.Join(tmp, sc.name)
	if err := writeFleet(dir, sc.checks, sc.every, target); err != nil {
		return 0, 0, err
	}
	var children []*child
	defer func() {
		for _, c := range children {
			c.stop()
		}
	}()
	env := []string{"ASSAY_BENCH_STORAGE=postgres", "ASSAY_BENCH_DSN=" + dsn}
	for range 3 {
		c, err := startChild(env, "-role=fleet", "-dir="+dir, fmt.Sprint("-n=", sc.checks), "-every=10s",
			"-warmup=0s", "-window=5m")
		if err != nil {
			return 0, 0, err
		}
		children = append(children, c)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return 0, 0, err
	}
	defer conn.Close(ctx)
	// Wait until the three share every check (the leases of one TTL and
	// a renewal or two), then a little more.
	deadline := time.Now().Add(2 * time.Minute)
	owners := map[string][]string{}
	for {
		owners = map[string][]string{}
		rows, err := conn.Query(ctx, `SELECT owner, check_name FROM leases WHERE expires > now()`)
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42P01" && time.Now().Before(deadline) {
			// The replicas have not created the schema yet.
			time.Sleep(200 * time.Millisecond)
			continue
		}
		if err != nil {
			return 0, 0, err
		}
		n := 0
		for rows.Next() {
			var o, ch string
			if err := rows.Scan(&o, &ch); err != nil {
				rows.Close()
				return 0, 0, err
			}
			owners[o] = append(owners[o], ch)
			n++
		}
		rows.Close()
		// Settled: the spread of rendezvous hashing (about a third each),
		// not a replica still handing over what it took alone at first.
		settled := n == sc.checks && len(owners) == 3
		for _, cs := range owners {
			settled = settled && len(cs) > sc.checks/4 && len(cs) < sc.checks/2
		}
		if settled {
			break
		}
		if time.Now().After(deadline) {
			return 0, 0, fmt.Errorf("the replicas did not share the checks within 2 minutes (%d owners)", len(owners))
		}
		time.Sleep(500 * time.Millisecond)
	}
	time.Sleep(warmup / 2)
	// The victim: the owner whose member id names one of our children.
	var victim *child
	var lost []string
	for owner, cs := range owners {
		parts := strings.Split(owner, "-")
		if len(parts) < 3 {
			continue
		}
		pid, _ := strconv.Atoi(parts[len(parts)-2])
		for _, c := range children {
			if c.cmd.Process.Pid == pid && len(cs) > len(lost) {
				victim, lost = c, cs
			}
		}
	}
	if victim == nil {
		return 0, 0, fmt.Errorf("no lease owner is one of the children (owners %d)", len(owners))
	}
	killed := time.Now()
	if err := victim.cmd.Process.Kill(); err != nil {
		return 0, 0, err
	}
	_ = victim.cmd.Wait()
	for {
		var missing int
		// A check has failed over once a run of it started after the kill
		// is stored (by another replica: the victim is dead).
		err := conn.QueryRow(ctx, `SELECT COUNT(*) FROM unnest($1::text[]) AS c(name)
			WHERE NOT EXISTS (SELECT 1 FROM results r WHERE r.check_name = c.name AND r.started_ms > $2)`,
			lost, killed.UnixMilli()).Scan(&missing)
		if err != nil {
			return 0, 0, err
		}
		if missing == 0 {
			return time.Since(killed), len(lost), nil
		}
		if time.Since(killed) > 3*time.Minute {
			return 0, len(lost), fmt.Errorf("%d of %d checks of the killed replica did not run again within 3 minutes", missing, len(lost))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// addClusterFigures adds the cluster scenario's figures.
func addClusterFigures(add func(figure), f *clusterFigures) {
	add(figure{name: "cluster_sqlite_cpu_per_run_seconds", value: f.sqlite.CPUPerRunSecs, unit: "seconds", human: us(time.Duration(f.sqlite.CPUPerRunSecs * 1e9)),
		what: "daemon CPU per run, 3,000 checks every 10s, history on SQLite"})
	add(figure{name: "cluster_pg1_cpu_per_run_seconds", value: f.one.CPUPerRunSecs, unit: "seconds", human: us(time.Duration(f.one.CPUPerRunSecs * 1e9)),
		what: "the same, one replica on PostgreSQL"})
	var cpu, runs float64
	for _, r := range f.three {
		cpu += r.CPUPerRunSecs * float64(r.Runs)
		runs += float64(r.Runs)
	}
	per3 := 0.0
	if runs > 0 {
		per3 = cpu / runs
	}
	add(figure{name: "cluster_pg3_cpu_per_run_seconds", value: per3, unit: "seconds", human: us(time.Duration(per3 * 1e9)),
		what: fmt.Sprintf("the same, three replicas on one PostgreSQL, per run of each (runs %.0f of the three together)", runs)})
	if f.sqlite.CPUPerRunSecs > 0 {
		add(figure{name: "cluster_pg3_cpu_ratio", value: per3 / f.sqlite.CPUPerRunSecs, unit: "ratio", human: fmt.Sprintf("%.2fx", per3/f.sqlite.CPUPerRunSecs),
			what: "CPU per run per replica, three on PostgreSQL / one on SQLite"})
	}
	add(figure{name: "cluster_round_trips_per_run", value: f.roundTripsPerRun, unit: "ratio", human: fmt.Sprintf("%.3f", f.roundTripsPerRun), target: "<= 1.2",
		what: "PostgreSQL round trips per check run (1 and 3 replicas: results, renewals, heartbeats, alert state, outbox)"})
	add(figure{name: "cluster_failover_seconds", value: f.failover.Seconds(), unit: "seconds", human: fmt.Sprintf("%.1f s", f.failover.Seconds()), target: "<= 30 s",
		what: fmt.Sprintf("SIGKILL of a replica until each of its %d checks ran on another (lease TTL 15s, checks every 10s)", f.victimChecks)})
}
