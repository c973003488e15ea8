# streamlearn — make demo runs the full loop; make test runs the tests.
GO      ?= go
BIN     := bin/streamlearn
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
DEMO_ARGS ?=

.PHONY: all build deps demo services-stop test test-short vet fmt bench fuzz clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/streamlearn

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

test-short:
	$(GO) test -short -count=1 ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzDecodeEvent -fuzztime 30s ./ingest
	$(GO) test -run '^$$' -fuzz FuzzDecodeOutcome -fuzztime 30s ./ingest

clean:
	rm -rf bin .demo
