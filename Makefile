# Petrel — the two commands: `make run` (start a single-node broker) and `make test`.
SHELL := /bin/bash
NODE ?= node
ARGS ?=

.PHONY: all deps build run test test-unit system-deps kafka-jars bench cluster-model crds clean image

all: build

# npm ci only when the lock file changed since the last install.
node_modules/.petrel-installed: package-lock.json package.json
	npm ci --no-audit --no-fund
	touch $@

deps: node_modules/.petrel-installed

# dist/test is emptied first: tsc never deletes the output of a removed source, and `make test`
# runs every *.test.js it finds there.
build: deps
	rm -rf dist/test
	npx tsc -p tsconfig.json
	$(NODE) scripts/build-dashboard.mjs

# Start one broker node with the default config (or ARGS="--config petrel.yaml").
run: build
	NODE=$(NODE) ./bin/petrel $(ARGS)

# Debian packages the integration tests use; installed when root, named otherwise.
system-deps:
	bash scripts/system-deps.sh

# Apache Kafka's broker jars for the Kafka sink tests, fetched once with Maven into
# ~/.cache/petrel-kafka/<version>/ (scripts/kafka-jars.sh); if Maven Central cannot be reached
# the Kafka tests are skipped and say so, so this step never fails the run for that.
kafka-jars:
	bash scripts/kafka-jars.sh || [ $$? -eq 2 ]

# Only *.test.js files are tests (node 20 would otherwise run every file under a test/ folder).
test: build system-deps kafka-jars
	bash scripts/python-deps.sh && $(NODE) --test --test-timeout=180000 $$(find dist/test -name '*.test.js' | sort)

test-unit: build
	$(NODE) --test $$(find dist/test/unit -name '*.test.js' | sort)

# kube-apiserver & co., kwok and etcd for test/integration/operator-real/, built from test/k8s/
# with Go under nice and cached in ~/.cache/petrel-k8s/ (a no-op once built), and the external-dns
# and cert-manager CRDs from those projects' Go modules. A prerequisite of `test`, declared here so
# the test rule itself stays as it is.
.PHONY: k8s-bins
k8s-bins:
	bash scripts/k8s-bins.sh
	bash scripts/k8s-crds.sh
test: k8s-bins

bench: build
	bash scripts/system-deps.sh bench
	$(NODE) dist/bench/run.js $(ARGS)

# The cluster route model: 10M filters over 50 nodes, summaries against one etcd key per route,
# with a throwaway etcd (docs/cluster.md). About 10 minutes; ARGS="--nodes 10 --per-node 50000" is smaller.
cluster-model: build system-deps
	$(NODE) --expose-gc --max-old-space-size=8192 dist/bench/cluster-model.js $(ARGS)

# Regenerate crds/ (and the chart's copy) from operator/src/api; `make crds CHECK=1` only compares.
crds: build
	$(NODE) dist/operator/src/api/gen-crd.js $(if $(CHECK),--check,)

# No Docker engine runs on the development machines: this prints the commands to run where one does.
image:
	@echo "docker build -f broker/Dockerfile -t petrel/broker:0.1.0 ."
	@echo "docker build -f operator/Dockerfile -t petrel/operator:0.1.0 ."

clean:
	rm -rf dist node_modules/.petrel-installed
