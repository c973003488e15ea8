package features

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Aggregate functions.
const (
	FuncCount     = "count"      // events in the window
	FuncSum       = "sum"        // sum of the field
	FuncMean      = "mean"       // mean of the field (absent when the window has no value)
	FuncMin       = "min"        // smallest value (absent when none)
	FuncMax       = "max"        // largest value (absent when none)
	FuncStddev    = "stddev"     // population standard deviation (0 for one value, absent for none)
	FuncLast      = "last"       // value of the latest event in the window (absent when none)
	FuncSincePrev = "since_prev" // seconds from the latest event in the window to the event (absent when none)
	FuncDistinct  = "distinct"   // distinct values of the field, exact up to a few dozen per tile, then HyperLogLog
)

// Field types and categorical encodings.
const (
	TypeAuto        = "auto" // by the JSON type of the value: number, boolean or string
	TypeNumeric     = "numeric"
	TypeCategorical = "categorical"
	TypeBoolean     = "boolean"

	EncodingOneHot     = "onehot"     // "name=value"
	EncodingHash       = "hash"       // "name=#<bucket>" with bucket = hash(value) mod buckets
	EncodingVocabulary = "vocabulary" // "name=value" for listed values, "name=__other__" for the rest
)

// Transforms of numeric features, applied in the order listed.
const (
	TransformLog         = "log"         // sign(x)·ln(1+|x|)
	TransformClip        = "clip"        // clamp to [min, max]
	TransformBucketize   = "bucketize"   // "name=<i>", i = number of boundaries ≤ x; must be last
	TransformStandardize = "standardize" // (x−mean)/stddev over every value seen so far, shared by all processes; an outlier counts as at most 8 stddev from the mean
)

// AllFields as an aggregate's field means every numeric field of the events (discovered from them).
const AllFields = "*"

// Config declares the features of an event stream: raw fields and their transforms, per-entity
// aggregates over sliding event-time windows, and crosses. The zero-config default (DefaultConfig)
// uses every field as it comes and adds count_1h, count_24h, <field>_mean_1h and <field>_mean_24h for
// every numeric field.
type Config struct {
	// AutoFields adds every event field that Fields does not list, by its JSON type: numbers as they
	// are, booleans 0/1, strings one-hot "name=value" (default true).
	AutoFields bool `yaml:"auto_fields"`
	// Fields declares raw field features (default none: AutoFields covers every field).
	Fields []Field `yaml:"fields"`
	// Aggregates declares per-entity window aggregates (default: count over 1h and 24h, mean of every
	// numeric field over 1h and 24h). An empty list turns them off.
	Aggregates []Aggregate `yaml:"aggregates"`
	// Crosses lists pairs of feature names to cross: categorical×categorical gives "a=x&b=y" (1),
	// categorical×numeric "a=x&b" (the number), numeric×numeric "a&b" (the product). A name matches a
	// field or aggregate output, one-hot outputs included (default none).
	Crosses [][]string `yaml:"crosses"`
	// AllowedLateness is how far behind its entity's latest event time an event may be and still be
	// applied to the aggregates (default 10m, at most 7 days). Later events are scored but not applied,
	// and counted. Tiles are kept that much longer, and it bounds the redelivery marks: see the
	// package documentation.
	AllowedLateness time.Duration `yaml:"allowed_lateness"`
	// TilesPerWindow is the number of tiles a window is made of (default 12): a 1h window is kept as
	// 5-minute tiles, a 24h window as 2-hour tiles. Every window must divide into whole milliseconds.
	TilesPerWindow int `yaml:"tiles_per_window"`
	// MaxTrackedFields bounds how many fields discovered for "*" aggregates an entity keeps (default 32).
	MaxTrackedFields int `yaml:"max_tracked_fields"`
	// MaxMarks bounds the redelivery marks of one entity (default 10000); past it the oldest marks go
	// early and the entity's lateness shrinks to match, so no event is ever applied twice.
	MaxMarks int `yaml:"max_marks"`
	// MaxCategoryBytes bounds a categorical value in a feature name (default 128): longer values are
	// cut and end in a hash of the whole value, so names stay short and distinct.
	MaxCategoryBytes int `yaml:"max_category_bytes"`
}

// Field declares a raw field feature.
type Field struct {
	// Name is the event field.
	Name string `yaml:"name"`
	// As is the feature name (default Name).
	As string `yaml:"as"`
	// Type is auto (default), numeric, categorical or boolean. Values of another JSON type are
	// converted where that is obvious (a number as a category, a number as a boolean) and skipped otherwise.
	Type string `yaml:"type"`
	// Encoding of categorical fields: onehot (default), hash or vocabulary.
	Encoding string `yaml:"encoding"`
	// Buckets is the number of hash buckets (encoding hash).
	Buckets int `yaml:"buckets"`
	// Vocabulary lists the known values (encoding vocabulary).
	Vocabulary []string `yaml:"vocabulary"`
	// Transforms apply to numeric fields, in order.
	Transforms []Transform `yaml:"transforms"`
}

