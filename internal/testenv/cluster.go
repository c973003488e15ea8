package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// RedisCluster starts a Redis Cluster of n masters (n ≥ 3, no replicas) from redis-server, owned by
// the calling test and stopped at its cleanup, and returns the nodes' addresses. With
// STREAMLEARN_TEST_REDIS_CLUSTER set (comma-separated host:port seeds), those are returned instead.
func RedisCluster(t testing.TB, n int) []string {
	t.Helper()
	if env := os.Getenv("STREAMLEARN_TEST_REDIS_CLUSTER"); env != "" {
		return strings.Split(env, ",")
	}
	if n < 3 {
		t.Fatalf("RedisCluster: %d nodes; a cluster needs at least 3 masters", n)
	}
	bin, err := lookBinary("redis-server")
	if err != nil {
		unavailable(t, "redis cluster: %v", err)
	}
	cli, err := lookBinary("redis-cli")
	if err != nil {
		unavailable(t, "redis cluster: %v", err)
	}
	addrs := make([]string, n)
	for i := range n {
		dir, err := os.MkdirTemp("", "streamlearn-redis-cluster-")
		if err != nil {
			t.Fatalf("redis cluster: %v", err)
		}
		port := clusterPort(t)
		cmd, err := startProcess(bin, dir, "--port", fmt.Sprint(port), "--bind", "127.0.0.1",
			"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "5000",
			"--save", "", "--appendonly", "no", "--dir", dir, "--protected-mode", "no")
		if err != nil {
			os.RemoveAll(dir)
			t.Fatalf("redis cluster: start node: %v", err)
		}
		t.Cleanup(func() { stopNode(cmd); os.RemoveAll(dir) })
		addrs[i] = fmt.Sprintf("127.0.0.1:%d", port)
		if err := waitTCP(addrs[i], 10*time.Second, nil); err != nil {
			t.Fatalf("redis cluster node: %v (log in %s)", err, dir)
		}
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, addr := range addrs {
		host, port, _ := net.SplitHostPort(addr)
		for {
			out, err := exec.Command(cli, "-h", host, "-p", port, "cluster", "info").Output()
			if err == nil && strings.Contains(string(out), "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("redis cluster: %s not ok after 20s: %v\n%s", addr, err, out)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return addrs
}

// clusterPort returns a free port whose cluster bus port (port+10000) is free as well.
func clusterPort(t testing.TB) int {
	t.Helper()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("free port: %v", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		if port+10000 > 65535 {
			l.Close()
			continue
		}
		bus, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port+10000))
		l.Close()
		if err != nil {
			continue
		}
		bus.Close()
		return port
	}
	t.Fatal("no free port pair for a redis cluster node")
	return 0
}

func stopNode(cmd *exec.Cmd) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}
