package learner

import (
	"context"
	"errors"
	"time"
)

// Version describes one published model version: where it came from and how well it did.
type Version struct {
	Model     string    `json:"model"`
	Version   int64     `json:"version"`
	Parent    int64     `json:"parent"`
	CreatedAt time.Time `json:"created_at"`
	// Spec is the model's definition (hyperparameters) as trained.
	Spec Spec `json:"spec"`
	// Examples is the number of examples learned in total; From/To is their event-time range.
	Examples int64     `json:"examples"`
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
	// Offsets are the examples-topic offsets (next to read, per partition) this version covers.
	Offsets map[int32]int64 `json:"offsets"`
	// Progressive metrics: every example scored before it was learned.
	Metrics Metrics `json:"metrics"`
	// Note says why the version exists (published, promoted, rollback of N, retrained...).
	Note string `json:"note,omitempty"`
}

// Metrics are progressive-validation figures over a recent window of examples.
type Metrics struct {
	N       int64   `json:"n"`
	AUC     float64 `json:"auc"`
	LogLoss float64 `json:"logloss"`
}

// Checkpoint is the learner's full state plus the offsets it covers, written atomically with the
// version it produced. Resuming from it neither loses nor repeats an example.
type Checkpoint struct {
	Version int64           `json:"version"`
	Offsets map[int32]int64 `json:"offsets"`
	State   []byte          `json:"-"`
	// Fence, when set, is the learner's lease on the model: the publish is refused (ErrFenced)
	// unless it still holds.
	Fence string `json:"-"`
}

// ErrNotFound is returned for a model or version the registry does not have.
var ErrNotFound = errors.New("not found")

// Registry keeps published model versions, their snapshots, the champion of each model and the
// learner's checkpoints.
type Registry interface {
	// Publish stores a new version (its number is assigned: the latest plus one) with its serving
	// snapshot and, atomically with it, the learner checkpoint that produced it (nil for none).
	Publish(ctx context.Context, v Version, snapshot []byte, cp *Checkpoint) (Version, error)
	Get(ctx context.Context, model string, version int64) (Version, error)
	Snapshot(ctx context.Context, model string, version int64) ([]byte, error)
	// List returns a model's versions, newest first.
	List(ctx context.Context, model string) ([]Version, error)
	Models(ctx context.Context) ([]string, error)
	// Champion returns the version that serves a model, 0 when none is published.
	Champion(ctx context.Context, model string) (int64, error)
	// Promote makes version the model's champion and returns the previous one. A manual promotion
	// (manual true) is recorded in the history; with pin it also pauses automatic promotion until
	// a manual promotion without pin. An automatic promotion of a pinned model does nothing and
	// returns ErrPinned.
	Promote(ctx context.Context, model string, version int64, reason string, manual, pin bool) (int64, error)
	// Rollback makes the version that served before the current champion serve again and pins it:
	// the previous entry of the history when the current champion came from a manual promotion,
	// else the current champion's parent.
	Rollback(ctx context.Context, model, reason string) (ChampionChange, error)
	// History returns the manual champion changes of a model, newest first.
	History(ctx context.Context, model string) ([]ChampionChange, error)
	// Pinned reports whether automatic promotion of the model is paused.
	Pinned(ctx context.Context, model string) (bool, error)
	Checkpoint(ctx context.Context, model string) (*Checkpoint, error)
}

// ChampionChange is one entry of a model's champion history.
type ChampionChange struct {
	Time     time.Time `json:"time"`
	Model    string    `json:"model"`
	Version  int64     `json:"version"`
	Previous int64     `json:"previous"`
	Reason   string    `json:"reason"`
	Pinned   bool      `json:"pinned"`
}

// ErrPinned is returned by an automatic promotion of a model whose champion was pinned by hand.
var ErrPinned = errors.New("champion is pinned")
