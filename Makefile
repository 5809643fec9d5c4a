# ts — build, test and demo. `make demo` and `make test` do all set-up themselves.

GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X github.com/tsserve/ts/pkg/cli.Version=$(VERSION) \
            -X github.com/tsserve/ts/pkg/cli/archivecmd.Version=$(VERSION) \
            -X github.com/tsserve/ts/pkg/config.SetupDir=$(CURDIR)/.ort

.PHONY: all setup build test demo vet lint fmt fmt-check fuzz clean samples bench-archive bench bench-soak bench-models completions release-check release-snapshot proto

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

## completions: write completions/ from the binaries' command lines (a test checks they are current)
completions:
	@mkdir -p completions
	$(GO) run ./cmd/ts completion bash > completions/ts.bash
	$(GO) run ./cmd/ts completion zsh > completions/_ts
	$(GO) run ./cmd/ts completion fish > completions/ts.fish
	CGO_ENABLED=0 $(GO) run ./cmd/tsarchive completion bash > completions/tsarchive.bash
	CGO_ENABLED=0 $(GO) run ./cmd/tsarchive completion zsh > completions/_tsarchive
	CGO_ENABLED=0 $(GO) run ./cmd/tsarchive completion fish > completions/tsarchive.fish

## proto: regenerate pkg/api/grpc from pkg/api/proto (TorchServe's gRPC APIs and the Open
## Inference Protocol's; the generated code is committed, so building needs none of this):
## Debian's protobuf-compiler and protoc-gen-go / protoc-gen-go-grpc from go install
PROTOC_GEN_GO_VERSION ?= v1.36.12
PROTOC_GEN_GO_GRPC_VERSION ?= v1.6.2
proto:
	@command -v protoc >/dev/null || { echo "proto: needs protoc: apt-get install protobuf-compiler" >&2; exit 1; }
	GOBIN=$(CURDIR)/.cache/bin $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	GOBIN=$(CURDIR)/.cache/bin $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
	PATH=$(CURDIR)/.cache/bin:$$PATH protoc -I pkg/api/proto --go_out=. --go_opt=module=github.com/tsserve/ts \
		--go-grpc_out=. --go-grpc_opt=module=github.com/tsserve/ts pkg/api/proto/inference.proto pkg/api/proto/management.proto pkg/api/proto/oip.proto

## release-check / release-snapshot: check goreleaser.yaml; build every release archive into
## dist/ (needs Debian's gcc-aarch64-linux-gnu for ts on arm64)
GORELEASER_VERSION ?= v2.15.0
GORELEASER := $(shell $(GO) env GOPATH)/bin/goreleaser
$(GORELEASER):
	GOFLAGS= $(GO) install github.com/goreleaser/goreleaser/v2@$(GORELEASER_VERSION)
release-check: $(GORELEASER)
	$(GORELEASER) check
release-snapshot: release-check completions
	@command -v aarch64-linux-gnu-gcc >/dev/null || { echo "release: needs aarch64-linux-gnu-gcc: apt-get install gcc-aarch64-linux-gnu" >&2; exit 1; }
	$(GORELEASER) release --snapshot --clean

## demo: pack the digits sample, serve it, classify and explain sample images, stop
demo: build
	@bash scripts/demo.sh

vet:
	$(GO) vet ./...

## lint: staticcheck, fetched through the Go module proxy (not part of CI, which must not
## depend on a tool's download; clean at the time of writing)
lint:
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

## fuzz: run the fuzzers briefly (CI does this too); counts, not durations: a -fuzztime
## deadline that lands while a worker minimises fails the run with "context deadline exceeded"
fuzz:
	$(GO) test ./pkg/onnx -run '^$$' -fuzz FuzzRead -fuzztime 100000x -fuzzminimizetime 50x
	$(GO) test ./pkg/archive -run '^$$' -fuzz FuzzReader -fuzztime 500x -fuzzminimizetime 50x
	$(GO) test ./pkg/handler -run '^$$' -fuzz FuzzDecodeV2 -fuzztime 20000x -fuzzminimizetime 50x
	$(GO) test ./pkg/handler -run '^$$' -fuzz FuzzTensorHandler -fuzztime 20000x -fuzzminimizetime 50x
	$(GO) test ./pkg/handler -run '^$$' -fuzz FuzzFastDecode -fuzztime 50000x -fuzzminimizetime 50x
	$(GO) test ./pkg/handler -run '^$$' -fuzz FuzzTokenizers -fuzztime 3000x -fuzzminimizetime 50x
	$(GO) test ./pkg/handler -run '^$$' -fuzz FuzzImageHandlers -fuzztime 20000x -fuzzminimizetime 50x
	$(GO) test ./pkg/handler -run '^$$' -fuzz FuzzTextClassifier -fuzztime 5000x -fuzzminimizetime 50x
	$(GO) test ./pkg/handler -run '^$$' -fuzz FuzzModelOutputs -fuzztime 10000x -fuzzminimizetime 50x
	$(GO) test ./pkg/server -run '^$$' -fuzz FuzzInferenceAPI -fuzztime 10000x -fuzzminimizetime 50x
	$(GO) test ./pkg/server -run '^$$' -fuzz FuzzManagementAPI -fuzztime 2000x -fuzzminimizetime 50x
	$(GO) test ./pkg/registry -run '^$$' -fuzz FuzzTritonConfig -fuzztime 10000x -fuzzminimizetime 50x
	$(GO) test ./pkg/registry -run '^$$' -fuzz FuzzModelConfigYAML -fuzztime 10000x -fuzzminimizetime 50x
	$(GO) test ./pkg/workflow -run '^$$' -fuzz FuzzParseSpec -fuzztime 20000x -fuzzminimizetime 50x

## bench: ts against the raw ONNX Runtime ceiling, a no-op HTTP server and a naive server
## (ResNet-18 and a tiny model; several minutes; not part of make test)
bench: build bench-models
	$(GO) build -o bin/servebench ./bench/servebench
	bin/servebench -ts bin/ts -tsarchive bin/tsarchive -resnet .cache/bench/resnet18.onnx

## bench-models: ResNet-18 with random weights (needs Debian's python3-torch, -torchvision, -onnx)
bench-models: .cache/bench/resnet18.onnx
.cache/bench/resnet18.onnx: bench/make_resnet18.py
	@/usr/bin/python3 -c 'import torch, torchvision, onnx' 2>/dev/null || { echo "bench: needs Debian's python3-torch, python3-torchvision and python3-onnx: apt-get install python3-torch python3-torchvision python3-onnx" >&2; exit 1; }
	mkdir -p .cache/bench
	/usr/bin/python3 bench/make_resnet18.py $@.tmp && mv $@.tmp $@

## bench-soak: register, infer, unregister 1000 times; memory, goroutines, files, series (leaks)
bench-soak: setup
	$(GO) test -run '^$$' -bench RegisterSoak -benchtime 1x ./pkg/server

## bench-archive: tsarchive pack/read speed per format vs stdlib archive/zip (not part of make test)
bench-archive:
	$(GO) run ./bench/archivebench

## samples: retrain the sample models (needs Debian's python3-torch, -onnx, -sklearn, -pil)
samples:
	/usr/bin/python3 samples/digits/make_model.py
	/usr/bin/python3 samples/iris/make_model.py
	/usr/bin/python3 pkg/engine/testdata/make_models.py
	/usr/bin/python3 samples/text/make_model.py
	/usr/bin/python3 samples/segmenter/make_model.py
	/usr/bin/python3 samples/detector/make_model.py

clean:
	rm -rf bin dist model_store .cache
