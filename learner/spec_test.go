package learner_test

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/streamlearn/streamlearn/learner"
)

func TestDefaultSpecIsValid(t *testing.T) {
	if err := learner.DefaultSpec().Validate(); err != nil {
		t.Fatalf("DefaultSpec().Validate() = %v, want nil", err)
	}
}

func TestSpecValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*learner.Spec)
		want   string // substring of the error; empty for valid
	}{
		{"default", func(*learner.Spec) {}, ""},
		{"no name", func(s *learner.Spec) { s.Name = "" }, "model.name: must not be empty"},
		{"bad name", func(s *learner.Spec) { s.Name = "a/b" }, "model.name:"},
		{"task", func(s *learner.Spec) { s.Task = "ranking" }, "model.task:"},
		{"optimizer", func(s *learner.Spec) { s.Optimizer = "adam" }, "model.optimizer:"},
		{"optimizer empty means ftrl", func(s *learner.Spec) { s.Optimizer = "" }, ""},
		{"hash bits low", func(s *learner.Spec) { s.HashBits = 0 }, "model.hash_bits: must be in 1..28"},
		{"hash bits high", func(s *learner.Spec) { s.HashBits = 29 }, "model.hash_bits: must be in 1..28"},
		{"alpha", func(s *learner.Spec) { s.Alpha = 0 }, "model.alpha:"},
		{"beta", func(s *learner.Spec) { s.Beta = -1 }, "model.beta:"},
		{"l1", func(s *learner.Spec) { s.L1 = -0.1 }, "model.l1:"},
		{"adagrad rate", func(s *learner.Spec) { s.Optimizer = "adagrad"; s.LearningRate = 0 }, "model.learning_rate:"},
		{"loss", func(s *learner.Spec) { s.Task = learner.Regression; s.Loss = "hinge" }, "model.loss:"},
		{"huber delta", func(s *learner.Spec) { s.Task = learner.Regression; s.Loss = "huber"; s.HuberDelta = 0 }, "model.huber_delta:"},
		{"one class", func(s *learner.Spec) { s.Task = learner.Multiclass; s.Classes = []string{"a"} }, "model.classes:"},
		{"repeated class", func(s *learner.Spec) { s.Task = learner.Multiclass; s.Classes = []string{"a", "a"} }, "model.classes[1]:"},
		{"classes on binary", func(s *learner.Spec) { s.Classes = []string{"a", "b"} }, "model.classes:"},
		{"too many coordinates", func(s *learner.Spec) {
			s.Task, s.HashBits, s.Classes = learner.Multiclass, 28, []string{"a", "b"}
		}, "model.hash_bits:"},
		{"cross", func(s *learner.Spec) { s.Crosses = [][2]string{{"a", ""}} }, "model.crosses[0]:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := learner.DefaultSpec()
			tt.change(&s)
			err := s.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("got %v, want nil", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestSpecFromYAML(t *testing.T) {
	const doc = `
name: churn
task: multiclass
optimizer: adagrad
hash_bits: 18
learning_rate: 0.1
classes: [stay, leave, pause]
standardize: false
crosses:
  - [country, device]
`
	got := learner.DefaultSpec()
	if err := yaml.Unmarshal([]byte(doc), &got); err != nil {
		t.Fatalf("yaml: %v", err)
	}
	want := learner.DefaultSpec()
	want.Name, want.Task, want.Optimizer, want.HashBits, want.LearningRate = "churn", learner.Multiclass, "adagrad", 18, 0.1
	want.Classes = []string{"stay", "leave", "pause"}
	want.Standardize = false
	want.Crosses = [][2]string{{"country", "device"}}
	if got.Name != want.Name || got.Task != want.Task || got.Optimizer != want.Optimizer ||
		got.HashBits != want.HashBits || got.LearningRate != want.LearningRate || got.Standardize ||
		len(got.Classes) != 3 || got.Classes[1] != "leave" || len(got.Crosses) != 1 || got.Crosses[0] != want.Crosses[0] ||
		got.Alpha != want.Alpha {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if err := got.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
}
