package chsink

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"github.com/streamlearn/streamlearn/internal/secrets"
)

// Config configures a Writer. Zero values take the defaults of DefaultConfig.
type Config struct {
	// Addr lists host:port addresses of the native protocol (port 9000 by default, 9440 with TLS).
	Addr []string `yaml:"addr"`
	// Database holds the tables; Open creates it. Default "streamlearn".
	Database string `yaml:"database"`
	// Cluster, when set, names a cluster of the servers' remote_servers config: Open creates every
	// table on each of its hosts as <table>_local, with a Distributed table <table> over them
	// sharded by the table's deduplication key, and inserts through the Distributed tables with
	// insert_distributed_sync=1. Addr then needs only one host of the cluster. No ZooKeeper is
	// needed (Open does not use ON CLUSTER). Default "": a single server.
	Cluster string `yaml:"cluster"`
	// Replicated, with Cluster, makes each <table>_local a ReplicatedReplacingMergeTree at the
	// ZooKeeper path /clickhouse/tables/{shard}/<database>/<table>_local, replica {replica}: every
	// host needs a <zookeeper> section and the shard and replica macros, and the cluster's shards
	// internal_replication. Open checks both on every host. Default false.
	Replicated bool `yaml:"replicated"`
	// Username and Password authenticate; the password is never logged. Default user "default".
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// PasswordFile, instead of Password, names a file that holds the password (white space around it
	// is ignored; an empty file is an error). Open reads it.
	PasswordFile string `yaml:"password_file"`
	// TLS enables TLS; TLSCAFile is a PEM file of CAs to trust instead of the system pool.
	TLS                   bool   `yaml:"tls"`
	TLSCAFile             string `yaml:"tls_ca_file"`
	TLSInsecureSkipVerify bool   `yaml:"tls_insecure_skip_verify"`
	// BatchRows buffered rows make Run flush before FlushInterval is up. Default 10000.
	BatchRows int `yaml:"batch_rows"`
	// FlushInterval is how often Run flushes. Default 1s.
	FlushInterval time.Duration `yaml:"flush_interval"`
	// MaxBufferedRows bounds the rows held in memory, across tables, while ClickHouse is slow or down;
	// at the bound Add blocks until a flush makes room (backpressure). Rows are never dropped.
	// Default 1000000.
	MaxBufferedRows int `yaml:"max_buffered_rows"`
	// CloseTimeout bounds the final flush of Close and of Run. Default 10s.
	CloseTimeout time.Duration `yaml:"close_timeout"`
	// DialTimeout bounds connecting to a server. Default 5s.
	DialTimeout time.Duration `yaml:"dial_timeout"`
}

// DefaultConfig returns the configuration for a local server.
func DefaultConfig() Config {
	return Config{
		Addr:            []string{"127.0.0.1:9000"},
		Database:        "streamlearn",
		Username:        "default",
		BatchRows:       10_000,
		FlushInterval:   time.Second,
		MaxBufferedRows: 1_000_000,
		CloseTimeout:    10 * time.Second,
		DialTimeout:     5 * time.Second,
	}
}

// withDefaults fills the zero fields of c from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if len(c.Addr) == 0 {
		c.Addr = d.Addr
	}
	if c.Database == "" {
		c.Database = d.Database
	}
	if c.Username == "" {
		c.Username = d.Username
	}
	if c.BatchRows == 0 {
		c.BatchRows = d.BatchRows
	}
	if c.FlushInterval == 0 {
		c.FlushInterval = d.FlushInterval
	}
	if c.MaxBufferedRows == 0 {
		c.MaxBufferedRows = d.MaxBufferedRows
	}
	if c.CloseTimeout == 0 {
		c.CloseTimeout = d.CloseTimeout
	}
	if c.DialTimeout == 0 {
		c.DialTimeout = d.DialTimeout
	}
	return c
}

