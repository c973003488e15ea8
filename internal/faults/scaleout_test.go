package faults_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/streamlearn/streamlearn/internal/testenv"
)

// driftWindow is the drift section of the scale-out cases: the 200 s of event time of a 20,000-event
// stream span eleven 20 s windows; event windows close 5 s of event time after their end while the
// stream flows, performance windows (split by country) stay open for an hour.
//
// The events topic is written by the producer, and the correlator's per-partition clock holds its
// watermark for a partition that lags. The predictions and examples topics are written by the
// scoring replicas, keyed by event id: when a SIGKILLed scorer's partitions stall for the
// consumer-group session timeout while the other replicas score on, every partition of those
// topics moves on, and the stalled events' predictions and examples arrive later, up to the rest
// of the stream's event time late. Within a lateness of 5 s they would miss closed windows (the
// __score__ rows' n shows it); performance windows keep the default lateness (1h) here.
const driftWindow = "  window: 20s\n  allowed_lateness: 5s\n  outcome_lateness: 1h\n  segments: [country]\n"

// TestFaultEveryRoleReplicated runs every role in several replicas: one `streamlearn broker`
// process and three `serve` replicas on one stream. The replica holding the correlator's lease is
// SIGKILLed a third of the way in and a fresh replica starts two thirds in. Every event must have
// exactly one prediction row, every outcome be joined once, the final version have learned every
// example once, and the drift tables (feature_drift and the label-side columns of
// model_performance, per window) equal those of a single serve process fed the same stream.
// About 30 s on 2 cores: in the fast set.
func TestFaultEveryRoleReplicated(t *testing.T) {
	const n = 20000
	st := newStream(t, n)

	// The reference: one serve process, its own broker, database and key prefix.
	single := newStack(t, stackOpts{drift: driftWindow})
	one := single.start("serve", "serve")
	sobs := single.observer(st)
	newProducer(t, single.brokers).feed(st, 0, n)
	sc, _ := sobs.waitComplete(allOf(st), 150*time.Second)
	if sc.predIDs != n || sc.joinedIDs != n || sc.learned != int64(n) {
		t.Fatalf("single process: %d predictions, %d joined, %d learned of %d", sc.predIDs, sc.joinedIDs, sc.learned, n)
	}
	wantFD, wantMP := waitDriftStable(t, sobs)
	one.term()

	brokerAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	s := newStack(t, stackOpts{brokers: brokerAddr, drift: driftWindow})
	s.startBrokerCommand(brokerAddr)
	replicas := []*proc{s.start("serve-a", "serve"), s.start("serve-b", "serve"), s.start("serve-c", "serve")}
	obs := s.observer(st)
	pub := newProducer(t, s.brokers)

	pub.feed(st, 0, n/3)
	obs.progress(n/4, 60*time.Second)
	victim := correlatorHolder(t, obs, replicas)
	if c, ok := obs.measure(); ok {
		t.Logf("SIGKILL %s (holds the correlator lease) with %d of %d events scored, %d joined, %d learned",
			victim.name, c.predIDs, n, c.joinedIDs, c.learned)
	}
	victim.kill()
	faultEnd := time.Now()
	pub.feed(st, n/3, 2*n/3)
	s.start("serve-d", "serve")
	pub.feed(st, 2*n/3, n)

	c, reached := obs.waitComplete(allOf(st), 180*time.Second)
	dls := readDeadLetters(t, s.brokers, "events.dlq", 0, 3*time.Second)
	check(t, s, c, allOf(st), dls, 0, n, faultEnd, reached)

	gotFD, gotMP := waitDriftStable(t, obs)
	// The score rows' n counts predictions that came within the lateness: reported, not compared.
	var lateScores float64
	for k, w := range wantFD {
		if strings.Contains(k, " score ref ") {
			lateScores += w[0] - gotFD[k][0]
			delete(wantFD, k)
			delete(gotFD, k)
		}
	}
	t.Logf("__score__ rows: %.0f predictions fewer than the single process's in closed windows (came later than allowed_lateness)", lateScores)
	compareRows(t, "feature_drift", gotFD, wantFD)
	compareRows(t, "model_performance", gotMP, wantMP)
}