// Aggregate declares per-entity aggregates of one function over one or more windows.
type Aggregate struct {
	// Function is count, sum, mean, min, max, stddev, last, since_prev or distinct.
	Function string `yaml:"function"`
	// Field is the event field aggregated; "*" means every numeric field. count and since_prev take none.
	Field string `yaml:"field"`
	// Windows are the sliding event-time windows, such as 5m, 1h, 24h, 7d.
	Windows []Window `yaml:"windows"`
	// Name overrides the feature name "<field>_<function>_<window>" ("<function>_<window>" without a
	// field); only for one window and a named field.
	Name string `yaml:"name"`
	// Transforms apply to the aggregate's value, in order.
	Transforms []Transform `yaml:"transforms"`
}

// Transform is one step of a numeric feature's transform chain.
type Transform struct {
	// Kind is log, clip, bucketize or standardize.
	Kind string `yaml:"kind"`
	// Min and Max bound clip (either may be left out).
	Min *float64 `yaml:"min"`
	Max *float64 `yaml:"max"`
	// Boundaries of bucketize, ascending.
	Boundaries []float64 `yaml:"boundaries"`
}

// DefaultConfig returns the zero-config features: every field as it comes, count_1h and count_24h,
// and the 1h and 24h mean of every numeric field, with 10 minutes of allowed lateness.
func DefaultConfig() Config {
	hour, day := Window(time.Hour), Window(24*time.Hour)
	return Config{
		AutoFields: true,
		Aggregates: []Aggregate{
			{Function: FuncCount, Windows: []Window{hour, day}},
			{Function: FuncMean, Field: AllFields, Windows: []Window{hour, day}},
		},
		AllowedLateness:  10 * time.Minute,
		TilesPerWindow:   12,
		MaxTrackedFields: 32,
		MaxMarks:         10000,
		MaxCategoryBytes: 128,
	}
}

var (
	functions  = []string{FuncCount, FuncSum, FuncMean, FuncMin, FuncMax, FuncStddev, FuncLast, FuncSincePrev, FuncDistinct}
	types      = []string{"", TypeAuto, TypeNumeric, TypeCategorical, TypeBoolean}
	encodings  = []string{"", EncodingOneHot, EncodingHash, EncodingVocabulary}
	transforms = []string{TransformLog, TransformClip, TransformBucketize, TransformStandardize}
)

