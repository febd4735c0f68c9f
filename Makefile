# Loom's tasks. `make help` lists them. CI runs .ci/run, which runs `make test`.

GO          ?= go
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
BIN         := bin
LAB         := deploy/lab/lab.sh
PKGS        := ./...

.PHONY: help deps build test unit e2e bench fuzz lint generate verify demo lab-up lab-down clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

deps: ## install the Debian packages Loom's lab and tests need (root; only what is missing)
	@deploy/deps.sh

build: ## build loomctl, loomd, loom-cni and loom-docker into bin/ (VERSION=v1.2.0 stamps a release; else "devel" and the git commit)
	$(GO) build $(if $(VERSION),-ldflags "-X github.com/loom-sdn/loom/version.Version=$(VERSION)") -o $(BIN)/ ./cmd/loomctl ./cmd/loomd ./cmd/loom-cni ./cmd/loom-docker

test: deps ## unit and end-to-end tests on real OVS (root); what CI runs
	$(GO) test -race -count=1 -timeout 30m $(PKGS)

unit: ## unit tests only (no root, no OVS)
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v /e2e)

e2e: deps ## end-to-end tests only (root, OVS)
	$(GO) test -count=1 -v -timeout 30m ./e2e/

bench: deps ## benchmarks: compile, flow push vs ovs-ofctl, loomd on a lab (root, OVS; <20 min; BENCH_FULL=1: 1,000 hosts too)
	GO=$(GO) deploy/bench.sh

FUZZTIME     ?= 15m
FUZZPARALLEL ?= 1
FUZZFLAGS    ?= -fuzzminimizetime 5s
fuzz: ## fuzz the loader (FuzzLoad) and the compiler (FuzzCompile), FUZZTIME each (default 15m); crashers land in testdata/fuzz
	$(GO) test ./topology -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime $(FUZZTIME) -parallel $(FUZZPARALLEL) $(FUZZFLAGS)
	$(GO) test ./flows -run '^$$' -fuzz '^FuzzCompile$$' -fuzztime $(FUZZTIME) -parallel $(FUZZPARALLEL) $(FUZZFLAGS)

lint: ## gofmt check, go vet, staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) run $(STATICCHECK) $(PKGS)

generate: ## regenerate the OVSDB models from ovsdb/vswitch.ovsschema
	$(GO) generate ./ovsdb/...

verify: generate ## generate and go mod tidy leave no diff
	$(GO) mod tidy
	@git diff --exit-code -- go.mod go.sum ovsdb/ || { echo "generate or tidy changed files: commit them"; exit 1; }
	@test -z "$$(git status --porcelain -- ovsdb/ go.mod go.sum)" || { git status --porcelain -- ovsdb/ go.mod go.sum; echo "untracked generated files"; exit 1; }

demo: deps build ## a 2-host lab, deploy/examples/two-hosts.yaml applied, a ping across hosts
	@deploy/demo.sh

lab-up: ## a lab of 2 simulated hosts (N=3 for three)
	$(LAB) up $(or $(N),2)

lab-down: ## remove the lab (and stop the demo's loomd)
	deploy/demo.sh stop
	$(LAB) down

clean: ## remove build output
	rm -rf $(BIN)
