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
	// SetChampion makes version serve the model and returns the previous champion.
	SetChampion(ctx context.Context, model string, version int64) (int64, error)
	Checkpoint(ctx context.Context, model string) (*Checkpoint, error)
}
