package drift

// Feature kinds in wire.FeatureDriftRow.Kind.
const (
	KindNumeric     = "numeric"
	KindCategorical = "categorical"
	KindScore       = "score"
)

// Reserved names.
const (
	// ScoreFeature is the feature name of prediction-score drift rows.
	ScoreFeature = "__score__"
	// OtherCategory collects categories outside the reference's top
	// MaxCategories.
	OtherCategory = "__other__"
)
