package testenv_test

import (
	"net"
	"testing"
	"time"

	"github.com/streamlearn/streamlearn/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestServersAnswer(t *testing.T) {
	for name, addr := range map[string]string{
		"redis":      testenv.Redis(t),
		"clickhouse": testenv.ClickHouse(t),
		"kafka":      testenv.Kafka(t, 1, "events"),
	} {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			t.Fatalf("%s at %s: %v", name, addr, err)
		}
		c.Close()
	}
}
