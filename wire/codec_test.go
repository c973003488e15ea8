package wire_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/streamlearn/streamlearn/wire"
)

// FuzzCodecMatchesEncodingJSON holds the fast codec to encoding/json's semantics on the shapes the
// stages decode: both accept or both reject an input, and what they decode is equal.
func FuzzCodecMatchesEncodingJSON(f *testing.F) {
	for _, s := range []string{
		`{"id":"e1","entity":"u1","time":"2026-11-30T10:00:00.123Z","fields":{"a":1.5,"b":"x","c":true,"d":null}}`,
		`{"id":"e1","features":{"a":1e200,"b":-0.0,"c":5e-324},"model":"m","version":3,"score":0.25,"label":1}`,
		`{"id":"\u00e9\ud83d\ude00","fields":{"a":"\u0000"}}`,
		`{"id":1,"id":"dup"}`, `{"a":[1,2,{"b":null}]}`, `"str"`, `1e400`, `{"a":01}`, `{"a":"\x"}`, `{`, `{"a":1}x`,
		`{"score":1.7976931348623157e308,"version":9223372036854775807}`, `{"version":1.5}`, `{"time":"yesterday"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		same(t, data, func() any { return new(wire.Example) })
		same(t, data, func() any { return new(wire.Prediction) })
		same(t, data, func() any { return new(map[string]json.RawMessage) })
		same(t, data, func() any { return new(any) })
		same(t, data, func() any { return new(string) })
	})
}

func same(t *testing.T, data []byte, fresh func() any) {
	t.Helper()
	want, got := fresh(), fresh()
	errStd := json.Unmarshal(data, want)
	errFast := wire.Unmarshal(data, got)
	if (errStd == nil) != (errFast == nil) {
		t.Fatalf("%T from %q: encoding/json error %v, codec error %v", want, data, errStd, errFast)
	}
	if errStd == nil && !reflect.DeepEqual(want, got) {
		t.Fatalf("%T from %q: encoding/json %+v, codec %+v", want, data, want, got)
	}
	if errStd != nil {
		return
	}
	a, errA := json.Marshal(want)
	b, errB := wire.Marshal(got)
	if (errA == nil) != (errB == nil) || string(a) != string(b) {
		t.Fatalf("%T from %q encodes as %s (encoding/json) and %s (codec)", want, data, a, b)
	}
}
