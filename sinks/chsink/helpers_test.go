package chsink_test

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/streamlearn/streamlearn/internal/testenv"
	"github.com/streamlearn/streamlearn/sinks/chsink"
	"github.com/streamlearn/streamlearn/wire"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var nonIdent = regexp.MustCompile(`[^a-z0-9_]+`)

// database returns a database name of the test's own.
func database(t testing.TB) string {
	t.Helper()
	return "t_" + strings.Trim(nonIdent.ReplaceAllString(strings.ToLower(t.Name()), "_"), "_")
}

// testConfig returns a config for the test's own database on addr.
func testConfig(t testing.TB, addr string) chsink.Config {
	t.Helper()
	cfg := chsink.DefaultConfig()
	cfg.Addr = []string{addr}
	cfg.Database = database(t)
	return cfg
}

// open opens a Writer, closed and its database dropped at cleanup.
func open(t testing.TB, cfg chsink.Config, reg prometheus.Registerer) *chsink.Writer {
	t.Helper()
	ctx := testenv.Context(t, time.Minute)
	w, err := chsink.Open(ctx, cfg, quietLogger(), reg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := w.Conn().Exec(context.Background(), "DROP DATABASE IF EXISTS "+cfg.Database); err != nil {
			t.Logf("drop database: %v", err)
		}
		w.Close()
	})
	return w
}

// mustAdd reports a failed Add; it may be called from any goroutine.
func mustAdd(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Errorf("add: %v", err)
	}
}

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{}, &slog.HandlerOptions{Level: slog.LevelError}))
}

type testWriter struct{}

func (testWriter) Write(p []byte) (int, error) { return len(p), nil }

// count returns the rows of a table of the Writer's database under FINAL.
func count(t testing.TB, w *chsink.Writer, table string) uint64 {
	t.Helper()
	var n uint64
	q := fmt.Sprintf("SELECT count() FROM %s.%s FINAL", w.Database(), table)
	if err := w.Conn().QueryRow(testenv.Context(t, 30*time.Second), q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// queryMaps runs a query and returns its rows as column name -> value.
func queryMaps(ctx context.Context, conn driver.Conn, query string, args ...any) ([]map[string]any, error) {
	rows, err := conn.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	types := rows.ColumnTypes()
	var out []map[string]any
	for rows.Next() {
		dest := make([]any, len(types))
		for i, ct := range types {
			dest[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		m := make(map[string]any, len(types))
		for i, ct := range types {
			m[ct.Name()] = reflect.ValueOf(dest[i]).Elem().Interface()
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// connTo opens a connection whose default database is db, as an analyst's client would have.
func connTo(t testing.TB, addr, db string) driver.Conn {
	t.Helper()
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}, Auth: clickhouse.Auth{Database: db}})
	if err != nil {
		t.Fatalf("open clickhouse: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func predictions(from, to int, model string, version int64, at time.Time) []wire.PredictionRow {
	rows := make([]wire.PredictionRow, 0, to-from)
	for i := from; i < to; i++ {
		rows = append(rows, wire.PredictionRow{
			ID: fmt.Sprintf("e-%d", i), Entity: fmt.Sprintf("u-%d", i%97), Model: model, Version: version,
			Score: float64(i%1000) / 1000, Route: "champion",
			Time: at.Add(time.Duration(i) * time.Millisecond), ScoredAt: at.Add(time.Duration(i)*time.Millisecond + 3*time.Millisecond),
		})
	}
	return rows
}
