package runner

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamlearn/streamlearn/eval"
	"github.com/streamlearn/streamlearn/learner"
	"github.com/streamlearn/streamlearn/wire"
)

// Retrain steps, as written to the retrain_events table (the correlator writes "triggered").
const (
	StepTraining = "training"
	StepShadow   = "shadow"
	StepPromoted = "promoted"
	StepRejected = "rejected"
)

// Command is a retrain command for this runner's model, with Done to call once it is carried out
// (promoted or rejected): the control topic's offset is committed then.
type Command struct {
	wire.RetrainCommand
	Done func()
}

// RetrainEvent is one step of a retrain, for the retrain_events table.
type RetrainEvent struct {
	Time                               time.Time
	Model, Step, Reason, AlertID       string
	ChampionVersion, ChallengerVersion int64
	ChampionMetric, ChallengerMetric   float64
}

// retrain is a challenger in its shadow phase: it learns the same live examples as the champion,
// and both are scored on each before learning it.
type retrain struct {
	cmd        Command
	challenger learner.Trainer
	champ      *window
	chall      *window
	started    time.Time
	version    int64 // the challenger's version under <model>.retrain
}

func (r *Runner) emit(ev RetrainEvent) {
	ev.Model = r.Spec.Name
	if ev.Time.IsZero() {
		ev.Time = time.Now().UTC()
	}
	if r.OnRetrain != nil {
		r.OnRetrain(ev)
	}
	if r.Logger != nil {
		r.Logger.Info("retrain", "model", ev.Model, "step", ev.Step, "alert_id", ev.AlertID, "reason", ev.Reason)
	}
}

// startRetrain trains a challenger from scratch on the examples of the command's event-time range
// that the champion has already read (up to offsets), and returns it for the shadow phase.
func (r *Runner) startRetrain(ctx context.Context, cmd Command, offsets map[int32]int64, champion int64) (*retrain, error) {
	r.emit(RetrainEvent{Step: StepTraining, AlertID: cmd.AlertID, ChampionVersion: champion,
		Reason: fmt.Sprintf("replaying the examples learned so far with event time from %s (alert windows up to %s): %s",
			cmd.From.Format(time.RFC3339), cmd.To.Format(time.RFC3339), cmd.Reason)})
	challenger, n, err := r.replay(ctx, cmd.From, offsets)
	if err != nil {
		return nil, err
	}
	rt := &retrain{cmd: cmd, challenger: challenger, champ: newWindow(r.Retrain.MinOutcomes), chall: newWindow(r.Retrain.MinOutcomes), started: time.Now()}
	// The challenger is published under its own name, so it can be inspected and served in shadow.
	s := challenger.Snapshot()
	if s == nil {
		closeTrainer(challenger)
		return nil, fmt.Errorf("snapshot of the challenger: %w", trainerErr(challenger))
	}
	snap, err := s.MarshalBinary()
	if err == nil {
		spec := challenger.Spec()
		spec.Name = r.Spec.Name + ".retrain"
		v, perr := r.Registry.Publish(ctx, learner.Version{Model: spec.Name, Parent: 0, Spec: spec, Examples: challenger.Seen(),
			From: cmd.From, To: cmd.To, Note: "retrain for " + cmd.AlertID, Kind: learner.SnapshotRetrain, Binary: r.binary()}, snap, nil)
		if perr == nil {
			rt.version = v.Version
			_, _ = r.Registry.Promote(ctx, spec.Name, v.Version, "retrain challenger", false, false)
		}
	}
	r.emit(RetrainEvent{Step: StepShadow, AlertID: cmd.AlertID, ChampionVersion: champion, ChallengerVersion: rt.version,
		Reason: fmt.Sprintf("challenger learned %d examples; comparing on the next %d", n, r.Retrain.MinOutcomes)})
	return rt, nil
}

