package wire_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/streamlearn/streamlearn/wire"
)

// BenchmarkCodec compares the codec with encoding/json, side by side, on what the stages do per
// record: decode an event's envelope and fields (ingest), decode and encode an example.
func BenchmarkCodec(b *testing.B) {
	event := []byte(`{"id":"ev-000123456","entity":"user-4711","time":"2026-11-30T10:00:00.123Z","fields":{"amount":123.45,"country":"DE","device":"mobile","hour":13,"merchant":"m-991","is_new":false,"velocity_1h":3,"category":"electronics"}}`)
	now := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	ex := wire.Example{Pending: wire.Pending{ID: "ev-000123456", Entity: "user-4711", Time: now,
		Features: wire.Vector{{Name: "amount", Value: 1.2}, {Name: "amount_cnt_1h", Value: 3}, {Name: "amount_sum_1h", Value: 33.1}, {Name: "country=DE", Value: 1}, {Name: "device=mobile", Value: 1}, {Name: "hour", Value: 13}, {Name: "merchant=m-991", Value: 1}, {Name: "velocity", Value: 3}},
		Model:    "fraud", Version: 12, Score: 0.123, ScoredAt: now}, Label: 1, OutcomeTime: now}
	encoded, _ := json.Marshal(&ex)
	codecs := []struct {
		name      string
		unmarshal func([]byte, any) error
		marshal   func(any) ([]byte, error)
	}{{"encoding-json", json.Unmarshal, json.Marshal}, {"wire", wire.Unmarshal, wire.Marshal}}
	for _, c := range codecs {
		b.Run("event-decode/"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var raw struct {
					ID, Entity, Time, Fields json.RawMessage
				}
				var fields map[string]json.RawMessage
				if c.unmarshal(event, &raw) != nil || c.unmarshal(raw.Fields, &fields) != nil {
					b.Fatal("decode")
				}
			}
		})
		b.Run("example-decode/"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var e wire.Example
				if c.unmarshal(encoded, &e) != nil {
					b.Fatal("decode")
				}
			}
		})
		b.Run("example-encode/"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.marshal(&ex); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
