# Buzhou — `make help` lists the targets.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

BIN := $(CURDIR)/.bin
export GOBIN := $(BIN)
export PATH := $(BIN):$(PATH)

# Pinned tool versions.
BUF_VERSION := v1.75.0
PROTOC_GEN_GO_VERSION := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.6.0
GRPC_GATEWAY_VERSION := v2.33.0
HELM_VERSION := v3.22.0
# The oldest Kubernetes the chart supports is older; helm's default (1.20) is too old.
HELM_KUBE_VERSION := 1.30.0
# Images: $(IMAGE_REPOSITORY)/<binary>:$(IMAGE_TAG).
IMAGE_REPOSITORY ?= buzhou
IMAGE_TAG ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
IMAGES ?= gateway article search verification sandbox buzhou
# The google/api protos come from this module in the Go module cache.
GOOGLEAPIS_MODULE := github.com/grpc-ecosystem/grpc-gateway@v1.16.0
# The openapiv2 options protos come from the module of protoc-gen-openapiv2 itself.
OPENAPIV2_MODULE := github.com/grpc-ecosystem/grpc-gateway/v2@$(GRPC_GATEWAY_VERSION)

# Every Go module of the workspace, as package patterns.
PKGS := buzhou.dev/proto/... buzhou.dev/platform/... buzhou.dev/article/... \
	buzhou.dev/search/... buzhou.dev/verification/... buzhou.dev/gateway/... buzhou.dev/deploy/...
MODULES := proto services/platform services/article services/search services/verification gateway deploy

.PHONY: help
help: ## Describe the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*?## "}{printf "  %-16s %s\n", $$1, $$2}'

.PHONY: run
run: build ## Build and start the whole stack on BUZHOU_HTTP_ADDR (default 127.0.0.1:8080)
	$(BIN)/buzhou serve

.PHONY: build
build: ## Build all binaries into .bin/
	go build -o $(BIN)/ buzhou.dev/gateway/cmd/buzhou buzhou.dev/gateway/cmd/gateway \
		buzhou.dev/article/cmd/article buzhou.dev/search/cmd/search buzhou.dev/search/cmd/search-eval \
		buzhou.dev/verification/cmd/verification buzhou.dev/verification/cmd/sandbox buzhou.dev/gateway/cmd/buzhou-load

.PHONY: test
test: ## Run every test (PostgreSQL and Redis ones need BUZHOU_TEST_POSTGRES_URL, BUZHOU_TEST_REDIS_URL)
	@[ -n "$${BUZHOU_TEST_POSTGRES_URL:-}" ] || echo "note: BUZHOU_TEST_POSTGRES_URL is not set; PostgreSQL store tests are skipped (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)"
	@[ -n "$${BUZHOU_TEST_REDIS_URL:-}" ] || echo "note: BUZHOU_TEST_REDIS_URL is not set; Redis rate limit tests are skipped (e.g. redis://127.0.0.1:6379/15)"
	go test -race -shuffle=on -count=1 -timeout 15m $(PKGS)
	@if [ -n "$${BUZHOU_TEST_POSTGRES_URL:-}" ]; then \
		echo "end-to-end stack tests again, on PostgreSQL"; \
		BUZHOU_TEST_STACK_ENGINE=postgres go test -race -shuffle=on -count=1 -timeout 15m buzhou.dev/gateway/internal/stack; \
	fi

# Synthetic corpus sizes of the search benchmarks (REST, and in process).
BUZHOU_BENCH_SEARCH_SIZES ?= 1000,10000,100000
BUZHOU_BENCH_SIZES ?= 1000,10000

.PHONY: bench
bench: ## Run the Go benchmarks (article create/get through the gateway on SQLite, and PostgreSQL when BUZHOU_TEST_POSTGRES_URL is set; search over REST at BUZHOU_BENCH_SEARCH_SIZES synthetic articles)
	BUZHOU_BENCH_SEARCH_SIZES=$(BUZHOU_BENCH_SEARCH_SIZES) BUZHOU_BENCH_SIZES=$(BUZHOU_BENCH_SIZES) \
		go test -run '^$$' -bench . -benchmem -benchtime 2s -timeout 60m $(PKGS)

.PHONY: test-qdrant
test-qdrant: ## Run the index contract suite against a real Qdrant at QDRANT_URL (its gRPC port, e.g. http://127.0.0.1:6334; QDRANT_API_KEY if it needs one)
	@[ -n "$${QDRANT_URL:-}" ] || echo "note: QDRANT_URL is not set, so the suite is skipped; e.g. QDRANT_URL=http://127.0.0.1:6334 make test-qdrant"
	go test -race -count=1 -v -run 'TestContractOnQdrant' buzhou.dev/search/internal/index/qdrant

