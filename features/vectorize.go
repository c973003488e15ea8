package features

import (
	"math"
	"strconv"

	"github.com/streamlearn/streamlearn/ingest"
)

// EntityState is what the store knows about an entity as of just before an event: the inputs of the
// entity features. The zero value is an entity never seen before.
type EntityState struct {
	// Count is the number of earlier events of the entity.
	Count int64 `json:"count"`
	// LastTime is the event time of the entity's latest earlier event (zero when none).
	LastTime int64 `json:"last_time_ms"`
}

// Vectorize builds the feature vector of an event from its fields and its entity's prior state:
// numbers become numeric features, booleans 0/1, strings one-hot "name=value" features; events with an
// entity also get "entity.count" (log1p of earlier events) and "entity.since_prev_s" (log1p seconds since
// the previous event). The result is sorted by name.
func Vectorize(ev ingest.Event, st *EntityState) Vector {
	v := make(Vector, 0, len(ev.Fields)+2)
	for name, val := range ev.Fields {
		switch x := val.(type) {
		case float64:
			v = append(v, Feature{Name: name, Value: x})
		case bool:
			f := 0.0
			if x {
				f = 1
			}
			v = append(v, Feature{Name: name, Value: f})
		case string:
			v = append(v, Feature{Name: name + "=" + x, Value: 1})
		case int:
			v = append(v, Feature{Name: name, Value: float64(x)})
		case int64:
			v = append(v, Feature{Name: name, Value: float64(x)})
		}
	}
	if ev.Entity != "" && st != nil {
		v = append(v, Feature{Name: "entity.count", Value: math.Log1p(float64(st.Count))})
		if st.LastTime > 0 {
			gap := float64(ev.Time.UnixMilli()-st.LastTime) / 1000
			if gap < 0 {
				gap = 0 // a late event: its predecessor by arrival is later in event time
			}
			v = append(v, Feature{Name: "entity.since_prev_s", Value: math.Log1p(gap)})
		}
	}
	v.Sort()
	return v
}

// FormatFloat formats a feature value compactly and exactly.
func FormatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
