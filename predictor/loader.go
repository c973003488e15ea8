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
	// OnSwap, when set, is called after every swap, a delta applied included.
	OnSwap func(s *Served)
	// Deltas, when set, are the weight deltas of the models' live versions: a delta whose base is
	// the version serving is applied to it (Delta, on an announcement; and after every load, so a
	// process that starts or missed announcements catches up). OnDelta, when set, is told of each
	// delta read: DeltaApplied, DeltaSkipped (its base is not the version serving: the champion is
	// loaded instead, and the delta applied if it is now its base) or DeltaFailed.
	Deltas  learner.DeltaStore
	OnDelta func(model, result string)

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

// orphaned handles a champion that is neither retained nor the live head any more: a learner that
// published a newer live head and stopped (killed) before promoting it. Unless the champion was
// pinned, the live head serves, as that promotion would have made it; otherwise err stands.
func (l *Loader) orphaned(ctx context.Context, model string, champ int64, err error) (*Served, error) {
	live, lerr := l.Registry.Live(ctx, model)
	if lerr != nil || live.Version <= champ || l.pinned(ctx, model) {
		return nil, err
	}
	if l.Logger != nil {
		l.Logger.Warn("the champion version is gone (its learner stopped between a publish and the promotion); serving the live version",
			"model", model, "champion", champ, "live", live.Version)
	}
	return l.Load(ctx, model, live.Version)
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
		if cur.DeltaSeq > 0 && l.pinned(ctx, model) {
			// Pinned by hand: the version serves as published, without the deltas of its time as
			// the live version.
			l.swap(cur.loaded())
		}
		return nil
	}
	s, err := l.Load(ctx, model, champ)
	if errors.Is(err, learner.ErrNotFound) {
		// A live head that a newer publish overwrote between the two reads: its successor is
		// the champion by now, or will be at the next announcement.
		if again, cerr := l.Registry.Champion(ctx, model); cerr == nil && again != champ {
			s, err = l.Load(ctx, model, again)
		} else {
			s, err = l.orphaned(ctx, model, champ, err)
		}
	}
	if err != nil {
		return err
	}
	l.swap(s)
	if err := l.catchUp(ctx, model); err != nil && l.Logger != nil && ctx.Err() == nil {
		// The version serves as published; the next delta tries again.
		l.Logger.Warn("apply model delta", "model", model, "version", s.Version, "err", err)
	}
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
	if l.Logger != nil && (prev == nil || prev.Version != s.Version || prev.DeltaSeq != s.DeltaSeq) {
		l.Logger.Debug("model swapped", "model", s.Model, "version", s.Version, "delta", s.DeltaSeq, "arrived_to", s.ArrivedTo)
	}
	if l.OnSwap != nil {
		l.OnSwap(s)
	}
}

// The results Loader.OnDelta is told of.
const (
	DeltaApplied = "applied"
	DeltaSkipped = "skipped"
	DeltaFailed  = "failed"
)

// Delta applies the newest weight delta of model when its base is the version serving; a delta
// of another base loads the champion instead (and applies the delta if that is its base). A delta
// that is no newer than the one applied changes nothing.
func (l *Loader) Delta(ctx context.Context, model string) error {
	if l.Deltas == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	cur := l.Models.Get(model)
	if cur == nil {
		return nil
	}
	d, err := l.Deltas.Delta(ctx, model)
	if err != nil || d == nil {
		return err
	}
	if d.Base != cur.Version {
		l.noteDelta(model, DeltaSkipped)
		return l.sync(ctx, model) // which applies the delta when it loads its base
	}
	if d.Seq <= cur.DeltaSeq {
		return nil
	}
	if l.pinned(ctx, model) {
		l.noteDelta(model, DeltaSkipped)
		return nil
	}
	return l.apply(cur, d)
}

// pinned reports whether model's champion is pinned by hand (or the registry cannot say): a
// pinned version serves as published, without deltas.
func (l *Loader) pinned(ctx context.Context, model string) bool {
	p, err := l.Registry.Pinned(ctx, model)
	return p || err != nil
}

// catchUp applies the newest delta of model, if it has one of the version serving.
func (l *Loader) catchUp(ctx context.Context, model string) error {
	if l.Deltas == nil {
		return nil
	}
	cur := l.Models.Get(model)
	d, err := l.Deltas.Delta(ctx, model)
	if err != nil || d == nil || cur == nil || d.Base != cur.Version || d.Seq <= cur.DeltaSeq || l.pinned(ctx, model) {
		return err
	}
	return l.apply(cur, d)
}

// apply swaps in cur's version moved by d (of cur's version), unless cur has that delta already.
func (l *Loader) apply(cur *Served, d *learner.Delta) error {
	if d.Seq <= cur.DeltaSeq {
		return nil
	}
	snap, err := cur.loaded().Snapshot.Apply(d)
	if err != nil {
		l.noteDelta(cur.Model, DeltaFailed)
		return err
	}
	l.swap(&Served{Model: cur.Model, Version: cur.Version, Snapshot: snap, Base: cur.loaded(), DeltaSeq: d.Seq,
		LoadedAt: time.Now(), CreatedAt: d.CreatedAt, DataTo: d.To, ArrivedTo: d.ArrivedTo})
	l.noteDelta(cur.Model, DeltaApplied)
	return nil
}

func (l *Loader) noteDelta(model, result string) {
	if l.OnDelta != nil {
		l.OnDelta(model, result)
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
	deltas := &pendingDeltas{ready: make(chan struct{}, 1)}
	go func() {
		// Polling apart from syncing: a sync (Redis reads) never holds up the next announcement.
		loop := ingest.PollLoop{Client: cl, MaxRecords: 1000, Logger: log}
		_ = loop.Run(ctx, func(_ context.Context, fetches kgo.Fetches) error {
			fetches.EachRecord(func(r *kgo.Record) {
				var a wire.Announcement
				if json.Unmarshal(r.Value, &a) != nil {
					return
				}
				if a.Event == wire.EventDelta {
					deltas.add(a.Model)
					return
				}
				select {
				case changed <- struct{}{}:
				default:
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
		case <-deltas.ready:
			for _, m := range deltas.take() {
				if err := l.Delta(ctx, m); err != nil && ctx.Err() == nil && !errors.Is(err, learner.ErrNotFound) {
					log.Warn("apply model delta", "model", m, "err", err)
				}
			}
		}
	}
}

// pendingDeltas are the models announced to have a new delta since the last take: a burst of
// announcements is one read of each model's newest delta.
type pendingDeltas struct {
	mu     sync.Mutex
	models []string
	ready  chan struct{}
}

func (p *pendingDeltas) add(model string) {
	p.mu.Lock()
	if !slices.Contains(p.models, model) {
		p.models = append(p.models, model)
	}
	p.mu.Unlock()
	select {
	case p.ready <- struct{}{}:
	default:
	}
}

func (p *pendingDeltas) take() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	ms := p.models
	p.models = nil
	return ms
}
