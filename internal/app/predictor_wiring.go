package app

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/streamlearn/streamlearn/learner"
	"github.com/streamlearn/streamlearn/predictor"
	"github.com/streamlearn/streamlearn/sinks/kafkasink"
	"github.com/streamlearn/streamlearn/wire"
)

// router returns the predictor's router and has the loader serve every model it names: each must
// be in the registry or trained by the learner, else the process does not start.
func (m *Main) router(ctx context.Context, loader *predictor.Loader) (*predictor.Router, error) {
	cfg := m.Config
	r, err := predictor.NewRouter(cfg.Predictor, cfg.Model.Name)
	if err != nil {
		return nil, err
	}
	trained := map[string]learner.Spec{}
	for _, s := range cfg.Models() {
		trained[s.Name] = s
	}
	for _, name := range r.Models() {
		var spec *learner.Spec
		if s, ok := trained[name]; ok {
			spec = &s
		}
		if err := loader.Serve(ctx, name, spec); err != nil {
			return nil, fmt.Errorf("predictor: serve model %s: %w", name, err)
		}
	}
	return r, nil
}

// announce tells other processes of a champion change on the models topic.
func (m *Main) announce(ctx context.Context, a wire.Announcement) error {
	return kafkasink.Announce(ctx, m.producer, m.Config.Kafka.Topics.Models, a)
}

// shadowLog produces the shadow predictions of HTTP requests to the predictions topic without
// waiting: when the producer's buffer is full they are dropped, never the request delayed.
type shadowLog struct {
	client  *kgo.Client
	topic   string
	log     *slog.Logger
	dropped atomic.Int64
}

var _ predictor.ShadowLog = (*shadowLog)(nil)

func (s *shadowLog) LogShadow(ps []wire.Prediction) {
	for i := range ps {
		b, err := json.Marshal(&ps[i])
		if err != nil {
			s.drop(err)
			continue
		}
		s.client.TryProduce(context.Background(), &kgo.Record{Topic: s.topic, Key: []byte(ps[i].ID), Value: b},
			func(_ *kgo.Record, err error) {
				if err != nil {
					s.drop(err)
				}
			})
	}
}

// drop counts a lost shadow prediction, logging at the 1st, 2nd, 4th, 8th... so a long outage
// does not flood the log.
func (s *shadowLog) drop(err error) {
	if n := s.dropped.Add(1); n&(n-1) == 0 {
		s.log.Warn("shadow prediction dropped", "dropped", n, "err", err)
	}
}
