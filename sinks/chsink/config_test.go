package chsink_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/streamlearn/streamlearn/internal/testenv"
	"github.com/streamlearn/streamlearn/sinks/chsink"
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
		{"a cluster", func(c *chsink.Config) { c.Cluster = "sl-prod.eu_1" }, ""},
		{"cluster name with a quote", func(c *chsink.Config) { c.Cluster = "x', 'y" }, "clickhouse.cluster"},
		{"replicated cluster", func(c *chsink.Config) { c.Cluster, c.Replicated = "sl", true }, ""},
		{"replicated without a cluster", func(c *chsink.Config) { c.Replicated = true }, "clickhouse.replicated: needs clickhouse.cluster"},
		{"empty address", func(c *chsink.Config) { c.Addr = []string{""} }, "clickhouse.addr[0]"},
		{"ca file without tls", func(c *chsink.Config) { c.TLSCAFile = "ca.pem" }, "clickhouse.tls_ca_file"},
		{"negative batch", func(c *chsink.Config) { c.BatchRows = -1 }, "clickhouse.batch_rows"},
		{"negative interval", func(c *chsink.Config) { c.FlushInterval = -time.Second }, "clickhouse.flush_interval"},
		{"bound below batch", func(c *chsink.Config) { c.MaxBufferedRows = 10 }, "clickhouse.max_buffered_rows"},
		{"password and its file", func(c *chsink.Config) { c.Password, c.PasswordFile = "a", "pw" }, "clickhouse.password_file"},
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
	withPassword := chsink.DefaultConfig()
	withPassword.Password = "s3cret-pw"
	withFile := chsink.DefaultConfig()
	withFile.PasswordFile = writeFile(t, "pw", "s3cret-pw\n")
	tests := []struct {
		name string
		log  func(*bytes.Buffer, chsink.Config)
	}{
		{"json", func(b *bytes.Buffer, c chsink.Config) {
			slog.New(slog.NewJSONHandler(b, nil)).Info("open", "config", c)
		}},
		{"text", func(b *bytes.Buffer, c chsink.Config) {
			slog.New(slog.NewTextHandler(b, nil)).Info("open", "config", c)
		}},
		{"fmt", func(b *bytes.Buffer, c chsink.Config) { fmt.Fprintf(b, "%v %+v %s", c, c, c) }},
	}
	for _, tt := range tests {
		for _, cfg := range []chsink.Config{withPassword, withFile} {
			t.Run(tt.name, func(t *testing.T) {
				var buf bytes.Buffer
				tt.log(&buf, cfg)
				if strings.Contains(buf.String(), "s3cret-pw") {
					t.Errorf("log contains the password: %s", buf.String())
				}
				if tt.name != "fmt" && !strings.Contains(buf.String(), "password_set") {
					t.Errorf("log does not say whether a password is set: %s", buf.String())
				}
			})
		}
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestOpenRejectsEmptyPasswordFile(t *testing.T) {
	cfg := chsink.DefaultConfig()
	cfg.PasswordFile = writeFile(t, "pw", " \n")
	_, err := chsink.Open(context.Background(), cfg, quietLogger(), nil)
	if err == nil || !strings.Contains(err.Error(), cfg.PasswordFile) || !strings.Contains(err.Error(), "empty") {
		t.Errorf("Open with an empty password file = %v, want an error naming the file", err)
	}
}

// TestOpenUsesPasswordFile opens with the password of a file: the test server's user has none, so
// a password from the file fails, and neither the error nor the log shows it.
func TestOpenUsesPasswordFile(t *testing.T) {
	addr := testenv.ClickHouse(t)
	cfg := testConfig(t, addr)
	cfg.PasswordFile = writeFile(t, "pw", "wrong-s3cret\n")
	var log bytes.Buffer
	w, err := chsink.Open(testenv.Context(t, time.Minute), cfg, slog.New(slog.NewTextHandler(&log, nil)), nil)
	if err == nil {
		w.Close()
		t.Fatal("Open with a wrong password from password_file succeeded")
	}
	if strings.Contains(err.Error()+log.String(), "wrong-s3cret") {
		t.Errorf("the password shows: error %v, log %s", err, log.String())
	}
	cfg.PasswordFile = ""
	open(t, cfg, nil) // the same config without the password opens
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
