package learner

// Label is an observed outcome. Binary: Value 0 or 1 (values in between are soft labels); regression:
// Value; multiclass: Class, one of Spec.Classes.
type Label struct {
	Value float64
	Class string
}

// Prediction is a model's output. Binary: Score is P(label = 1). Regression: Score is the predicted
// value. Multiclass: Class is the most probable class, Score its probability and Probs the
// probabilities of all classes in Spec.Classes order.
type Prediction struct {
	Score float64
	Class string
	Probs []float64
}

// Contribution is one feature's share of a score: the model's weight for it times its (standardized)
// value, in margin units (log-odds for binary, target units for regression, top-class logit for
// multiclass).
type Contribution struct {
	Feature      string  `json:"feature"`
	Value        float64 `json:"value"`
	Weight       float64 `json:"weight"`
	Contribution float64 `json:"contribution"`
}

// predictionOf turns margins into the prediction of spec; target holds a regression target's moments.
func predictionOf(spec *Spec, margins []float64, target *moments) Prediction {
	switch spec.Task {
	case Regression:
		return Prediction{Score: regressionScore(spec.Standardize, margins[0], target)}
	case Multiclass:
		probs := make([]float64, len(margins))
		softmax(margins, probs)
		top := 0
		for i, p := range probs {
			if p > probs[top] {
				top = i
			}
		}
		return Prediction{Score: probs[top], Class: spec.Classes[top], Probs: probs}
	}
	return Prediction{Score: sigmoid(margins[0])}
}

// regressionScore is the prediction of a regression model with margin m, in target units.
func regressionScore(standardize bool, m float64, target *moments) float64 {
	if standardize {
		m = target.mean + target.sd()*m
	}
	return finiteScore(m)
}
