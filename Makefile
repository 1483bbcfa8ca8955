# phoenix-wire: every command the README and CI use.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

CARGO ?= cargo
FUZZ_SECONDS ?= 30
FUZZ_TARGETS = $(notdir $(basename $(wildcard fuzz/fuzz_targets/*.rs)))

.PHONY: run test lint test-rust test-nostd test-python test-python-versions bench-python bench fuzz-smoke fuzz-%

## Everything: formatting, lints, docs, all Rust tests (std, no_std, doc tests),
## the Python suite, and the same wheel on the machine's other CPythons.
test: lint test-nostd test-rust test-python test-python-versions

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --all-features -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --workspace --no-deps --all-features

test-rust:
	$(CARGO) test --workspace --all-features
	$(CARGO) test -p phoenix-wire

## The codec as #![no_std], with and without an allocator.
test-nostd:
	$(CARGO) build -p phoenix-wire --no-default-features
	$(CARGO) build -p phoenix-wire --no-default-features --features alloc,serde,bytes
	$(CARGO) test -p phoenix-wire --no-default-features --test nostd

## Criterion benches side by side with the peers, then the table of ratios.
bench:
	$(CARGO) bench -p phoenix-wire-benches
	python3 benches/ratios.py

## Every fuzz target for FUZZ_SECONDS (default 30), from the seed corpus.
fuzz-smoke:
	@for t in $(FUZZ_TARGETS); do $(MAKE) --no-print-directory fuzz-$$t; done

fuzz-%:
	mkdir -p fuzz/corpus/$*
	cd fuzz && $(CARGO) +nightly fuzz run $* corpus/$* seeds/$* -- \
	  -max_total_time=$(FUZZ_SECONDS) -dict=phoenix.dict -rss_limit_mb=2048 -timeout=10 -print_final_stats=1

## The Python module: a fresh venv (.venv/), `pip install ./python pytest orjson`
## as a user would (plus erlang-py and erlpack, the ETF peers of the interop tests),
## the Phoenix JS client from npm, then pytest. The package is reinstalled only
## when its sources changed (cargo keeps the build incremental).
VENV ?= .venv
PY_STAMP = $(VENV)/.phoenix-wire-installed
PY_SOURCES = $(shell find codec/src python/src python/phoenix_wire -type f -not -name '*.pyc') \
  codec/Cargo.toml python/Cargo.toml python/pyproject.toml python/README.md Cargo.toml Cargo.lock
JS_STAMP = python/tests/js/node_modules/.installed

test-python: $(PY_STAMP) $(JS_STAMP)
	$(VENV)/bin/python -m pytest -q python/tests

## The abi3 wheel on every other CPython 3.9+ the machine has (see the script).
test-python-versions: $(PY_STAMP) $(JS_STAMP)
	bash python/tests/other_pythons.sh $(VENV)/bin/python

## The mock server on its embedded defaults (endpoint 127.0.0.1:4000, auth service
## 127.0.0.1:5000); pass options through, e.g. `make run MOCK_ARGS="--config mock.toml"`.
MOCK_ARGS ?=
run: $(PY_STAMP)
	$(VENV)/bin/phoenix-wire mock $(MOCK_ARGS)

bench-python: $(PY_STAMP)
	$(VENV)/bin/python python/benchmarks/bench.py

$(VENV)/bin/python:
	python3 -m venv $(VENV)

$(PY_STAMP): $(PY_SOURCES) | $(VENV)/bin/python
	$(VENV)/bin/pip install --quiet ./python pytest orjson erlang-py erlpack
	touch $@

$(JS_STAMP): python/tests/js/package.json
	cd python/tests/js && npm install --no-audit --no-fund --silent
	touch $@
