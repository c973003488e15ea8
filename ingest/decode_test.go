package ingest_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/streamlearn/streamlearn/ingest"
	"github.com/streamlearn/streamlearn/wire"
)

var now = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func TestDecodeEventValid(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want wire.Event
	}{
		{"contract example", `{"id": "e-1", "entity": "u-42", "time": "2026-11-22T10:00:00.123Z", "fields": {"amount": 12.5, "country": "DE", "new": true}}`,
			wire.Event{ID: "e-1", Entity: "u-42", Time: time.Date(2026, 11, 22, 10, 0, 0, 123e6, time.UTC), Fields: map[string]any{"amount": 12.5, "country": "DE", "new": true}}},
		{"unix millis", `{"id": "e-2", "time": 1795341600123, "fields": {}}`,
			wire.Event{ID: "e-2", Time: time.UnixMilli(1795341600123).UTC(), Fields: map[string]any{}}},
		{"no time means now, null fields are missing values", `{"id": "e-3", "fields": {"a": null, "b": -1e3}}`,
			wire.Event{ID: "e-3", Time: now, Fields: map[string]any{"b": -1000.0}}},
		{"integer entity", `{"id": "e-4", "entity": 42}`,
			wire.Event{ID: "e-4", Entity: "42", Time: now, Fields: map[string]any{}}},
		{"unknown keys are ignored", `{"id": "e-5", "source": "web"}`,
			wire.Event{ID: "e-5", Time: now, Fields: map[string]any{}}},
		{"offset time zone", `{"id": "e-6", "time": "2026-11-22T11:00:00+01:00"}`,
			wire.Event{ID: "e-6", Time: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC), Fields: map[string]any{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ingest.DecodeEvent([]byte(tt.in), now, ingest.DefaultLimits())
			if err != nil {
				t.Fatalf("DecodeEvent: %v", err)
			}
			if got.ID != tt.want.ID || got.Entity != tt.want.Entity || !got.Time.Equal(tt.want.Time) || len(got.Fields) != len(tt.want.Fields) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			for k, v := range tt.want.Fields {
				if got.Fields[k] != v {
					t.Errorf("field %s = %v, want %v", k, got.Fields[k], v)
				}
			}
		})
	}
}

func TestDecodeEventInvalid(t *testing.T) {
	lim := ingest.DefaultLimits()
	fields := make([]string, lim.MaxFields+1)
	for i := range fields {
		fields[i] = `"f` + strconv.Itoa(i) + `": 1`
	}
	many := `{"id": "x", "fields": {` + strings.Join(fields, ",") + "}}"
	tests := []struct {
		name string
		in   string
		want ingest.Reason
	}{
		{"empty", ``, ingest.ReasonBadJSON},
		{"truncated", `{"id": "x", "fields": {`, ingest.ReasonBadJSON},
		{"array", `[1]`, ingest.ReasonNotObject},
		{"string", `"event"`, ingest.ReasonNotObject},
		{"no id", `{"fields": {}}`, ingest.ReasonMissingID},
		{"empty id", `{"id": ""}`, ingest.ReasonMissingID},
		{"numeric id", `{"id": 7}`, ingest.ReasonBadID},
		{"long id", `{"id": "` + strings.Repeat("i", 300) + `"}`, ingest.ReasonBadID},
		{"object entity", `{"id": "x", "entity": {}}`, ingest.ReasonBadEntity},
		{"fractional entity", `{"id": "x", "entity": 1.5}`, ingest.ReasonBadEntity},
		{"bad time string", `{"id": "x", "time": "22/11/2026"}`, ingest.ReasonBadTime},
		{"time too early", `{"id": "x", "time": 5}`, ingest.ReasonBadTime},
		{"time too far ahead", `{"id": "x", "time": "2030-01-01T00:00:00Z"}`, ingest.ReasonBadTime},
		{"time as bool", `{"id": "x", "time": true}`, ingest.ReasonBadTime},
		{"fields array", `{"id": "x", "fields": [1]}`, ingest.ReasonBadFields},
		{"nested field", `{"id": "x", "fields": {"a": {"b": 1}}}`, ingest.ReasonBadFieldType},
		{"array field", `{"id": "x", "fields": {"a": [1]}}`, ingest.ReasonBadFieldType},
		{"huge number", `{"id": "x", "fields": {"a": 1e400}}`, ingest.ReasonBadFieldType},
		{"long string", `{"id": "x", "fields": {"a": "` + strings.Repeat("s", 2000) + `"}}`, ingest.ReasonBadFieldType},
		{"too many fields", many, ingest.ReasonTooMany},
		{"oversize", `{"id": "x", "fields": {"a": "` + strings.Repeat("s", 70<<10) + `"}}`, ingest.ReasonOversize},
		{"not utf-8", "{\"id\": \"\xff\"}", ingest.ReasonBadJSON},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ingest.DecodeEvent([]byte(tt.in), now, lim)
			if got := ingest.ReasonOf(err); got != tt.want {
				t.Fatalf("reason = %q (%v), want %q", got, err, tt.want)
			}
			if !strings.Contains(err.Error(), string(tt.want)) {
				t.Errorf("error %q does not name its reason", err)
			}
		})
	}
}

