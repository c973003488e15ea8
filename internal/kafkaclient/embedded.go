package kafkaclient

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

// BrokerOptions configure an embedded broker.
type BrokerOptions struct {
	// Listen is host:port to listen on; port 0 picks a free one.
	Listen string
	// Advertise is the host:port clients are told to dial (in metadata responses). Default: Listen's
	// address, with 127.0.0.1 for an empty or unspecified (0.0.0.0, ::) host. Set it when clients
	// reach the broker under another name (a container's service name).
	Advertise string
	// DataDir, when not empty, keeps the log on disk across restarts.
	DataDir string
	// Partitions of the seeded topics and of topics created automatically.
	Partitions int32
	// Topics are created at start.
	Topics []string
}

// StartEmbedded starts a single broker listening on addr (host:port; port 0 picks a free one) with
// the given topics. dataDir, when not empty, keeps the log on disk across restarts.
func StartEmbedded(addr, dataDir string, partitions int32, topics ...string) (*Embedded, error) {
	return StartBroker(BrokerOptions{Listen: addr, DataDir: dataDir, Partitions: partitions, Topics: topics})
}

// StartBroker starts a single embedded broker as o says.
func StartBroker(o BrokerOptions) (*Embedded, error) {
	if o.Partitions < 1 {
		o.Partitions = 1
	}
	l, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return nil, fmt.Errorf("embedded kafka listen on %q: %w", o.Listen, err)
	}
	adv, err := advertised(l.Addr().(*net.TCPAddr), o.Advertise)
	if err != nil {
		l.Close()
		return nil, err
	}
	_, portStr, _ := net.SplitHostPort(adv)
	port, _ := strconv.Atoi(portStr)
	ln := &advertisedListener{Listener: l, addr: adv}
	used := false
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.Ports(port),
		kfake.ListenFn(func(network, a string) (net.Listener, error) {
			if !used {
				used = true
				return ln, nil
			}
			return net.Listen(network, a)
		}),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(int(o.Partitions)),
		kfake.SeedTopics(o.Partitions, o.Topics...),
	}
	if o.DataDir != "" {
		opts = append(opts, kfake.DataDir(o.DataDir))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		l.Close()
		return nil, fmt.Errorf("start embedded kafka: %w", err)
	}
	return &Embedded{cluster: c, addr: adv}, nil
}

// advertised returns the address clients are told to dial.
func advertised(bound *net.TCPAddr, advertise string) (string, error) {
	if advertise != "" {
		if _, p, err := net.SplitHostPort(advertise); err != nil {
			return "", fmt.Errorf("embedded kafka advertised address %q: %w", advertise, err)
		} else if _, err := strconv.Atoi(p); err != nil {
			return "", fmt.Errorf("embedded kafka advertised address %q: port %q is not a number", advertise, p)
		}
		return advertise, nil
	}
	host := bound.IP.String()
	if bound.IP == nil || bound.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, strconv.Itoa(bound.Port)), nil
}

// advertisedListener reports the advertised address as its own: kfake tells clients to dial the
// address of its listener.
type advertisedListener struct {
	net.Listener
	addr string
}

func (l *advertisedListener) Addr() net.Addr { return advertisedAddr(l.addr) }

type advertisedAddr string

func (a advertisedAddr) Network() string { return "tcp" }
func (a advertisedAddr) String() string  { return string(a) }

// Addr returns the address clients dial.
func (e *Embedded) Addr() string { return e.addr }

// Close stops the broker (and writes its state when it has a data dir).
func (e *Embedded) Close() { e.cluster.Close() }