// correlatorHolder returns the replica whose process holds the correlator's lease.
func correlatorHolder(t *testing.T, o *observer, procs []*proc) *proc {
	t.Helper()
	var holder *proc
	waitFor(t, "a correlator lease holder", 30*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		// The lease key is <prefix>correlator:{<group>}:lease; its value token|host/pid/nanos.
		keys, err := o.rdb.Keys(ctx, o.s.prefix+"correlator:*:lease").Result()
		if err != nil || len(keys) != 1 {
			return false
		}
		v, err := o.rdb.Get(ctx, keys[0]).Result()
		if err != nil {
			return false
		}
		parts := strings.Split(v, "/")
		if len(parts) < 3 {
			return false
		}
		pid, _ := strconv.Atoi(parts[len(parts)-2])
		for _, p := range procs {
			if p.cmd != nil && p.cmd.Process.Pid == pid {
				holder = p
				return true
			}
		}
		return false
	})
	return holder
}

// driftRows reads the drift tables under FINAL: feature_drift per (window, feature) with n and every
// statistic; model_performance per (window, segment) summed over versions, with the columns that
// depend on the labels and the event and outcome times only. Its score columns (auc, logloss,
// brier, ece, precision, recall) depend on which model version scored each event, which the
// learner's publish timer decides: two runs of one process differ there too.
func driftRows(o *observer) (fd, mp map[string][]float64, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	read := func(q string) (map[string][]float64, error) {
		rows, err := o.conn.Query(ctx, q)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		out := map[string][]float64{}
		cols := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			key := new(string)
			vals[0] = key
			nums := make([]float64, len(cols)-1)
			for i := range nums {
				vals[i+1] = &nums[i]
			}
			if err := rows.Scan(vals...); err != nil {
				return nil, err
			}
			out[*key] = nums
		}
		return out, rows.Err()
	}
	// The score's distribution (feature __score__) depends on the model versions: only its n is read.
	fd, err = read(fmt.Sprintf(`SELECT concat(toString(window_start), ' ', feature, ' ', kind, ' ref ', toString(reference_start)),
		toFloat64(n), missing_rate, psi, ks, ks_pvalue, js, wasserstein, chi2, chi2_pvalue, linf, toFloat64(drifted)
		FROM %s.feature_drift FINAL WHERE kind != 'score'
		UNION ALL
		SELECT concat(toString(window_start), ' ', feature, ' ', kind, ' ref ', toString(reference_start)),
		toFloat64(n), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
		FROM %s.feature_drift FINAL WHERE kind = 'score'`, o.s.db, o.s.db))
	if err != nil {
		return nil, nil, err
	}
	mp, err = read(fmt.Sprintf(`SELECT concat(toString(window_start), ' ', segment),
		toFloat64(sum(n)), toFloat64(sum(positives)), sum(mean_delay_seconds * n) / sum(n)
		FROM %s.model_performance FINAL GROUP BY window_start, segment`, o.s.db))
	return fd, mp, err
}

// waitDriftStable waits until the drift tables read the same three times in a row, a second apart
// (the correlator has caught up), and returns them.
func waitDriftStable(t *testing.T, o *observer) (fd, mp map[string][]float64) {
	t.Helper()
	same := 0
	var last string
	waitFor(t, "the drift tables to settle", 90*time.Second, func() bool {
		time.Sleep(time.Second)
		f, m, err := driftRows(o)
		if err != nil || len(f) == 0 || len(m) == 0 {
			same = 0
			return false
		}
		cur := fmt.Sprint(f, m)
		if cur == last {
			same++
		} else {
			same, last = 0, cur
		}
		fd, mp = f, m
		return same >= 2
	})
	return fd, mp
}

