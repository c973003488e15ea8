package chsink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Cluster mode. ClickHouse 18.16 runs ON CLUSTER DDL only with ZooKeeper (without it: "DDL
// background thread is not initialized"), and a keeper is optional here. So Open reads the
// cluster's hosts from system.clusters on the server it reached and runs the migrations on each
// host over its own connection: the local tables, the Distributed tables and schema_migrations
// (which stays local: each host records what it has applied, so a host added later is migrated
// by the next Open). Every step is idempotent, so concurrent Opens and a retry after a crash on
// any host are safe. With clickhouse.replicated the local tables are replicated: each replica
// creates its own table at the shard's ZooKeeper path, and a column added on one replica reaches
// the others through ZooKeeper (addColumn then finds it there and does nothing).

// migrateHost migrates one server and checks that its tables are laid out as sc says.
func migrateHost(ctx context.Context, conn driver.Conn, sc schema, logger *slog.Logger) error {
	if sc.replicated {
		if err := checkKeeper(ctx, conn); err != nil {
			return err
		}
	}
	if err := migrate(ctx, conn, sc, migrations, logger); err != nil {
		return err
	}
	return checkLayout(ctx, conn, sc)
}

// migrateCluster migrates every host of sc.cluster, as conn's server defines it, one migration at
// a time on every host before the next: a replicated table must be created on each replica with
// the structure its ZooKeeper path holds, so a replica may not create a table at migration 1's
// structure after another has altered it at migration 2.
func migrateCluster(ctx context.Context, conn driver.Conn, sc schema,
	dial func(context.Context, []string) (driver.Conn, error), logger *slog.Logger) error {
	hosts, err := clusterHosts(ctx, conn, sc.cluster)
	if err != nil {
		return err
	}
	conns := make([]driver.Conn, 0, len(hosts))
	defer func() {
		for _, hc := range conns {
			hc.Close()
		}
	}()
	applied := make([]map[uint32]bool, len(hosts))
	for i, h := range hosts {
		hc, err := dial(ctx, []string{h})
		if err != nil {
			return fmt.Errorf("cluster %s host %s: %w", sc.cluster, h, err)
		}
		conns = append(conns, hc)
		if sc.replicated {
			if err := checkKeeper(ctx, hc); err != nil {
				return fmt.Errorf("cluster %s host %s: %w", sc.cluster, h, err)
			}
		}
		if applied[i], err = prepareMigrations(ctx, hc, sc.db); err != nil {
			return fmt.Errorf("cluster %s host %s: %w", sc.cluster, h, err)
		}
	}
	for _, m := range migrations {
		for i, h := range hosts {
			if err := applyMigration(ctx, conns[i], sc, m, applied[i], logger.With("host", h)); err != nil {
				return fmt.Errorf("cluster %s host %s: %w", sc.cluster, h, err)
			}
		}
	}
	for i, h := range hosts {
		warnNewer(applied[i], migrations, sc.db, logger.With("host", h))
		if err := checkLayout(ctx, conns[i], sc); err != nil {
			return fmt.Errorf("cluster %s host %s: %w", sc.cluster, h, err)
		}
	}
	logger.Info("clickhouse cluster migrated", "cluster", sc.cluster, "hosts", hosts)
	return nil
}

// clusterHosts returns host:port of every replica of every shard of cluster.
func clusterHosts(ctx context.Context, conn driver.Conn, cluster string) ([]string, error) {
	rows, err := conn.Query(ctx, "SELECT host_name, port FROM system.clusters WHERE cluster = ? ORDER BY shard_num, replica_num", cluster)
	if err != nil {
		return nil, fmt.Errorf("read system.clusters: %w", err)
	}
	defer rows.Close()
	var hosts []string
	for rows.Next() {
		var (
			host string
			port uint16
		)
		if err := rows.Scan(&host, &port); err != nil {
			return nil, fmt.Errorf("read system.clusters: %w", err)
		}
		hosts = append(hosts, net.JoinHostPort(host, strconv.Itoa(int(port))))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read system.clusters: %w", err)
	}
	if len(hosts) == 0 {
		return nil, fmt.Errorf("clickhouse.cluster: %q is not a cluster of the server's remote_servers", cluster)
	}
	return hosts, nil
}

// checkLayout refuses a database laid out for the other mode: a single-server database opened in
// cluster mode (or the reverse) would have its migrations recorded and its tables in place, and
// rows would go where no query of the other mode looks.
func checkLayout(ctx context.Context, conn driver.Conn, sc schema) error {
	rows, err := conn.Query(ctx, "SELECT name, engine FROM system.tables WHERE database = ?", sc.db)
	if err != nil {
		return fmt.Errorf("read system.tables: %w", err)
	}
	defer rows.Close()
	engines := map[string]string{}
	for rows.Next() {
		var name, engine string
		if err := rows.Scan(&name, &engine); err != nil {
			return fmt.Errorf("read system.tables: %w", err)
		}
		engines[name] = engine
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read system.tables: %w", err)
	}
	for _, t := range createdTables() {
		distributed := engines[t] == "Distributed"
		if distributed != (sc.cluster != "") {
			return fmt.Errorf("table %s.%s has engine %s, but clickhouse.cluster is %q: a database is either on one server or on a cluster; use another database",
				sc.db, t, engines[t], sc.cluster)
		}
		if sc.cluster == "" {
			continue
		}
		local := t + localSuffix
		if replicated := strings.HasPrefix(engines[local], "Replicated"); replicated != sc.replicated {
			return fmt.Errorf("table %s.%s has engine %s, but clickhouse.replicated is %t: a database's tables are either all replicated or none; use another database",
				sc.db, local, engines[local], sc.replicated)
		}
	}
	return nil
}

// checkKeeper fails unless the server has a ZooKeeper and the {shard} and {replica} macros that
// replicated tables need: without them CREATE fails with an error that names neither the
// setting nor the host.
func checkKeeper(ctx context.Context, conn driver.Conn) error {
	var n uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.zookeeper WHERE path = '/'").Scan(&n); err != nil {
		return fmt.Errorf("clickhouse.replicated: the server has no working ZooKeeper (its <zookeeper> config section): %w", err)
	}
	rows, err := conn.Query(ctx, "SELECT macro FROM system.macros WHERE macro IN ('shard', 'replica')")
	if err != nil {
		return fmt.Errorf("read system.macros: %w", err)
	}
	defer rows.Close()
	have := map[string]bool{}
	for rows.Next() {
		var m string
		if err := rows.Scan(&m); err != nil {
			return fmt.Errorf("read system.macros: %w", err)
		}
		have[m] = true
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read system.macros: %w", err)
	}
	if !have["shard"] || !have["replica"] {
		return errors.New("clickhouse.replicated: the server lacks the shard and replica macros (its <macros> config section) that replicated tables' paths use")
	}
	return nil
}

// createdTables lists the tables the migrations create.
func createdTables() []string {
	var out []string
	for _, m := range migrations {
		for _, s := range m.steps {
			if c, ok := s.(createTable); ok {
				out = append(out, c.name)
			}
		}
	}
	return out
}