// Validate checks the configuration; the error names every bad field ("features.aggregates[2].windows[0]: ...").
func (c Config) Validate() error {
	var errs []error
	add := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("features.%s: %s", path, fmt.Sprintf(format, args...)))
	}
	if c.AllowedLateness < 0 || c.AllowedLateness > 7*24*time.Hour {
		add("allowed_lateness", "%s must be in 0..168h (tiles are kept for the lateness)", c.AllowedLateness)
	}
	if c.TilesPerWindow < 1 || c.TilesPerWindow > 1000 {
		add("tiles_per_window", "%d must be in 1..1000", c.TilesPerWindow)
	}
	if c.MaxTrackedFields < 0 || c.MaxTrackedFields > 1024 {
		add("max_tracked_fields", "%d must be in 0..1024", c.MaxTrackedFields)
	}
	if c.MaxMarks < 16 {
		add("max_marks", "%d is below 16", c.MaxMarks)
	}
	if c.MaxCategoryBytes < 32 {
		add("max_category_bytes", "%d is below 32", c.MaxCategoryBytes)
	}
	names := map[string]string{} // feature name -> where it is declared
	claim := func(path, name string) {
		if prev, ok := names[name]; ok {
			add(path, "feature name %q is already used by features.%s", name, prev)
			return
		}
		names[name] = path
	}
	for i, f := range c.Fields {
		path := fmt.Sprintf("fields[%d]", i)
		if f.Name == "" {
			add(path+".name", "required")
		}
		if !slices.Contains(types, f.Type) {
			add(path+".type", "%q is not one of auto, numeric, categorical, boolean", f.Type)
		}
		if !slices.Contains(encodings, f.Encoding) {
			add(path+".encoding", "%q is not one of onehot, hash, vocabulary", f.Encoding)
		}
		if f.Encoding != "" && f.Type != TypeCategorical {
			add(path+".encoding", "only categorical fields have an encoding")
		}
		if f.Encoding == EncodingHash && (f.Buckets < 1 || f.Buckets > 1<<24) {
			add(path+".buckets", "%d must be in 1..16777216 for encoding hash", f.Buckets)
		}
		if f.Encoding == EncodingVocabulary && len(f.Vocabulary) == 0 {
			add(path+".vocabulary", "required for encoding vocabulary")
		}
		if len(f.Transforms) > 0 && f.Type != TypeNumeric {
			add(path+".transforms", "only numeric fields (type: numeric) have transforms")
		}
		validateTransforms(path, f.Transforms, add)
		if f.Name != "" {
			claim(path, f.OutputName())
		}
	}
	windows := 0
	for i, a := range c.Aggregates {
		path := fmt.Sprintf("aggregates[%d]", i)
		if !slices.Contains(functions, a.Function) {
			add(path+".function", "%q is not one of %s", a.Function, strings.Join(functions, ", "))
		}
		fieldless := a.Function == FuncCount || a.Function == FuncSincePrev
		switch {
		case fieldless && a.Field != "":
			add(path+".field", "%s takes no field", a.Function)
		case !fieldless && a.Field == "" && slices.Contains(functions, a.Function):
			add(path+".field", "required for %s (a field name, or \"*\" for every numeric field)", a.Function)
		case strings.Contains(a.Field, "=") || a.Field != AllFields && strings.Contains(a.Field, "*"):
			add(path+".field", "%q is not a field name", a.Field)
		}
		if len(a.Windows) == 0 {
			add(path+".windows", "at least one window is required")
		}
		for j, w := range a.Windows {
			wp := fmt.Sprintf("%s.windows[%d]", path, j)
			switch {
			case w.Duration() < time.Second:
				add(wp, "%s is shorter than a second", w)
			case w.Duration() > 400*24*time.Hour:
				add(wp, "%s is longer than 400 days", w)
			case c.TilesPerWindow > 0 && w.Duration()%(time.Duration(c.TilesPerWindow)*time.Millisecond) != 0:
				add(wp, "%s does not divide into %d tiles of whole milliseconds", w, c.TilesPerWindow)
			}
			windows++
		}
		if a.Name != "" && (len(a.Windows) != 1 || a.Field == AllFields) {
			add(path+".name", "a name needs exactly one window and a named field")
		}
		if strings.Contains(a.Name, "=") {
			add(path+".name", "%q must not contain '='", a.Name)
		}
		validateTransforms(path, a.Transforms, add)
		if a.Field != AllFields {
			for _, w := range a.Windows {
				claim(path, a.OutputName(a.Field, w))
			}
		}
	}
	if windows > 64 {
		add("aggregates", "%d windows in all; at most 64", windows)
	}
	for i, cr := range c.Crosses {
		path := fmt.Sprintf("crosses[%d]", i)
		if len(cr) != 2 || cr[0] == "" || cr[1] == "" || cr[0] == cr[1] {
			add(path, "want two different feature names, got %q", cr)
		}
	}
	return errors.Join(errs...)
}

func validateTransforms(path string, ts []Transform, add func(path, format string, args ...any)) {
	for j, t := range ts {
		tp := fmt.Sprintf("%s.transforms[%d]", path, j)
		if !slices.Contains(transforms, t.Kind) {
			add(tp+".kind", "%q is not one of %s", t.Kind, strings.Join(transforms, ", "))
			continue
		}
		if (t.Min != nil || t.Max != nil) && t.Kind != TransformClip {
			add(tp, "min and max belong to clip")
		}
		if len(t.Boundaries) > 0 && t.Kind != TransformBucketize {
			add(tp+".boundaries", "boundaries belong to bucketize")
		}
		switch t.Kind {
		case TransformClip:
			if t.Min == nil && t.Max == nil {
				add(tp, "clip needs min, max or both")
			}
			if t.Min != nil && t.Max != nil && !(*t.Min <= *t.Max) {
				add(tp, "min %v is above max %v", *t.Min, *t.Max)
			}
		case TransformBucketize:
			if len(t.Boundaries) == 0 {
				add(tp+".boundaries", "required for bucketize")
			}
			for k, b := range t.Boundaries {
				if math.IsNaN(b) || math.IsInf(b, 0) || k > 0 && !(t.Boundaries[k-1] < b) {
					add(tp+".boundaries", "must be finite and strictly ascending")
					break
				}
			}
			if j != len(ts)-1 {
				add(tp, "bucketize makes a categorical feature, so it must be the last transform")
			}
		}
	}
}

// OutputName is the feature name of the field: As, or Name.
func (f Field) OutputName() string {
	if f.As != "" {
		return f.As
	}
	return f.Name
}

// OutputName is the feature name of the aggregate over field (a field name, for "*" aggregates the
// discovered field) and window w.
func (a Aggregate) OutputName(field string, w Window) string {
	if a.Name != "" {
		return a.Name
	}
	if a.Function == FuncCount || a.Function == FuncSincePrev {
		return a.Function + "_" + w.String()
	}
	return field + "_" + a.Function + "_" + w.String()
}
