// Package deploy holds the files that run streamlearn elsewhere: the example configuration,
// ClickHouse files for a local server, and Prometheus scrape configuration. The example config is
// embedded so that a test keeps it valid.
package deploy

import _ "embed"

// ExampleConfig is deploy/streamlearn.example.yaml.
//
//go:embed streamlearn.example.yaml
var ExampleConfig []byte
