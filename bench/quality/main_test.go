package main

import (
	"math"
	"testing"

	"github.com/streamlearn/streamlearn/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestFullSpeedLearnsLikePaced: with one partition per topic (so the learner sees the examples in
// the order they were published), the learner's progressive AUC at full speed through the whole
// loop equals, to the last digit, that of a trainer fed the same rows one at a time: batching,
// the join and the poll loop change nothing in what is learned.
func TestFullSpeedLearnsLikePaced(t *testing.T) {
	rows, err := load("../../learner/testdata/pima.csv")
	if err != nil {
		t.Fatal(err)
	}
	for _, family := range []string{"linear", "auto"} {
		t.Run(family, func(t *testing.T) {
			cfg := configFor(testenv.Redis(t), testenv.ClickHouse(t), family, "pima", len(rows))
			cfg.Kafka.Partitions = 1
			paced, err := pacedAUC(cfg.Model, rows)
			if err != nil {
				t.Fatal(err)
			}
			full, err := fullSpeedAUC(cfg, rows)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: paced %.6f, full speed %.6f", family, paced, full)
			if paced < 0.8 || math.Abs(full-paced) > 1e-9 {
				t.Errorf("progressive AUC: paced %v, full speed %v; want equal (and paced ≥ 0.8)", paced, full)
			}
		})
	}
}
