package predictor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamlearn/streamlearn/learner"
)

// Announcement is a record of the models topic: a model changed (published, promoted, rolled back).
type Announcement struct {
	Model   string    `json:"model"`
	Version int64     `json:"version"`
	Event   string    `json:"event"`
	Time    time.Time `json:"time"`
}

// Loader keeps Models in step with the registry's champions: it loads a new version in the
// background and swaps it in only once it is fully decoded.
type Loader struct {
	Registry learner.Registry
	Models   *Models
	// Bootstrap is the spec of the untrained version 0 served before any version is published.
	Bootstrap learner.Spec
	Logger    *slog.Logger
	// OnSwap, when set, is called after every swap.
	OnSwap func(s *Served)
}

// Sync loads the registry's champion of model if it is not the one serving.
func (l *Loader) Sync(ctx context.Context, model string) error {
	champ, err := l.Registry.Champion(ctx, model)
	if err != nil {
		return err
	}
	cur := l.Models.Get(model)
	if champ == 0 {
		if cur != nil {
			return nil
		}
		spec := l.Bootstrap
		spec.Name = model
		tr, err := learner.NewTrainer(spec)
		if err != nil {
			return fmt.Errorf("bootstrap model %s: %w", model, err)
		}
		l.swap(&Served{Model: model, Version: 0, Snapshot: tr.Snapshot(), LoadedAt: time.Now()})
		return nil
	}
	if cur != nil && cur.Version == champ {
		return nil
	}
	b, err := l.Registry.Snapshot(ctx, model, champ)
	if err != nil {
		return err
	}
	snap, err := learner.UnmarshalSnapshot(b)
	if err != nil {
		return fmt.Errorf("load model %s version %d: %w", model, champ, err)
	}
	l.swap(&Served{Model: model, Version: champ, Snapshot: snap, LoadedAt: time.Now()})
	return nil
}

func (l *Loader) swap(s *Served) {
	prev := l.Models.Swap(s)
	if l.Logger != nil && (prev == nil || prev.Version != s.Version) {
		l.Logger.Debug("model swapped", "model", s.Model, "version", s.Version)
	}
	if l.OnSwap != nil {
		l.OnSwap(s)
	}
}

// Run follows the models topic with cl (a client consuming it from the end, outside any group) and
// syncs on every announcement, and every poll interval in case one was missed.
func (l *Loader) Run(ctx context.Context, cl *kgo.Client, models []string, poll time.Duration) error {
	log := l.Logger
	if log == nil {
		log = slog.Default()
	}
	syncAll := func() {
		for _, m := range models {
			if err := l.Sync(ctx, m); err != nil && ctx.Err() == nil && !errors.Is(err, learner.ErrNotFound) {
				log.Warn("sync model", "model", m, "err", err)
			}
		}
	}
	ticker := time.NewTicker(poll)
	defer ticker.Stop()
	changed := make(chan struct{}, 1)
	go func() {
		for {
			fetches := cl.PollFetches(ctx)
			if ctx.Err() != nil || fetches.IsClientClosed() {
				return
			}
			fetches.EachRecord(func(r *kgo.Record) {
				var a Announcement
				if json.Unmarshal(r.Value, &a) == nil {
					select {
					case changed <- struct{}{}:
					default:
					}
				}
			})
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
			syncAll()
		case <-changed:
			syncAll()
		}
	}
}
