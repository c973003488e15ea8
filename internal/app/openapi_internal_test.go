package app

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/streamlearn/streamlearn/features"
	"github.com/streamlearn/streamlearn/internal/console"
	"github.com/streamlearn/streamlearn/learner"
	"github.com/streamlearn/streamlearn/predictor"
	"github.com/streamlearn/streamlearn/wire"
)

// openAPIDoc is the part of an OpenAPI document the tests read.
type openAPIDoc struct {
	OpenAPI    string                               `json:"openapi"`
	Paths      map[string]map[string]map[string]any `json:"paths"`
	Components struct {
		Schemas map[string]struct {
			Properties map[string]any `json:"properties"`
			Required   []string       `json:"required"`
		} `json:"schemas"`
	} `json:"components"`
}

// jsonFields returns the JSON names of t's fields ("-" and unexported fields left out).
func jsonFields(t reflect.Type) []string {
	var names []string
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// TestOpenAPISchemasMatchTypes keeps each schema of openapi.json that describes a Go type equal to
// its JSON fields, both ways, and every $ref of the document pointing at something that exists.
func TestOpenAPISchemasMatchTypes(t *testing.T) {
	var doc openAPIDoc
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi = %q, want 3.x", doc.OpenAPI)
	}
	types := map[string]reflect.Type{
		"Event":           reflect.TypeFor[wire.Event](),
		"Score":           reflect.TypeFor[predictor.Score](),
		"ScoreResults":    reflect.TypeFor[predictor.ScoreResults](),
		"Contribution":    reflect.TypeFor[learner.Contribution](),
		"FeatureSnapshot": reflect.TypeFor[features.Snapshot](),
		"ModelInfo":       reflect.TypeFor[predictor.ModelInfo](),
		"Route":           reflect.TypeFor[predictor.Route](),
		"Version":         reflect.TypeFor[learner.Version](),
		"Metrics":         reflect.TypeFor[learner.Metrics](),
		"Versions":        reflect.TypeFor[predictor.Versions](),
		"Report":          reflect.TypeFor[learner.Report](),
		"HeldOut":         reflect.TypeFor[learner.HeldOut](),
		"CalibrationBin":  reflect.TypeFor[learner.CalibrationBin](),
		"FeatureWeight":   reflect.TypeFor[learner.FeatureWeight](),
		"Gate":            reflect.TypeFor[learner.Gate](),
		"SegmentMetrics":  reflect.TypeFor[learner.SegmentMetrics](),
		"ChampionChange":  reflect.TypeFor[learner.ChampionChange](),
		"ChampionResult":  reflect.TypeFor[predictor.ChampionResult](),
		"Status":          reflect.TypeFor[Status](),
		"Readiness":       reflect.TypeFor[readyBody](),
		"Error":           reflect.TypeFor[predictor.Error](),

		"ConsoleSession":            reflect.TypeFor[console.Session](),
		"ConsoleOverview":           reflect.TypeFor[console.Overview](),
		"ConsolePerformance":        reflect.TypeFor[console.Performance](),
		"ConsoleVersionPerformance": reflect.TypeFor[console.VersionPerformance](),
		"ConsoleDrift":              reflect.TypeFor[console.Drift](),
		"ConsoleDriftCell":          reflect.TypeFor[console.DriftCell](),
		"ConsoleDriftAlert":         reflect.TypeFor[console.DriftAlert](),
		"ConsoleRetrainStep":        reflect.TypeFor[console.RetrainStep](),
		"ConsoleDeadLetters":        reflect.TypeFor[console.DeadLetters](),
		"ConsoleDeadLetter":         reflect.TypeFor[console.DeadLetter](),
	}
	for name, typ := range types {
		s, ok := doc.Components.Schemas[name]
		if !ok {
			t.Errorf("schema %s (%s) is missing", name, typ)
			continue
		}
		var got []string
		for p := range s.Properties {
			got = append(got, p)
		}
		slices.Sort(got)
		if want := jsonFields(typ); !slices.Equal(got, want) {
			t.Errorf("schema %s has properties %v, %s has JSON fields %v", name, got, typ, want)
		}
		for _, r := range s.Required {
			if _, ok := s.Properties[r]; !ok {
				t.Errorf("schema %s requires %q, which it does not define", name, r)
			}
		}
	}

	var all any
	if err := json.Unmarshal(openAPI, &all); err != nil {
		t.Fatal(err)
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if k == "$ref" {
					ref, _ := x.(string)
					if !resolves(all, ref) {
						t.Errorf("$ref %q resolves to nothing", ref)
					}
					continue
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(all)
}

// resolves reports whether a local JSON pointer ("#/components/schemas/Event") names a value of doc.
func resolves(doc any, ref string) bool {
	path, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return false
	}
	cur := doc
	for _, part := range strings.Split(path, "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		if cur, ok = m[part]; !ok {
			return false
		}
	}
	return true
}