func TestDecodeOutcome(t *testing.T) {
	tests := []struct {
		in        string
		wantValue float64
		wantClass string
		wantErr   ingest.Reason
	}{
		{`{"id": "e-1", "label": 1}`, 1, "", ""},
		{`{"id": "e-1", "label": 0, "time": 1795341600000}`, 0, "", ""},
		{`{"id": "e-1", "label": true}`, 1, "", ""},
		{`{"id": "e-1", "label": 12.75}`, 12.75, "", ""},
		{`{"id": "e-1", "label": "cat"}`, 0, "cat", ""},
		{`{"id": "e-1"}`, 0, "", ingest.ReasonBadLabel},
		{`{"id": "e-1", "label": null}`, 0, "", ingest.ReasonBadLabel},
		{`{"id": "e-1", "label": [1]}`, 0, "", ingest.ReasonBadLabel},
		{`{"label": 1}`, 0, "", ingest.ReasonMissingID},
	}
	for _, tt := range tests {
		o, err := ingest.DecodeOutcome([]byte(tt.in), now, ingest.DefaultLimits())
		if got := ingest.ReasonOf(err); got != tt.wantErr {
			t.Errorf("%s: reason %q (%v), want %q", tt.in, got, err, tt.wantErr)
			continue
		}
		if err == nil && (o.Value != tt.wantValue || o.Class != tt.wantClass) {
			t.Errorf("%s: got %+v", tt.in, o)
		}
	}
}

// FuzzDecodeEvent checks the decoder never panics and that what it accepts is within the limits.
func FuzzDecodeEvent(f *testing.F) {
	for _, s := range []string{
		`{"id": "e-1", "entity": "u-42", "time": "2026-11-22T10:00:00.123Z", "fields": {"amount": 12.5, "country": "DE", "new": true}}`,
		`{"id": "e", "time": 1795341600123}`, `[1]`, `{"id": 1}`, `{"id":"x","fields":{"a":{"b":1}}}`, "\xff",
	} {
		f.Add([]byte(s))
	}
	lim := ingest.DefaultLimits()
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := ingest.DecodeEvent(b, now, lim)
		if err != nil {
			if ingest.ReasonOf(err) == "" {
				t.Fatalf("error without a reason: %v", err)
			}
			return
		}
		if ev.ID == "" || len(ev.ID) > lim.MaxIDBytes || len(ev.Fields) > lim.MaxFields {
			t.Fatalf("accepted an event outside the limits: %+v", ev)
		}
		for k, v := range ev.Fields {
			switch v.(type) {
			case float64, string, bool:
			default:
				t.Fatalf("field %s has type %T", k, v)
			}
		}
	})
}

func FuzzDecodeOutcome(f *testing.F) {
	for _, s := range []string{`{"id": "e-1", "label": 1}`, `{"id": "e", "label": "c"}`, `{"id": "e", "label": true, "time": 1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := ingest.DecodeOutcome(b, now, ingest.DefaultLimits())
		if err == nil && o.ID == "" {
			t.Fatal("accepted an outcome without id")
		}
		if err != nil && ingest.ReasonOf(err) == "" {
			t.Fatalf("error without a reason: %v", err)
		}
	})
}

// TestDecodeFieldScalars holds the fast paths of string and boolean fields to what encoding/json
// decodes: escapes, non-ASCII text, and control characters (rejected).
func TestDecodeFieldScalars(t *testing.T) {
	for _, raw := range []string{
		`"plain"`, `""`, `"ünïcödé ✓"`, `"tab\there"`, `"quote \" inside"`, `"back\\slash"`, `"\u00e9"`,
		"\"raw\x01control\"", "\"raw\ttab\"", `true`, `false`, `tru`, `falsey`,
	} {
		var want any
		wantErr := json.Unmarshal([]byte(raw), &want)
		ev, err := ingest.DecodeEvent([]byte(`{"id": "x", "fields": {"f": `+raw+`}}`), time.Now(), ingest.DefaultLimits())
		if (err != nil) != (wantErr != nil) {
			t.Errorf("field %s: error %v, encoding/json's %v", raw, err, wantErr)
			continue
		}
		if err == nil && ev.Fields["f"] != want {
			t.Errorf("field %s = %#v, encoding/json decodes %#v", raw, ev.Fields["f"], want)
		}
	}
}
