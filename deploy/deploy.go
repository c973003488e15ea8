// Package deploy holds the files that run streamlearn elsewhere: the example configuration,
// ClickHouse files for a local server, the Dockerfile (static and CUDA images), compose.yaml (every
// role its own service, with the embedded broker, Redis, ClickHouse, Prometheus and Grafana),
// Prometheus's alert rules (prometheus/alerts.yml, unit-tested by prometheus/alerts_test.yml),
// Grafana's dashboards and provisioning (grafana/) and the Helm chart helm/streamlearn. The example
// config is embedded so that a test keeps it valid; the tests here run `streamlearn check` on every
// role of compose.yaml and of the chart, promtool on the rules and the dashboards' PromQL, the
// dashboards' SQL on ClickHouse, and the binary, to check that every metric the rules and
// dashboards use is exported.
package deploy

import _ "embed"

// ExampleConfig is deploy/streamlearn.example.yaml.
//
//go:embed streamlearn.example.yaml
var ExampleConfig []byte
