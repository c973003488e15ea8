package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/errgroup"

	"github.com/streamlearn/streamlearn/drift/correlator"
	"github.com/streamlearn/streamlearn/ingest"
	"github.com/streamlearn/streamlearn/internal/lease"
	"github.com/streamlearn/streamlearn/learner/runner"
)

// supervised runs a role until ctx ends. A panic in it is recovered, logged with its stack and
// counted, and the role starts again after a pause (its state comes back from its checkpoint or
// its committed offsets): one bad record or bug does not take the other roles down with it.
func (m *Main) supervised(name string, run func(context.Context) error) func(context.Context) error {
	m.metrics.RoleRestarts.WithLabelValues(name) // exported at 0, so that the first restart shows in increase()
	return func(ctx context.Context) error {
		for {
			err := recovered(ctx, run)
			pe, ok := errors.AsType[*ingest.PanicError](err)
			if !ok {
				return err
			}
			m.Logger.Error("role panicked; restarting it", "role", name, "panic", fmt.Sprint(pe.Value), "stack", string(pe.Stack))
			m.metrics.RoleRestarts.WithLabelValues(name).Inc()
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(time.Second):
			}
		}
	}
}

func recovered(ctx context.Context, run func(context.Context) error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &ingest.PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	return run(ctx)
}

// holderID names this process in leases: unique across processes and restarts.
func holderID() string {
	host, _ := os.Hostname()
	return host + "/" + strconv.Itoa(os.Getpid()) + "/" + strconv.FormatInt(time.Now().UnixNano(), 36)
}

// learnLeased runs a model's learner, and the reader of its retrain commands, only while this
// process holds the model's lease: one learner per model across all replicas, the others on
// standby. The registry refuses the publishes of a learner that lost its lease.
func (m *Main) learnLeased(kopts []kgo.Opt, r *runner.Runner, leaseKey string) func(context.Context) error {
	model := r.Spec.Name
	l := lease.New(m.rdb, leaseKey, m.holder, m.Config.Learner.LeaseTTL, m.Logger.With("model", model))
	return func(ctx context.Context) error {
		return l.Run(ctx, func(ctx context.Context, fence string) error {
			// Each model has its own control group, joined only by its active learner, so that a
			// retrain command always reaches the process that learns the model.
			ctl, err := m.groupClient(kopts, "control-"+model, m.Config.Kafka.Topics.Control)
			if err != nil {
				return err
			}
			defer ctl.Close()
			commands := make(chan runner.Command)
			r.Fence, r.Commands = fence, commands
			g, gctx := errgroup.WithContext(ctx)
			g.Go(func() error { return r.Run(gctx) })
			g.Go(func() error { return runner.RunControl(gctx, ctl, model, commands, m.Logger) })
			return g.Wait()
		})
	}
}

// correlateLeased runs the correlator only while this process holds its lease: the monitor needs
// every partition, so it must be the only member of its consumer group. Its state saves are
// fenced by the lease.
func (m *Main) correlateLeased(kopts []kgo.Opt, opts correlator.Options) func(context.Context) error {
	l := lease.New(m.rdb, correlator.LeaseKey(opts.KeyBase, opts.Group), m.holder, m.Config.Drift.LeaseTTL, m.Logger)
	return func(ctx context.Context) error {
		return l.Run(ctx, func(ctx context.Context, fence string) error {
			c, err := correlator.New(ctx, opts)
			if err != nil {
				return err
			}
			c.SetFence(fence)
			t := opts.Topics
			// The correlator decides where its partitions start: where its open windows' records do.
			cl, err := m.groupClient(append(append([]kgo.Opt{}, kopts...), kgo.AdjustFetchOffsetsFn(c.AdjustOffsets)),
				"correlator", t.Events, t.Predictions, t.Outcomes, t.Examples)
			if err != nil {
				return err
			}
			defer cl.Close()
			c.SetClient(cl)
			m.correlator.Store(c)
			return c.Run(ctx)
		})
	}
}
