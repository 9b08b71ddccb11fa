# casefleet: make demo runs the whole system on embedded defaults;
# make test runs every test. See README.md.

GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
BINS    := bin/casefleet-agent bin/casefleet-relay bin/chitusim

.PHONY: all build demo test test-short bench package fmt vet clean

all: build

build: $(BINS)

bin/casefleet-agent: FORCE
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $@ ./agent/cmd/casefleet-agent

bin/casefleet-relay: FORCE
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $@ ./relay/cmd/casefleet-relay

bin/chitusim: FORCE
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $@ ./agent/cmd/chitusim

FORCE:

## demo: simulator + relay on 127.0.0.1:8080 + three kiosk agents; Ctrl-C stops all.
demo: build
	scripts/demo.sh

## test: its own set-up (scripts/test-setup.sh: Debian tools, Mosquitto and
## Redis on loopback; as root it installs and starts them, else it says
## how), formatting, vet (also for Windows, where the agent runs as a
## service), and the whole suite with the race detector.
test:
	scripts/test-setup.sh
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo 'gofmt needed on:'; gofmt -l .; exit 1; }
	$(GO) vet ./...
	GOOS=windows $(GO) vet ./...
	$(GO) test -race -count=1 -timeout 20m ./...

## test-short: the quick unit tests only.
test-short:
	$(GO) test -short -count=1 ./...

## bench: Go benchmarks and the load harness, printed as tables.
bench: build
	scripts/bench.sh

## package: installable packages in dist/ (agent .deb/.rpm/.msi, relay .deb; see packaging/build.sh -h);
## with RELEASE_KEY=release.key also their signed release manifest
package:
	packaging/build.sh -o dist -v $(VERSION) $(if $(RELEASE_KEY),-k $(RELEASE_KEY))

fmt:
	gofmt -w $$(git ls-files '*.go')

vet:
	$(GO) vet ./...

clean:
	rm -rf bin dist