# Where make eval runs its throwaway stack.
EVAL_ADDR ?= 127.0.0.1:18790

.PHONY: eval
eval: build ## Load the shared corpus into a fresh stack and print search quality per ranker (BUZHOU_CORPUS_DIR, default ../shared/corpus)
	@corpus=$${BUZHOU_CORPUS_DIR:-$(CURDIR)/../shared/corpus}; \
	[ -f "$$corpus/corpus.jsonl" ] || { echo "no corpus at $$corpus: set BUZHOU_CORPUS_DIR to the folder with corpus.jsonl"; exit 1; }; \
	dir=$$(mktemp -d); key=bz_eval_$$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n'); \
	BUZHOU_DATA_DIR=$$dir BUZHOU_SEED_DEMO=false BUZHOU_ADMIN_KEY=$$key BUZHOU_HTTP_ADDR=$(EVAL_ADDR) BUZHOU_LOG_LEVEL=warn \
		BUZHOU_RATE_ANON_PER_MINUTE=1000000 $(BIN)/buzhou serve 2>"$$dir/serve.log" & pid=$$!; \
	trap 'kill $$pid 2>/dev/null; wait $$pid 2>/dev/null; rm -rf "$$dir"' EXIT; \
	BUZHOU_API_KEY=$$key $(BIN)/search-eval --server http://$(EVAL_ADDR) --corpus "$$corpus" || { tail -20 "$$dir/serve.log"; exit 1; }

# make load: a throwaway stack at LOAD_ADDR with LOAD_ARTICLES synthetic
# articles, driven at each of LOAD_RATES (requests/s) for LOAD_STEP with the
# LOAD_MIX of endpoints. Extra flags of buzhou-load go in LOAD_FLAGS.
# Inspections are off: inspecting the whole seed at once is a one-off that
# would run through the measured steps.
LOAD_ADDR ?= 127.0.0.1:18791
LOAD_ARTICLES ?= 10000
LOAD_RATES ?= 250,500,1000,2000,4000
LOAD_STEP ?= 10s
LOAD_MIX ?= get=70,search=15,resolve=10,write=5
LOAD_FLAGS ?=

.PHONY: load
load: build ## Start a fresh stack, seed LOAD_ARTICLES synthetic articles, drive it at LOAD_RATES (open loop) and print latency per endpoint and the rate that keeps p99 under 50 ms
	@dir=$$(mktemp -d); key=bz_load_$$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n'); \
	BUZHOU_DATA_DIR=$$dir BUZHOU_SEED_DEMO=false BUZHOU_ADMIN_KEY=$$key BUZHOU_HTTP_ADDR=$(LOAD_ADDR) BUZHOU_LOG_LEVEL=warn \
		BUZHOU_RATE_ANON_PER_MINUTE=1000000000 BUZHOU_INSPECT_ON_CHANGE=false BUZHOU_DAILY_INSPECTIONS=false BUZHOU_SEARCH_RELATED_PER_SECOND=1000 \
		$(BIN)/buzhou serve 2>"$$dir/serve.log" & pid=$$!; \
	trap 'kill $$pid 2>/dev/null; wait $$pid 2>/dev/null; rm -rf "$$dir"' EXIT; \
	BUZHOU_API_KEY=$$key $(BIN)/buzhou-load --server http://$(LOAD_ADDR) --articles $(LOAD_ARTICLES) \
		--rates $(LOAD_RATES) --step $(LOAD_STEP) --mix $(LOAD_MIX) $(LOAD_FLAGS) || { tail -20 "$$dir/serve.log"; exit 1; }
# Every fuzz target, as package:Target; make test runs their seed corpora.
FUZZ_TARGETS := buzhou.dev/platform/auth:FuzzParseAuthorization \
	buzhou.dev/platform/sqldb:FuzzPageToken \
	buzhou.dev/article/internal/domain:FuzzValidate \
	buzhou.dev/article/internal/domain:FuzzSlugify \
	buzhou.dev/search/internal/analysis:FuzzTerms \
	buzhou.dev/search/internal/ranking:FuzzVersion \
	buzhou.dev/search/internal/server:FuzzSearchRequest \
	buzhou.dev/gateway/internal/gateway:FuzzJSONBody \
	buzhou.dev/gateway/internal/web:FuzzMarkdown

