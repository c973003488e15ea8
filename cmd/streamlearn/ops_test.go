package main_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/streamlearn/streamlearn/internal/testenv"
)

// TestOpsAddrOfARole runs roles without the HTTP API with http.ops_addr set: each serves
// /healthz, /readyz and /metrics there (what the deploy files probe and scrape), not the API.
func TestOpsAddrOfARole(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := build(t)
	for _, role := range []string{"learner", "drift", "ingest"} {
		t.Run(role, func(t *testing.T) {
			ops := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
			cfgFile := filepath.Join(t.TempDir(), "streamlearn.yaml")
			cfg := fmt.Sprintf("redis:\n  key_prefix: \"opstest:%d:\"\nclickhouse:\n  database: opstest_%d\nhttp:\n  ops_addr: %s\n",
				time.Now().UnixNano(), time.Now().UnixNano()%1e9, ops)
			if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
				t.Fatal(err)
			}
			stderr := &syncBuffer{}
			cmd := exec.Command(bin, role, "--config", cfgFile, "--embedded-kafka", fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)),
				"--redis", testenv.Redis(t), "--clickhouse", testenv.ClickHouse(t))
			cmd.Stderr = stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
			waitStatus(t, "http://"+ops+"/readyz", 200, 60*time.Second, stderr)
			for _, c := range []struct {
				path, want string
				code       int
			}{
				{"/healthz", `"ok"`, 200},
				{"/metrics", "streamlearn_", 200},
				{"/v1/models", "", 404},
			} {
				code, body := get(t, "http://"+ops+c.path)
				if code != c.code || !strings.Contains(body, c.want) {
					t.Errorf("GET %s = %d %.200q, want %d with %q", c.path, code, body, c.code, c.want)
				}
			}
		})
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func waitStatus(t *testing.T, url string, code int, d time.Duration, log *syncBuffer) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == code {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer %d within %s; log:\n%s", url, code, d, log.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}
