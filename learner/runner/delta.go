package runner

import (
	"context"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamlearn/streamlearn/learner"
	"github.com/streamlearn/streamlearn/wire"
)

// deltas reports whether the runner sends weight deltas between publishes.
func (r *Runner) deltas() bool {
	return r.Deltas != nil && r.DeltaInterval > 0 && r.AutoPromote
}

func (r *Runner) deltaMaxRows() int {
	if r.DeltaMaxRows > 0 {
		return r.DeltaMaxRows
	}
	return learner.DefaultDeltaMaxRows
}

// pollInterval bounds a poll's wait, so that publishes and deltas go out on time.
func (r *Runner) pollInterval() time.Duration {
	if r.deltas() && r.DeltaInterval < r.PublishInterval {
		return r.DeltaInterval
	}
	return r.PublishInterval
}

// sendDelta sends what the trainer learned since the live version as a delta of it, when it
// learned anything since the last delta: cumulative, so a predictor needs only the newest. A
// delta too large to be cheap is not sent: the version is published early instead (once half
// the publish interval has passed), which starts a new base.
func (l *learning) sendDelta(ctx context.Context) {
	r := l.r
	if l.base == nil || l.baseTrainer != l.trainer || l.dirty == l.deltaDirty {
		return
	}
	t0 := time.Now()
	cur := l.trainer.Snapshot()
	if cur == nil {
		return
	}
	d, err := learner.NewDelta(l.base, cur)
	if errors.Is(err, learner.ErrNoDelta) {
		l.base = nil // a family without deltas: whole versions only
		return
	}
	if err != nil {
		l.log.Warn("weight delta", "model", l.model, "err", err)
		return
	}
	d.Model, d.Base, d.Seq = l.model, l.parent, l.deltaSeq+1
	d.CreatedAt, d.To, d.ArrivedTo, d.Examples = r.now().UTC(), l.to, l.arrived, l.trainer.Seen()
	if d.Rows() > r.deltaMaxRows() {
		if r.OnDelta != nil {
			r.OnDelta(d, true)
		}
		l.lastDelta = time.Now()
		if time.Since(l.lastPublish) < r.PublishInterval/2 {
			return // versions at most twice as often as PublishInterval: wait for the publish
		}
		t := time.Now()
		if err := l.publish(ctx); err != nil && ctx.Err() == nil {
			l.log.Error("publish model", "model", l.model, "err", err)
		}
		r.observe(StagePublish, time.Since(t))
		return
	}
	// On the interval's beat, not the loop's: a delta due 100 ms ago was sent late, and the next
	// is due one interval after it was due (unless it fell behind by more than an interval).
	if due := l.lastDelta.Add(r.DeltaInterval); time.Since(due) < r.DeltaInterval {
		l.lastDelta = due
	} else {
		l.lastDelta = time.Now()
	}
	l.deltaDirty = l.dirty
	if err := r.Deltas.PublishDelta(ctx, d, r.Fence); err != nil {
		if ctx.Err() == nil {
			l.log.Warn("publish weight delta", "model", l.model, "version", d.Base, "seq", d.Seq, "err", err)
		}
		return
	}
	l.deltaSeq = d.Seq
	r.announceDelta(ctx, d.Base)
	r.observe(StageDelta, time.Since(t0))
	if r.OnDelta != nil {
		r.OnDelta(d, false)
	}
}

// resumeBase starts deltas at once after a restart: the checkpoint's version is the live one and
// holds exactly the trainer's weights, so when it serves (the champion, not pinned), deltas are
// taken against it, numbered on from the last delta of it sent before the restart.
func (l *learning) resumeBase(ctx context.Context) {
	r := l.r
	if !r.deltas() || l.parent == 0 {
		return
	}
	if champ, err := r.Registry.Champion(ctx, l.model); err != nil || champ != l.parent {
		return
	}
	if pinned, err := r.Registry.Pinned(ctx, l.model); err != nil || pinned {
		return
	}
	b, err := r.Registry.Snapshot(ctx, l.model, l.parent)
	if err != nil {
		return
	}
	base, err := learner.UnmarshalSnapshot(b)
	if err != nil {
		return
	}
	if d, err := r.Deltas.Delta(ctx, l.model); err == nil && d != nil && d.Base == l.parent {
		l.deltaSeq = d.Seq
	}
	l.base, l.baseTrainer = base, l.trainer
}

// announceDelta announces a delta on the models topic without waiting for the broker (announce
// waits): the announcement is a hint, the delta is in the registry, and a predictor that misses
// one reads the next. Records of one model share a partition, so they stay in order behind the
// version's own announcement.
func (r *Runner) announceDelta(ctx context.Context, base int64) {
	if r.Producer == nil || r.ModelsTopic == "" {
		return
	}
	b, err := wire.Marshal(wire.Announcement{Model: r.Spec.Name, Version: base, Event: wire.EventDelta, Time: time.Now().UTC()})
	if err != nil {
		return
	}
	r.Producer.Produce(ctx, &kgo.Record{Topic: r.ModelsTopic, Key: []byte(r.Spec.Name), Value: b}, nil)
}
