package telemetry

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	goredis "github.com/redis/go-redis/v9"
)

// maxRedisOps bounds the distinct values of the op label; later ones are counted as "other".
// The code issues a fixed set of commands, so the bound is only a guard.
const maxRedisOps = 64

// RedisHook is a go-redis hook that times every command and pipeline the process sends to Redis
// and counts the failed ones, by operation:
//
//	streamlearn_redis_command_duration_seconds{op}  histogram
//	streamlearn_redis_errors_total{op}              counter
//
// op is the command's name ("get", "evalsha"), "pipeline:<first command>" for a pipeline and
// "multi:<first command>" for a transaction, and "dial" for new connections. A miss (redis.Nil)
// and a transaction refused because a watched key changed (redis.TxFailedErr: a fenced write that
// lost its lease) are answers, not errors. Add it with AddHook on every client the process makes.
type RedisHook struct {
	duration *prometheus.HistogramVec
	errors   *prometheus.CounterVec

	mu  sync.RWMutex
	ops map[opKey]redisOp
}

// opKey is an op label in two parts, so that naming a pipeline allocates nothing: kind is "" for
// a command, "pipeline:" or "multi:".
type opKey struct{ kind, name string }

type redisOp struct {
	duration prometheus.Observer
	errors   prometheus.Counter
}

var _ goredis.Hook = (*RedisHook)(nil)

// NewRedisHook creates the hook's metrics and registers them on reg (nil: not registered).
func NewRedisHook(reg prometheus.Registerer) *RedisHook {
	h := &RedisHook{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "streamlearn_redis_command_duration_seconds",
			Help:    "Latency of Redis commands, pipelines and transactions the process sent, by operation (command name; pipeline:<first>, multi:<first>; dial).",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}}, []string{"op"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "streamlearn_redis_errors_total",
			Help: "Redis commands, pipelines and dials that failed (not counting misses and transactions refused by WATCH), by operation."}, []string{"op"}),
		ops: map[opKey]redisOp{},
	}
	if reg != nil {
		reg.MustRegister(h.duration, h.errors)
	}
	return h
}

// op returns the series of an operation, creating them the first time (up to maxRedisOps).
func (h *RedisHook) op(k opKey) redisOp {
	h.mu.RLock()
	o, ok := h.ops[k]
	h.mu.RUnlock()
	if ok {
		return o
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if o, ok := h.ops[k]; ok {
		return o
	}
	label := k.kind + k.name
	if len(h.ops) >= maxRedisOps {
		k, label = opKey{name: "other"}, "other"
		if o, ok := h.ops[k]; ok {
			return o
		}
	}
	o = redisOp{duration: h.duration.WithLabelValues(label), errors: h.errors.WithLabelValues(label)}
	h.ops[k] = o
	return o
}

func (h *RedisHook) record(k opKey, start time.Time, err error) {
	o := h.op(k)
	o.duration.Observe(time.Since(start).Seconds())
	if err != nil && !errors.Is(err, goredis.Nil) && !errors.Is(err, goredis.TxFailedErr) {
		o.errors.Inc()
	}
}

// DialHook implements goredis.Hook.
func (h *RedisHook) DialHook(next goredis.DialHook) goredis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		start := time.Now()
		c, err := next(ctx, network, addr)
		h.record(opKey{name: "dial"}, start, err)
		return c, err
	}
}

// ProcessHook implements goredis.Hook.
func (h *RedisHook) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmd)
		h.record(opKey{name: cmd.Name()}, start, err)
		return err
	}
}

// ProcessPipelineHook implements goredis.Hook (pipelines and transactions).
func (h *RedisHook) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmds)
		h.record(pipelineOp(cmds), start, err)
		return err
	}
}

// pipelineOp names a pipeline by its first command: a transaction (MULTI ... EXEC) by the first
// command inside it.
func pipelineOp(cmds []goredis.Cmder) opKey {
	switch {
	case len(cmds) == 0:
		return opKey{kind: "pipeline:"}
	case cmds[0].Name() != "multi":
		return opKey{kind: "pipeline:", name: cmds[0].Name()}
	case len(cmds) > 2:
		return opKey{kind: "multi:", name: cmds[1].Name()}
	default:
		return opKey{kind: "multi:"}
	}
}
