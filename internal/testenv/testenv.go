// Package testenv starts the real servers that tests talk to: private redis-server,
// clickhouse-server and (for ClickHouse's replicated tables) ZooKeeper processes on free loopback
// ports in temporary directories, and an embedded Kafka-protocol broker (franz-go's kfake) on a
// real TCP port.
//
// Servers are shared by all tests of one test binary: the first caller starts them and Main stops
// them when the binary's tests are done (the processes also die with the test binary). Tests keep
// out of each other's way with their own Redis key prefixes, ClickHouse databases and Kafka topics.
//
// Addresses in the environment win over private servers: STREAMLEARN_TEST_REDIS,
// STREAMLEARN_TEST_CLICKHOUSE (host:port of the native protocol), STREAMLEARN_TEST_ZOOKEEPER. Without them, the installed
// binaries are used. When a binary is missing the test is skipped, except under CI (CI=true), where a
// missing server fails the test: CI must never pass by skipping.
package testenv

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	mu      sync.Mutex
	servers = map[string]*server{}
)

type server struct {
	addr string
	cmd  *exec.Cmd
	dir  string
	err  error
}

// Main runs the tests of a package and then stops the servers they started. Use it from TestMain:
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	StopAll()
	os.Exit(code)
}

// StopAll stops every server this process started.
func StopAll() {
	mu.Lock()
	defer mu.Unlock()
	for name, s := range servers {
		if s.cmd != nil && s.cmd.Process != nil {
			StopProcess(s.cmd, 5*time.Second)
		}
		if s.dir != "" {
			_ = os.RemoveAll(s.dir)
		}
		delete(servers, name)
	}
}

// InCI reports whether the tests run under CI, where missing servers fail instead of skip.
func InCI() bool { return os.Getenv("CI") == "true" }

func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if InCI() {
		t.Fatalf("%s (CI=true: a missing server fails the run)", msg)
	}
	t.Skipf("%s; install it or set the address in the environment", msg)
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Redis returns the address of a Redis server for tests.
func Redis(t testing.TB) string {
	t.Helper()
	if addr := os.Getenv("STREAMLEARN_TEST_REDIS"); addr != "" {
		return addr
	}
	return shared(t, "redis", startRedis)
}

// StartRedis starts a private, empty Redis server owned by the calling test (stopped at cleanup)
// and returns its address: a "fresh Redis" beside the shared one.
func StartRedis(t testing.TB) string {
	t.Helper()
	s := startRedis(t)
	t.Cleanup(func() {
		if s.cmd != nil {
			StopProcess(s.cmd, 5*time.Second)
		}
		os.RemoveAll(s.dir)
	})
	if s.err != nil {
		unavailable(t, "redis: %v", s.err)
	}
	return s.addr
}

// ClickHouse returns the native-protocol address of a ClickHouse server for tests.
func ClickHouse(t testing.TB) string {
	t.Helper()
	if addr := os.Getenv("STREAMLEARN_TEST_CLICKHOUSE"); addr != "" {
		return addr
	}
	return shared(t, "clickhouse", startClickHouse)
}

func shared(t testing.TB, name string, start func(t testing.TB) *server) string {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	s, ok := servers[name]
	if !ok {
		s = start(t)
		servers[name] = s
	}
	if s.err != nil {
		unavailable(t, "%s: %v", name, s.err)
	}
	return s.addr
}

// Tool returns the path of an installed program, the first of names found, for tests that run it
// (promtool, say). Without it the test is skipped, except under CI, where it fails:
// scripts/install-deps.sh installs what the tests need.
func Tool(t testing.TB, names ...string) string {
	t.Helper()
	p, err := lookBinary(names...)
	if err != nil {
		unavailable(t, "%v", err)
	}
	return p
}

