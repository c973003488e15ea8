package testenv

import (
	"fmt"
	"net"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Kafka starts an embedded Kafka-protocol broker (kfake) on a free TCP port on 127.0.0.1 with the
// given topics created, and returns its address. The broker is the test's own and stops at cleanup.
func Kafka(t testing.TB, partitions int32, topics ...string) string {
	t.Helper()
	port := FreePort(t)
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(port),
		kfake.ListenFn(func(network, _ string) (net.Listener, error) {
			return net.Listen(network, fmt.Sprintf("127.0.0.1:%d", port))
		}),
		kfake.AllowAutoTopicCreation(),
	}
	if len(topics) > 0 {
		opts = append(opts, kfake.SeedTopics(partitions, topics...))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("start kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}
