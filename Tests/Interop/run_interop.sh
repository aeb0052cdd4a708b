#!/usr/bin/env bash
# Interoperability with grpcio, both directions, plaintext (h2c) and TLS. Called by `make test`:
#
#   PY=.venv/bin/python BIN=$(swift build --show-bin-path) Tests/Interop/run_interop.sh
#
# Combinations (each one line, PASS or FAIL):
#   python-client -> interop-server      h2c, TLS (--server_host_override foo.test.google.fr, test CA)
#   interop-client -> test_server.py     h2c, TLS
#   check_health_reflection -> interop-server   h2c, TLS
#   hostile_peer.py -> interop-server    h2c (rapid reset, floods, bad headers/messages, slowloris; ~10 s)
#   check_call (skyport call) -> interop-server, test_server.py   h2c (both started by check_call.py)
# Every interop combination runs all 14 cases. The last line is `N passed, N failed` over combinations
# (CI parses it); the exit status is non-zero when any combination failed. Logs of failing combinations
# are printed; all logs stay in $INTEROP_LOG_DIR when it is set (otherwise a temp dir that is removed).
# Env: PY, BIN (required); CASES (default all); INTEROP_TIMEOUT per client run in seconds (default 180).
set -uo pipefail

: "${PY:?set PY to the venv python (make py-deps)}"
: "${BIN:?set BIN to the swift bin dir (swift build --show-bin-path)}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CASES="${CASES:-all}"
CLIENT_TIMEOUT="${INTEROP_TIMEOUT:-180}"
SERVER=("$BIN/interop-server")
CLIENT=("$BIN/interop-client")

if [ -n "${INTEROP_LOG_DIR:-}" ]; then
    WORK="$INTEROP_LOG_DIR"; mkdir -p "$WORK"; KEEP_WORK=1
else
    WORK="$(mktemp -d -t skyport-interop.XXXXXX)"; KEEP_WORK=0
fi

PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    [ "$KEEP_WORK" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PASSED=0
FAILED=0

free_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_port PID PORT: up to 30 s for PORT to accept connections while PID is alive.
wait_port() {
    local pid=$1 port=$2 i
    for i in $(seq 1 150); do
        kill -0 "$pid" 2>/dev/null || return 1
        if "$PY" -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.5).close()' \
            "$port" 2>/dev/null; then
            return 0
        fi
        sleep 0.2
    done
    return 1
}

# start_server NAME PORT CMD...: starts CMD in the background (log $WORK/NAME.log) and waits for PORT.
# Sets SERVER_PID; returns non-zero when the server did not come up.
start_server() {
    local name=$1 port=$2; shift 2
    "$@" >"$WORK/$name.log" 2>&1 &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    if ! wait_port "$SERVER_PID" "$port"; then
        echo "  $name did not start listening on port $port; log:" >&2
        tail -n 20 "$WORK/$name.log" | sed 's/^/    /' >&2
        return 1
    fi
}

# stop_server PID: SIGTERM, then SIGKILL after 10 s.
stop_server() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for i in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

record() {
    local label=$1 ok=$2 detail=$3
    if [ "$ok" = 1 ]; then
        PASSED=$((PASSED + 1)); printf 'PASS %-48s %s\n' "$label" "$detail"
    else
        FAILED=$((FAILED + 1)); printf 'FAIL %-48s %s\n' "$label" "$detail"
    fi
}

# run_client LABEL LOG CMD...: runs a client with a timeout and records its outcome.
run_client() {
    local label=$1 log=$2; shift 2
    timeout --kill-after=10 "$CLIENT_TIMEOUT" "$@" >"$log" 2>&1
    local rc=$?
    local summary
    summary="$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)"
    if [ "$rc" = 0 ]; then
        record "$label" 1 "($summary)"
    else
        [ "$rc" = 124 ] && summary="timed out after ${CLIENT_TIMEOUT}s; $summary"
        record "$label" 0 "(exit $rc; $summary)"
        grep -E '^FAIL' "$log" | sed 's/^/    /'
        grep -qE '^(PASS|FAIL)' "$log" || tail -n 20 "$log" | sed 's/^/    /'
    fi
}

