package correlator

import (
	"sort"
	"strings"

	"github.com/streamlearn/streamlearn/drift"
	"github.com/streamlearn/streamlearn/wire"
)

// exampleSegments returns an example's value of each segment field, read from the features it was
// scored with: the one-hot "field=value" of a string field, or the number of a numeric or boolean
// field (booleans are 1 and 0, as drift.SegmentValue formats them on the events side). Examples
// carry the features of the event they were scored on, so no cache of events by id is needed,
// however late the label comes. "" means missing.
func exampleSegments(fields []string, v wire.Vector) []string {
	if len(fields) == 0 {
		return nil
	}
	out := make([]string, len(fields))
	for i, field := range fields {
		// The vector is sorted by name, so the names starting with field follow it.
		for j := sort.Search(len(v), func(k int) bool { return v[k].Name >= field }); j < len(v) && strings.HasPrefix(v[j].Name, field); j++ {
			if s, ok := drift.FeatureSegmentValue(field, v[j].Name, v[j].Value); ok {
				out[i] = s
				break
			}
		}
	}
	return out
}
