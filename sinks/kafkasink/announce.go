package kafkasink

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamlearn/streamlearn/wire"
)

// Announce produces a on the models topic, keyed by model so that a model's changes stay in order
// on one partition, and waits for the ack. It is the one way a model change (published by the
// learner; promoted or rolled back over HTTP or the CLI) is announced. The registry is the truth:
// predictors also poll it, so a lost announcement only delays a swap.
func Announce(ctx context.Context, cl *kgo.Client, topic string, a wire.Announcement) error {
	b, err := wire.Marshal(a)
	if err != nil {
		return fmt.Errorf("encode announcement: %w", err)
	}
	rec := &kgo.Record{Topic: topic, Key: []byte(a.Model), Value: b}
	if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		return fmt.Errorf("announce %s version %d: %w", a.Model, a.Version, err)
	}
	return nil
}
