package learner

// coord is the state of one coordinate: its weight w and the optimizer's z (FTRL) and s, the square
// root of the sum of squared gradients (kept instead of the sum itself, which saves a square root per
// update). The three sit together because updates touch them together at random slots.
type coord struct{ z, s, w float64 }

// params is the state of one linear model with out outputs over dim hashed slots and a bias, indexed
// by slot*out + output; the bias is slot dim.
type params struct {
	dim, out int
	c        []coord
}

func newParams(dim, out int) params {
	return params{dim: dim, out: out, c: make([]coord, (dim+1)*out)}
}

// bias is the offset of the bias row.
func (p *params) bias() int { return p.dim * p.out }

// touched reports whether the row of slot has any state.
func (p *params) touched(slot int) bool {
	for _, c := range p.c[slot*p.out : (slot+1)*p.out] {
		if c != (coord{}) {
			return true
		}
	}
	return false
}
