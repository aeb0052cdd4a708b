#!/usr/bin/env bash
# `make bench`: echo.Echo/Unary on our interop-server against the grpc-swift-2, grpcio (sync) and nghttpd
# peers, in one run of the shared h2load harness (../shared/bench-peers, beside the repository), then one table.
#
#   BIN=$(swift build -c release --show-bin-path) PY=.venv/bin/python Tests/Bench/run_bench.sh
#
# Duration on the 2-core VM: a full run (REPS=3, N=200000, LAT_N=20000, four servers) takes about
# 8-10 minutes, dominated by grpcio (~3.7k req/s). The first run on a machine also runs setup.sh (apt + venv,
# ~1 min) and builds the grpc-swift-2 peer (cold release build, ~7 min). A quick smoke run:
#   REPS=1 N=5000 LAT_N=1000 Tests/Bench/run_bench.sh        (about 1 minute once the peers exist)
#
# Env: BIN (required: dir with interop-server), PY (unused by the harness, which uses its own venv),
#      REPS, N, C, M, LAT_N, PY_N (grpcio request count; default N), SERVER_CPU (default 1), CLIENT_CPU
#      (default 0), PEERS (default "grpc-swift py-sync nghttpd"), PEERBENCH_DIR (default /tmp/peerbench),
#      BENCH_PEERS_DIR (default ../shared/bench-peers from the repository root), CUSTOM_PORT (default 50060),
#      STAMP (results directory name; default skyport-<date>), SKIP_GRPC_SWIFT_BUILD=1 (drop that peer
#      instead of building it when its binary is missing).
# Results: $PEERBENCH_DIR/results/$STAMP/{SUMMARY.md, BENCH.md, <server>/summary.json, raw h2load output}.
set -euo pipefail

: "${BIN:?set BIN to the release bin dir (swift build -c release --show-bin-path)}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PEERS_DIR="${BENCH_PEERS_DIR:-$ROOT/../shared/bench-peers}"
export PEERBENCH_DIR="${PEERBENCH_DIR:-/tmp/peerbench}"
PEERS="${PEERS:-grpc-swift py-sync nghttpd}"
CUSTOM_PORT="${CUSTOM_PORT:-50060}"
STAMP="${STAMP:-skyport-$(date +%Y%m%d-%H%M%S)}"
SERVER="$BIN/interop-server"

[ -d "$PEERS_DIR" ] || { echo "run_bench: bench-peers not found at $PEERS_DIR (set BENCH_PEERS_DIR)" >&2; exit 1; }
[ -x "$SERVER" ] || { echo "run_bench: $SERVER missing (swift build -c release --product interop-server)" >&2; exit 1; }

# 1. Peers: apt packages and the harness venv (setup.sh), only when something is missing.
peer_py="$PEERBENCH_DIR/venv/bin/python"
if ! command -v h2load >/dev/null || ! command -v nghttpd >/dev/null || ! command -v nghttp >/dev/null \
    || ! "$peer_py" -c 'import grpc, grpc_tools' 2>/dev/null; then
    echo "run_bench: setting up peers (setup.sh)" >&2
    "$PEERS_DIR/setup.sh"
fi

# 2. The grpc-swift-2 peer: a ~7 minute cold release build, only when its binary is missing.
if [[ " $PEERS " == *" grpc-swift "* ]] && [ ! -x "$PEERBENCH_DIR/grpc-swift-echo/.build/release/EchoServer" ]; then
    if [ "${SKIP_GRPC_SWIFT_BUILD:-0}" = 1 ]; then
        echo "run_bench: grpc-swift peer not built; dropping it (SKIP_GRPC_SWIFT_BUILD=1)" >&2
        PEERS="$(echo " $PEERS " | sed 's/ grpc-swift / /')"
    else
        echo "run_bench: building the grpc-swift-2 peer (about 7 minutes)" >&2
        "$PEERS_DIR/build-grpc-swift.sh"
    fi
fi

# 3. One harness run: our server first, then the peers, all into results/$STAMP.
echo "run_bench: servers custom(skyport) $PEERS; REPS=${REPS:-3} N=${N:-200000} LAT_N=${LAT_N:-20000}" >&2
set +e
env -u PY STAMP="$STAMP" CUSTOM_CMD="$SERVER --port $CUSTOM_PORT" CUSTOM_PORT="$CUSTOM_PORT" \
    PY_N="${PY_N:-${N:-200000}}" "$PEERS_DIR/run_all.sh" custom $PEERS
harness_rc=$?
set -e
RES="$PEERBENCH_DIR/results/$STAMP"

# 4. The table. bench.py writes one summary.json per server; "custom" is ours.
python3 - "$RES" <<'EOF' | tee "$RES/BENCH.md"
import glob, json, os, sys

res = sys.argv[1]
names = {"custom": "skyport (interop-server)", "grpc-swift": "grpc-swift-2", "py-sync": "grpcio sync",
         "py-aio": "grpcio aio", "nghttpd": "nghttpd (static, no gRPC)"}
order = ["custom", "grpc-swift", "py-sync", "py-aio", "nghttpd"]

def us(v):
    if v is None:
        return "-"
    return f"{v / 1000:.2f} ms" if v >= 1000 else f"{v:.0f} us"

rows = []
for path in glob.glob(os.path.join(res, "*", "summary.json")):
    with open(path) as f:
        s = json.load(f)
    rows.append(s)
rows.sort(key=lambda s: order.index(s["name"]) if s["name"] in order else len(order))
c = rows[0]["runs"][0]["c"] if rows and rows[0].get("runs") else 16
m = rows[0]["runs"][0]["m"] if rows and rows[0].get("runs") else 16
print(f"results: {res}\n")
print(f"| server | req/s ({c} conns x {m} streams) | p50 / p99 latency (1 at a time) | server CPU% | RSS end / peak | ok |")
print("|---|---|---|---|---|---|")
for s in rows:
    rps = s.get("tput_rps_median")
    rss, hwm = s.get("server_rss_kb_end"), s.get("server_hwm_kb_end")
    mem = "-" if rss is None else f"{rss / 1024:.1f} / {(hwm or 0) / 1024:.1f} MiB"
    print(f"| {names.get(s['name'], s['name'])} | {'-' if rps is None else f'{rps:.0f}'} "
          f"| {us(s.get('lat_p50_us_median'))} / {us(s.get('lat_p99_us_median'))} "
          f"| {s.get('tput_server_cpu_pct_median', '-')} | {mem} | {s.get('all_ok')} |")
missing = [n for n in ["custom"] if not os.path.exists(os.path.join(res, n, "summary.json"))]
if missing:
    print(f"\nno results for: {', '.join(missing)} (see {res}/*.server.log)")
EOF

ok=$(python3 -c 'import glob, json, sys; print(all(json.load(open(p))["all_ok"] for p in glob.glob(sys.argv[1] + "/*/summary.json")))' "$RES")
[ -f "$RES/custom/summary.json" ] && [ "$ok" = True ] && [ "$harness_rc" = 0 ]
