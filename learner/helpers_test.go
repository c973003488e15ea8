package learner_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/streamlearn/streamlearn/learner"
	"github.com/streamlearn/streamlearn/wire"
)

// example is one labelled vector of a synthetic stream.
type example struct {
	v wire.Vector
	y learner.Label
}

// synthetic returns n examples of task: two numeric inputs on very different scales, a categorical
// one, and a label that depends on all three.
func synthetic(task learner.Task, n int, seed uint64) []example {
	r := rand.New(rand.NewPCG(seed, 1))
	countries := []string{"DE", "FR", "US", "JP"}
	effect := []float64{1, -1, 0.5, -0.5}
	out := make([]example, n)
	for i := range out {
		amount := 1000 + 300*r.NormFloat64()
		age := 40 + 10*r.NormFloat64()
		c := r.IntN(len(countries))
		m := 1.5*(amount-1000)/300 - (age-40)/10 + effect[c]
		v := wire.Vector{
			{Name: "age", Value: age},
			{Name: "amount", Value: amount},
			{Name: "country=" + countries[c], Value: 1},
		}
		var y learner.Label
		switch task {
		case learner.Binary:
			if r.Float64() < 1/(1+math.Exp(-m)) {
				y.Value = 1
			}
		case learner.Regression:
			y.Value = 500 + 100*m + 10*r.NormFloat64()
		case learner.Multiclass:
			switch {
			case m+0.3*r.NormFloat64() < -0.7:
				y.Class = "low"
			case m+0.3*r.NormFloat64() < 0.7:
				y.Class = "mid"
			default:
				y.Class = "high"
			}
		}
		out[i] = example{v: v, y: y}
	}
	return out
}

// specFor returns DefaultSpec adapted to task.
func specFor(t testing.TB, task learner.Task, optimizer string) learner.Spec {
	t.Helper()
	s := learner.DefaultSpec()
	s.Name = fmt.Sprintf("%s-%s", task, optimizer)
	s.Task = task
	s.Optimizer = optimizer
	s.HashBits = 12
	if task == learner.Multiclass {
		s.Classes = []string{"low", "mid", "high"}
	}
	return s
}

func newTrainer(t testing.TB, spec learner.Spec) learner.Trainer {
	t.Helper()
	tr, err := learner.NewTrainer(spec)
	if err != nil {
		t.Fatalf("NewTrainer: %v", err)
	}
	return tr
}
