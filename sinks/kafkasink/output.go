// Package kafka writes streamlearn's outputs to Kafka topics: predictions keyed by event id and
// joined examples (the replayable training log).
package kafkasink

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamlearn/streamlearn/wire"
)

// Output is the predictor's Output on a franz-go producer (the wiring checks that it fits).
type Output struct {
	Client           *kgo.Client
	PredictionsTopic string
	ExamplesTopic    string
}

// Predictions produces one record per prediction, keyed by event id, and waits for the acks.
func (o *Output) Predictions(ctx context.Context, ps []wire.Prediction) error {
	recs := make([]*kgo.Record, len(ps))
	for i := range ps {
		b, err := wire.Marshal(&ps[i])
		if err != nil {
			return fmt.Errorf("encode prediction %s: %w", ps[i].ID, err)
		}
		recs[i] = &kgo.Record{Topic: o.PredictionsTopic, Key: []byte(ps[i].ID), Value: b}
	}
	if err := o.Client.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("produce predictions: %w", err)
	}
	return nil
}

// Examples produces one record per joined example, keyed by event id, and waits for the acks.
func (o *Output) Examples(ctx context.Context, exs []wire.Example) error {
	recs := make([]*kgo.Record, len(exs))
	for i := range exs {
		b, err := wire.Marshal(&exs[i])
		if err != nil {
			return fmt.Errorf("encode example %s: %w", exs[i].ID, err)
		}
		recs[i] = &kgo.Record{Topic: o.ExamplesTopic, Key: []byte(exs[i].ID), Value: b}
	}
	if err := o.Client.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("produce examples: %w", err)
	}
	return nil
}
