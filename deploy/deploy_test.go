package deploy_test

import (
	"bytes"
	"errors"
	"io"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/streamlearn/streamlearn/internal/config"
	"github.com/streamlearn/streamlearn/internal/testenv"
)

// roles are the commands `streamlearn check` validates; the deploy files run each as a service.
var roles = []string{"ingest", "predictor", "learner", "drift"}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.StopAll()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// binary builds streamlearn once per test run.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "streamlearn-deploy-test-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "streamlearn")
		cmd := exec.Command("go", "build", "-o", binPath, "../cmd/streamlearn")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = errors.New(string(out))
		}
	})
	if buildErr != nil {
		t.Fatalf("go build: %v", buildErr)
	}
	return binPath
}

// check runs `streamlearn check` on a role's arguments and fails the test unless it passes.
func check(t *testing.T, args []string) {
	t.Helper()
	out, err := exec.Command(binary(t), append([]string{"check"}, args...)...).CombinedOutput()
	if err != nil || !bytes.HasPrefix(out, []byte("ok: ")) {
		t.Errorf("streamlearn check %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

type composeFile struct {
	Services map[string]struct {
		Command []string `yaml:"command"`
		Volumes []string `yaml:"volumes"`
		Secrets []string `yaml:"secrets"`
		Deploy  struct {
			Replicas int `yaml:"replicas"`
		} `yaml:"deploy"`
	} `yaml:"services"`
}

// TestCompose runs `streamlearn check` on every role's command in compose.yaml, with its mounted
// files mapped to the repository's, checks the broker's flags, the replicas, the secrets the config
// reads, and that Prometheus scrapes every role on the port it serves /metrics on.
func TestCompose(t *testing.T) {
	var cf composeFile
	decodeFile(t, "compose.yaml", &cf)
	scrape := prometheusTargets(t, "prometheus/prometheus.yml")
	for _, role := range append([]string{"broker"}, roles...) {
		t.Run(role, func(t *testing.T) {
			svc, ok := cf.Services[role]
			if !ok || len(svc.Command) == 0 || svc.Command[0] != role {
				t.Fatalf("no service %s running `streamlearn %s`", role, role)
			}
			args := slices.Clone(svc.Command)
			var cfgFile string
			for _, v := range svc.Volumes {
				host, container, _ := strings.Cut(strings.TrimSuffix(v, ":ro"), ":")
				for i, a := range args {
					if a == container && strings.HasPrefix(host, "./") {
						args[i], cfgFile = filepath.FromSlash(host), filepath.FromSlash(host)
					}
				}
			}
			if role == "broker" {
				out, err := exec.Command(binary(t), append(args, "--help")...).CombinedOutput()
				if err != nil {
					t.Errorf("streamlearn %s: %v\n%s", strings.Join(args, " "), err, out)
				}
				return
			}
			check(t, args)
			if svc.Deploy.Replicas < 2 {
				t.Errorf("replicas = %d, want at least 2 (one may stop for an upgrade)", svc.Deploy.Replicas)
			}
			cfg, err := config.Load(cfgFile)
			if err != nil {
				t.Fatal(err)
			}
			if f := cfg.HTTP.AuthTokenFile; f != "" && !slices.Contains(svc.Secrets, strings.TrimPrefix(f, "/run/secrets/")) {
				t.Errorf("config reads %s, but the service has secrets %v", f, svc.Secrets)
			}
			addr := cfg.HTTP.OpsAddr
			if role == "predictor" {
				addr = cfg.HTTP.Addr
			}
			_, port, _ := net.SplitHostPort(addr)
			if scrape[role] != port {
				t.Errorf("prometheus scrapes %s on port %q, it serves /metrics on %q", role, scrape[role], port)
			}
		})
	}
}

// prometheusTargets returns the port each DNS name is scraped on.
func prometheusTargets(t *testing.T, path string) map[string]string {
	t.Helper()
	var pc struct {
		ScrapeConfigs []struct {
			DNSSD []struct {
				Names []string `yaml:"names"`
				Port  int      `yaml:"port"`
			} `yaml:"dns_sd_configs"`
		} `yaml:"scrape_configs"`
	}
	decodeFile(t, path, &pc)
	out := map[string]string{}
	for _, sc := range pc.ScrapeConfigs {
		for _, d := range sc.DNSSD {
			for _, n := range d.Names {
				out[n] = strconv.Itoa(d.Port)
			}
		}
	}
	return out
}

func decodeFile(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestHelmValues checks the chart's config and every role's flags from values.yaml with
// `streamlearn check`, without helm: the config block is the ConfigMap's streamlearn.yaml.
func TestHelmValues(t *testing.T) {
	var v struct {
		Config     map[string]any `yaml:"config"`
		Kafka      struct{ Brokers string }
		Redis      struct{ Addr string }
		ClickHouse struct{ Addr string } `yaml:"clickhouse"`
		Roles      map[string]struct {
			Enabled  bool
			Replicas int
			Args     []string
		}
	}
	decodeFile(t, "helm/streamlearn/values.yaml", &v)
	cfgFile := writeYAML(t, v.Config)
	for _, role := range roles {
		t.Run(role, func(t *testing.T) {
			r, ok := v.Roles[role]
			if !ok || !r.Enabled || r.Replicas < 2 {
				t.Fatalf("roles.%s: %+v, want enabled with at least 2 replicas", role, r)
			}
			check(t, append([]string{role, "--config", cfgFile, "--kafka", v.Kafka.Brokers, "--redis", v.Redis.Addr,
				"--clickhouse", v.ClickHouse.Addr}, r.Args...))
		})
	}
}

func writeYAML(t *testing.T, v any) string {
	t.Helper()
	b, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "streamlearn.yaml")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestHelmTemplate renders the chart with helm (HELM, or helm on PATH; `make deploy-check` provides
// it) and runs `streamlearn check` on every Deployment's args with the rendered ConfigMap; every
// Deployment has probes on /healthz and /readyz and a PodDisruptionBudget.
func TestHelmTemplate(t *testing.T) {
	helm := helmBinary(t)
	out, err := exec.Command(helm, "template", "sl", "helm/streamlearn", "--set", "secrets.apiToken=t",
		"--set", "serviceMonitor.enabled=true").Output()
	if err != nil {
		t.Fatalf("helm template: %v", err)
	}
	kinds, cfgText, deployments := renderedObjects(t, out)
	for _, k := range []string{"ConfigMap", "Secret", "ServiceMonitor"} {
		if kinds[k] != 1 {
			t.Errorf("%d %s objects, want 1", kinds[k], k)
		}
	}
	if kinds["PodDisruptionBudget"] != len(roles) || kinds["Deployment"] != len(roles) || kinds["Service"] != len(roles) {
		t.Errorf("objects %v, want a Deployment, Service and PodDisruptionBudget per role", kinds)
	}
	cfgFile := filepath.Join(t.TempDir(), "streamlearn.yaml")
	if err := os.WriteFile(cfgFile, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, c := range deployments {
		t.Run(name, func(t *testing.T) {
			args := slices.Clone(c.Args)
			for i, a := range args {
				if a == "/etc/streamlearn/streamlearn.yaml" {
					args[i] = cfgFile
				}
			}
			check(t, args)
			if c.LivenessProbe.HTTPGet.Path != "/healthz" || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
				t.Errorf("probes %+v %+v, want /healthz and /readyz", c.LivenessProbe, c.ReadinessProbe)
			}
		})
	}
}

// TestHelmAutoscaling renders the chart with autoscaling on: an HPA for ingest on the score group's
// consumer lag and one for predictor on CPU, each aimed at its role's Deployment, which then has
// no replicas field of its own; learner and drift keep theirs and get none.
func TestHelmAutoscaling(t *testing.T) {
	helm := helmBinary(t)
	out, err := exec.Command(helm, "template", "sl", "helm/streamlearn", "--set", "secrets.apiToken=t",
		"--set", "autoscaling.enabled=true", "--set", "config.kafka.group=shop").Output()
	if err != nil {
		t.Fatalf("helm template: %v", err)
	}
	type hpa struct {
		Spec struct {
			ScaleTargetRef struct{ Kind, Name string } `yaml:"scaleTargetRef"`
			MinReplicas    int                         `yaml:"minReplicas"`
			Metrics        []struct {
				Type     string
				External struct {
					Metric struct {
						Name     string
						Selector struct {
							MatchLabels map[string]string `yaml:"matchLabels"`
						}
					}
				}
				Resource struct{ Name string }
			}
		}
	}
	hpas := map[string]hpa{}
	replicas := map[string]bool{}
	dec := yaml.NewDecoder(bytes.NewReader(out))
	for {
		var obj struct {
			Kind     string
			Metadata struct{ Name string }
			Spec     map[string]any
		}
		err := dec.Decode(&obj)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("rendered chart: %v", err)
		}
		b, _ := yaml.Marshal(obj)
		switch obj.Kind {
		case "HorizontalPodAutoscaler":
			var h hpa
			if err := yaml.Unmarshal(b, &h); err != nil {
				t.Fatal(err)
			}
			hpas[obj.Metadata.Name] = h
		case "Deployment":
			_, replicas[obj.Metadata.Name] = obj.Spec["replicas"]
		}
	}
	ingest, predictor := hpas["sl-streamlearn-ingest"], hpas["sl-streamlearn-predictor"]
	if len(hpas) != 2 || ingest.Spec.ScaleTargetRef.Name != "sl-streamlearn-ingest" || predictor.Spec.ScaleTargetRef.Name != "sl-streamlearn-predictor" {
		t.Fatalf("HPAs %+v, want ingest and predictor aimed at their Deployments", hpas)
	}
	if m := ingest.Spec.Metrics; len(m) != 1 || m[0].Type != "External" || m[0].External.Metric.Name != "streamlearn_kafka_consumer_lag" ||
		m[0].External.Metric.Selector.MatchLabels["group"] != "shop-score" {
		t.Errorf("ingest HPA metrics %+v, want the consumer lag of group shop-score", m)
	}
	if m := predictor.Spec.Metrics; len(m) != 1 || m[0].Type != "Resource" || m[0].Resource.Name != "cpu" {
		t.Errorf("predictor HPA metrics %+v, want CPU", m)
	}
	want := map[string]bool{"sl-streamlearn-ingest": false, "sl-streamlearn-predictor": false, "sl-streamlearn-learner": true, "sl-streamlearn-drift": true}
	if !maps.Equal(replicas, want) {
		t.Errorf("Deployments with a replicas field: %v, want %v", replicas, want)
	}
}

// helmBinary returns HELM, or helm on PATH; without either the test is skipped (`make
// deploy-check` builds helm from the Go module proxy and sets HELM).
func helmBinary(t *testing.T) string {
	t.Helper()
	if helm := os.Getenv("HELM"); helm != "" {
		return helm
	}
	helm, err := exec.LookPath("helm")
	if err != nil {
		t.Skip("helm not installed: `make deploy-check` renders the chart with it")
	}
	return helm
}

type container struct {
	Args          []string
	LivenessProbe struct {
		HTTPGet struct{ Path string } `yaml:"httpGet"`
	} `yaml:"livenessProbe"`
	ReadinessProbe struct {
		HTTPGet struct{ Path string } `yaml:"httpGet"`
	} `yaml:"readinessProbe"`
}

// renderedObjects counts the kinds of a rendered chart and returns the ConfigMap's streamlearn.yaml
// and each Deployment's container.
func renderedObjects(t *testing.T, out []byte) (map[string]int, string, map[string]container) {
	t.Helper()
	kinds := map[string]int{}
	var cfgText string
	deployments := map[string]container{}
	dec := yaml.NewDecoder(bytes.NewReader(out))
	for {
		var obj struct {
			Kind     string
			Metadata struct{ Name string }
			Data     map[string]string
			Spec     struct {
				Template struct {
					Spec struct{ Containers []container }
				}
			}
		}
		err := dec.Decode(&obj)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("rendered chart: %v", err)
		}
		kinds[obj.Kind]++
		switch obj.Kind {
		case "ConfigMap":
			cfgText = obj.Data["streamlearn.yaml"]
		case "Deployment":
			deployments[obj.Metadata.Name] = obj.Spec.Template.Spec.Containers[0]
		}
	}
	return kinds, cfgText, deployments
}
