package testenv

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// ZooKeeper returns the address of a ZooKeeper server for tests that need a keeper (ClickHouse's
// replicated tables): STREAMLEARN_TEST_ZOOKEEPER when set, else a private server from Debian's
// zookeeper package, started on first use and shared by the test binary like Redis and ClickHouse.
func ZooKeeper(t testing.TB) string {
	t.Helper()
	if addr := os.Getenv("STREAMLEARN_TEST_ZOOKEEPER"); addr != "" {
		return addr
	}
	return shared(t, "zookeeper", startZooKeeper)
}

// zkServerScripts are where zkServer.sh lives: Debian's package, then an Apache tarball on PATH.
var zkServerScripts = []string{"/usr/share/zookeeper/bin/zkServer.sh", "zkServer.sh"}

const zooConfig = `tickTime=500
initLimit=10
syncLimit=5
dataDir={{dir}}/data
clientPort={{port}}
clientPortAddress=127.0.0.1
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=ruok
`

// startZooKeeper runs a standalone ZooKeeper in the foreground (zkServer.sh execs java, so the
// process is the JVM and dies with the test binary).
func startZooKeeper(t testing.TB) *server {
	bin, err := lookBinary(zkServerScripts...)
	if err != nil {
		return &server{err: err}
	}
	dir, err := os.MkdirTemp("", "streamlearn-zookeeper-")
	if err != nil {
		return &server{err: err}
	}
	port := FreePort(t)
	cfg := strings.NewReplacer("{{dir}}", dir, "{{port}}", fmt.Sprint(port)).Replace(zooConfig)
	conf := filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(conf, []byte(cfg), 0o600); err != nil {
		return &server{err: err, dir: dir}
	}
	cmd, err := startProcessEnv(bin, dir, []string{"ZOOCFGDIR=" + dir, "ZOO_LOG_DIR=" + dir}, "start-foreground", conf)
	if err != nil {
		return &server{err: err, dir: dir}
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	s := &server{addr: addr, cmd: cmd, dir: dir}
	// The JVM takes seconds to start; "imok" means it serves requests.
	if err := waitTCP(addr, 60*time.Second, func() error { return zkRuok(addr) }); err != nil {
		s.err = fmt.Errorf("zookeeper: %w (log in %s)", err, dir)
	}
	return s
}

func zkRuok(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("ruok")); err != nil {
		return err
	}
	buf := make([]byte, 4)
	n, _ := c.Read(buf)
	if string(buf[:n]) != "imok" {
		return fmt.Errorf("ruok answered %q", buf[:n])
	}
	return nil
}
