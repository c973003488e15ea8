package chsink

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

// schema says where the tables are: database db, on one server (cluster "") or on one host of a
// cluster, where each table is a local table with a Distributed table of the same name over it;
// replicated makes the local tables ReplicatedReplacingMergeTree.
type schema struct {
	db, cluster string
	replicated  bool
}

// replicaPath is the ZooKeeper path of a replicated local table; ClickHouse expands {shard}.
// 18.16 has no {database} or {table} macros, so they are spelled out.
func (s schema) replicaPath(local string) string {
	return "/clickhouse/tables/{shard}/" + s.db + "/" + local
}

// localBody returns a table's body for its local table: the ReplacingMergeTree made replicated
// when s says so.
func (s schema) localBody(local, body string) (string, error) {
	if !s.replicated {
		return body, nil
	}
	const engine = "ENGINE = ReplacingMergeTree("
	if strings.Count(body, engine) != 1 {
		return "", fmt.Errorf("table %s: body has no single %s…): cannot make it replicated", local, engine)
	}
	return strings.Replace(body, engine, fmt.Sprintf("ENGINE = ReplicatedReplacingMergeTree('%s', '{replica}', ",
		s.replicaPath(local)), 1), nil
}

// localSuffix names a table's local part in cluster mode.
const localSuffix = "_local"

// tables returns the tables that hold a logical table's rows or route them: the local table, and
// the Distributed table in cluster mode.
func (s schema) tables(table string) []string {
	if s.cluster == "" {
		return []string{table}
	}
	return []string{table + localSuffix, table}
}

// step is one idempotent schema change.
type step interface {
	apply(ctx context.Context, conn driver.Conn, s schema) error
}

// createTable creates a table from its columns and engine. In cluster mode it creates the table as
// <name>_local and a Distributed table <name> over the cluster's <name>_local tables, sharded by
// shardBy: a function of the ReplacingMergeTree's key, so that every version of a row lands on the
// same shard and FINAL stays exact.
type createTable struct {
	name, body, shardBy string
}

func (c createTable) apply(ctx context.Context, conn driver.Conn, s schema) error {
	if s.cluster == "" {
		return conn.Exec(ctx, fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s %s", s.db, c.name, c.body))
	}
	local := c.name + localSuffix
	body, err := s.localBody(local, c.body)
	if err != nil {
		return err
	}
	if err := conn.Exec(ctx, fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s %s", s.db, local, body)); err != nil {
		return err
	}
	return conn.Exec(ctx, fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s.%s AS %s.%s ENGINE = Distributed('%s', '%s', '%s', %s)",
		s.db, c.name, s.db, local, s.cluster, s.db, local, c.shardBy))
}

// addColumn adds a column unless the table has it: ALTER TABLE ... ADD COLUMN IF NOT EXISTS is a
// syntax error on ClickHouse 18.16. In cluster mode it adds it to the local and the Distributed table.
type addColumn struct {
	table, column, typ string
}

func (s addColumn) apply(ctx context.Context, conn driver.Conn, sc schema) error {
	for _, table := range sc.tables(s.table) {
		has, err := s.has(ctx, conn, sc, table)
		if err != nil {
			return err
		}
		if has { // a replica's local table gets the column through ZooKeeper; its Distributed one does not
			continue
		}
		if err := conn.Exec(ctx, fmt.Sprintf("ALTER TABLE %s.%s ADD COLUMN %s %s", sc.db, table, s.column, s.typ)); err != nil {
			// Another process migrating at the same moment may have added it between the look-up
			// and the ALTER ("column with this name already exists"): that is success.
			if has, herr := s.has(ctx, conn, sc, table); herr == nil && has {
				continue
			}
			return err
		}
	}
	return nil
}

// has reports whether table has the column.
func (s addColumn) has(ctx context.Context, conn driver.Conn, sc schema, table string) (bool, error) {
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.columns WHERE database = ? AND table = ? AND name = ?",
		sc.db, table, s.column).Scan(&n); err != nil {
		return false, fmt.Errorf("look up column %s.%s: %w", table, s.column, err)
	}
	return n > 0, nil
}

// migrate creates database sc.db and applies the migrations it lacks, recording each in
// schema_migrations. Running it again is a no-op.
func migrate(ctx context.Context, conn driver.Conn, sc schema, ms []migration, logger *slog.Logger) error {
	applied, err := prepareMigrations(ctx, conn, sc.db)
	if err != nil {
		return err
	}
	for _, m := range ms {
		if err := applyMigration(ctx, conn, sc, m, applied, logger); err != nil {
			return err
		}
	}
	warnNewer(applied, ms, sc.db, logger)
	return nil
}

// prepareMigrations creates database db and its schema_migrations table and returns the versions
// applied there.
func prepareMigrations(ctx context.Context, conn driver.Conn, db string) (map[uint32]bool, error) {
	if err := conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+db); err != nil {
		return nil, fmt.Errorf("create database %s: %w", db, err)
	}
	if err := conn.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+db+"."+TableSchemaMigrations+` (
	version UInt32,
	name String,
	applied_at DateTime('UTC')
) ENGINE = ReplacingMergeTree(applied_at) ORDER BY version`); err != nil {
		return nil, fmt.Errorf("create table %s: %w", TableSchemaMigrations, err)
	}
	return appliedMigrations(ctx, conn, db)
}

// applyMigration applies m unless applied says it was, and records it.
func applyMigration(ctx context.Context, conn driver.Conn, sc schema, m migration, applied map[uint32]bool, logger *slog.Logger) error {
	if applied[m.version] {
		return nil
	}
	for i, s := range m.steps {
		if err := s.apply(ctx, conn, sc); err != nil {
			return fmt.Errorf("migration %d (%s) step %d: %w", m.version, m.name, i+1, err)
		}
	}
	if err := recordMigration(ctx, conn, sc.db, m); err != nil {
		return fmt.Errorf("record migration %d: %w", m.version, err)
	}
	applied[m.version] = true
	logger.Info("clickhouse migration applied", "database", sc.db, "version", m.version, "name", m.name)
	return nil
}

func warnNewer(applied map[uint32]bool, ms []migration, db string, logger *slog.Logger) {
	var latest uint32
	for _, m := range ms {
		latest = max(latest, m.version)
	}
	for v := range applied {
		if v > latest {
			logger.Warn("clickhouse schema is newer than this binary", "database", db, "schema_version", v, "known_version", latest)
		}
	}
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