.PHONY: fuzz
fuzz: ## Run each fuzz target for FUZZTIME (default 10s); crashers are kept under the package's testdata/fuzz
	@for t in $(FUZZ_TARGETS); do \
		echo "fuzz $${t#*:} ($${t%%:*}) for $${FUZZTIME:-10s}"; \
		go test -run '^$$' -fuzz "^$${t#*:}\$$" -fuzztime $${FUZZTIME:-10s} "$${t%%:*}"; \
	done

.PHONY: lint
lint: tools googleapis ## gofmt, go vet, buf lint and buf format
	@out=$$(gofmt -l $(MODULES) | grep -v '^proto/gen/' || true); [ -z "$$out" ] || { echo "gofmt needed:"; echo "$$out"; exit 1; }
	go vet $(PKGS)
	buf lint
	buf format -d --exit-code proto

.PHONY: generate
generate: tools googleapis ## Regenerate Go, gateway and OpenAPI code from proto/
	buf generate

.PHONY: checkgenerate
checkgenerate: generate ## Fail when generated code differs from what is committed
	@git add -N proto/gen gateway/internal/openapi/spec
	@git diff --exit-code -- proto/gen gateway/internal/openapi/spec || { echo "generated code is stale: run 'make generate' and commit"; exit 1; }

.PHONY: helm-lint
helm-lint: $(BIN)/helm ## helm lint --strict the chart with its default, production and sandbox values
	helm lint --strict --kube-version $(HELM_KUBE_VERSION) deploy/helm/buzhou
	helm lint --strict --kube-version $(HELM_KUBE_VERSION) deploy/helm/buzhou -f deploy/helm/examples/production.yaml
	helm lint --strict --kube-version $(HELM_KUBE_VERSION) deploy/helm/buzhou -f deploy/helm/examples/sandbox.yaml

.PHONY: images
images: ## Build the container images with docker (IMAGES, IMAGE_REPOSITORY, IMAGE_TAG); not exercised on the dev machines
	@for t in $(IMAGES); do \
		echo "docker build --target $$t -t $(IMAGE_REPOSITORY)/$$t:$(IMAGE_TAG)"; \
		docker build -f deploy/docker/Dockerfile --target $$t -t $(IMAGE_REPOSITORY)/$$t:$(IMAGE_TAG) . ; \
	done

.PHONY: tidy
tidy: ## go mod tidy in every module
	@for m in $(MODULES); do (cd $$m && go mod tidy); done

.PHONY: googleapis
googleapis: .cache/googleapis/google/api/annotations.proto .cache/openapiv2/protoc-gen-openapiv2/options/openapiv2.proto ## Copy the imported protos (google/api, openapiv2 options) with their licences from the Go module cache

.cache/googleapis/google/api/annotations.proto:
	@dir=$$(cd /tmp && go mod download -json $(GOOGLEAPIS_MODULE) | sed -n 's/.*"Dir": "\(.*\)".*/\1/p'); \
	rm -rf .cache/googleapis && mkdir -p .cache && cp -r "$$dir/third_party/googleapis" .cache/googleapis && \
	chmod -R u+w .cache/googleapis && rm -f .cache/googleapis/README.grpc-gateway

.cache/openapiv2/protoc-gen-openapiv2/options/openapiv2.proto:
	@dir=$$(cd /tmp && go mod download -json $(OPENAPIV2_MODULE) | sed -n 's/.*"Dir": "\(.*\)".*/\1/p'); \
	rm -rf .cache/openapiv2 && mkdir -p .cache/openapiv2/protoc-gen-openapiv2/options && \
	cp "$$dir"/protoc-gen-openapiv2/options/*.proto .cache/openapiv2/protoc-gen-openapiv2/options/ && \
	cp "$$dir/LICENSE" .cache/openapiv2/LICENSE && chmod -R u+w .cache/openapiv2

.PHONY: tools
tools: $(BIN)/buf $(BIN)/protoc-gen-go $(BIN)/protoc-gen-go-grpc $(BIN)/protoc-gen-grpc-gateway $(BIN)/protoc-gen-openapiv2 ## Install pinned code generators into .bin/

$(BIN)/buf:
	go install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)
$(BIN)/helm:
	go install helm.sh/helm/v3/cmd/helm@$(HELM_VERSION)
$(BIN)/protoc-gen-go:
	go install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
$(BIN)/protoc-gen-go-grpc:
	go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
$(BIN)/protoc-gen-grpc-gateway:
	go install github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway@$(GRPC_GATEWAY_VERSION)
$(BIN)/protoc-gen-openapiv2:
	go install github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-openapiv2@$(GRPC_GATEWAY_VERSION)
