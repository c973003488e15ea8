package chsink_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/streamlearn/streamlearn/internal/testenv"
	"github.com/streamlearn/streamlearn/sinks/chsink"
	"github.com/streamlearn/streamlearn/wire"
)

// openReplicas starts a private ZooKeeper and two ClickHouse servers as the two replicas of one
// shard, and opens a Writer in replicated cluster mode through each.
func openReplicas(t *testing.T) ([]*testenv.ClickHouseServer, []*chsink.Writer) {
	t.Helper()
	srv := testenv.ClickHouseReplicas(t, testCluster, 2, testenv.ZooKeeper(t))
	var ws []*chsink.Writer
	for _, s := range srv {
		cfg := testConfig(t, s.Addr)
		cfg.Cluster, cfg.Replicated = testCluster, true
		ws = append(ws, open(t, cfg, nil))
	}
	return srv, ws
}

// syncReplica waits until the replica at addr has fetched every part its peers wrote to table's
// local table: SYSTEM SYNC REPLICA returns when the replica's queue is empty.
func syncReplica(ctx context.Context, t *testing.T, conn driver.Conn, db, table string) {
	t.Helper()
	if err := conn.Exec(ctx, "SYSTEM SYNC REPLICA "+db+"."+table+"_local"); err != nil {
		t.Fatalf("sync replica %s: %v", table, err)
	}
}

// TestReplicatedTables: every local table is a ReplicatedReplacingMergeTree at the shard's
// ZooKeeper path, one replica per server, and both replicas are active.
func TestReplicatedTables(t *testing.T) {
	srv, ws := openReplicas(t)
	ctx := testenv.Context(t, time.Minute)
	db := ws[0].Database()
	for i, s := range srv {
		rows, err := queryMaps(ctx, connTo(t, s.Addr, db),
			"SELECT table, zookeeper_path, replica_name, toUInt64(total_replicas) AS total, toUInt64(active_replicas) AS active FROM system.replicas WHERE database = ? ORDER BY table", db)
		if err != nil {
			t.Fatalf("system.replicas: %v", err)
		}
		if len(rows) != len(chsink.ShardKeys()) {
			t.Fatalf("replica %d: %d replicated tables, want %d: %v", i+1, len(rows), len(chsink.ShardKeys()), rows)
		}
		for _, r := range rows {
			table := r["table"].(string)
			want := fmt.Sprintf("/clickhouse/tables/1/%s/%s", db, table)
			if r["zookeeper_path"] != want || r["replica_name"] != fmt.Sprintf("r%d", i+1) || r["total"] != uint64(2) || r["active"] != uint64(2) {
				t.Errorf("replica %d: %v; want path %s, replica r%d, 2 of 2 active", i+1, r, want, i+1)
			}
		}
	}
}

// TestReplicatedDedup writes rows through one replica, reads them on the other, then writes every
// key again with a later version through the other replica: each replica's local table holds each
// key once under FINAL, with the later values, and so does the Distributed table through either.
func TestReplicatedDedup(t *testing.T) {
	srv, ws := openReplicas(t)
	ctx := testenv.Context(t, 2*time.Minute)
	db := ws[0].Database()
	conns := []driver.Conn{connTo(t, srv[0].Addr, db), connTo(t, srv[1].Addr, db)}
	const n = 3000
	at := time.Now().Add(-time.Hour).Truncate(time.Second)
	for round, w := range ws {
		preds := predictions(0, n, "fraud", int64(round+1), at)
		for i := range preds {
			preds[i].ScoredAt = preds[i].ScoredAt.Add(time.Duration(round) * time.Minute)
		}
		mustAdd(t, w.AddPredictions(ctx, preds...))
		for i := range n / 2 {
			mustAdd(t, w.AddOutcomes(ctx, wire.OutcomeRow{ID: fmt.Sprintf("e-%d", i), Label: float64(round), Time: at,
				ReceivedAt: at.Add(time.Duration(round) * time.Minute), Model: "fraud", Version: int64(round + 1), Joined: true}))
		}
		if err := w.Flush(ctx); err != nil {
			t.Fatalf("flush through replica %d: %v", round+1, err)
		}
		// The Distributed table wrote each block to one replica (the local one, by
		// prefer_localhost_replica); both wait until they hold every part.
		for _, conn := range conns {
			for _, table := range []string{"predictions", "outcomes"} {
				syncReplica(ctx, t, conn, db, table)
			}
		}
		if round == 0 {
			if got := localCount(ctx, t, conns[1], "predictions"); got != n {
				t.Fatalf("replica 2 holds %d predictions written through replica 1, want %d", got, n)
			}
		}
	}
	tests := []struct {
		table, latest string
		want          uint64
		wantLatest    float64
	}{
		{"predictions", "version", n, 2 * n},
		{"outcomes", "label", n / 2, n / 2},
	}
	for _, tt := range tests {
		for i, conn := range conns {
			for _, from := range []string{tt.table + "_local", tt.table} {
				var rows uint64
				var latest float64
				q := fmt.Sprintf("SELECT count(), toFloat64(sum(%s)) FROM %s FINAL", tt.latest, from)
				if err := conn.QueryRow(ctx, q).Scan(&rows, &latest); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
				if rows != tt.want || latest != tt.wantLatest {
					t.Errorf("replica %d, %s: %d rows, sum(%s) %g; want %d, %g", i+1, from, rows, tt.latest, latest, tt.want, tt.wantLatest)
				}
			}
		}
	}
}

