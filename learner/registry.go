package learner

import (
	"context"
	"errors"
	"time"
)

// Version describes one published model version: where it came from and how well it did.
type Version struct {
	Model   string `json:"model"`
	Version int64  `json:"version"`
	// Parent is the retained snapshot the version descends from (0: none): live versions come
	// and go, so lineage runs through snapshots.
	Parent    int64     `json:"parent"`
	CreatedAt time.Time `json:"created_at"`
	// Spec is the model's definition (hyperparameters) as trained.
	Spec Spec `json:"spec"`
	// Examples is the number of examples learned in total; From/To is their event-time range.
	Examples int64     `json:"examples"`
	From     time.Time `json:"from"`
	To       time.Time `json:"to"`
	// ArrivedTo is when the newest example it learned reached the examples topic (its Kafka
	// timestamp: the outcome's join), for model freshness; zero when unknown.
	ArrivedTo time.Time `json:"arrived_to,omitzero"`
	// Offsets are the examples-topic offsets (next to read, per partition) this version covers.
	Offsets map[int32]int64 `json:"offsets"`
	// Progressive metrics: every example scored before it was learned.
	Metrics Metrics `json:"metrics"`
	// Note says why the version exists (published, promoted, rollback of N, retrained...).
	Note string `json:"note,omitempty"`
	// Kind is why the version is a retained snapshot (one of the Snapshot* kinds); empty for a
	// live head that the next publish overwrites.
	Kind string `json:"kind,omitempty"`
	// Tags name a retained snapshot; a tagged snapshot is kept for ever.
	Tags []string `json:"tags,omitempty"`
	// By is who asked for the snapshot (on demand), when known.
	By string `json:"by,omitempty"`
	// Binary is the version of the streamlearn binary that trained it.
	Binary string `json:"binary,omitempty"`
	// Report is the snapshot's evaluation report, once it has one.
	Report *Report `json:"report,omitempty"`
}

// The kinds of retained snapshots.
const (
	SnapshotScheduled = "scheduled" // every learner.snapshots.interval
	SnapshotManual    = "manual"    // asked for (streamlearn models snapshot, POST .../snapshots)
	SnapshotPromotion = "promotion" // a live head promoted by hand
	SnapshotRetrain   = "retrain"   // a retrain step: the champion when a retrain ends, or the retrained model
	SnapshotImport    = "import"    // imported from a file
)

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
	// Rollback makes a retained version serve again and pins it, recording who and why in the
	// history. To 0 means the version that served before the current champion: the previous
	// entry of the history when the current champion came from a manual promotion, else the
	// newest snapshot retained before it.
	Rollback(ctx context.Context, model string, to int64, reason, by string) (ChampionChange, error)
	// Unpin ends a pin: automatic promotion resumes and the live head serves again. Recorded in
	// the history.
	Unpin(ctx context.Context, model, reason, by string) (ChampionChange, error)
	// Live returns the live head: the newest published version, which the next publish
	// overwrites unless it was retained (ErrNotFound when nothing was published).
	Live(ctx context.Context, model string) (Version, error)
	// TakeSnapshot retains a version (the live head when req.Version is 0) with the tag, if any,
	// and returns it. A version already retained only gains the tag. A tag names one version:
	// ErrTagTaken when it names another.
	TakeSnapshot(ctx context.Context, model string, req SnapshotRequest) (Version, error)
	// Resolve turns a reference into a version: a version number (retained or live), a tag, or
	// an RFC 3339 time (the newest retained snapshot created at or before it).
	Resolve(ctx context.Context, model, ref string) (int64, error)
	// Prune deletes the retained snapshots (weights and metadata) that the retention policy does
	// not keep as of now, and returns their numbers.
	Prune(ctx context.Context, model string, keep Retention, now time.Time) ([]int64, error)
	// Import stores v (of model v.Model) with its weights as a new retained version (a
	// SnapshotImport, numbered after the model's latest) without touching its live head, and makes
	// it the champion of a model that has none.
	Import(ctx context.Context, v Version, snapshot []byte, reason string) (Version, error)
	// SetReport stores a retained version's evaluation report.
	SetReport(ctx context.Context, model string, version int64, rep Report) error
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
	// By is who made the change, when known.
	By string `json:"by,omitempty"`
}

// SnapshotRequest asks for a retained snapshot.
type SnapshotRequest struct {
	Version int64  // 0: the live head
	Tag     string // optional
	Kind    string // default SnapshotManual
	Reason  string // recorded as the version's note when it is retained now
	By      string
}

// ErrTagTaken is returned when a tag already names another version.
var ErrTagTaken = errors.New("tag names another version")

// ErrPinned is returned by an automatic promotion of a model whose champion was pinned by hand.
var ErrPinned = errors.New("champion is pinned")
