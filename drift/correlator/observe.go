package correlator

import (
	"context"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/streamlearn/streamlearn/drift"
	"github.com/streamlearn/streamlearn/ingest"
	"github.com/streamlearn/streamlearn/wire"
)

// Record is one record the correlator reads: where it sits in its topic and what it holds.
type Record struct {
	Topic     string
	Partition int32
	Offset    int64
	Value     []byte
	Timestamp time.Time // when the record was produced: an outcome's received_at
}

// decoded is one record, decoded; ok is false for records that feed nothing (the scoring and join
// roles send invalid ones to the dead-letter topic).
type decoded struct {
	ok         bool
	event      wire.Event
	prediction wire.Prediction
	outcome    wire.Outcome
	example    wire.Example
	segments   []string
}

// decodeBatchMin is the batch size below which decoding stays on one goroutine.
const decodeBatchMin = 512

// observeAll decodes records on all cores, since JSON decoding is most of the correlator's work,
// then applies them in order. It stops at the first record whose rows the writer did not take
// (ctx ended while the writer's buffer was full): that record and the later ones are not seen.
func (c *Correlator) observeAll(ctx context.Context, recs []Record, now time.Time) error {
	out := slices.Grow(c.decoded[:0], len(recs))[:len(recs)]
	c.decoded = out
	defer clear(out) // keep no decoded record alive until the next poll
	workers := min(runtime.GOMAXPROCS(0), len(recs)/decodeBatchMin)
	if workers <= 1 {
		for i := range recs {
			out[i] = c.decode(&recs[i], now)
		}
	} else {
		var wg sync.WaitGroup
		chunk := (len(recs) + workers - 1) / workers
		for lo := 0; lo < len(recs); lo += chunk {
			hi := min(lo+chunk, len(recs))
			wg.Go(func() {
				for i := lo; i < hi; i++ {
					out[i] = c.decode(&recs[i], now)
				}
			})
		}
		wg.Wait()
	}
	for i := range recs {
		if err := c.apply(ctx, &recs[i], &out[i]); err != nil {
			return err
		}
	}
	return nil
}

// observe decodes and applies one record.
func (c *Correlator) observe(ctx context.Context, r *Record, now time.Time) error {
	d := c.decode(r, now)
	return c.apply(ctx, r, &d)
}

func (c *Correlator) decode(r *Record, now time.Time) decoded {
	var d decoded
	var err error
	switch r.Topic {
	case c.topics.Events:
		d.event, err = ingest.DecodeEvent(r.Value, now, c.limits)
		d.ok = err == nil
	case c.topics.Predictions:
		d.ok = wire.Unmarshal(r.Value, &d.prediction) == nil && d.prediction.ID != ""
	case c.topics.Outcomes:
		d.outcome, err = ingest.DecodeOutcome(r.Value, now, c.limits)
		d.ok = err == nil
	case c.topics.Examples:
		if len(c.segments) == 0 {
			var ex exampleWithoutFeatures
			d.ok = wire.Unmarshal(r.Value, &ex) == nil && ex.ID != ""
			d.example = ex.Example
			break
		}
		d.ok = wire.Unmarshal(r.Value, &d.example) == nil && d.example.ID != ""
		if d.ok {
			d.segments = exampleSegments(c.segments, d.example.Features)
		}
	}
	return d
}

// exampleWithoutFeatures decodes an example record but skips its features, most of its bytes,
// which the correlator reads only to find the segments of performance rows.
type exampleWithoutFeatures struct {
	wire.Example
	Features skipped `json:"features"` // shadows Example's
}

// skipped is a JSON value that is not decoded.
type skipped struct{}

func (*skipped) UnmarshalJSON([]byte) error { return nil }

// apply feeds a decoded record to the monitor and its rows to the writer. Records that a previous
// run already wrote (read again to rebuild open windows after a restart) only feed the monitor. When
// the writer does not take the rows, the record is left unseen: neither the monitor nor the offsets
// count it.
func (c *Correlator) apply(ctx context.Context, r *Record, d *decoded) error {
	written := c.offsets.written(r)
	var stream drift.Stream
	var eventTime time.Time
	switch r.Topic {
	case c.topics.Events:
		stream = drift.StreamEvents
		if !d.ok {
			break
		}
		ev := &d.event
		eventTime = ev.Time
		c.monitor.AddEvent(drift.Event{Model: c.model, ID: ev.ID, Time: ev.Time, Fields: ev.Fields})
	case c.topics.Predictions:
		stream = drift.StreamPredictions
		if !d.ok {
			break
		}
		p := &d.prediction
		eventTime = p.Time
		if !written {
			if err := c.writer.AddPredictions(ctx, wire.PredictionRow{
				ID: p.ID, Entity: p.Entity, Model: p.Model, Version: p.Version, Score: p.Score,
				Route: p.Route, Time: p.Time, ScoredAt: p.ScoredAt,
			}); err != nil {
				return err
			}
		}
		c.monitor.AddPrediction(drift.Prediction{Model: p.Model, ID: p.ID, Version: p.Version, Time: p.Time, Score: p.Score})
	case c.topics.Outcomes:
		if !d.ok || written {
			break
		}
		o := &d.outcome
		if err := c.writer.AddOutcomes(ctx, wire.OutcomeRow{ID: o.ID, Label: o.Value, Class: o.Class, Time: o.Time, ReceivedAt: r.Timestamp}); err != nil {
			return err
		}
	case c.topics.Examples:
		stream = drift.StreamOutcomes
		if !d.ok {
			break
		}
		ex := &d.example
		eventTime = ex.Time
		if !written {
			if err := c.writer.AddOutcomes(ctx, wire.OutcomeRow{
				ID: ex.ID, Label: ex.Label, Class: ex.Class, Time: ex.OutcomeTime, ReceivedAt: r.Timestamp,
				Model: ex.Model, Version: ex.Version, Score: ex.Score, Joined: true,
				DelaySeconds: ex.OutcomeTime.Sub(ex.Time).Seconds(),
			}); err != nil {
				return err
			}
		}
		if c.outcomes {
			c.monitor.AddOutcome(drift.Outcome{
				Model: ex.Model, ID: ex.ID, Version: ex.Version, Time: ex.Time, OutcomeTime: ex.OutcomeTime,
				Score: ex.Score, Label: ex.Label, Implicit: ex.Implicit, Segments: d.segments,
			})
		}
	}
	c.offsets.seen(r, stream, eventTime)
	return nil
}
