package app_test

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestOpenAPIMatchesRoutes fetches /openapi.json from a running server and compares its paths and
// methods with the patterns the server registered, both ways; and checks that the JSON answers of
// the read-only routes use only the properties their schemas define.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	r := start(t, testConfig(t))
	base := "http://" + r.HTTPAddr

	resp, err := http.Get(base + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /openapi.json: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var doc struct {
		OpenAPI string                               `json:"openapi"`
		Paths   map[string]map[string]map[string]any `json:"paths"`
		Comps   struct {
			Schemas map[string]struct {
				Properties map[string]any `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}

	var documented []string
	for path, ops := range doc.Paths {
		for method := range ops {
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	registered := r.Routes()
	slices.Sort(documented)
	slices.Sort(registered)
	for _, p := range registered {
		if !slices.Contains(documented, p) {
			t.Errorf("route %q is served but not in openapi.json", p)
		}
	}
	for _, p := range documented {
		if !slices.Contains(registered, p) {
			t.Errorf("openapi.json describes %q, which the server does not register", p)
		}
	}
	for _, want := range []string{"GET /metrics", "GET /healthz", "GET /readyz", "GET /v1/status", "POST /v1/score", "GET /openapi.json"} {
		if !slices.Contains(registered, want) {
			t.Errorf("registered routes %v lack %q", registered, want)
		}
	}

	// The answers carry only documented properties.
	for _, c := range []struct{ path, schema string }{
		{"/v1/status", "Status"}, {"/healthz", "Health"}, {"/readyz", "Readiness"}, {"/v1/models", "ModelList"},
		{"/ui/session.json", "ConsoleSession"}, {"/v1/console/overview", "ConsoleOverview"}, {"/v1/console/drift", "ConsoleDrift"},
		{"/v1/console/deadletters", "ConsoleDeadLetters"}, {"/v1/console/models/default/performance", "ConsolePerformance"},
	} {
		var got map[string]json.RawMessage
		getJSON(t, base+c.path, &got)
		props := doc.Comps.Schemas[c.schema].Properties
		if len(props) == 0 {
			t.Fatalf("schema %s has no properties", c.schema)
		}
		for k := range got {
			if _, ok := props[k]; !ok {
				t.Errorf("GET %s answered property %q, which schema %s does not define", c.path, k, c.schema)
			}
		}
	}
}
