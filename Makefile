# streamlearn — make demo runs the full loop; make test runs the tests.
GO      ?= go
BIN     := bin/streamlearn
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
DEMO_ARGS ?=

.PHONY: all build build-static deploy-check deps demo services-stop test test-short faults vet fmt bench fuzz clean gpu-bundle ptx

all: build

build:
	CGO_ENABLED=0 $(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/streamlearn

# Fully static, for scratch containers: no GPU support (the CUDA driver needs the dynamic loader).
build-static:
	CGO_ENABLED=0 $(GO) build -tags nocuda -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/streamlearn

# Render and lint the Helm chart with helm built from the Go module proxy (HELM_VERSION: one the
# proxy serves), then run `streamlearn check` on every role of deploy/compose.yaml and of the
# rendered chart (TestHelmTemplate; go test ./deploy without helm skips the rendering and checks
# values.yaml). Building helm takes minutes (docs/OPERATIONS.md), so CI does not run this target.
HELM_VERSION ?= v3.22.0
HELM := bin/helm-$(HELM_VERSION)
deploy-check: $(HELM)
	$(HELM) lint --strict deploy/helm/streamlearn --set secrets.apiToken=lint
	$(HELM) lint --strict deploy/helm/streamlearn --set secrets.existingSecret=sl --set serviceMonitor.enabled=true --set autoscaling.enabled=true
	$(HELM) template sl deploy/helm/streamlearn --set secrets.apiToken=t > /dev/null
	HELM=$(abspath $(HELM)) $(GO) test -count=1 -run 'TestCompose|TestHelm' -v ./deploy/

$(HELM):
	mkdir -p bin/helm-build
	GOBIN=$(abspath bin/helm-build) $(GO) install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)
	mv bin/helm-build/helm $@

deps:
	./scripts/install-deps.sh

# The full loop on embedded defaults: a private Redis and ClickHouse under .demo/, the embedded
# Kafka broker, and a synthetic producer whose data drifts at a known time. Ctrl-C stops it.
demo: deps build
	./scripts/services.sh start
	$(BIN) demo --redis 127.0.0.1:6399 --clickhouse 127.0.0.1:9900 $(DEMO_ARGS)

services-stop:
	./scripts/services.sh stop

# Tests start private Redis and ClickHouse servers and embedded brokers on free ports.
test: deps
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m ./...

# The fault suite (docs/RELIABILITY.md): every case, the long ones included, on the real binary and
# private servers; each case's numbers go to $(FAULTS_REPORT). make test runs the fast cases only.
FAULTS_REPORT ?= bin/faults-report.json
faults: deps
	mkdir -p $(dir $(FAULTS_REPORT))
	STREAMLEARN_FAULTS=1 FAULTS_REPORT=$(abspath $(FAULTS_REPORT)) $(GO) test -count=1 -timeout 30m -v ./internal/faults/

test-short:
	$(GO) test -short -count=1 ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzDecodeEvent -fuzztime 30s ./ingest
	$(GO) test -run '^$$' -fuzz FuzzDecodeOutcome -fuzztime 30s ./ingest

# The CUDA backend is verified on a machine with an NVIDIA GPU but no Go toolchain: build its test
# binary and the GPU benchmark here, without cgo, and run bench/gpu/run-on-device.sh there
# (docs/GPU.md).
gpu-bundle:
	mkdir -p .gpu
	CGO_ENABLED=0 $(GO) test -c -o .gpu/cuda.test ./learner/cuda
	CGO_ENABLED=0 $(GO) build -o .gpu/gpubench ./bench/gpu

# PTX of the kernels, built where nvcc exists and committed with its source; without it (or when it
# is stale) the backend compiles the source with NVRTC when it starts.
ptx:
	./bench/gpu/build-ptx.sh learner/cuda/kernels/learner.ptx

clean:
	rm -rf bin .demo .gpu
