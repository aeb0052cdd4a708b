#!/usr/bin/env bash
# Starts the local suite the session benchmarks measure, from empty stores: state in .skyport-bench, ports
# + 30000, stream hosts with 100,000 slots and 64 CPU units, a 5 s connect window. A suite left running
# there by an interrupted run is stopped first. Used by `make bench-sessions` and
# Tests/Bench/profile_sessions.sh (`make profile-sessions`); stop it with
# `skyport down --state-dir .skyport-bench`.
#
#   BIN=$(swift build -c release --show-bin-path) Tests/Bench/bench_suite_up.sh
set -euo pipefail
: "${BIN:?set BIN to the release bin dir}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STATE="$ROOT/.skyport-bench"
cd "$ROOT"
"$BIN/skyport" down --state-dir "$STATE" >/dev/null 2>&1 || true
rm -rf "$STATE/data" "$STATE/logs"
exec "$BIN/skyport" up --state-dir "$STATE" --bin-dir "$BIN" --port-offset 30000 \
    --env SKYPORT_STREAMHOST_SLOTS=100000 --env SKYPORT_STREAMHOST_CPU_UNITS=64 \
    --env SKYPORT_HOSTMGR_CONNECT_WITHIN=5s
