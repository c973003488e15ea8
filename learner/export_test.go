package learner

// StateNumbers decodes a checkpoint and returns every number of the state it holds: counters,
// optimizer state of every coordinate and the standardization statistics.
func StateNumbers(checkpoint []byte) ([]float64, error) {
	t, err := decodeCheckpoint(checkpoint)
	if err != nil {
		return nil, err
	}
	nums := []float64{t.target.n, t.target.mean, t.target.m2, t.target.scale}
	for _, c := range t.p.c {
		nums = append(nums, c.z, c.s, c.w)
	}
	for _, st := range t.stats {
		nums = append(nums, st.n, st.mean, st.m2, st.scale)
	}
	return nums, nil
}

// SnapshotNumbers returns every number a snapshot serves from.
func SnapshotNumbers(s *Snapshot) []float64 {
	nums := []float64{s.target.n, s.target.mean, s.target.m2, s.target.scale}
	nums = append(nums, s.bias...)
	nums = append(nums, s.w...)
	nums = append(nums, s.mean...)
	return append(nums, s.scale...)
}

// AutoMemberSeen returns how many examples each member of a learned, in AutoFamilies order.
func AutoMemberSeen(a *Auto) []int64 {
	out := make([]int64, len(a.members))
	for i, m := range a.members {
		out[i] = m.Seen()
	}
	return out
}

// AutoMember returns a's member of family f.
func AutoMember(a *Auto, f string) Trainer {
	for i, name := range AutoFamilies {
		if name == f {
			return a.members[i]
		}
	}
	return nil
}
