# The README's commands. `make test` is what CI runs.
GO      ?= go
BIN     ?= vonage_audit_exporter
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
BRANCH  ?= $(shell git rev-parse --abbrev-ref HEAD 2>/dev/null || echo unknown)
PKG      = github.com/prometheus/common/version
LDFLAGS  = -s -w -X $(PKG).Version=$(VERSION) -X $(PKG).Revision=$(REVISION) -X $(PKG).Branch=$(BRANCH) \
           -X $(PKG).BuildUser=$(shell id -un)@$(shell hostname) -X $(PKG).BuildDate=$(shell date -u +%Y%m%d-%H:%M:%S)

# golangci-lint is pinned in tools/go.mod, apart from the exporter's own
# dependencies; the first run downloads and builds it.
GOLANGCI_LINT = $(GO) tool -modfile=tools/go.mod golangci-lint

# Each fuzz target runs this long in `make test`; longer runs find more.
FUZZTIME ?= 10s
FUZZ     = auditapi:FuzzDecodePage auditapi:FuzzErrorsNeverShowTheSecret config:FuzzParse

.PHONY: all build test lint unit e2e fuzz

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) .

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change: $$out"; exit 1; fi
	$(GO) vet ./...
	$(GOLANGCI_LINT) run ./...

# A race-enabled test binary sleeps a second at exit by default, for each
# package: the unit suite does not wait for that.
unit:
	GORACE=atexit_sleep_ms=0 $(GO) test -race -count=1 $$($(GO) list ./... | grep -v '/e2e$$')

# The end-to-end test: the exporter, the simulator, Debian's prometheus and
# prometheus-alertmanager on loopback, with examples/' configuration. It
# skips when those are not installed, unless CI is set.
e2e:
	$(GO) test -race -count=1 -timeout 10m ./e2e/

# go test takes one -fuzz target per run.
fuzz:
	@set -e; for t in $(FUZZ); do \
		$(GO) test -run '^$$' -fuzz "^$${t#*:}$$" -fuzztime $(FUZZTIME) ./$${t%%:*}; \
	done

# The Helm chart's tests, a module of their own (charts/test); helm is pinned
# in tools/helm/go.mod, built first (minutes, once) so that the tests' own
# timeout does not count the build.
.PHONY: chart
chart:
	$(GO) tool -modfile=tools/helm/go.mod helm version
	cd charts/test && $(GO) vet ./... && $(GO) tool -modfile=../../tools/go.mod golangci-lint run ./... && $(GO) test -count=1 ./...

test: lint unit chart e2e fuzz
