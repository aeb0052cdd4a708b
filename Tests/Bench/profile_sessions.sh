#!/usr/bin/env bash
# Where a warm session start's CPU goes, by process and component. Called by `make profile-sessions`:
#
#   BIN=$(swift build -c release --show-bin-path) RATE=750 Tests/Bench/profile_sessions.sh
#
# A suite as `make bench-sessions` runs it (Tests/Bench/bench_suite_up.sh), then
# `skyport bench-sessions` with one paced phase of RATE starts per second (default 750) for 20 s; 3 s after
# that phase begins, a system-wide `perf record --call-graph dwarf` of 8 s. The table
# (Tests/Bench/cpu_budget.py) gives each process's milliseconds of CPU per start (at the rate the phase
# achieved), split into Ed25519, SQL, logs, TLS, HTTP/2, protobuf, kernel and the rest. Needs `perf`
# (Debian: linux-perf) and root or kernel.perf_event_paranoid <= 0.
set -euo pipefail
: "${BIN:?set BIN to the release bin dir}"
RATE="${RATE:-750}"
FREQUENCY=499
SECONDS_SAMPLED=8
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
STATE="$ROOT/.skyport-bench"
WORK="$(mktemp -d -t skyport-profile.XXXXXX)"
bench=""
trap '[ -n "$bench" ] && kill "$bench" 2>/dev/null; "$BIN/skyport" down --state-dir "$STATE" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT

command -v perf >/dev/null || { echo "profile-sessions: perf is not installed (apt-get install linux-perf)" >&2; exit 1; }
cd "$ROOT"
"$HERE/bench_suite_up.sh" >/dev/null

# Line-buffered, so the line that starts the paced phase shows when it is printed.
stdbuf -oL "$BIN/skyport" bench-sessions --state-dir "$STATE" --cold 0 --sessions 100 --warmup 300 \
    --rate "$RATE" --paced-seconds 20 --settle-seconds 6 >"$WORK/bench.txt" 2>&1 &
bench=$!
started="^paced at $RATE/s: started"
for _ in $(seq 1 1200); do
    grep -q "$started" "$WORK/bench.txt" && break
    kill -0 "$bench" 2>/dev/null || { cat "$WORK/bench.txt" >&2; exit 1; }
    sleep 0.1
done
grep -q "$started" "$WORK/bench.txt" || { echo "profile-sessions: the paced phase did not start in 120 s" >&2; exit 1; }
sleep 3

# The processes to count: the suite's instances, the benchmark client, the applications the stream hosts run.
python3 - "$STATE/suite.json" "$bench" >"$WORK/processes.txt" <<'EOF'
import json, sys
for instance in json.load(open(sys.argv[1]))["instances"]:
    print(instance["pid"], instance["name"])
print(sys.argv[2], "client")
EOF
# The applications: the stream hosts' children, before and after the recording (one may start meanwhile).
applications() {
    while read -r pid name; do
        [[ $name == streamhost* ]] || continue
        for child in $(ps -o pid= --ppid "$pid"); do echo "$child apps"; done
    done <"$WORK/processes.txt"
}
applications >"$WORK/apps.txt"

perf record -a -e cpu-clock -F "$FREQUENCY" --call-graph dwarf,16384 -o "$WORK/perf.data" \
    -- sleep "$SECONDS_SAMPLED" >/dev/null 2>"$WORK/perf.log" || { cat "$WORK/perf.log" >&2; exit 1; }
applications >>"$WORK/apps.txt"
sort -u "$WORK/apps.txt" >>"$WORK/processes.txt"
wait "$bench" || { cat "$WORK/bench.txt" >&2; exit 1; }
bench=""
grep -E '^\| paced|^\| CPU per start, paced' "$WORK/bench.txt" | sed 's/(open loop, timed from when each start was due)//'
# perf drops samples it cannot write in time; the table would then understate the CPU.
grep -iE 'lost|throttl' "$WORK/perf.log" >&2 || true
echo
# Per start at the rate the phase achieved (its row: "… | achieved, p50 / p99 / max, failed |").
achieved=$(sed -n "s/^| paced at $RATE\/s.*| \([0-9][0-9]*\), .*/\1/p" "$WORK/bench.txt")
perf script -i "$WORK/perf.data" -F pid,ip,sym,dso 2>/dev/null >"$WORK/perf.txt"
python3 "$HERE/cpu_budget.py" "$WORK/perf.txt" "$WORK/processes.txt" "${achieved:-$RATE}" "$SECONDS_SAMPLED" "$FREQUENCY"
