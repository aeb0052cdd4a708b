"""What the Python interop scripts share: the failure type their checks raise, and the loop that runs
checks, prints PASS/FAIL per check and the closing `N passed, N failed` line."""

import time

import grpc


class Failure(Exception):
    """A check did not hold."""


def expect(condition, reason):
    if not condition:
        raise Failure(reason)


def run_checks(checks):
    """Runs `checks`, pairs of (name, callable taking no arguments); returns the process exit code.

    A check fails by raising Failure, a grpc.RpcError it did not expect, or anything else; a failing
    check never stops the ones after it.
    """
    checks = list(checks)
    failed = 0
    for name, check in checks:
        started = time.monotonic()
        try:
            check()
            print(f"PASS {name} ({(time.monotonic() - started) * 1000:.0f} ms)", flush=True)
        except Failure as failure:
            failed += 1
            print(f"FAIL {name}: {failure}", flush=True)
        except grpc.RpcError as error:
            failed += 1
            print(f"FAIL {name}: unexpected status {error.code()}: {error.details()!r}", flush=True)
        except Exception as error:  # noqa: BLE001 - report and go on with the other checks
            failed += 1
            print(f"FAIL {name}: {type(error).__name__}: {error}", flush=True)
    print(f"{len(checks) - failed} passed, {failed} failed", flush=True)
    return 1 if failed else 0
