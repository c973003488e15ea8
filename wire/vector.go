package wire

import "sort"

// Feature is one named input of a model. Numeric fields keep their value; categorical ones are one-hot
// encoded as "name=value" with Value 1, so a Vector is always a list of numbers a model can hash.
type Feature struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
}

// Vector is the set of features an event was scored with. It is sorted by name so that two vectors
// built from the same inputs compare equal and encode to the same bytes.
type Vector []Feature

// Sort orders v by feature name.
func (v Vector) Sort() { sort.Slice(v, func(i, j int) bool { return v[i].Name < v[j].Name }) }

// Map returns the vector as a map from name to value.
func (v Vector) Map() map[string]float64 {
	m := make(map[string]float64, len(v))
	for _, f := range v {
		m[f.Name] = f.Value
	}
	return m
}
