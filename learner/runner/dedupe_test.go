package runner_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamlearn/streamlearn/wire"
)

// produceKeyed produces examples keyed by event id, as the join does.
func (f *fixture) produceKeyed(t *testing.T, exs []wire.Example) {
	t.Helper()
	recs := make([]*kgo.Record, 0, len(exs))
	for _, ex := range exs {
		b, _ := json.Marshal(ex)
		recs = append(recs, &kgo.Record{Topic: "examples", Key: []byte(ex.ID), Value: b})
	}
	if err := f.producer.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) learned(t *testing.T) int64 {
	t.Helper()
	live, err := f.reg.Live(context.Background(), "m")
	if err != nil {
		t.Fatalf("live version: %v", err)
	}
	return live.Examples
}

// TestCopiesOfExamplesAreLearnedOnce: a copy of an example (a stage that died between producing it
// and acknowledging it made it again) is learned once, by the learner that saw the first copy and
// by one restarted from its checkpoint after it.
func TestCopiesOfExamplesAreLearnedOnce(t *testing.T) {
	f := newFixture(t, 2000, 0)
	f.produceKeyed(t, f.examples[:1000])
	f.produceKeyed(t, f.examples[900:1000]) // copies, right behind the originals

	ctx, cancel := context.WithCancel(context.Background())
	first := f.runner(0, nil)
	done := make(chan error, 1)
	go func() { done <- first.Run(ctx) }()
	f.waitLearned(t, 1000)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := f.learned(t); got != 1000 {
		t.Fatalf("learned %d examples of 1000 and 100 copies, want 1000", got)
	}

	// More copies after the checkpoint, then new examples: a restarted learner remembers the ids
	// learned before its checkpoint.
	f.produceKeyed(t, f.examples[950:1000])
	f.produceKeyed(t, f.examples[1000:])
	run(t, f.runner(0, nil))
	f.waitLearned(t, 2000)
	if got := f.learned(t); got != 2000 {
		t.Errorf("after a restart, learned %d of 2000 examples and 150 copies, want 2000", got)
	}
}
