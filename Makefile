# hookline: build, test and operate. `make help` lists the targets.
SHELL := /bin/bash
GO ?= go
ROOT := $(abspath .)
BIN := $(ROOT)/.bin
TOOLS_DIR := infra/tools

# How Lambda binaries are built, here and by `sam build` (BuildMethod: makefile).
# -buildvcs=false: `sam build` copies the source without .git, so a binary
# stamped with this checkout's commit would differ from the one it makes.
LAMBDA_BUILD := CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -tags lambda.norpc -trimpath -buildvcs=false -ldflags '-s -w'
# The same binaries for this machine, to run under aws-lambda-rie and kumo.
HOST_BUILD := CGO_ENABLED=0 $(GO) build -tags lambda.norpc -trimpath -buildvcs=false -ldflags '-s -w'

GO_SOURCES := $(shell find . -name '*.go' -not -path './.bin/*' 2>/dev/null) go.mod go.sum

FN ?= receiver
EVENT ?= events/delivery.json

.PHONY: help build tools bootstraps cli test test-short bench bench-cost bench-dev bench-faults lint fmt deploy invoke dev send redrive replay okta clean

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

# --- sam build hooks: sam runs these with ARTIFACTS_DIR set ---------------------
build-ReceiverFunction:
	$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/receiver

build-WorkerFunction:
	$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/worker

build-ReconcilerFunction:
	$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/reconciler

build-StreamerFunction:
	$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/streamer

