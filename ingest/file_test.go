package ingest_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/streamlearn/streamlearn/ingest"
	"github.com/streamlearn/streamlearn/wire"
)

func TestReadEventsJSONLAndCSV(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	at := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	want := []wire.Event{
		{ID: "e-1", Entity: "u-1", Time: at, Fields: map[string]any{"amount": 12.5, "country": "DE", "new": true}},
		{ID: "e-2", Entity: "u-2", Time: at.Add(time.Second), Fields: map[string]any{"amount": 3.0, "country": "US", "new": false}},
		{ID: "e-3", Time: now, Fields: map[string]any{"amount": 1.0, "country": "FR", "new": false}},
	}
	inputs := map[string]string{
		ingest.FormatJSONL: `{"id": "e-1", "entity": "u-1", "time": "2026-11-30T10:00:00Z", "fields": {"amount": 12.5, "country": "DE", "new": true}}
{"id": "e-2", "entity": "u-2", "time": 1796032801000, "fields": {"amount": 3, "country": "US", "new": false}}

{"id": "e-3", "fields": {"amount": 1, "country": "FR", "new": false}}
`,
		ingest.FormatCSV: "id,entity,time,amount,country,new\ne-1,u-1,2026-11-30T10:00:00Z,12.5,DE,true\ne-2,u-2,1796032801000,3,US,false\ne-3,,,1,FR,false\n",
	}
	for format, in := range inputs {
		var got []wire.Event
		batches := 0
		err := ingest.ReadEvents(strings.NewReader(in), format, ingest.DefaultLimits(), now, 2, func(evs []wire.Event) error {
			batches++
			got = append(got, evs...)
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		if batches != 2 || len(got) != len(want) {
			t.Fatalf("%s: %d events in %d batches, want 3 in 2", format, len(got), batches)
		}
		for i := range want {
			if got[i].ID != want[i].ID || got[i].Entity != want[i].Entity || !got[i].Time.Equal(want[i].Time) || !reflect.DeepEqual(got[i].Fields, want[i].Fields) {
				t.Errorf("%s event %d = %+v, want %+v", format, i, got[i], want[i])
			}
		}
	}
	bad := map[string]string{ // the second event is bad: line 2 of the JSON lines, line 3 of the CSV (under its header)
		ingest.FormatJSONL: "{\"id\": \"ok\"}\n{\"fields\": {}}\n",
		ingest.FormatCSV:   "id,amount\nok,1\n,2\n",
	}
	line := map[string]string{ingest.FormatJSONL: "line 2", ingest.FormatCSV: "line 3"}
	for format, in := range bad {
		err := ingest.ReadEvents(strings.NewReader(in), format, ingest.DefaultLimits(), now, 10, func([]wire.Event) error { return nil })
		var inv *ingest.InvalidError
		if err == nil || !strings.Contains(err.Error(), line[format]) || !errors.As(err, &inv) {
			t.Errorf("%s: a line without an id = %v, want an InvalidError naming %s", format, err, line[format])
		}
	}
	if err := ingest.ReadEvents(strings.NewReader(""), "xml", ingest.DefaultLimits(), now, 1, nil); err == nil {
		t.Error("format xml accepted")
	}
}
