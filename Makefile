# ts — build, test and demo. `make demo` and `make test` do all set-up themselves.

GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X github.com/tsserve/ts/pkg/cli.Version=$(VERSION) \
            -X github.com/tsserve/ts/pkg/cli/archivecmd.Version=$(VERSION) \
            -X github.com/tsserve/ts/pkg/config.SetupDir=$(CURDIR)/.ort

.PHONY: all setup build test demo vet fmt fmt-check fuzz clean samples bench-archive

all: build

## setup: fetch ONNX Runtime 1.24.1 (npm pack onnxruntime-node) into .ort/ and check its sha256
setup:
	@bash scripts/setup-ort.sh

## build: bin/ts (cgo) and bin/tsarchive (pure Go)
build: setup
	$(GO) build -ldflags '$(LDFLAGS)' -o bin/ts ./cmd/ts
	CGO_ENABLED=0 $(GO) build -ldflags '$(LDFLAGS)' -o bin/tsarchive ./cmd/tsarchive

## test: every test, against the real ONNX Runtime
test: setup
	$(GO) test ./...

## demo: pack the digits sample, serve it, classify a sample image, stop
demo: build
	@bash scripts/demo.sh

vet:
	$(GO) vet ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

## fuzz: run the fuzzers briefly (CI does this too)
fuzz:
	$(GO) test ./pkg/onnx -run '^$$' -fuzz FuzzRead -fuzztime 10s -fuzzminimizetime 50x
	$(GO) test ./pkg/archive -run '^$$' -fuzz FuzzReader -fuzztime 10s -fuzzminimizetime 50x

## bench-archive: tsarchive pack/read speed per format vs stdlib archive/zip (not part of make test)
bench-archive:
	$(GO) run ./bench/archivebench

## samples: retrain the sample models (needs Debian's python3-torch, -onnx, -sklearn, -pil)
samples:
	/usr/bin/python3 samples/digits/make_model.py
	/usr/bin/python3 samples/iris/make_model.py
	/usr/bin/python3 pkg/engine/testdata/make_models.py

clean:
	rm -rf bin dist model_store