// compareRows reports every row that is not in both, or differs by more than rounding.
func compareRows(t *testing.T, table string, got, want map[string][]float64) {
	t.Helper()
	diffs := 0
	for k, w := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("%s: row %q missing (single process: %v)", table, k, w)
			diffs++
			continue
		}
		for i := range w {
			if !(g[i] == w[i] || math.Abs(g[i]-w[i]) <= 1e-9*math.Max(1, math.Abs(w[i])) || (math.IsNaN(g[i]) && math.IsNaN(w[i]))) {
				t.Errorf("%s: row %q column %d: %v, single process %v", table, k, i, g[i], w[i])
				diffs++
			}
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: extra row %q: %v", table, k, g)
			diffs++
		}
	}
	if testing.Verbose() && os.Getenv("FAULTS_DUMP") != "" {
		for k, w := range want {
			t.Logf("%s: %s: %v", table, k, w)
		}
	}
	t.Logf("%s: %d rows, single process %d rows, %d differences", table, len(got), len(want), diffs)
}

// TestFaultRedisClusterNodeRestart runs serve on a 3-node Redis Cluster (redis.addrs; every node
// with an append-only file, appendfsync always) and so keeps everything there: features, the join,
// the registry and checkpoints, the leases and the correlator's state. Mid-stream the node that
// holds the model's slot (its registry, checkpoint and learner lease) is stopped (SIGTERM) for
// 10 s, longer than the cluster's node timeout (5 s), so the cluster reports itself down, and
// then started again on its nodes.conf and data. Exact counts as in every case.
func TestFaultRedisClusterNodeRestart(t *testing.T) {
	long(t)
	const n = 20000
	cl := testenv.StartRedisCluster(t, 3)
	s := newStack(t, stackOpts{cluster: cl.Addrs()})
	s.start("serve", "serve")
	st := newStream(t, n)
	obs := s.observer(st)
	pub := newProducer(t, s.brokers)

	pub.feed(st, 0, n/2)
	obs.progress(n/4, 60*time.Second)
	ctx := context.Background()
	master, err := obs.rdb.(*goredis.ClusterClient).MasterForKey(ctx, obs.reg.LeaseKey("default"))
	if err != nil {
		t.Fatal(err)
	}
	var victim *testenv.ClusterNode
	for _, nd := range cl.Nodes {
		if nd.Addr == master.Options().Addr {
			victim = nd
		}
	}
	if victim == nil {
		t.Fatalf("no node of the cluster is %s", master.Options().Addr)
	}
	if c, ok := obs.measure(); ok {
		t.Logf("stop node %s (the model's slot) with %d of %d events scored, %d joined, %d learned", victim.Addr, c.predIDs, n, c.joinedIDs, c.learned)
	}
	victim.Stop()
	pub.feed(st, n/2, n)
	time.Sleep(10 * time.Second) // the fault: one of three masters down, the cluster fails
	if c, ok := obs.measure(); ok {
		t.Logf("after 10 s with the node down: %d of %d events scored, %d joined", c.predIDs, n, c.joinedIDs)
	}
	if err := victim.Start(); err != nil {
		t.Fatal(err)
	}
	if err := cl.WaitOK(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	faultEnd := time.Now()

	c, reached := obs.waitComplete(allOf(st), 180*time.Second)
	dls := readDeadLetters(t, s.brokers, "events.dlq", 0, 3*time.Second)
	check(t, s, c, allOf(st), dls, 0, n, faultEnd, reached)
	// No crash here: the examples topic holds each example once (an ack failing after the produce,
	// with the node down, must not make a batch produce its examples again).
	if recs, ids := topicKeys(t, s.brokers, "examples"); recs != n || ids != n {
		t.Errorf("examples topic: %d records of %d event ids, want %d of %d", recs, ids, n, n)
	}
}
