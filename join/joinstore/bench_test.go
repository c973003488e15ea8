package joinstore_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/streamlearn/streamlearn/internal/testenv"
	"github.com/streamlearn/streamlearn/join/joinstore"
	"github.com/streamlearn/streamlearn/wire"
)

// BenchmarkJoinBatch joins batches of 500 events the way the stages do: the predictions' side
// (score), then the outcomes' side (join), then the ack of the examples. It reports the client's
// time and the Redis server's CPU time per event.
func BenchmarkJoinBatch(b *testing.B) {
	rdb := goredis.NewClient(&goredis.Options{Addr: testenv.Redis(b)})
	defer rdb.Close()
	ctx := context.Background()
	js := joinstore.NewStore(rdb, fmt.Sprintf("bench:%d:", time.Now().UnixNano()), time.Hour)
	const batch = 500
	ps := make([]wire.Pending, batch)
	os := make([]wire.Outcome, batch)
	cpu0 := redisCPU(b, rdb)
	b.ResetTimer()
	for n := range b.N {
		for i := range batch {
			id := "e" + strconv.Itoa(n*batch+i)
			ps[i] = wire.Pending{ID: id, Entity: "u" + strconv.Itoa(i), Model: "m", Version: 3, Score: 0.7,
				Features: wire.Vector{{Name: "amount", Value: 12.5}, {Name: "country=DE", Value: 1}}, Time: time.UnixMilli(1e12).UTC()}
			os[i] = wire.Outcome{ID: id, Value: 1, Time: time.UnixMilli(1e12 + 5000).UTC()}
		}
		if exs, err := js.AddPending(ctx, ps); err != nil || len(exs) != 0 {
			b.Fatal(len(exs), err)
		}
		exs, err := js.AddOutcomes(ctx, os)
		if err != nil || len(exs) != batch {
			b.Fatal(len(exs), err)
		}
		if err := js.Ack(ctx, exs); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	events := float64(b.N * batch)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/events, "ns/event")
	b.ReportMetric((redisCPU(b, rdb)-cpu0)*1e6/events, "redis-µs/event")
}

// redisCPU is the server's used_cpu_sys + used_cpu_user, in seconds.
func redisCPU(b *testing.B, rdb *goredis.Client) float64 {
	info, err := rdb.Info(context.Background(), "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	var total float64
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && (k == "used_cpu_sys" || k == "used_cpu_user") {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				b.Fatal(err)
			}
			total += f
		}
	}
	return total
}