// replay learns a new trainer from the examples topic: records from the first offset at or after
// from (a record's timestamp is never before its event time) up to the given offsets, keeping
// examples whose event time is from on. That is the alert's windows and everything the champion has
// learned since: the world as it has been since the change, and nothing from before it.
func (r *Runner) replay(ctx context.Context, from time.Time, upto map[int32]int64) (learner.Trainer, int, error) {
	tr, err := r.newTrainer()
	if err != nil {
		return nil, 0, err
	}
	keep := false
	defer func() {
		if !keep {
			closeTrainer(tr)
		}
	}()
	cl, err := kgo.NewClient(r.ClientOpts...)
	if err != nil {
		return nil, 0, err
	}
	starts, err := kadm.NewClient(cl).ListOffsetsAfterMilli(ctx, from.UnixMilli(), r.ExamplesTopic)
	cl.Close()
	if err != nil {
		return nil, 0, fmt.Errorf("retrain: offsets of %s after %s: %w", r.ExamplesTopic, from, err)
	}
	begin := map[int32]kgo.Offset{}
	remaining := 0
	starts.Each(func(o kadm.ListedOffset) {
		end := upto[o.Partition]
		if o.Err == nil && o.Offset < end {
			begin[o.Partition] = kgo.NewOffset().At(o.Offset)
			remaining++
		}
	})
	if remaining == 0 {
		keep = true
		return tr, 0, nil
	}
	rc, err := kgo.NewClient(append(append([]kgo.Opt{}, r.ClientOpts...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{r.ExamplesTopic: begin}))...)
	if err != nil {
		return nil, 0, err
	}
	defer rc.Close()
	done := map[int32]bool{}
	n := 0
	var exs []wire.Example
	for len(done) < remaining {
		fetches := rc.PollRecords(ctx, 10000)
		if ctx.Err() != nil {
			return nil, 0, ctx.Err()
		}
		exs = exs[:0]
		fetches.EachRecord(func(rec *kgo.Record) {
			if done[rec.Partition] || rec.Offset >= upto[rec.Partition] {
				done[rec.Partition] = true
				return
			}
			if rec.Offset+1 >= upto[rec.Partition] {
				done[rec.Partition] = true
			}
			var ex wire.Example
			if wire.Unmarshal(rec.Value, &ex) != nil || ex.Time.Before(from) {
				return
			}
			exs = append(exs, ex)
		})
		if _, err := learnAll(tr, exs, r.Batch); err != nil {
			return nil, 0, fmt.Errorf("retrain: %w", err)
		}
		n += len(exs)
	}
	keep = true
	return tr, n, nil
}

// shadowMetric is what champion and challenger are compared on, higher is better: minus the
// logloss for binary models (a proper scoring rule: it sees miscalibration that AUC, a ranking
// measure, misses after a concept change) and minus the mean squared error otherwise.
func shadowMetric(task learner.Task, w *window) float64 {
	n := w.len()
	if task == learner.Binary || task == "" {
		return -eval.LogLoss(w.scores[:n], w.labels[:n])
	}
	var se float64
	for i := range n {
		d := w.scores[i] - w.labels[i]
		se += d * d
	}
	return -se / math.Max(1, float64(n))
}

// decide compares the challenger with the champion on the shadow examples and reports whether
// the challenger takes over. A champion pinned by hand is never replaced.
func (r *Runner) decide(ctx context.Context, rt *retrain, champion int64) (bool, *learner.Gate) {
	ev := RetrainEvent{AlertID: rt.cmd.AlertID, ChampionVersion: champion, ChallengerVersion: rt.version}
	n := rt.champ.len()
	ev.ChampionMetric, ev.ChallengerMetric = shadowMetric(r.Spec.Task, rt.champ), shadowMetric(r.Spec.Task, rt.chall)
	switch pinned, _ := r.Registry.Pinned(ctx, r.Spec.Name); {
	case rt.champ.seen < int64(r.Retrain.MinOutcomes):
		ev.Step, ev.Reason = StepRejected, fmt.Sprintf("only %d new outcomes within %s", rt.champ.seen, r.Retrain.MaxShadow)
	case pinned:
		ev.Step, ev.Reason = StepRejected, "the champion is pinned by hand"
	case !(ev.ChallengerMetric >= ev.ChampionMetric+r.Retrain.Margin):
		ev.Step, ev.Reason = StepRejected, fmt.Sprintf("challenger %.4f vs champion %.4f on %d new outcomes: not better by %.4f", ev.ChallengerMetric, ev.ChampionMetric, n, r.Retrain.Margin)
	default:
		ev.Step, ev.Reason = StepPromoted, fmt.Sprintf("challenger %.4f vs champion %.4f on %d new outcomes", ev.ChallengerMetric, ev.ChampionMetric, n)
	}
	r.emit(ev)
	gate := &learner.Gate{Champion: champion, Challenger: rt.version, N: int64(n), ChampionMetric: ev.ChampionMetric,
		ChallengerMetric: ev.ChallengerMetric, Margin: r.Retrain.Margin, Promoted: ev.Step == StepPromoted}
	return gate.Promoted, gate
}
