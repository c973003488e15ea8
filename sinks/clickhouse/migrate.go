package clickhouse

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

type migration struct {
	version uint32
	name    string
	steps   []step
}

// step is one idempotent schema change in database db.
type step interface {
	apply(ctx context.Context, conn driver.Conn, db string) error
}

// sqlStep is a statement that is idempotent by itself; {db} stands for the database.
type sqlStep string

func (s sqlStep) apply(ctx context.Context, conn driver.Conn, db string) error {
	return conn.Exec(ctx, strings.ReplaceAll(string(s), "{db}", db))
}

// addColumn adds a column unless the table has it: ALTER TABLE ... ADD COLUMN IF NOT EXISTS is a
// syntax error on ClickHouse 18.16.
type addColumn struct {
	table, column, typ string
}

func (s addColumn) apply(ctx context.Context, conn driver.Conn, db string) error {
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.columns WHERE database = ? AND table = ? AND name = ?",
		db, s.table, s.column).Scan(&n); err != nil {
		return fmt.Errorf("look up column %s.%s: %w", s.table, s.column, err)
	}
	if n > 0 {
		return nil
	}
	return conn.Exec(ctx, fmt.Sprintf("ALTER TABLE %s.%s ADD COLUMN %s %s", db, s.table, s.column, s.typ))
}

// migrate creates database db and applies the migrations it lacks, recording each in
// schema_migrations. Running it again is a no-op.
func migrate(ctx context.Context, conn driver.Conn, db string, ms []migration, logger *slog.Logger) error {
	if err := conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+db); err != nil {
		return fmt.Errorf("create database %s: %w", db, err)
	}
	if err := conn.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+db+"."+TableSchemaMigrations+` (
	version UInt32,
	name String,
	applied_at DateTime('UTC')
) ENGINE = ReplacingMergeTree(applied_at) ORDER BY version`); err != nil {
		return fmt.Errorf("create table %s: %w", TableSchemaMigrations, err)
	}
	applied, err := appliedMigrations(ctx, conn, db)
	if err != nil {
		return err
	}
	var latest uint32
	for _, m := range ms {
		latest = max(latest, m.version)
		if applied[m.version] {
			continue
		}
		for i, s := range m.steps {
			if err := s.apply(ctx, conn, db); err != nil {
				return fmt.Errorf("migration %d (%s) step %d: %w", m.version, m.name, i+1, err)
			}
		}
		if err := recordMigration(ctx, conn, db, m); err != nil {
			return fmt.Errorf("record migration %d: %w", m.version, err)
		}
		logger.Info("clickhouse migration applied", "database", db, "version", m.version, "name", m.name)
	}
	for v := range applied {
		if v > latest {
			logger.Warn("clickhouse schema is newer than this binary", "database", db, "schema_version", v, "known_version", latest)
		}
	}
	return nil
}

// recordMigration inserts through a batch: over the native protocol 18.16 waits for a data block
// even after INSERT ... VALUES, so Exec would hang.
func recordMigration(ctx context.Context, conn driver.Conn, db string, m migration) error {
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO "+db+"."+TableSchemaMigrations+" (version, name, applied_at)")
	if err != nil {
		return err
	}
	if err := batch.Append(m.version, m.name, time.Now()); err != nil {
		batch.Abort()
		return err
	}
	return batch.Send()
}

func appliedMigrations(ctx context.Context, conn driver.Conn, db string) (map[uint32]bool, error) {
	rows, err := conn.Query(ctx, "SELECT version FROM "+db+"."+TableSchemaMigrations+" FINAL")
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", TableSchemaMigrations, err)
	}
	defer rows.Close()
	applied := map[uint32]bool{}
	for rows.Next() {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("read %s: %w", TableSchemaMigrations, err)
		}
		applied[v] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", TableSchemaMigrations, err)
	}
	return applied, nil
}
