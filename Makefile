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

# Each fuzz target runs this many inputs in `make test` (2 to 20 s each here);
# more find more. A count, not a duration: Go 1.26's fuzzing coordinator can
# fail a run whose -fuzztime duration ends while a worker is busy, with
# "context deadline exceeded" and no failing input (go.dev/issue/75804,
# fixed in Go 1.27).
FUZZTIME ?= 10000x
FUZZ     = auditapi:FuzzDecodePage auditapi:FuzzErrorsNeverShowTheSecret config:FuzzParse

# Releases: archives named like Prometheus's (the version without its v),
# and packages, which need a version X.Y.Z: an untagged tree's (a commit
# hash) becomes a pre-release of 0.0.0.
RELEASE_VERSION = $(patsubst v%,%,$(VERSION))
PACKAGE_VERSION = $(shell case '$(RELEASE_VERSION)' in ([0-9]*.[0-9]*.[0-9]*) echo '$(RELEASE_VERSION)';; \
                    (*) echo '0.0.0-$(RELEASE_VERSION)';; esac)
DIST           ?= dist
PLATFORMS      ?= linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64
PACKAGE_ARCHS  ?= amd64 arm64
PACKAGERS      ?= deb rpm
RELEASE_FILES   = LICENSE README.md config.example.yml alerts/vonage-audit.rules.yml \
                  dashboards/vonage-audit-overview.json dashboards/vonage-audit-exporter.json
# nfpm is pinned in tools/nfpm/go.mod, like golangci-lint; the first run
# downloads and builds it.
NFPM = $(GO) tool -modfile=tools/nfpm/go.mod nfpm

.PHONY: all build test lint unit e2e fuzz release binary archive packages

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) .

# Every archive and package of a release, and their SHA-256 sums, in dist/.
# Windows archives are zip files (needs zip).
release:
	rm -rf $(DIST)
	@set -e; for p in $(PLATFORMS); do \
		$(MAKE) --no-print-directory archive OS=$${p%/*} ARCH=$${p#*/} VERSION=$(VERSION); \
	done
	@set -e; for a in $(PACKAGE_ARCHS); do \
		$(MAKE) --no-print-directory packages ARCH=$$a VERSION=$(VERSION); \
	done
	cd $(DIST) && sha256sum *.tar.gz *.zip *.deb *.rpm > sha256sums.txt

# One static binary: make binary OS=linux ARCH=arm64 (default: this machine's;
# not ?=, which would take Windows's OS variable).
OS   = $(shell $(GO) env GOOS)
ARCH = $(shell $(GO) env GOARCH)
EXE = $(if $(filter windows,$(OS)),.exe)
BINARY = $(DIST)/build/$(OS)-$(ARCH)/$(BIN)$(EXE)
binary:
	CGO_ENABLED=0 GOOS=$(OS) GOARCH=$(ARCH) $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BINARY) .

# One archive, its files in a folder of the archive's name.
ARCHIVE = $(BIN)-$(RELEASE_VERSION).$(OS)-$(ARCH)
archive: binary
	rm -rf $(DIST)/$(ARCHIVE) && mkdir -p $(DIST)/$(ARCHIVE)
	cp $(BINARY) $(DIST)/$(ARCHIVE)/
	cp --parents $(RELEASE_FILES) $(DIST)/$(ARCHIVE)/
	cd $(DIST) && if [ "$(OS)" = windows ]; then zip -qr $(ARCHIVE).zip $(ARCHIVE); \
		else tar -czf $(ARCHIVE).tar.gz --owner=0 --group=0 $(ARCHIVE); fi
	rm -rf $(DIST)/$(ARCHIVE)

# The linux packages of one architecture: make packages ARCH=amd64 [PACKAGERS=deb].
packages: OS = linux
packages: binary
	@set -e; for p in $(PACKAGERS); do \
		VERSION=$(PACKAGE_VERSION) ARCH=$(ARCH) BINARY=$(BINARY) $(NFPM) pkg --config packaging/nfpm.yaml --packager $$p --target $(DIST)/; \
	done

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