// TestReplicatedAnalystQueries runs docs/queries.sql on replica 2 after rows were written through
// replica 1.
func TestReplicatedAnalystQueries(t *testing.T) {
	srv, ws := openReplicas(t)
	ctx := testenv.Context(t, 2*time.Minute)
	seedAnalytics(t, ws[0], time.Now())
	if err := ws[0].Flush(ctx); err != nil {
		t.Fatalf("seed: %v", err)
	}
	db := ws[0].Database()
	conn := connTo(t, srv[1].Addr, db)
	for table := range chsink.ShardKeys() {
		syncReplica(ctx, t, conn, db, table)
	}
	runAnalystQueries(ctx, t, conn)
}

// TestReplicatedAddColumn runs a later migration that adds a column on each replica in turn: the
// first adds it, ZooKeeper carries it to the second, whose migration then finds it and adds nothing.
func TestReplicatedAddColumn(t *testing.T) {
	srv, ws := openReplicas(t)
	ctx := testenv.Context(t, time.Minute)
	db := ws[0].Database()
	for _, s := range srv {
		conn := connTo(t, s.Addr, db)
		if err := chsink.MigrateReplicatedAddingColumn(ctx, conn, db, testCluster, "predictions", "threshold", "Float64"); err != nil {
			t.Fatalf("migrate %s: %v", s.Addr, err)
		}
	}
	for _, s := range srv {
		var n uint64
		if err := connTo(t, s.Addr, db).QueryRow(ctx, "SELECT count() FROM system.columns WHERE database = ? AND table IN ('predictions', 'predictions_local') AND name = 'threshold'",
			db).Scan(&n); err != nil || n != 2 {
			t.Fatalf("%s: threshold columns = %d, %v; want 2", s.Addr, n, err)
		}
	}
	mustAdd(t, ws[1].AddPredictions(ctx, predictions(0, 100, "m", 1, time.Now())...))
	if err := ws[1].Flush(ctx); err != nil {
		t.Fatalf("Flush after migration: %v", err)
	}
	syncReplica(ctx, t, connTo(t, srv[0].Addr, db), db, "predictions")
	if got := count(t, ws[0], "predictions"); got != 100 {
		t.Errorf("predictions = %d, want 100", got)
	}
}

// TestReplicatedOpenErrors: replicated mode on servers without ZooKeeper, and a database laid out
// unreplicated opened as replicated (and the reverse), fail at Open.
func TestReplicatedOpenErrors(t *testing.T) {
	t.Run("no keeper", func(t *testing.T) {
		srv := testenv.ClickHouseCluster(t, testCluster, 1)
		cfg := testConfig(t, srv[0].Addr)
		cfg.Cluster, cfg.Replicated = testCluster, true
		wantOpenError(t, cfg, "no working ZooKeeper")
	})
	srv, ws := openReplicas(t)
	cfg := testConfig(t, srv[0].Addr)
	cfg.Cluster, cfg.Database = testCluster, ws[0].Database()
	t.Run("replicated database opened unreplicated", func(t *testing.T) {
		wantOpenError(t, cfg, "clickhouse.replicated is false")
	})
	t.Run("unreplicated database opened replicated", func(t *testing.T) {
		plain := testConfig(t, srv[0].Addr)
		plain.Cluster = testCluster
		open(t, plain, nil)
		plain.Replicated = true
		wantOpenError(t, plain, "clickhouse.replicated is true")
	})
}

func wantOpenError(t *testing.T, cfg chsink.Config, want string) {
	t.Helper()
	w, err := chsink.Open(testenv.Context(t, time.Minute), cfg, quietLogger(), nil)
	if err == nil {
		w.Close()
		t.Fatal("Open succeeded")
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v, want one containing %q", err, want)
	}
}

// TestReplicatedReplicaDown writes through replica 1 while replica 2 is stopped: the writes
// succeed, and replica 2, started again on its data, fetches the rows it missed.
func TestReplicatedReplicaDown(t *testing.T) {
	srv, ws := openReplicas(t)
	ctx := testenv.Context(t, 2*time.Minute)
	db := ws[0].Database()
	srv[1].Stop()
	const n = 2000
	mustAdd(t, ws[0].AddPredictions(ctx, predictions(0, n, "fraud", 1, time.Now())...))
	if err := ws[0].Flush(ctx); err != nil {
		t.Fatalf("flush with replica 2 down: %v", err)
	}
	if err := srv[1].Start(); err != nil {
		t.Fatalf("start replica 2: %v", err)
	}
	conn := connTo(t, srv[1].Addr, db)
	// Until its ZooKeeper session is back the restarted replica's tables are read-only and SYNC
	// REPLICA fails: retry until it succeeds.
	var err error
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if err = conn.Exec(ctx, "SYSTEM SYNC REPLICA "+db+".predictions_local"); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("sync replica 2 after its restart: %v", err)
	}
	if got := localCount(ctx, t, conn, "predictions"); got != n {
		t.Errorf("replica 2 holds %d predictions after its restart, want %d", got, n)
	}
}
