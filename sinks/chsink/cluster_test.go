package chsink_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/streamlearn/streamlearn/internal/testenv"
	"github.com/streamlearn/streamlearn/sinks/chsink"
	"github.com/streamlearn/streamlearn/wire"
)

const testCluster = "sl_test"

// openCluster starts a two-shard cluster and opens a Writer in cluster mode through each shard.
func openCluster(t *testing.T) ([]*testenv.ClickHouseServer, []*chsink.Writer) {
	t.Helper()
	srv := testenv.ClickHouseCluster(t, testCluster, 2)
	var ws []*chsink.Writer
	for _, s := range srv {
		cfg := testConfig(t, s.Addr)
		cfg.Cluster = testCluster
		ws = append(ws, open(t, cfg, nil))
	}
	return srv, ws
}

// TestClusterDedup writes every row twice, the second time with a later version and through the
// other shard, and reads the Distributed tables with FINAL: each key once, with its latest value,
// and every key on one shard only (the shards' FINAL counts add up to the Distributed one).
func TestClusterDedup(t *testing.T) {
	srv, ws := openCluster(t)
	ctx := testenv.Context(t, 2*time.Minute)
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
		for f := range 8 {
			for h := range 12 {
				start := at.Add(time.Duration(h) * time.Hour)
				mustAdd(t, w.AddFeatureDrift(ctx, wire.FeatureDriftRow{WindowStart: start, WindowEnd: start.Add(time.Hour),
					Model: "fraud", Feature: fmt.Sprintf("f%d", f), Kind: "numeric", N: 100, PSI: float64(round),
					Updated: at.Add(time.Duration(round) * time.Minute)}))
			}
		}
		if err := w.Flush(ctx); err != nil {
			t.Fatalf("flush through shard %d: %v", round+1, err)
		}
	}
	db := ws[0].Database()
	tests := []struct {
		table, latest string // latest: the sum of a column that only the second round's rows give
		want          uint64
		wantLatest    float64
	}{
		{"predictions", "version", n, 2 * n},
		{"outcomes", "label", n / 2, n / 2},
		{"feature_drift", "psi", 8 * 12, 8 * 12},
	}
	for _, tt := range tests {
		t.Run(tt.table, func(t *testing.T) {
			for i, s := range srv { // through either shard's Distributed table
				conn := connTo(t, s.Addr, db)
				var rows uint64
				var latest float64
				q := fmt.Sprintf("SELECT count(), toFloat64(sum(%s)) FROM %s FINAL", tt.latest, tt.table)
				if err := conn.QueryRow(ctx, q).Scan(&rows, &latest); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
				if rows != tt.want || latest != tt.wantLatest {
					t.Errorf("through shard %d: %d rows, sum(%s) %g; want %d, %g", i+1, rows, tt.latest, latest, tt.want, tt.wantLatest)
				}
			}
			var local uint64
			for i, s := range srv {
				c := localCount(ctx, t, connTo(t, s.Addr, db), tt.table)
				if c == 0 {
					t.Errorf("shard %d holds no %s rows: the table is not sharded", i+1, tt.table)
				}
				local += c
			}
			if local != tt.want {
				t.Errorf("shards hold %d %s rows under FINAL, want %d: a key is on more than one shard", local, tt.table, tt.want)
			}
		})
	}
}

func localCount(ctx context.Context, t *testing.T, conn driver.Conn, table string) uint64 {
	t.Helper()
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM "+table+"_local FINAL").Scan(&n); err != nil {
		t.Fatalf("count %s_local: %v", table, err)
	}
	return n
}

// TestClusterAnalystQueries runs docs/queries.sql on the Distributed tables of a two-shard cluster,
// written through one shard and read through the other.
func TestClusterAnalystQueries(t *testing.T) {
	srv, ws := openCluster(t)
	ctx := testenv.Context(t, 2*time.Minute)
	seedAnalytics(t, ws[0], time.Now())
	if err := ws[0].Flush(ctx); err != nil {
		t.Fatalf("seed: %v", err)
	}
	runAnalystQueries(ctx, t, connTo(t, srv[1].Addr, ws[0].Database()))
}

// TestClusterOpenErrors: a cluster the servers do not define, and a database laid out for the other
// mode, are errors at Open rather than rows written where queries do not look.
func TestClusterOpenErrors(t *testing.T) {
	srv := testenv.ClickHouseCluster(t, testCluster, 2)
	single := testConfig(t, srv[0].Addr)
	open(t, single, nil)
	tests := []struct {
		name    string
		cfg     func(c *chsink.Config)
		wantErr string
	}{
		{"unknown cluster", func(c *chsink.Config) { c.Cluster, c.Database = "nope", c.Database+"_2" }, `"nope" is not a cluster`},
		{"single-server database in cluster mode", func(c *chsink.Config) { c.Cluster = testCluster }, "either on one server or on a cluster"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := single
			tt.cfg(&cfg)
			w, err := chsink.Open(testenv.Context(t, time.Minute), cfg, quietLogger(), nil)
			if err == nil {
				w.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestShardKeysAreDedupKeys: a table's sharding key must use only columns of its ORDER BY key, so
// that the rows ReplacingMergeTree deduplicates always meet on one shard.
func TestShardKeysAreDedupKeys(t *testing.T) {
	args := regexp.MustCompile(`^cityHash64\(([a-z_, ]+)\)$`)
	for table, k := range chsink.ShardKeys() {
		m := args.FindStringSubmatch(k[0])
		if m == nil {
			t.Errorf("%s: shard key %q is not cityHash64(columns)", table, k[0])
			continue
		}
		_, orderBy, _ := strings.Cut(k[1], "ORDER BY ")
		key := map[string]bool{}
		for _, c := range strings.Split(strings.Trim(orderBy, "() "), ",") {
			key[strings.TrimSpace(c)] = true
		}
		for _, c := range strings.Split(m[1], ",") {
			if !key[strings.TrimSpace(c)] {
				t.Errorf("%s: shard key column %s is not in ORDER BY %s", table, c, orderBy)
			}
		}
	}
}

// TestClusterAddColumn runs a later migration that adds a column, twice, on each host: the local
// and the Distributed table get it, and inserts through the Distributed table still work.
func TestClusterAddColumn(t *testing.T) {
	srv, ws := openCluster(t)
	ctx := testenv.Context(t, time.Minute)
	db := ws[0].Database()
	for _, s := range srv {
		conn := connTo(t, s.Addr, db)
		for range 2 {
			if err := chsink.MigrateClusterAddingColumn(ctx, conn, db, testCluster, "predictions", "threshold", "Float64"); err != nil {
				t.Fatalf("migrate %s: %v", s.Addr, err)
			}
		}
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM system.columns WHERE database = ? AND table IN ('predictions', 'predictions_local') AND name = 'threshold'",
			db).Scan(&n); err != nil || n != 2 {
			t.Fatalf("%s: threshold columns = %d, %v; want 2", s.Addr, n, err)
		}
	}
	mustAdd(t, ws[1].AddPredictions(ctx, predictions(0, 100, "m", 1, time.Now())...))
	if err := ws[1].Flush(ctx); err != nil {
		t.Fatalf("Flush after migration: %v", err)
	}
	if got := count(t, ws[0], "predictions"); got != 100 {
		t.Errorf("predictions = %d, want 100", got)
	}
}
