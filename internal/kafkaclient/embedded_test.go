package kafkaclient_test

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamlearn/streamlearn/internal/kafkaclient"
	"github.com/streamlearn/streamlearn/internal/testenv"
)

// TestStartBrokerAdvertises checks the address the broker gives clients in its metadata: clients
// dial it after the seed, so a produce works only when it is reachable.
func TestStartBrokerAdvertises(t *testing.T) {
	port := strconv.Itoa(testenv.FreePort(t))
	tests := []struct {
		name              string
		listen, advertise string
		want              string // "" : any 127.0.0.1 address
		wantErr           string
	}{
		{name: "loopback", listen: "127.0.0.1:0"},
		{name: "every interface advertises loopback", listen: "0.0.0.0:0"},
		{name: "a name", listen: "0.0.0.0:" + port, advertise: "localhost:" + port, want: "localhost:" + port},
		{name: "bad advertise", listen: "127.0.0.1:0", advertise: "localhost", wantErr: "advertised address"},
		{name: "bad listen", listen: "nowhere", wantErr: "listen"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := kafkaclient.StartBroker(kafkaclient.BrokerOptions{Listen: tt.listen, Advertise: tt.advertise, Partitions: 2, Topics: []string{"t"}})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			if tt.want != "" && b.Addr() != tt.want {
				t.Errorf("Addr() = %q, want %q", b.Addr(), tt.want)
			}
			if host, _, _ := net.SplitHostPort(b.Addr()); tt.want == "" && host != "127.0.0.1" {
				t.Errorf("Addr() = %q, want a 127.0.0.1 address", b.Addr())
			}
			cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "t", Value: []byte("v")}).FirstErr(); err != nil {
				t.Fatalf("produce through the advertised address: %v", err)
			}
		})
	}
}
