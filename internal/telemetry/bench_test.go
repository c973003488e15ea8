package telemetry_test

import (
	"context"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/streamlearn/streamlearn/internal/telemetry"
)

// BenchmarkStageTimer is the cost of one stage observation (a few per batch).
func BenchmarkStageTimer(b *testing.B) {
	timer := telemetry.NewMetrics(nil).StageTimer("score", "decode", "features", "score", "produce", "join")
	b.ReportAllocs()
	for b.Loop() {
		timer("features", time.Millisecond)
	}
}

// BenchmarkRedisHook is the hook's own cost around one command and one pipeline (a no-op next).
func BenchmarkRedisHook(b *testing.B) {
	h := telemetry.NewRedisHook(nil)
	ctx := context.Background()
	b.Run("command", func(b *testing.B) {
		process := h.ProcessHook(func(context.Context, goredis.Cmder) error { return nil })
		cmd := goredis.NewStringCmd(ctx, "get", "k")
		b.ReportAllocs()
		for b.Loop() {
			_ = process(ctx, cmd)
		}
	})
	b.Run("pipeline", func(b *testing.B) {
		pipeline := h.ProcessPipelineHook(func(context.Context, []goredis.Cmder) error { return nil })
		cmds := []goredis.Cmder{goredis.NewCmd(ctx, "evalsha", "x"), goredis.NewCmd(ctx, "evalsha", "y")}
		b.ReportAllocs()
		for b.Loop() {
			_ = pipeline(ctx, cmds)
		}
	})
}
