package kafkaclient_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamlearn/streamlearn/internal/kafkaclient"
	"github.com/streamlearn/streamlearn/internal/testenv"
)

// TestLagCollector consumes and commits part of a partition in a group and reads the rest as its lag,
// then commits everything and reads 0; a group nobody registered is not reported.
func TestLagCollector(t *testing.T) {
	addr := testenv.Kafka(t, 1, "lagged")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	prod, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("lagged"))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	for range 10 {
		if err := prod.ProduceSync(ctx, &kgo.Record{Value: []byte("x")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	cons, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumerGroup("g-score"), kgo.ConsumeTopics("lagged"),
		kgo.DisableAutoCommit(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	var got []*kgo.Record
	for len(got) < 10 {
		fs := cons.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		got = append(got, fs.Records()...)
	}
	commit := func(upTo int) {
		t.Helper()
		if err := cons.CommitRecords(ctx, got[upTo-1]); err != nil {
			t.Fatal(err)
		}
	}
	commit(4)

	c := kafkaclient.NewLagCollector(prod, nil)
	c.Watch("g-score")
	c.Watch("g-score")
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	lags := func() map[string]float64 {
		t.Helper()
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]float64{}
		for _, mf := range mfs {
			if mf.GetName() != "streamlearn_kafka_consumer_lag" {
				continue
			}
			for _, m := range mf.Metric {
				var key []string
				for _, l := range m.Label {
					key = append(key, l.GetName()+"="+l.GetValue())
				}
				out[strings.Join(key, ",")] = m.Gauge.GetValue()
			}
		}
		return out
	}
	const series = "group=g-score,partition=0,topic=lagged"
	if got := lags(); len(got) != 1 || got[series] != 6 {
		t.Errorf("lag after committing 4 of 10 = %v, want {%s: 6}", got, series)
	}
	commit(10)
	if got := lags(); len(got) != 1 || got[series] != 0 {
		t.Errorf("lag after committing 10 of 10 = %v, want {%s: 0}", got, series)
	}
}
