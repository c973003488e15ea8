package learner_test

import (
	"math/rand/v2"
	"os"
	"strconv"
	"testing"

	"github.com/streamlearn/streamlearn/learner"
)

// treeFloors are the progressive AUCs of the tree and the forest on the sets of testdata in file
// order with their defaults (split candidates from quantile sketches, 8 bins), 0.01 under those
// measured (docs/BENCHMARKS.md, "Model families").
var treeFloors = map[string][2]float64{
	"pima":          {0.7951 - 0.01, 0.7917 - 0.01},
	"breast_cancer": {0.9666 - 0.01, 0.9678 - 0.01},
	"house_votes":   {0.9522 - 0.01, 0.9652 - 0.01},
	"ionosphere":    {0.8993 - 0.01, 0.9455 - 0.01},
	"sonar":         {0.7724 - 0.01, 0.7961 - 0.01},
	"checkerboard":  {0.7679 - 0.01, 0.9434 - 0.01},
	"thresholds":    {0.7663 - 0.01, 0.7789 - 0.01},
}

// TestTreeFamiliesQuality logs the progressive AUC of the tree, the forest and auto on every set
// of testdata, in file order, and checks the tree's and the forest's against treeFloors. For
// trials of the tree settings (no check then), STREAMLEARN_TREE_BINS sets tree.bins, and
// STREAMLEARN_TREE_RUNS=n logs the mean over n runs: the file order with seed 0, then n-1
// shuffles of the rows each with its own forest seed.
func TestTreeFamiliesQuality(t *testing.T) {
	bins, _ := strconv.Atoi(os.Getenv("STREAMLEARN_TREE_BINS"))
	runs, _ := strconv.Atoi(os.Getenv("STREAMLEARN_TREE_RUNS"))
	runs = max(runs, 1)
	families := []string{learner.FamilyTree, learner.FamilyForest, learner.FamilyAuto}
	var mean [3]float64
	for _, name := range []string{"pima", "breast_cancer", "house_votes", "ionosphere", "sonar", "checkerboard", "thresholds"} {
		stream := loadCSV(t, name)
		var got [3]float64
		for run := range runs {
			if run > 0 {
				r := rand.New(rand.NewPCG(uint64(run), 17))
				r.Shuffle(len(stream), func(i, j int) { stream[i], stream[j] = stream[j], stream[i] })
			}
			for i, f := range families {
				s := learner.DefaultSpec()
				s.Family, s.Tree.Bins, s.Tree.Seed = f, bins, uint64(run)
				got[i] += progressiveAUC(t, s, stream) / float64(runs)
			}
		}
		for i := range got {
			mean[i] += got[i] / 7
		}
		t.Logf("%-14s tree %.4f  forest %.4f  auto %.4f", name, got[0], got[1], got[2])
		if floor := treeFloors[name]; bins == 0 && runs == 1 && (got[0] < floor[0] || got[1] < floor[1]) {
			t.Errorf("%s: tree %.4f, forest %.4f; want at least %.4f and %.4f", name, got[0], got[1], floor[0], floor[1])
		}
	}
	t.Logf("%-14s tree %.4f  forest %.4f  auto %.4f", "mean", mean[0], mean[1], mean[2])
}
