package chsink

import (
	"context"
	"log/slog"
	"slices"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// MigrateAddingColumn runs the migrations plus a later one that adds a column, as a future
// migration would.
func MigrateAddingColumn(ctx context.Context, conn driver.Conn, db, table, column, typ string) error {
	return MigrateClusterAddingColumn(ctx, conn, db, "", table, column, typ)
}

// MigrateClusterAddingColumn is MigrateAddingColumn on one host of a cluster ("": a single server).
func MigrateClusterAddingColumn(ctx context.Context, conn driver.Conn, db, cluster, table, column, typ string) error {
	return migrateAddingColumn(ctx, conn, schema{db: db, cluster: cluster}, table, column, typ)
}

// MigrateReplicatedAddingColumn is MigrateAddingColumn on one replica of a replicated cluster.
func MigrateReplicatedAddingColumn(ctx context.Context, conn driver.Conn, db, cluster, table, column, typ string) error {
	return migrateAddingColumn(ctx, conn, schema{db: db, cluster: cluster, replicated: true}, table, column, typ)
}

func migrateAddingColumn(ctx context.Context, conn driver.Conn, sc schema, table, column, typ string) error {
	ms := append(slices.Clone(migrations), migration{version: 1000, name: "test: add column",
		steps: []step{addColumn{table: table, column: column, typ: typ}}})
	return migrate(ctx, conn, sc, ms, slog.New(slog.DiscardHandler))
}

// ShardKeys returns, for each table the migrations create, its cluster sharding key and its body.
func ShardKeys() map[string][2]string {
	out := map[string][2]string{}
	for _, m := range migrations {
		for _, s := range m.steps {
			if c, ok := s.(createTable); ok {
				out[c.name] = [2]string{c.shardBy, c.body}
			}
		}
	}
	return out
}

// LatestMigration is the version of the last migration.
func LatestMigration() uint32 { return migrations[len(migrations)-1].version }

// Transient exposes the retry classification.
func Transient(err error) bool { return transient(err) }

// Exception is the driver's server error.
type Exception = clickhouse.Exception

// Permanent marks err as one no retry passes.
func Permanent(err error) error { return permanentError{err} }