func lookBinary(names ...string) (string, error) {
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
		for _, dir := range []string{"/usr/sbin", "/usr/bin", "/usr/local/bin"} {
			p := filepath.Join(dir, n)
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("%s not installed", strings.Join(names, " or "))
}

func startProcess(bin string, dir string, args ...string) (*exec.Cmd, error) {
	return startProcessEnv(bin, dir, nil, args...)
}

// startProcessEnv starts bin in dir with env added to this process's environment, its output in
// dir/stdout.log.
func startProcessEnv(bin string, dir string, env []string, args ...string) (*exec.Cmd, error) {
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	out, err := os.Create(filepath.Join(dir, "stdout.log"))
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = out, out
	// The server dies with the test binary even when the binary is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return cmd, nil
}

func waitTCP(addr string, timeout time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			if check == nil {
				return nil
			}
			if last = check(); last == nil {
				return nil
			}
		} else {
			last = err
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("not reachable at %s after %s: %v", addr, timeout, last)
}

func startRedis(t testing.TB) *server {
	bin, err := lookBinary("redis-server")
	if err != nil {
		return &server{err: err}
	}
	dir, err := os.MkdirTemp("", "streamlearn-redis-")
	if err != nil {
		return &server{err: err}
	}
	port := FreePort(t)
	cmd, err := startProcess(bin, dir, "--port", fmt.Sprint(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir, "--protected-mode", "no")
	if err != nil {
		return &server{err: err, dir: dir}
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	s := &server{addr: addr, cmd: cmd, dir: dir}
	if err := waitTCP(addr, 10*time.Second, nil); err != nil {
		s.err = fmt.Errorf("redis-server: %w (log in %s)", err, dir)
	}
	return s
}

const clickhouseConfig = `<yandex>
  <logger><level>warning</level><log>{{dir}}/server.log</log><errorlog>{{dir}}/server.err.log</errorlog><console>0</console></logger>
  <tcp_port>{{tcp}}</tcp_port>
  <http_port>{{http}}</http_port>
  <listen_host>127.0.0.1</listen_host>
  <path>{{dir}}/data/</path>
  <tmp_path>{{dir}}/tmp/</tmp_path>
  <user_files_path>{{dir}}/user_files/</user_files_path>
  <format_schema_path>{{dir}}/format_schemas/</format_schema_path>
  <users_config>{{dir}}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>268435456</mark_cache_size>
  <max_concurrent_queries>100</max_concurrent_queries>
</yandex>
`

const clickhouseUsers = `<yandex>
  <profiles><default><max_memory_usage>4000000000</max_memory_usage></default></profiles>
  <users><default><password></password><networks><ip>::/0</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
`

// ClickHouseServer is a private clickhouse-server process that a test controls, for tests that stop
// and restart ClickHouse under a running pipeline.
type ClickHouseServer struct {
	Addr string
	bin  string
	dir  string
	cmd  *exec.Cmd
}

// StartClickHouse starts a private ClickHouse server owned by the calling test, stopped at cleanup.
func StartClickHouse(t testing.TB) *ClickHouseServer {
	t.Helper()
	s := startClickHouse(t)
	if s.err != nil {
		if s.dir != "" {
			os.RemoveAll(s.dir)
		}
		unavailable(t, "clickhouse: %v", s.err)
	}
	bin, _ := lookBinary("clickhouse-server", "clickhouse")
	cs := &ClickHouseServer{Addr: s.addr, bin: bin, dir: s.dir, cmd: s.cmd}
	t.Cleanup(func() { cs.Stop(); os.RemoveAll(cs.dir) })
	return cs
}

// Stop stops the server and waits for it to exit; its data stays for Start.
func (s *ClickHouseServer) Stop() {
	if s.cmd == nil {
		return
	}
	StopProcess(s.cmd, 10*time.Second)
	s.cmd = nil
}

// StopProcess stops a server the way its operator would, SIGTERM, and waits for it to exit; past
// grace it is killed.
func StopProcess(cmd *exec.Cmd, grace time.Duration) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		_ = cmd.Process.Kill()
		<-done
	}
}

// Start starts a stopped server again on the same port and data directory.
func (s *ClickHouseServer) Start() error {
	if s.cmd != nil {
		return nil
	}
	cmd, err := clickhouseCommand(s.bin, s.dir)
	if err != nil {
		return err
	}
	s.cmd = cmd
	return waitTCP(s.Addr, 30*time.Second, nil)
}

func clickhouseCommand(bin, dir string) (*exec.Cmd, error) {
	args := []string{"--config-file=" + filepath.Join(dir, "config.xml")}
	if filepath.Base(bin) == "clickhouse" {
		args = append([]string{"server"}, args...)
	}
	return startProcess(bin, dir, args...)
}

func startClickHouse(t testing.TB) *server {
	return startClickHouseWith(t, FreePort(t), "")
}

// startClickHouseWith starts a server on native port tcp with extra XML in its config.
func startClickHouseWith(t testing.TB, tcp int, extra string) *server {
	bin, err := lookBinary("clickhouse-server", "clickhouse")
	if err != nil {
		return &server{err: err}
	}
	dir, err := os.MkdirTemp("", "streamlearn-clickhouse-")
	if err != nil {
		return &server{err: err}
	}
	http := FreePort(t)
	cfg := strings.NewReplacer("{{dir}}", dir, "{{tcp}}", fmt.Sprint(tcp), "{{http}}", fmt.Sprint(http),
		"</yandex>", extra+"</yandex>").Replace(clickhouseConfig)
	if err := os.WriteFile(filepath.Join(dir, "config.xml"), []byte(cfg), 0o600); err != nil {
		return &server{err: err, dir: dir}
	}
	if err := os.WriteFile(filepath.Join(dir, "users.xml"), []byte(clickhouseUsers), 0o600); err != nil {
		return &server{err: err, dir: dir}
	}
	cmd, err := clickhouseCommand(bin, dir)
	if err != nil {
		return &server{err: err, dir: dir}
	}
	addr := fmt.Sprintf("127.0.0.1:%d", tcp)
	s := &server{addr: addr, cmd: cmd, dir: dir}
	if err := waitTCP(addr, 30*time.Second, nil); err != nil {
		s.err = fmt.Errorf("clickhouse-server: %w (logs in %s)", err, dir)
	}
	return s
}

// Context returns a context that ends with the test or after d.
func Context(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
