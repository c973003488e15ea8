package learner

import "fmt"

// FamilyStateFinite reports the first number of tr's state (a Family or an Auto and its members)
// that is not finite.
func FamilyStateFinite(tr Trainer) error {
	check := func(what string, xs ...float64) error {
		for i, x := range xs {
			if !finite(x) {
				return fmt.Errorf("%s[%d] = %v", what, i, x)
			}
		}
		return nil
	}
	switch t := tr.(type) {
	case *Auto:
		for _, m := range t.members {
			if err := FamilyStateFinite(m); err != nil {
				return err
			}
		}
		return check("auto loss", t.loss...)
	case *Online:
		for i, c := range t.p.c {
			if err := check(fmt.Sprintf("linear coord %d", i), c.z, c.s, c.w); err != nil {
				return err
			}
		}
		return nil
	case *Family:
		for i, st := range t.stats {
			if err := check(fmt.Sprintf("stats %d", i), st.n, st.mean, st.m2, st.scale); err != nil {
				return err
			}
		}
		return modelFinite(hostModel(t.m), check)
	}
	return fmt.Errorf("not a family trainer: %T", tr)
}

func modelFinite(m familyModel, check func(string, ...float64) error) error {
	trees := func(ts []*htree) error {
		for _, t := range ts {
			for i, n := range t.nodes {
				if err := check(fmt.Sprintf("node %d", i), n.thr, n.n[0], n.n[1], n.since); err != nil {
					return err
				}
				for _, o := range n.obs {
					if err := check("obs", append(o.thr, o.cnt...)...); err != nil {
						return err
					}
				}
			}
		}
		return nil
	}
	switch m := m.(type) {
	case *fm:
		if err := check("fm p", m.p...); err != nil {
			return err
		}
		return check("fm a", append(m.a, m.w0, m.a0)...)
	case *mlp:
		for _, xs := range [][]float64{m.d, m.dm, m.dv, m.w1, m.m1, m.v1} {
			if err := check("mlp", xs...); err != nil {
				return err
			}
		}
		return nil
	case *treeModel:
		if err := sketchesFinite(m.q, check); err != nil {
			return err
		}
		return trees([]*htree{m.t})
	case *forest:
		if err := sketchesFinite(m.q, check); err != nil {
			return err
		}
		return trees(m.trees)
	}
	return fmt.Errorf("unknown model %T", m)
}

// FamilyDrifts is how many times a tree or forest trainer replaced a tree on drift.
func FamilyDrifts(tr Trainer) int64 {
	if t, ok := tr.(*Family); ok {
		switch m := t.m.(type) {
		case *treeModel:
			return m.drifts
		case *forest:
			return m.drifts
		}
	}
	return -1
}

func sketchesFinite(q *sketches, check func(string, ...float64) error) error {
	for j := range q.sk {
		for _, lv := range q.sk[j].levels {
			if err := check("sketch", lv...); err != nil {
				return err
			}
		}
		if err := check("sketch cuts", append(q.cuts[j], q.at[j])...); err != nil {
			return err
		}
	}
	return nil
}
