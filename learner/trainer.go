package learner

import "github.com/streamlearn/streamlearn/wire"

// Trainer learns one model online, one example at a time. A Trainer is not safe for concurrent use;
// serve from its Snapshots instead.
type Trainer interface {
	// Predict scores v with the current weights.
	Predict(v wire.Vector) Prediction
	// Learn updates the model with one example and returns the prediction made before the update
	// (progressive validation). Examples with an unusable label (not finite, unknown class) only predict.
	Learn(v wire.Vector, y Label) Prediction
	// Snapshot returns an immutable copy of the current weights for serving.
	Snapshot() *Snapshot
	// MarshalBinary encodes the full optimizer state, a checkpoint that UnmarshalTrainer resumes from.
	MarshalBinary() ([]byte, error)
	// Spec returns the model's definition.
	Spec() Spec
	// Seen is the number of examples learned.
	Seen() int64
}

// NewTrainer returns a CPU trainer for spec, which must be valid: Online for the linear family,
// Family for fm, mlp, tree and forest, Auto for auto (Online for auto on a regression or
// multiclass task, which only the linear family learns).
func NewTrainer(spec Spec) (Trainer, error) {
	switch spec.family() {
	case FamilyLinear:
		return NewOnline(spec)
	case FamilyAuto:
		if spec.Task != Binary { // linear is the one family that learns the other tasks
			spec = spec.clone()
			spec.Family = FamilyLinear
			return NewOnline(spec)
		}
		return NewAuto(spec)
	}
	return NewFamily(spec)
}
