package wire_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/streamlearn/streamlearn/wire"
)

// TestJSONFieldNames pins the contract: the JSON of every record, byte for byte.
func TestJSONFieldNames(t *testing.T) {
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	p := wire.Pending{ID: "e-1", Entity: "u-42", Time: at, Features: wire.Vector{{Name: "amount", Value: 12.5}}, Model: "m", Version: 3, Score: 0.25, ScoredAt: at}
	cases := []struct {
		name string
		v    any
		want string
	}{
		{"event", wire.Event{ID: "e-1", Entity: "u-42", Time: at, Fields: map[string]any{"amount": 12.5}},
			`{"id":"e-1","entity":"u-42","time":"2026-11-22T10:00:00Z","fields":{"amount":12.5}}`},
		{"outcome", wire.Outcome{ID: "e-1", Value: 1, Class: "a", Time: at},
			`{"id":"e-1","label":1,"class":"a","time":"2026-11-22T10:00:00Z"}`},
		{"prediction", wire.Prediction{ID: "e-1", Entity: "u-42", Model: "m", Version: 3, Score: 0.25, Route: wire.RouteChampion, Time: at, ScoredAt: at},
			`{"id":"e-1","entity":"u-42","model":"m","version":3,"score":0.25,"route":"champion","time":"2026-11-22T10:00:00Z","scored_at":"2026-11-22T10:00:00Z"}`},
		{"example", wire.Example{Pending: p, Label: 1, OutcomeTime: at, Implicit: true},
			`{"id":"e-1","entity":"u-42","time":"2026-11-22T10:00:00Z","features":[{"name":"amount","value":12.5}],"model":"m","version":3,"score":0.25,"scored_at":"2026-11-22T10:00:00Z","label":1,"outcome_time":"2026-11-22T10:00:00Z","implicit":true}`},
		{"announcement", wire.Announcement{Model: "m", Version: 3, Event: wire.EventPromoted, Time: at},
			`{"model":"m","version":3,"event":"promoted","time":"2026-11-22T10:00:00Z"}`},
		{"retrain", wire.RetrainCommand{Command: wire.CommandRetrain, Model: "m", Kind: "feature_drift", Reason: "r", AlertID: "a", From: at, To: at, Time: at, ChampionVersion: 2},
			`{"command":"retrain","model":"m","kind":"feature_drift","reason":"r","alert_id":"a","from":"2026-11-22T10:00:00Z","to":"2026-11-22T10:00:00Z","time":"2026-11-22T10:00:00Z","champion_version":2}`},
	}
	for _, c := range cases {
		b, err := json.Marshal(c.v)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := string(b); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
	}
}
