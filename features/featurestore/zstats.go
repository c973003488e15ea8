package featurestore

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/streamlearn/streamlearn/features"
)

// The standardize statistics live in one hash, "<prefix>fz", fields "n:<feature>", "s:<feature>"
// and "q:<feature>" (count, sum, sum of squares), updated once per batch with HINCRBYFLOAT.

func parseZStats(m map[string]string) features.ZStats {
	z := features.ZStats{}
	for k, v := range m {
		kind, name, ok := strings.Cut(k, ":")
		x, err := strconv.ParseFloat(v, 64)
		if !ok || err != nil {
			continue
		}
		st := z[name]
		switch kind {
		case "n":
			st.N = x
		case "s":
			st.Sum = x
		case "q":
			st.SumSq = x
		}
		z[name] = st
	}
	return z
}

// addZStats adds the batch's standardize observations to the shared statistics.
func (s *Online) addZStats(ctx context.Context, obs features.ZStats) error {
	pipe := s.rdb.Pipeline()
	for name, st := range obs {
		pipe.HIncrByFloat(ctx, s.zkey(), "n:"+name, st.N)
		pipe.HIncrByFloat(ctx, s.zkey(), "s:"+name, st.Sum)
		pipe.HIncrByFloat(ctx, s.zkey(), "q:"+name, st.SumSq)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("update standardize statistics: %w", err)
	}
	return nil
}

// mergeObs adds the standardize observations of the groups that were written.
func mergeObs(obs features.ZStats, groups, conflicted []*group) features.ZStats {
	failed := make(map[*group]bool, len(conflicted))
	for _, g := range conflicted {
		failed[g] = true
	}
	for _, g := range groups {
		if failed[g] || len(g.obs) == 0 {
			continue
		}
		if obs == nil {
			obs = features.ZStats{}
		}
		for name, st := range g.obs {
			cur := obs[name]
			cur.N, cur.Sum, cur.SumSq = cur.N+st.N, cur.Sum+st.Sum, cur.SumSq+st.SumSq
			obs[name] = cur
		}
	}
	return obs
}
