# sessiond — make targets. `make run` starts a dev server on the embedded
# store; `make test` runs the whole suite (what CI runs).
GO          ?= go
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2
PKGS        ?= ./...
FUZZTIME    ?= 30s

.PHONY: all build run test lint vet unit bench fuzz clean screenshots

all: build

build:
	$(GO) build -o bin/sessiond ./cmd/sessiond

run:
	$(GO) run ./cmd/sessiond serve --dev

# The whole suite: formatting, vet, staticcheck, then every test with -race
# (real SQLite, Redis, Redis Cluster, PostgreSQL; see README).
test: lint unit

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(STATICCHECK) $(PKGS)

unit:
	$(GO) test -race -count=1 -timeout 20m $(PKGS)
	@# Allocation budgets are counted without -race (which allocates itself).
	$(GO) test -count=1 -run 'AllocBudget' $(PKGS)

# Benchmarks and the load harness: run by hand, results go to docs/benchmarks.md.
# `make load LOADFLAGS='-duration 10s -scenarios cookie,revocation'` runs the
# harness alone (bench/README.md).
bench: load
	$(GO) test -run '^$$' -bench . -benchmem -count 1 $(PKGS)

.PHONY: load
load:
	$(GO) run ./bench/load $(LOADFLAGS)

# Fuzzing campaigns, FUZZTIME each (seed corpora run in `make test` already).
fuzz:
	@for pkg in $$($(GO) list $(PKGS)); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

# Refresh docs/screenshots/ from the browser tests (needs Chromium and e2e/node_modules).
screenshots:
	SESSIOND_UPDATE_SCREENSHOTS=1 $(GO) test -count=1 -run TestBrowser_E2E ./cmd/sessiond

clean:
	rm -rf bin
