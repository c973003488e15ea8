package features

import (
	"strconv"

	"github.com/streamlearn/streamlearn/wire"
)

// RawVector is the vector of an event's own fields alone, with no entity state: numbers as they
// are, booleans 0/1, strings one-hot as "name=value". Tests, benchmarks and tools use it to build
// examples without a store; the stream uses an OnlineStore.
func RawVector(ev wire.Event) wire.Vector {
	v := make(wire.Vector, 0, len(ev.Fields))
	for name, val := range ev.Fields {
		switch x := val.(type) {
		case float64:
			v = append(v, wire.Feature{Name: name, Value: x})
		case bool:
			f := 0.0
			if x {
				f = 1
			}
			v = append(v, wire.Feature{Name: name, Value: f})
		case string:
			v = append(v, wire.Feature{Name: name + "=" + x, Value: 1})
		}
	}
	v.Sort()
	return v
}

// FormatFloat formats a feature value compactly and exactly.
func FormatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
