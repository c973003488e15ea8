package drift

import (
	"encoding/json"
	"strconv"
)

// MissingSegment is the segment value of an event or example that lacks
// the segment field.
const MissingSegment = "__missing__"

// AllVersions is wire.PerformanceRow.Version of the rows over every version of a
// model, the rows that segments split.
const AllVersions int64 = -1

// SegmentValue formats an event field's value as a segment value: strings
// as they are, booleans as 1 and 0 and numbers in their shortest form,
// which is how the feature vectors of examples carry them (see
// FeatureSegmentValue); anything else, nil included, is "" (missing).
func SegmentValue(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case bool:
		if v {
			return "1"
		}
		return "0"
	case json.Number:
		f, err := v.Float64()
		if err != nil {
			return ""
		}
		return formatNumber(f)
	}
	if k, x, _, ok := parseValue(v); ok && k == kindNumeric {
		return formatNumber(x)
	}
	return ""
}

// FeatureSegmentValue returns the segment value of field carried by one
// feature of a scored example's vector: "field=DE" (a one-hot string)
// gives "DE"; a numeric feature named field gives its value formatted as
// SegmentValue formats numbers. ok is false for other features.
func FeatureSegmentValue(field, name string, value float64) (string, bool) {
	switch {
	case len(name) > len(field) && name[len(field)] == '=' && name[:len(field)] == field:
		return name[len(field)+1:], true
	case name == field:
		return formatNumber(value), true
	}
	return "", false
}

func formatNumber(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// segmentValues bounds the values of one segment field of one model.
type segmentValues struct {
	known map[string]bool
	max   int
}

// key returns the row segment of a raw value: "field=value", with missing
// values as MissingSegment and values beyond the bound as OtherCategory.
// grew reports a value seen for the first time.
func (s *segmentValues) key(field, v string) (key string, grew bool) {
	switch {
	case v == "":
		v = MissingSegment
	case s.known[v]:
	case len(s.known) < s.max:
		s.known[v] = true
		grew = true
	default:
		v = OtherCategory
	}
	return field + "=" + v, grew
}
