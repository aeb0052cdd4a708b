#!/usr/bin/env bash
# Cold start and idle memory of the whole suite, next to single gRPC servers measured in the same run.
# Called by `make bench-footprint`:
#
#   BIN=$(swift build -c release --show-bin-path) PY=.venv/bin/python Tests/Bench/run_footprint.sh
#
# The suite: `skyport up` from compose/compose.yaml in a fresh state directory (ports + 26000), the time it
# reports until all nine instances are SERVING, then VmRSS of each after 3 s idle; `skyport down`.
# The peers (each started alone): Skyport's interop-server, the grpc-swift-2 EchoServer built by
# `make bench` (when present under $PEER_WORK), and the grpcio sync server of ../shared/bench-peers: the
# time until the port accepts connections, then VmRSS after 3 s idle.
set -euo pipefail
: "${BIN:?set BIN to the release bin dir}"
: "${PY:?set PY to the venv python}"
PY="$(cd "$(dirname "$PY")" && pwd)/$(basename "$PY")"   # absolute: the grpcio peer runs in another directory
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PEERS="${PEERS:-$ROOT/../shared/bench-peers}"
PEER_WORK="${PEER_WORK:-/tmp/peerbench}"
STATE="$(mktemp -d -t skyport-footprint.XXXXXX)"
trap '"$BIN/skyport" down --state-dir "$STATE" --timeout 5 >/dev/null 2>&1 || true; rm -rf "$STATE"' EXIT

rss_mib() { awk '/^VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo "exited"; }
rows=()

cd "$ROOT"
up=$("$BIN/skyport" up --state-dir "$STATE" --bin-dir "$BIN" --port-offset 26000)
cold=$(sed -n 's/^suite SERVING in \([0-9]*\) ms.*/\1/p' <<<"$up")
sleep 3
while read -r name pid; do
    rows+=("skyport suite: $name|$cold (whole suite)|$(rss_mib "$pid")")
done < <("$PY" -c 'import json,sys; [print(i["name"], i["pid"]) for i in json.load(open(sys.argv[1]))["instances"]]' "$STATE/suite.json")
"$BIN/skyport" down --state-dir "$STATE" >/dev/null

# peer NAME PORT COMMAND...: start alone, time to accept connections, idle RSS.
peer() {
    local name=$1 port=$2; shift 2
    local start; start=$(date +%s%N)
    "$@" >/dev/null 2>&1 &
    local pid=$!
    for _ in $(seq 1 400); do
        if "$PY" -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2).close()' "$port" 2>/dev/null; then
            break
        fi
        sleep 0.01
    done
    local ms=$(( ($(date +%s%N) - start) / 1000000 ))
    sleep 3
    rows+=("$name|$ms|$(rss_mib "$pid")")
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

peer "skyport interop-server (one process)" 56051 "$BIN/interop-server" --port 56051
if [ -x "$PEER_WORK/grpc-swift-echo/.build/release/EchoServer" ]; then
    peer "grpc-swift-2 EchoServer" 56052 "$PEER_WORK/grpc-swift-echo/.build/release/EchoServer" 56052
fi
peer "grpcio sync server (python)" 56053 bash -c "cd '$PEERS/python' && exec '$PY' server_sync.py 56053 16"

printf '| %s | %s | %s |\n' "process" "start to serving (ms)" "idle RSS (MiB)"
printf '|---|---|---|\n'
for row in "${rows[@]}"; do
    IFS='|' read -r a b c <<<"$row"
    printf '| %s | %s | %s |\n' "$a" "$b" "$c"
done
