package clickhouse

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
	ms := append(slices.Clone(migrations), migration{version: 1000, name: "test: add column",
		steps: []step{addColumn{table: table, column: column, typ: typ}}})
	return migrate(ctx, conn, db, ms, slog.New(slog.DiscardHandler))
}

// LatestMigration is the version of the last migration.
func LatestMigration() uint32 { return migrations[len(migrations)-1].version }

// Transient exposes the retry classification.
func Transient(err error) bool { return transient(err) }

// Exception is the driver's server error.
type Exception = clickhouse.Exception

// Permanent marks err as one no retry passes.
func Permanent(err error) error { return permanentError{err} }
