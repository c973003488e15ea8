package kafka

import (
	"fmt"
	"net"
	"strconv"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Embedded is a Kafka-protocol broker running inside the process (franz-go's kfake) on a real TCP
// port, so that any Kafka client can produce and consume. It is for demos, development and tests.
type Embedded struct {
	cluster *kfake.Cluster
	addr    string
}

// StartEmbedded starts a single broker listening on addr (host:port; port 0 picks a free one) with
// the given topics. dataDir, when not empty, keeps the log on disk across restarts.
func StartEmbedded(addr, dataDir string, partitions int32, topics ...string) (*Embedded, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("embedded kafka address %q: %w", addr, err)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("embedded kafka listen: %w", err)
	}
	port, _ := strconv.Atoi(portStr)
	if port == 0 {
		port = l.Addr().(*net.TCPAddr).Port
	}
	used := false
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(port),
		kfake.ListenFn(func(network, a string) (net.Listener, error) {
			if !used {
				used = true
				return l, nil
			}
			return net.Listen(network, a)
		}),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(int(partitions)),
		kfake.SeedTopics(partitions, topics...),
	}
	if dataDir != "" {
		opts = append(opts, kfake.DataDir(dataDir))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("start embedded kafka: %w", err)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return &Embedded{cluster: c, addr: net.JoinHostPort(host, strconv.Itoa(port))}, nil
}

// Addr returns the address clients dial.
func (e *Embedded) Addr() string { return e.addr }

// Close stops the broker (and writes its state when it has a data dir).
func (e *Embedded) Close() { e.cluster.Close() }
