package drift

// Detector is a concept-drift detector fed one value (an error indicator or
// a loss) at a time.
type Detector interface {
	// Add adds a value and reports whether a change was detected.
	Add(x float64) (change bool)
}

var (
	_ Detector = (*ADWIN)(nil)
	_ Detector = (*PageHinkley)(nil)
)
