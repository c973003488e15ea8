package clickhouse_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	chsink "github.com/streamlearn/streamlearn/sinks/clickhouse"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*chsink.Config)
		wantErr string
	}{
		{"default", func(*chsink.Config) {}, ""},
		{"zero values mean defaults", func(c *chsink.Config) { *c = chsink.Config{} }, ""},
		{"database not an identifier", func(c *chsink.Config) { c.Database = "a; DROP TABLE x" }, "clickhouse.database"},
		{"empty address", func(c *chsink.Config) { c.Addr = []string{""} }, "clickhouse.addr[0]"},
		{"ca file without tls", func(c *chsink.Config) { c.TLSCAFile = "ca.pem" }, "clickhouse.tls_ca_file"},
		{"negative batch", func(c *chsink.Config) { c.BatchRows = -1 }, "clickhouse.batch_rows"},
		{"negative interval", func(c *chsink.Config) { c.FlushInterval = -time.Second }, "clickhouse.flush_interval"},
		{"bound below batch", func(c *chsink.Config) { c.MaxBufferedRows = 10 }, "clickhouse.max_buffered_rows"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := chsink.DefaultConfig()
			tt.edit(&cfg)
			err := cfg.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("Validate() = %v, want an error about %s", err, tt.wantErr)
			}
		})
	}
}

func TestDefaultConfig(t *testing.T) {
	cfg := chsink.DefaultConfig()
	if cfg.Database != "streamlearn" || cfg.BatchRows != 10_000 || cfg.FlushInterval != time.Second || cfg.MaxBufferedRows != 1_000_000 {
		t.Errorf("DefaultConfig() = %+v", cfg)
	}
}

func TestPasswordNotLogged(t *testing.T) {
	var buf bytes.Buffer
	cfg := chsink.DefaultConfig()
	cfg.Password = "s3cret-pw"
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("open", "config", cfg)
	if strings.Contains(buf.String(), "s3cret-pw") {
		t.Errorf("log contains the password: %s", buf.String())
	}
	if !strings.Contains(buf.String(), `"password_set":true`) {
		t.Errorf("log does not say a password is set: %s", buf.String())
	}
}

func TestOpenRejectsBadTLSCA(t *testing.T) {
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := chsink.DefaultConfig()
	cfg.TLS, cfg.TLSCAFile = true, ca
	_, err := chsink.Open(context.Background(), cfg, quietLogger(), nil)
	if err == nil || !strings.Contains(err.Error(), "no PEM certificates") {
		t.Errorf("Open with a bad CA file = %v, want a PEM error", err)
	}
}
