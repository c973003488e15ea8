package app

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/streamlearn/streamlearn/internal/kafkaclient"
)

// readyInterval is how often the dependencies are checked for /readyz, and readyTimeout how long
// one check may take.
const (
	readyInterval = time.Second
	readyTimeout  = 2 * time.Second
)

// component is a dependency /readyz reports on, by its short name.
type component struct {
	name  string
	check func(context.Context) error
}

// readiness is the dependencies' state as last checked in the background, so that /readyz costs
// nothing however often it is asked. Clients get the names of the components down; the errors go
// to the log when a component goes down or comes back.
type readiness struct {
	components []component
	log        *slog.Logger
	down       atomic.Pointer[[]string]
	// errs is each component's latest error text ("" when up); only refresh uses it.
	errs map[string]string
}

func newReadiness(log *slog.Logger, components ...component) *readiness {
	r := &readiness{components: components, log: log, errs: map[string]string{}}
	r.down.Store(&[]string{})
	return r
}

// components returns the dependencies of m that /readyz checks.
func (m *Main) components() []component {
	cs := []component{
		{"redis", func(ctx context.Context) error { return m.rdb.Ping(ctx).Err() }},
		{"kafka", func(ctx context.Context) error {
			return kafkaclient.CheckTopics(ctx, m.producer, m.Config.Kafka.Topics.All()...)
		}},
	}
	if m.writer != nil {
		cs = append(cs, component{"clickhouse", m.writer.Ping})
	}
	return cs
}

// problems returns the names of the components that were down at the last check.
func (r *readiness) problems() []string { return *r.down.Load() }

// refresh checks every component at once.
func (r *readiness) refresh(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	errs := make([]error, len(r.components))
	var wg sync.WaitGroup
	for i, c := range r.components {
		wg.Go(func() { errs[i] = c.check(ctx) })
	}
	wg.Wait()
	if ctx.Err() != nil && errors.Is(context.Cause(ctx), context.Canceled) {
		return // shutting down: the errors say nothing of the dependencies
	}
	down := []string{}
	for i, c := range r.components {
		if errs[i] != nil {
			down = append(down, c.name)
		}
		r.logChange(c.name, errs[i])
	}
	r.down.Store(&down)
}

func (r *readiness) logChange(name string, err error) {
	text := ""
	if err != nil {
		text = err.Error()
	}
	switch prev := r.errs[name]; {
	case text == prev:
	case text == "":
		r.log.Info("ready: dependency is back", "component", name)
	default:
		r.log.Warn("not ready: dependency is down", "component", name, "err", text)
	}
	r.errs[name] = text
}

// run refreshes the state every readyInterval until ctx ends.
func (r *readiness) run(ctx context.Context) {
	t := time.NewTicker(readyInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.refresh(ctx)
		}
	}
}
