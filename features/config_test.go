package features_test

import (
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/streamlearn/streamlearn/features"
)

func TestDefaultConfigIsValid(t *testing.T) {
	cfg := features.DefaultConfig()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	e, err := features.NewEngine(cfg, features.EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := e.TTL(), 24*time.Hour+10*time.Minute; got != want {
		t.Errorf("TTL %s, want %s", got, want)
	}
}

func TestValidateNamesTheField(t *testing.T) {
	f := func(x float64) *float64 { return &x }
	tests := []struct {
		name   string
		change func(c *features.Config)
		want   string
	}{
		{"unknown function", func(c *features.Config) { c.Aggregates[1].Function = "median" }, `features.aggregates[1].function: "median" is not one of`},
		{"no window", func(c *features.Config) { c.Aggregates[0].Windows = nil }, "features.aggregates[0].windows: at least one window"},
		{"tiny window", func(c *features.Config) { c.Aggregates[1].Windows[1] = features.Window(time.Millisecond) }, "features.aggregates[1].windows[1]: 1ms is shorter than a second"},
		{"window not divisible", func(c *features.Config) {
			c.Aggregates[0].Windows[0] = features.Window(time.Second + time.Millisecond)
		}, "features.aggregates[0].windows[0]: 1.001s does not divide into 12 tiles"},
		{"count with a field", func(c *features.Config) { c.Aggregates[0].Field = "x" }, "features.aggregates[0].field: count takes no field"},
		{"mean without a field", func(c *features.Config) { c.Aggregates[1].Field = "" }, "features.aggregates[1].field: required for mean"},
		{"name for two windows", func(c *features.Config) { c.Aggregates[0].Name = "n" }, "features.aggregates[0].name: a name needs exactly one window"},
		{"negative lateness", func(c *features.Config) { c.AllowedLateness = -time.Second }, "features.allowed_lateness: -1s must be in 0..168h"},
		{"tiles", func(c *features.Config) { c.TilesPerWindow = 0 }, "features.tiles_per_window: 0 must be in 1..1000"},
		{"marks", func(c *features.Config) { c.MaxMarks = 1 }, "features.max_marks: 1 is below 16"},
		{"field without name", func(c *features.Config) { c.Fields = []features.Field{{Type: "numeric"}} }, "features.fields[0].name: required"},
		{"bad type", func(c *features.Config) { c.Fields = []features.Field{{Name: "a", Type: "text"}} }, `features.fields[0].type: "text" is not one of`},
		{"hash without buckets", func(c *features.Config) {
			c.Fields = []features.Field{{Name: "a", Type: "categorical", Encoding: "hash"}}
		}, "features.fields[0].buckets: 0 must be in"},
		{"transform on categorical", func(c *features.Config) {
			c.Fields = []features.Field{{Name: "a", Type: "categorical", Transforms: []features.Transform{{Kind: "log"}}}}
		}, "features.fields[0].transforms: only numeric fields"},
		{"clip min above max", func(c *features.Config) {
			c.Fields = []features.Field{{Name: "a", Type: "numeric", Transforms: []features.Transform{{Kind: "clip", Min: f(2), Max: f(1)}}}}
		}, "features.fields[0].transforms[0]: min 2 is above max 1"},
		{"bucketize not last", func(c *features.Config) {
			c.Aggregates[0].Transforms = []features.Transform{{Kind: "bucketize", Boundaries: []float64{1, 2}}, {Kind: "log"}}
		}, "features.aggregates[0].transforms[0]: bucketize makes a categorical feature"},
		{"boundaries not ascending", func(c *features.Config) {
			c.Aggregates[0].Transforms = []features.Transform{{Kind: "bucketize", Boundaries: []float64{2, 1}}}
		}, "features.aggregates[0].transforms[0].boundaries: must be finite and strictly ascending"},
		{"name clash", func(c *features.Config) { c.Fields = []features.Field{{Name: "n", As: "count_1h"}} }, `features.aggregates[0]: feature name "count_1h" is already used by features.fields[0]`},
		{"cross of one", func(c *features.Config) { c.Crosses = [][]string{{"a"}} }, "features.crosses[0]: want two different feature names"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := features.DefaultConfig()
			tt.change(&cfg)
			err := cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate() = %v, want an error containing %q", err, tt.want)
			}
			if _, err := features.NewEngine(cfg, features.EngineOptions{}); err == nil {
				t.Error("NewEngine accepted an invalid config")
			}
		})
	}
}

// The lead mounts Config under "features:" with strict decoding; every key round-trips.
func TestConfigYAML(t *testing.T) {
	src := `
auto_fields: false
allowed_lateness: 2m
tiles_per_window: 10
fields:
  - {name: amount, type: numeric, transforms: [{kind: clip, min: 0, max: 10000}, {kind: log}, {kind: standardize}]}
  - {name: country, type: categorical, encoding: vocabulary, vocabulary: [DE, FR]}
  - {name: device, type: categorical, encoding: hash, buckets: 64}
  - {name: new, type: boolean}
aggregates:
  - {function: count, windows: [5m, 1h, 24h, 7d]}
  - {function: sum, field: amount, windows: [1h]}
  - {function: distinct, field: merchant, windows: [24h], name: merchants_24h}
  - {function: since_prev, windows: [7d], transforms: [{kind: bucketize, boundaries: [60, 3600]}]}
crosses:
  - [country, device]
`
	cfg := features.DefaultConfig()
	dec := yaml.NewDecoder(strings.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := cfg.Aggregates[0].Windows[3]; got.Duration() != 7*24*time.Hour || got.String() != "7d" {
		t.Errorf("7d decoded as %v", got)
	}
	if cfg.AllowedLateness != 2*time.Minute || cfg.AutoFields || len(cfg.Fields) != 4 || len(cfg.Crosses) != 1 {
		t.Errorf("decoded %+v", cfg)
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var back features.Config
	if err := yaml.Unmarshal(out, &back); err != nil || back.Aggregates[0].Windows[3] != cfg.Aggregates[0].Windows[3] {
		t.Errorf("round trip: %v\n%s", err, out)
	}
}

func TestWindowNames(t *testing.T) {
	for _, tt := range []struct{ in, name string }{
		{"30s", "30s"}, {"5m", "5m"}, {"90m", "90m"}, {"1h", "1h"}, {"24h", "24h"}, {"48h", "2d"}, {"7d", "7d"}, {"1d", "24h"}, {"1h30m", "90m"}, {"1500ms", "1.5s"},
	} {
		w, err := features.ParseWindow(tt.in)
		if err != nil || w.String() != tt.name {
			t.Errorf("ParseWindow(%q) = %v (%v), want the name %q", tt.in, w, err, tt.name)
		}
	}
	for _, bad := range []string{"", "d", "-1d", "7x", "1.5d"} {
		if _, err := features.ParseWindow(bad); err == nil {
			t.Errorf("ParseWindow(%q) accepted", bad)
		}
	}
}
