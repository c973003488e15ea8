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
	bin, _ := lookBinary("clickhouse-server", "clickhouse")
	out := make([]*ClickHouseServer, shards)
	for i, port := range ports {
		s := startClickHouseWith(t, port, remote.String())
		if s.err != nil {
			if s.dir != "" {
				os.RemoveAll(s.dir)
			}
			unavailable(t, "clickhouse shard %d: %v", i+1, s.err)
		}
		cs := &ClickHouseServer{Addr: s.addr, bin: bin, dir: s.dir, cmd: s.cmd}
		t.Cleanup(func() { cs.Stop(); os.RemoveAll(cs.dir) })
		out[i] = cs
	}
	return out
}
