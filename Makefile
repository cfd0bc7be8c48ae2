# Vigil: make help lists the targets. Everything a target needs is
# installed by the target itself (scripts/deps.sh), so that a fresh
# machine needs only Go, make and apt.

SHELL := /bin/bash
.DEFAULT_GOAL := help

GO          ?= go
GOBIN       ?= $(shell $(GO) env GOPATH)/bin
VERSION     ?= $(shell git describe --tags --exact-match 2>/dev/null || echo 0.1.0-dev)
COMMIT      ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo none)
DATE        ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
VERSION_PKG := github.com/vigil-sec/vigil/pkg/version
LDFLAGS     := -s -w -X $(VERSION_PKG).Version=$(VERSION) -X $(VERSION_PKG).Commit=$(COMMIT) -X $(VERSION_PKG).Date=$(DATE)
# Every folder that holds one binary per subfolder.
PLUGIN_PKGS := $(foreach d,checks mutators handlers cmd,$(if $(wildcard $(d)/*/main.go),./$(d)/...))
GOLANGCI_LINT_VERSION := v2.6.2
GOLANGCI_LINT := $(GOBIN)/golangci-lint

export CGO_ENABLED := 0
export GOFLAGS := -buildvcs=false

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

.PHONY: build
build: ## build every binary into bin/ (NAME version prints the stamp)
	@mkdir -p bin
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/ $(PLUGIN_PKGS)

.PHONY: demo
demo: build ## run the checks on the sample data and archive the events (no servers needed)
	@scripts/demo.sh

.PHONY: demo-services
demo-services: build ## the demo, shipping events to VictoriaLogs and Prometheus started on 127.0.0.1 (installs them)
	@scripts/demo.sh --services

.PHONY: test
test: ## install what the tests need, then run every test (what CI runs)
	@scripts/test.sh

.PHONY: test-unit
test-unit: build ## run the Go tests only, against the binaries in bin/
	VIGIL_BIN_DIR=$(CURDIR)/bin CGO_ENABLED=1 $(GO) test -race -count=1 ./...

.PHONY: services-up
services-up: ## install and start the test servers on 127.0.0.1 (Prometheus, InfluxDB, VictoriaMetrics, VictoriaLogs)
	@scripts/services.sh up

.PHONY: services-down
services-down: ## stop the servers of services-up and delete their data
	@scripts/services.sh down

.PHONY: lint
lint: $(GOLANGCI_LINT) ## gofmt, go vet and golangci-lint
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$unformatted" ]; then echo "gofmt needed on: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(GOLANGCI_LINT) run ./...

$(GOLANGCI_LINT):
	CGO_ENABLED=1 $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)

.PHONY: docs
docs: build ## regenerate README option tables, example blocks and .bonsai.yml files
	$(GO) run ./tools/docgen --bin bin

.PHONY: check-docs
check-docs: build ## fail if a generated file is stale
	$(GO) run ./tools/docgen --bin bin --check

.PHONY: assets
assets: ## build Sensu asset tarballs, checksums and Asset definitions into dist/
	$(GO) run ./tools/release --version $(VERSION) --commit $(COMMIT) --date $(DATE) --out dist

.PHONY: clean
clean: ## remove build output
	rm -rf bin dist .demo

.PHONY: bench-fim
bench-fim: ## benchmark check-file-integrity against AIDE, Tripwire, Samhain and sha256sum (root; installs them)
	@scripts/bench/fim.sh

.PHONY: bench-pii
bench-pii: ## benchmark check-pii against cat, ripgrep and gitleaks, and mutator-redact (installs them)
	@scripts/bench/pii.sh

.PHONY: bench-drift
bench-drift: ## benchmark check-config-drift on a generated 50 MB Puppet last_run_report.yaml
	@scripts/bench/drift.sh

.PHONY: bench-host
bench-host: ## benchmark check-host-drift on this host (compare and --init runs)
	@scripts/bench/host.sh

.PHONY: bench-enrich
bench-enrich: ## benchmark mutator-enrich with a 10,000-entry inventory, with and without its cache
	@scripts/bench/enrich.sh

.PHONY: bench-handlers
bench-handlers: ## benchmark handler-elasticsearch and handler-tsdb into real servers against one request per event (installs them)
	@scripts/bench/handlers.sh

.PHONY: bench-audit
bench-audit: ## benchmark check-audit-log against jq and cat on generated Kubernetes audit and auth logs (installs jq)
	@scripts/bench/audit.sh
