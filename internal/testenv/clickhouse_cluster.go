package testenv

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// ClickHouseCluster starts shards private ClickHouse servers, one replica per shard, whose
// remote_servers config defines a cluster called name made of all of them (the servers need no
// ZooKeeper: distributed DDL, ON CLUSTER, is not available). It returns the servers, shard 1
// first; they stop at cleanup.
func ClickHouseCluster(t testing.TB, name string, shards int) []*ClickHouseServer {
	t.Helper()
	ports := make([]int, shards)
	var remote strings.Builder
	fmt.Fprintf(&remote, "<remote_servers><%s>", name)
	for i := range ports {
		ports[i] = FreePort(t)
		fmt.Fprintf(&remote, "<shard><replica><host>127.0.0.1</host><port>%d</port></replica></shard>", ports[i])
	}
	fmt.Fprintf(&remote, "</%s></remote_servers>", name)
	extra := make([]string, shards)
	for i := range extra {
		extra[i] = remote.String()
	}
	return startClickHouses(t, ports, extra)
}

// ClickHouseReplicas starts replicas private ClickHouse servers as the replicas of one shard of a
// cluster called name (internal_replication: a Distributed table writes to one replica and
// replication copies the rows), with the ZooKeeper at zk as their keeper and the macros {shard} = 1
// and {replica} = r1, r2, … that replicated tables' paths use. It returns the servers, r1 first;
// they stop at cleanup.
func ClickHouseReplicas(t testing.TB, name string, replicas int, zk string) []*ClickHouseServer {
	t.Helper()
	zkHost, zkPort, ok := strings.Cut(zk, ":")
	if !ok {
		t.Fatalf("ClickHouseReplicas: zookeeper address %q is not host:port", zk)
	}
	ports := make([]int, replicas)
	var remote strings.Builder
	fmt.Fprintf(&remote, "<remote_servers><%s><shard><internal_replication>true</internal_replication>", name)
	for i := range ports {
		ports[i] = FreePort(t)
		fmt.Fprintf(&remote, "<replica><host>127.0.0.1</host><port>%d</port></replica>", ports[i])
	}
	fmt.Fprintf(&remote, "</shard></%s></remote_servers>", name)
	fmt.Fprintf(&remote, "<zookeeper><node><host>%s</host><port>%s</port></node><session_timeout_ms>10000</session_timeout_ms></zookeeper>", zkHost, zkPort)
	// Replicas fetch parts from each other over the interserver HTTP port.
	remote.WriteString("<interserver_http_host>127.0.0.1</interserver_http_host>")
	extra := make([]string, replicas)
	for i := range extra {
		extra[i] = fmt.Sprintf("%s<interserver_http_port>%d</interserver_http_port><macros><shard>1</shard><replica>r%d</replica></macros>",
			remote.String(), FreePort(t), i+1)
	}
	return startClickHouses(t, ports, extra)
}

// startClickHouses starts one server per port, each with its extra config, stopped at cleanup.
func startClickHouses(t testing.TB, ports []int, extra []string) []*ClickHouseServer {
	t.Helper()
	bin, _ := lookBinary("clickhouse-server", "clickhouse")
	out := make([]*ClickHouseServer, len(ports))
	for i, port := range ports {
		s := startClickHouseWith(t, port, extra[i])
		if s.err != nil {
			if s.dir != "" {
				os.RemoveAll(s.dir)
			}
			unavailable(t, "clickhouse server %d of %d: %v", i+1, len(ports), s.err)
		}
		cs := &ClickHouseServer{Addr: s.addr, bin: bin, dir: s.dir, cmd: s.cmd}
		t.Cleanup(func() { cs.Stop(); os.RemoveAll(cs.dir) })
		out[i] = cs
	}
	return out
}