// identifier is what Database may be: it is spliced into DDL and queries unquoted.
var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// clusterName is what Cluster may be: it is spliced into DDL as a quoted string.
var clusterName = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// Validate reports every invalid field. Zero values are valid: they mean the defaults.
func (c Config) Validate() error {
	var errs []error
	for i, a := range c.Addr {
		if a == "" {
			errs = append(errs, fmt.Errorf("clickhouse.addr[%d]: empty address", i))
		}
	}
	if c.Database != "" && !identifier.MatchString(c.Database) {
		errs = append(errs, fmt.Errorf("clickhouse.database: %q is not an identifier ([A-Za-z_][A-Za-z0-9_]*)", c.Database))
	}
	if c.Cluster != "" && !clusterName.MatchString(c.Cluster) {
		errs = append(errs, fmt.Errorf("clickhouse.cluster: %q is not a cluster name ([A-Za-z0-9_.-]+)", c.Cluster))
	}
	if c.Replicated && c.Cluster == "" {
		errs = append(errs, errors.New("clickhouse.replicated: needs clickhouse.cluster (replicas are the hosts of a cluster's shards)"))
	}
	if c.Password != "" && c.PasswordFile != "" {
		errs = append(errs, errors.New("clickhouse.password, clickhouse.password_file: set one, not both"))
	}
	if c.TLSCAFile != "" && !c.TLS {
		errs = append(errs, errors.New("clickhouse.tls_ca_file: set but tls is off"))
	}
	if c.BatchRows < 0 {
		errs = append(errs, fmt.Errorf("clickhouse.batch_rows: %d is negative", c.BatchRows))
	}
	if c.FlushInterval < 0 {
		errs = append(errs, fmt.Errorf("clickhouse.flush_interval: %s is negative", c.FlushInterval))
	}
	if c.MaxBufferedRows < 0 {
		errs = append(errs, fmt.Errorf("clickhouse.max_buffered_rows: %d is negative", c.MaxBufferedRows))
	}
	if c.BatchRows > 0 && c.MaxBufferedRows > 0 && c.MaxBufferedRows < c.BatchRows {
		errs = append(errs, fmt.Errorf("clickhouse.max_buffered_rows: %d is below batch_rows %d", c.MaxBufferedRows, c.BatchRows))
	}
	if c.CloseTimeout < 0 {
		errs = append(errs, fmt.Errorf("clickhouse.close_timeout: %s is negative", c.CloseTimeout))
	}
	if c.DialTimeout < 0 {
		errs = append(errs, fmt.Errorf("clickhouse.dial_timeout: %s is negative", c.DialTimeout))
	}
	return errors.Join(errs...)
}

// LogValue keeps the password out of logs.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Any("addr", c.Addr),
		slog.String("database", c.Database),
		slog.String("cluster", c.Cluster),
		slog.Bool("replicated", c.Replicated),
		slog.String("username", c.Username),
		slog.Bool("password_set", c.Password != "" || c.PasswordFile != ""),
		slog.String("password_file", c.PasswordFile),
		slog.Bool("tls", c.TLS),
		slog.Int("batch_rows", c.BatchRows),
		slog.Duration("flush_interval", c.FlushInterval),
		slog.Int("max_buffered_rows", c.MaxBufferedRows),
	)
}

// String keeps the password out of fmt's verbs.
func (c Config) String() string {
	if c.Password != "" {
		c.Password = "[redacted]"
	}
	type plain Config // without the String method
	return fmt.Sprintf("%+v", plain(c))
}

// password returns Password, or the content of PasswordFile.
func (c Config) password() (string, error) {
	if c.PasswordFile == "" {
		return c.Password, nil
	}
	p, err := secrets.ReadFile(c.PasswordFile)
	if err != nil {
		return "", fmt.Errorf("clickhouse.password_file: %w", err)
	}
	return p, nil
}

// tlsConfig returns nil when TLS is off.
func (c Config) tlsConfig() (*tls.Config, error) {
	if !c.TLS {
		return nil, nil
	}
	tc, err := secrets.ClientTLS(secrets.TLSFiles{CAFile: c.TLSCAFile, InsecureSkipVerify: c.TLSInsecureSkipVerify})
	if err != nil {
		return nil, fmt.Errorf("clickhouse.tls_ca_file: %w", err)
	}
	return tc, nil
}
