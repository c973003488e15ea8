package features

// Checksum exposes the state checksum to the fuzz tests.
var Checksum = checksum

// StateNumbers decodes an entity's stored state and returns every number it holds: the partial
// aggregates of its tiles and the inputs recorded in its marks (NaN there means absent and is left out).
func StateNumbers(e *Engine, state []byte) ([]float64, error) {
	st, err := decodeState(e.p, state, &arena{})
	if err != nil {
		return nil, err
	}
	var nums []float64
	for _, ts := range st.series {
		for _, tl := range ts {
			for _, fs := range tl.fields {
				nums = append(nums, fs.sum, fs.sumsq, fs.min, fs.max, fs.lastV)
			}
		}
	}
	for _, mb := range st.marks {
		for _, sm := range mb.marks {
			m, err := decodeMark(sm.value)
			if err != nil {
				return nil, err
			}
			for _, x := range m.in.aggs {
				if x == x {
					nums = append(nums, x)
				}
			}
			nums = append(nums, m.in.z...)
		}
	}
	return nums, nil
}
