package predictor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamlearn/streamlearn/ingest"
	"github.com/streamlearn/streamlearn/learner"
	"github.com/streamlearn/streamlearn/wire"
)

// ErrUnknownModel is returned for a model that is neither in the registry nor trained by the learner.
var ErrUnknownModel = fmt.Errorf("model is neither in the registry nor trained by the learner: %w", learner.ErrNotFound)

// Loader keeps Models in step with the registry's champions: it loads a new version fully (fetch
// and decode) before swapping it in, so requests never wait for a load and never see half of one.
// Loads are serialized, so an older champion read by one load never replaces a newer one swapped in
// by another.
type Loader struct {
	Registry learner.Registry
	Models   *Models
	// Bootstrap is the spec of the learner's model: its untrained version 0 serves until a version
	// is published. Serve declares the specs of other models the learner trains.
	Bootstrap learner.Spec
	Logger    *slog.Logger
	// OnSwap, when set, is called after every swap.
	OnSwap func(s *Served)

	mu      sync.Mutex
	follow  []string
	trained map[string]learner.Spec
}

// Serve loads model now and has Run keep it in step from then on. trained, when not nil, is the
// model's spec because the learner trains it: its version 0 serves until one is published. A model
// the learner does not train must be in the registry (ErrUnknownModel otherwise).
func (l *Loader) Serve(ctx context.Context, model string, trained *learner.Spec) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if trained != nil {
		if l.trained == nil {
			l.trained = map[string]learner.Spec{}
		}
		spec := *trained
		spec.Name = model
		l.trained[model] = spec
	}
	if !slices.Contains(l.follow, model) {
		l.follow = append(l.follow, model)
	}
	return l.sync(ctx, model)
}

// Sync loads the registry's champion of model if it is not the one serving.
func (l *Loader) Sync(ctx context.Context, model string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sync(ctx, model)
}

// Change runs change (a change of model's champion in the registry) and, when this process serves
// the model, loads the new champion, holding other loads off in between so that none swaps the old
// champion back in.
func (l *Loader) Change(ctx context.Context, model string, change func(ctx context.Context) error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := change(ctx); err != nil {
		return err
	}
	if l.Models.Get(model) == nil && !slices.Contains(l.follow, model) {
		return nil
	}
	return l.sync(ctx, model)
}

// Load fetches and decodes a version without serving it.
func (l *Loader) Load(ctx context.Context, model string, version int64) (*Served, error) {
	b, err := l.Registry.Snapshot(ctx, model, version)
	if err != nil {
		return nil, err
	}
	snap, err := learner.UnmarshalSnapshot(b)
	if err != nil {
		return nil, fmt.Errorf("load model %s version %d: %w", model, version, err)
	}
	if got := snap.Spec().Name; got != model {
		return nil, fmt.Errorf("load model %s version %d: the snapshot is of model %q", model, version, got)
	}
	s := &Served{Model: model, Version: version, Snapshot: snap, LoadedAt: time.Now()}
	// The version's times are for the freshness metrics only: a registry that lost them (or a
	// failed read) leaves them zero, and the version serves all the same.
	if v, err := l.Registry.Get(ctx, model, version); err == nil {
		s.CreatedAt, s.DataTo, s.ArrivedTo = v.CreatedAt, v.To, v.ArrivedTo
	} else if l.Logger != nil {
		l.Logger.Warn("model version metadata not read; its age is not reported", "model", model, "version", version, "err", err)
	}
	return s, nil
}

func (l *Loader) sync(ctx context.Context, model string) error {
	champ, err := l.Registry.Champion(ctx, model)
	if err != nil {
		return err
	}
	cur := l.Models.Get(model)
	if champ == 0 {
		if cur != nil {
			return nil
		}
		spec, err := l.bootstrapSpec(ctx, model)
		if err != nil {
			return err
		}
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
	s, err := l.Load(ctx, model, champ)
	if errors.Is(err, learner.ErrNotFound) {
		// A live head that a newer publish overwrote between the two reads: its successor is
		// the champion by now, or will be at the next announcement.
		if again, cerr := l.Registry.Champion(ctx, model); cerr == nil && again != champ {
			s, err = l.Load(ctx, model, again)
		}
	}
	if err != nil {
		return err
	}
	l.swap(s)
	return nil
}

// bootstrapSpec is the spec of a model's version 0: the learner's, else the registry's latest.
func (l *Loader) bootstrapSpec(ctx context.Context, model string) (learner.Spec, error) {
	if spec, ok := l.trained[model]; ok {
		return spec, nil
	}
	if model == l.Bootstrap.Name {
		return l.Bootstrap, nil
	}
	vs, err := l.Registry.List(ctx, model)
	if err != nil {
		return learner.Spec{}, err
	}
	if len(vs) == 0 {
		return learner.Spec{}, fmt.Errorf("model %q: %w", model, ErrUnknownModel)
	}
	spec := vs[0].Spec
	spec.Name = model
	return spec, nil
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

// followed returns models plus those declared with Serve.
func (l *Loader) followed(models []string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := slices.Clone(models)
	for _, m := range l.follow {
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}

// Run follows the models topic with cl (a client consuming it from the end, outside any group) and
// syncs models, and those declared with Serve, on every announcement, and every poll interval in
// case one was missed. It returns when ctx ends.
func (l *Loader) Run(ctx context.Context, cl *kgo.Client, models []string, poll time.Duration) error {
	log := l.Logger
	if log == nil {
		log = slog.Default()
	}
	syncAll := func() {
		for _, m := range l.followed(models) {
			if err := l.Sync(ctx, m); err != nil && ctx.Err() == nil && !errors.Is(err, learner.ErrNotFound) {
				log.Warn("sync model", "model", m, "err", err)
			}
		}
	}
	ticker := time.NewTicker(poll)
	defer ticker.Stop()
	changed := make(chan struct{}, 1)
	go func() {
		// Polling apart from syncing: a sync (Redis reads) never holds up the next announcement.
		loop := ingest.PollLoop{Client: cl, MaxRecords: 1000, Logger: log}
		_ = loop.Run(ctx, func(_ context.Context, fetches kgo.Fetches) error {
			fetches.EachRecord(func(r *kgo.Record) {
				var a wire.Announcement
				if json.Unmarshal(r.Value, &a) == nil {
					select {
					case changed <- struct{}{}:
					default:
					}
				}
			})
			return nil
		})
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
