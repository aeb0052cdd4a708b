#!/usr/bin/env python3
"""Where a session start's CPU goes: `perf script` samples of the whole machine, by process and component.

Called by Tests/Bench/profile_sessions.sh (`make profile-sessions`):

    cpu_budget.py PERF_SCRIPT_OUTPUT PROCESSES STARTS_PER_SECOND SECONDS FREQUENCY

PERF_SCRIPT_OUTPUT is `perf script -F pid,ip,sym,dso` of a system-wide `perf record -e cpu-clock
-F FREQUENCY -g` taken over SECONDS while the suite carried STARTS_PER_SECOND (the rate it achieved,
not the rate offered); PROCESSES has one `pid name` line per process to count (the suite's instances,
the benchmark client, the applications). Each sample stands for 1/FREQUENCY s of CPU, so a process's
milliseconds per start are samples / FREQUENCY * 1000 / starts.

A sample goes to the first component whose test its call stack passes, in this order (a stack that
signs a token inside a database transaction counts as token crypto):
"""
import collections
import re
import sys

COMPONENTS = [
    ("Ed25519", "token signing and verification (OpenSSL Ed25519)",
     lambda stack: any(re.search("ed25519", frame, re.IGNORECASE) for frame in stack)),
    ("SQL", "SQLite: statements, commits, the storage threads' hops",
     lambda stack: any("sqlite3_" in frame or "SQLiteBackend" in frame or "GRDB" in frame for frame in stack)),
    ("logs", "log lines (formatting and writing)",
     lambda stack: any("LogHandler" in frame for frame in stack)),
    ("TLS", "TLS records and socket I/O under them, and other libcrypto work (hashes of tokens and keys)",
     lambda stack: any(re.search(r"SSL_(read|write|do_handshake)|BIO_", frame) for frame in stack)
     or "libcrypto" in stack[0] or "libssl" in stack[0]),
    ("HTTP/2", "HTTP/2 framing (nghttp2)",
     lambda stack: any("nghttp2_" in frame for frame in stack)),
    ("protobuf", "protobuf encoding (protobuf-c)",
     lambda stack: any("protobuf_c" in frame for frame in stack)),
    ("kernel", "other kernel work: wake-ups, scheduling, other system calls",
     lambda stack: "kernel" in stack[0]),
    ("Swift", "the rest: RPC runtime, tasks, handlers, allocation (Swift) and the Python applications",
     lambda stack: True),
]
__doc__ += "".join(f"  {name}: {text}\n" for name, text, _ in COMPONENTS)


def samples(path):
    """(pid, [frame, ...] leaf first) for each sample of `perf script -F pid,ip,sym,dso`."""
    pid, stack = None, []
    with open(path, errors="replace") as lines:
        for line in lines:
            line = line.rstrip("\n")
            if not line.strip():
                if pid is not None and stack:
                    yield pid, stack
                pid, stack = None, []
            elif not line.startswith("\t"):
                # A sample's first line: the pid, right-aligned (perf pads it to 5 or 7 columns).
                match = re.match(r"\s*(\d+)", line)
                pid, stack = (match.group(1) if match else None), []
            elif pid is not None:
                parts = line.strip().split(None, 1)
                stack.append(parts[1] if len(parts) > 1 else "?")
    if pid is not None and stack:
        yield pid, stack


def main():
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    path, processes_path = sys.argv[1], sys.argv[2]
    rate, seconds, frequency = float(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
    names = {}
    with open(processes_path) as processes:
        for line in processes:
            fields = line.split()
            if len(fields) == 2:
                names[fields[0]] = fields[1]
    counts = collections.defaultdict(collections.Counter)
    for pid, stack in samples(path):
        name = names.get(pid)
        if name is None:
            continue
        component = next(short for short, _, test in COMPONENTS if test(stack))
        counts[name][component] += 1
    if not counts:
        sys.exit("no samples of the listed processes")
    per_start = 1000.0 / frequency / (rate * seconds)  # ms of CPU per start that one sample stands for
    shorts = [short for short, _, _ in COMPONENTS]
    order = sorted(counts, key=lambda name: -sum(counts[name].values()))
    print("| process | all | " + " | ".join(shorts) + " |")
    print("|---|---|" + "---|" * len(shorts))
    totals = collections.Counter()
    for name in order:
        totals.update(counts[name])
        cells = [f"{counts[name][short] * per_start:.2f}" for short in shorts]
        print(f"| {name} | {sum(counts[name].values()) * per_start:.2f} | " + " | ".join(cells) + " |")
    cells = [f"**{totals[short] * per_start:.2f}**" for short in shorts]
    print(f"| **all** | **{sum(totals.values()) * per_start:.2f}** | " + " | ".join(cells) + " |")
    print()
    print(f"ms of CPU per start at {rate:g} starts/s ({sum(totals.values())} samples at {frequency:g} Hz "
          f"over {seconds:g} s); components:")
    for short, text, _ in COMPONENTS:
        print(f"- {short}: {text}")


if __name__ == "__main__":
    main()