# Certificates for the TLS runs.
if ! "$PY" "$HERE/make_certs.py" "$WORK/certs" 2>"$WORK/make_certs.log"; then
    cat "$WORK/make_certs.log" >&2
    echo "0 passed, 1 failed"
    exit 1
fi
CERTS="$WORK/certs"
OVERRIDE=foo.test.google.fr

for bin in "${SERVER[0]}" "${CLIENT[0]}"; do
    [ -x "$bin" ] || echo "warning: $bin is missing; its combinations will fail" >&2
done

# (a) + (c): grpcio clients against interop-server.
for mode in h2c tls; do
    port="$(free_port)"
    server_args=(--port "$port")
    client_args=(--server_host localhost --server_port "$port" --test_case "$CASES")
    check_args=("localhost:$port")
    if [ "$mode" = tls ]; then
        server_args+=(--tls-cert "$CERTS/server.pem" --tls-key "$CERTS/server.key")
        client_args+=(--use_tls --server_host_override "$OVERRIDE" --ca_file "$CERTS/ca.pem")
        check_args+=(--tls --ca_file "$CERTS/ca.pem" --host_override "$OVERRIDE")
    fi
    if [ -x "${SERVER[0]}" ] && start_server "interop-server-$mode" "$port" "${SERVER[@]}" "${server_args[@]}"; then
        run_client "python-client -> interop-server ($mode)" "$WORK/py-client-$mode.log" \
            "$PY" "$HERE/interop_client.py" "${client_args[@]}"
        run_client "health+reflection -> interop-server ($mode)" "$WORK/health-reflection-$mode.log" \
            "$PY" "$HERE/check_health_reflection.py" "${check_args[@]}"
        if [ "$mode" = h2c ]; then
            run_client "hostile-peer -> interop-server ($mode)" "$WORK/hostile-peer-$mode.log" \
                "$PY" "$HERE/hostile_peer.py" --port "$port" --pid "$SERVER_PID"
        fi
        stop_server "$SERVER_PID"
    else
        record "python-client -> interop-server ($mode)" 0 "(server did not start)"
        record "health+reflection -> interop-server ($mode)" 0 "(server did not start)"
        if [ "$mode" = h2c ]; then
            record "hostile-peer -> interop-server ($mode)" 0 "(server did not start)"
        fi
    fi
done

# (b): interop-client against the grpcio test server.
for mode in h2c tls; do
    port="$(free_port)"
    server_args=(--port "$port")
    client_args=(--server_host localhost --server_port "$port" --test_case "$CASES")
    if [ "$mode" = tls ]; then
        server_args+=(--use_tls --tls_cert "$CERTS/server.pem" --tls_key "$CERTS/server.key")
        client_args+=(--use_tls=true --server_host_override "$OVERRIDE" --ca_file "$CERTS/ca.pem")
    fi
    if ! [ -x "${CLIENT[0]}" ]; then
        record "interop-client -> test_server.py ($mode)" 0 "(${CLIENT[0]} missing)"
    elif start_server "test-server-$mode" "$port" "$PY" "$HERE/test_server.py" "${server_args[@]}"; then
        run_client "interop-client -> test_server.py ($mode)" "$WORK/swift-client-$mode.log" \
            "${CLIENT[@]}" "${client_args[@]}"
        stop_server "$SERVER_PID"
    else
        record "interop-client -> test_server.py ($mode)" 0 "(server did not start)"
    fi
done

# (d): `skyport call` (reflection, JSON in and out) against interop-server and grpcio's test server.
run_client "skyport call -> interop-server, test_server.py (h2c)" "$WORK/skyport-call.log" \
    "$PY" "$HERE/check_call.py" --bin "$BIN" --log_dir "$WORK"

[ "$KEEP_WORK" = 1 ] && echo "logs: $WORK"
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
