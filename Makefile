# Rapport — developer commands. `make test` is what CI runs.

# PostgreSQL for the store and black-box suites; set it empty to test on SQLite only.
RAPPORT_TEST_POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/test
export RAPPORT_TEST_POSTGRES_URL

NEXTEST := $(shell cargo nextest --version >/dev/null 2>&1 && echo yes)

.PHONY: run build test lint fmt schema ci bench

## run: start the server on ./rapport.db (SQLite)
run:
	cargo run --release

build:
	cargo build --workspace --all-targets

## test: every suite (domain, store on SQLite and PostgreSQL, black-box over HTTP)
test:
	cargo build -p rapport-api --bin rapport
ifeq ($(NEXTEST),yes)
	cargo nextest run --workspace --no-fail-fast
else
	cargo test --workspace --no-fail-fast
endif

## lint: formatting and clippy (pedantic, warnings are errors)
lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

fmt:
	cargo fmt --all

## schema: regenerate schema/schema.graphql, schema/segment-rules.schema.json and openapi/openapi.json
schema:
	cargo run -q -p rapport-api -- export-schema

ci: lint test

## bench: seed a fresh database, load the real server over loopback, compare with pgbench
## webhook delivery throughput, segment counting and upkeep, import and export throughput
## (BENCH_DB=sqlite for SQLite; settings in the binaries' headers:
## tests/src/bin/rapport-bench/main.rs, tests/src/bin/rapport-bench-webhooks.rs,
## tests/src/bin/rapport-bench-segments.rs, tests/src/bin/rapport-bench-imports.rs)
bench:
	cargo build --release -p rapport-api --bin rapport -p rapport-tests --bin rapport-bench --bin rapport-bench-webhooks --bin rapport-bench-segments --bin rapport-bench-imports
	./target/release/rapport-bench
	./target/release/rapport-bench-webhooks
	./target/release/rapport-bench-segments
	./target/release/rapport-bench-imports