build: ## build the linux/arm64 Lambda binaries into build/ (as sam build would)
	$(MAKE) build-ReceiverFunction ARTIFACTS_DIR=$(ROOT)/build/ReceiverFunction
	$(MAKE) build-WorkerFunction ARTIFACTS_DIR=$(ROOT)/build/WorkerFunction
	$(MAKE) build-ReconcilerFunction ARTIFACTS_DIR=$(ROOT)/build/ReconcilerFunction
	$(MAKE) build-StreamerFunction ARTIFACTS_DIR=$(ROOT)/build/StreamerFunction
	@ls -l build/*/bootstrap

# --- local tools, built from infra/tools/go.mod (pinned, checksummed) -----------
# One build of each, in Go (devstack.Tool), shared by the CLI and the tests.
tools: cli ## build kumo and aws-lambda-rie into .bin/ when stale
	$(BIN)/hookline tools >/dev/null

$(BIN)/staticcheck: $(TOOLS_DIR)/lint/go.mod $(TOOLS_DIR)/lint/go.sum
	cd $(TOOLS_DIR)/lint && $(GO) build -o $@ honnef.co/go/tools/cmd/staticcheck

bootstraps: $(BIN)/receiver/bootstrap $(BIN)/worker/bootstrap $(BIN)/reconciler/bootstrap $(BIN)/streamer/bootstrap ## host-arch function binaries for rie and the dev stack

$(BIN)/receiver/bootstrap: $(GO_SOURCES)
	$(HOST_BUILD) -o $@ ./functions/receiver

$(BIN)/worker/bootstrap: $(GO_SOURCES)
	$(HOST_BUILD) -o $@ ./functions/worker

$(BIN)/reconciler/bootstrap: $(GO_SOURCES)
	$(HOST_BUILD) -o $@ ./functions/reconciler

$(BIN)/streamer/bootstrap: $(GO_SOURCES)
	$(HOST_BUILD) -o $@ ./functions/streamer

cli: $(BIN)/hookline ## the operator CLI

$(BIN)/hookline: $(GO_SOURCES)
	$(GO) build -o $@ ./infra/hookline

# --- tests -------------------------------------------------------------------------
TEST_ENV := HOOKLINE_BOOTSTRAP_DIR=$(BIN)

# cfn-lint (pip install cfn-lint aws-sam-translator) checks template.yaml against
# CloudFormation's schemas and the SAM transform; internal/samtemplate's
# TestCfnLint runs it in make test. Where it is missing the template is not
# linted: this says so loudly, and fails when CI=true (CI has it).
CFN_LINT_PRESENT = command -v cfn-lint >/dev/null || { echo '*** cfn-lint is not installed: template.yaml is NOT linted (pip install cfn-lint aws-sam-translator) ***' >&2; [ "$$CI" != true ] || { echo 'CI=true: cfn-lint is required' >&2; exit 1; }; false; }

test: tools bootstraps ## all tests: unit, kumo and rie integration, template (with cfn-lint), fuzz seeds
	@$(CFN_LINT_PRESENT) || true
	@# Every line the functions and kumo print in a test is in the output
	@# (HOOKLINE_TEST_LOGS=all); testscan prints it as go test would and fails
	@# on a failed test or on any hook secret in it.
	set -o pipefail; $(TEST_ENV) HOOKLINE_TEST_LOGS=all $(GO) test -count=1 -timeout 9m -json ./... | $(GO) run ./infra/testscan
	cd $(TOOLS_DIR) && $(GO) mod verify >/dev/null

test-short: ## unit tests only, no emulators
	$(GO) test -short ./...

bench: tools ## receiver, reconciler and worker benchmarks, binary sizes
	$(GO) test -run '^$$' -bench . -benchmem ./internal/receiver/
	$(GO) test -run '^$$' -bench . -benchtime 5x ./internal/reconcile/
	bash infra/bench/binary-size.sh
	$(GO) test -run '^$$' -bench . -benchtime 100x ./internal/worker/
	$(GO) test -run '^$$' -bench LogBytes -benchtime 200x ./internal/metrics/

lint: $(BIN)/staticcheck ## gofmt, go vet, staticcheck, cfn-lint template.yaml
	@out="$$(gofmt -l $$(git ls-files -co --exclude-standard '*.go'))"; if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(BIN)/staticcheck ./...
	@if $(CFN_LINT_PRESENT); then echo cfn-lint template.yaml; cfn-lint template.yaml; fi

fmt:
	gofmt -w $$(git ls-files -co --exclude-standard '*.go')

# --- operate -------------------------------------------------------------------------
invoke: tools bootstraps cli ## run a function under aws-lambda-rie on an event: make invoke FN=receiver EVENT=events/delivery.json
	$(BIN)/hookline invoke --fn $(FN) --event $(EVENT)

PORT ?= 4566
CONCURRENCY ?= 2
PUBLIC_PORT ?=
COUNT ?= 0
TYPE ?= user.lifecycle.create
EVENTS ?= events/delivery.json

dev: tools bootstraps cli ## the whole pipeline on kumo, Ctrl-C stops it: make dev [PORT=4566] [PUBLIC_PORT=8080 for a tunnel] [ORGS=prod,preview]
	$(BIN)/hookline dev --port $(PORT) --concurrency $(CONCURRENCY) $(if $(PUBLIC_PORT),--public-port $(PUBLIC_PORT)) $(if $(ORGS),--orgs $(ORGS))

send: cli ## act as Okta against `make dev`: make send [EVENTS=events/delivery.json] or [COUNT=100 TYPE=user.lifecycle.create] [LOSE=10%] [CHANNEL=hook|stream|both] [ORG=preview]
	$(BIN)/hookline send $(if $(filter-out 0,$(COUNT)),--count $(COUNT) --type $(TYPE),--events '$(EVENTS)') $(if $(LOSE),--lose $(LOSE)) $(if $(CHANNEL),--channel $(CHANNEL)) $(if $(ORG),--org $(ORG))

bench-faults: tools bootstraps ## receiver under SQS latency and a wrong-auth flood (rie, kumo, fault proxy): largest delivery answered 200, GetSecretValue calls a minute
	$(GO) run ./infra/bench/receiverfaults --bin $(BIN) --bootstrap $(BIN)/receiver/bootstrap

bench-cost: ## monthly AWS cost at 10k/100k/400k events a day, from template.yaml and list prices
	$(GO) run ./infra/bench/cost

bench-dev: tools bootstraps cli ## dev stack figures: start time, events/s and POST-to-handler latency
	$(GO) run ./infra/bench/devbench --bin $(BIN)

deploy: ## sam build && sam deploy, no prompts, fine when nothing changed (run `sam deploy --guided` once first)
	sam build && sam deploy --no-confirm-changeset --no-fail-on-empty-changeset

redrive: cli ## move parked events from the DLQ back: make redrive ARGS='--stack hookline|--local [--dry-run] [--type T] [--rate N]'
	$(BIN)/hookline redrive $(ARGS)

replay: cli ## queue events from the Okta System Log: make replay ARGS='--stack hookline --since 6h [--until T] [--type T] [--force] [--dry-run]'
	$(BIN)/hookline replay $(ARGS)

.PHONY: schema
schema: cli ## the payload shapes the worker learned: make schema ARGS='--stack hookline|--local [TYPE] [--seed]'
	$(BIN)/hookline schema $(ARGS)

okta: cli ## the Okta event hook as code: make okta ARGS='register --stack hookline' (list, status NAME, rotate, preview, ip-ranges; ARGS=-h lists them)
	$(BIN)/hookline okta $(ARGS)

clean:
	rm -rf build .bin/receiver .bin/worker .bin/reconciler .bin/streamer .bin/hookline
