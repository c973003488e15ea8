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
	return StartRedisCluster(t, n, "--appendonly", "no").Addrs()
}

// ClusterNode is one master of a cluster from StartRedisCluster, which a test can stop and start
// again on its port, nodes.conf and data.
type ClusterNode struct {
	Addr string
	bin  string
	dir  string
	args []string
	cmd  *exec.Cmd
}

// RedisClusterServer is a Redis Cluster owned by one test.
type RedisClusterServer struct {
	Nodes []*ClusterNode
	cli   string
}

// Addrs returns the nodes' addresses.
func (c *RedisClusterServer) Addrs() []string {
	out := make([]string, len(c.Nodes))
	for i, nd := range c.Nodes {
		out[i] = nd.Addr
	}
	return out
}

// StartRedisCluster starts a Redis Cluster of n masters (n ≥ 3, no replicas) from redis-server,
// owned by the calling test and stopped at its cleanup. Each node keeps nodes.conf in its own
// directory, with an append-only file (appendfsync always) unless extra says otherwise, so that
// a node stopped and started again keeps its slots and keys.
func StartRedisCluster(t testing.TB, n int, extra ...string) *RedisClusterServer {
	t.Helper()
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
	c := &RedisClusterServer{cli: cli}
	for range n {
		dir, err := os.MkdirTemp("", "streamlearn-redis-cluster-")
		if err != nil {
			t.Fatalf("redis cluster: %v", err)
		}
		port := clusterPort(t)
		nd := &ClusterNode{Addr: fmt.Sprintf("127.0.0.1:%d", port), bin: bin, dir: dir}
		nd.args = append([]string{"--port", fmt.Sprint(port), "--bind", "127.0.0.1",
			"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "5000",
			"--save", "", "--appendonly", "yes", "--appendfsync", "always", "--dir", dir, "--protected-mode", "no"}, extra...)
		t.Cleanup(func() { nd.Stop(); os.RemoveAll(dir) })
		if err := nd.start(); err != nil {
			t.Fatalf("redis cluster node: %v (log in %s)", err, dir)
		}
		c.Nodes = append(c.Nodes, nd)
	}
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	if err := c.WaitOK(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	return c
}

// WaitOK waits until every node reports cluster_state:ok.
func (c *RedisClusterServer) WaitOK(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for _, nd := range c.Nodes {
		host, port, _ := net.SplitHostPort(nd.Addr)
		for {
			out, err := exec.Command(c.cli, "-h", host, "-p", port, "cluster", "info").Output()
			if err == nil && strings.Contains(string(out), "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("redis cluster: %s not ok after %s: %v\n%s", nd.Addr, timeout, err, out)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return nil
}

func (nd *ClusterNode) start() error {
	cmd, err := startProcess(nd.bin, nd.dir, nd.args...)
	if err != nil {
		return fmt.Errorf("start node: %w", err)
	}
	nd.cmd = cmd
	return waitTCP(nd.Addr, 10*time.Second, nil)
}

// Stop shuts the node down with SIGTERM (it writes its append-only file) and waits.
func (nd *ClusterNode) Stop() {
	if nd.cmd == nil {
		return
	}
	stopNode(nd.cmd)
	nd.cmd = nil
}

// Start starts a stopped node again on its port, nodes.conf and data.
func (nd *ClusterNode) Start() error {
	if nd.cmd != nil {
		return nil
	}
	return nd.start()
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
