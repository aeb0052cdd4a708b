#!/usr/bin/env python3
"""Checks `skyport call` end to end against two real servers, over h2c.

    check_call.py --bin BIN

Starts `BIN/interop-server` (Skyport's server, reflection v1 and v1alpha) and `test_server.py` (grpcio's
server with grpcio-reflection, which only serves v1alpha), then runs `BIN/skyport call` against them:
unary, server-streaming (responses printed as they arrive), client-streaming (JSON array and JSON lines
on stdin), bidirectional, a status (exit 64 + code, grpcurl's ERROR block on stderr), a deadline,
listing, describing, and bad input (exit 2: unknown field, malformed JSON, unknown method). The request
and response JSON are checked against what the servers are specified to answer, so the dynamic JSON <->
protobuf conversion is checked by software nobody here wrote. Prints PASS/FAIL per check and
`N passed, N failed`; exits 1 when any check failed.
"""

import argparse
import base64
import json
import os
import select
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from check_runner import Failure, expect, run_checks  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SECRET = "sk_test_do_not_print_4f9a"
TIMEOUT = 60


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(process, port, name):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{name} did not listen on port {port}")


class Skyport:
    """Runs `skyport call` against one target."""

    def __init__(self, binary, target):
        self.binary = binary
        self.target = target

    def run(self, *args, stdin=None, headers=()):
        command = [self.binary, "call", self.target, "--plaintext", *args]
        for header in headers:
            command += ["-H", header]
        result = subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=TIMEOUT)
        for stream in (result.stdout, result.stderr):
            expect(SECRET not in stream, "the authorization header value was printed")
        return result

    def ok(self, *args, **kwargs):
        result = self.run(*args, **kwargs)
        expect(result.returncode == 0,
               f"`skyport call {' '.join(args)}` exited {result.returncode}: {result.stderr.strip()!r}")
        return result.stdout

    def fails(self, code, *args, **kwargs):
        result = self.run(*args, **kwargs)
        expect(result.returncode == code,
               f"`skyport call {' '.join(args)}` exited {result.returncode}, expected {code}; "
               f"stderr {result.stderr.strip()!r}")
        return result.stderr


def json_values(text):
    """The JSON values printed one after another."""
    decoder = json.JSONDecoder()
    values, index = [], 0
    text = text.strip()
    while index < len(text):
        value, index = decoder.raw_decode(text, index)
        values.append(value)
        while index < len(text) and text[index].isspace():
            index += 1
    return values


def body_size(response):
    return len(base64.b64decode(response.get("payload", {}).get("body", "")))


def check_unary(skyport):
    out = skyport.ok("grpc.testing.TestService/UnaryCall", '{"responseSize": 10, "payload": {"body": "AAAA"}}',
                     headers=[f"authorization: Bearer {SECRET}"])
    [response] = json_values(out)
    expect(body_size(response) == 10, f"payload of {body_size(response)} bytes, expected 10: {out!r}")
    # Pretty-printed with two spaces, as documented.
    expect(out.startswith('{\n  "payload": {\n    "body": '), f"output is not 2-space pretty JSON: {out!r}")
    # The declared field names are accepted too, and the Method form with a dot.
    out = skyport.ok("grpc.testing.TestService.UnaryCall", '{"response_size": 3}')
    expect(body_size(json_values(out)[0]) == 3, f"response_size by its declared name: {out!r}")


def check_empty_request(skyport):
    out = skyport.ok("grpc.testing.TestService/EmptyCall")
    expect(json_values(out) == [{}], f"EmptyCall answered {out!r}")


def check_server_streaming(skyport):
    out = skyport.ok("grpc.testing.TestService/StreamingOutputCall",
                     '{"responseParameters": [{"size": 3}, {"size": 5}, {"size": 1}]}')
    sizes = [body_size(r) for r in json_values(out)]
    expect(sizes == [3, 5, 1], f"response sizes {sizes}, expected [3, 5, 1]")


def check_streamed_responses_arrive_as_they_come(skyport):
    # The second response comes 3 s after the first; the first must be printed over 1 s before the end
    # (2 s of slack for a slow start on a busy machine).
    command = [skyport.binary, "call", skyport.target, "--plaintext", "grpc.testing.TestService/StreamingOutputCall",
               '{"responseParameters": [{"size": 2}, {"size": 4, "intervalUs": 3000000}]}']
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        first_output = None
        buffered = b""
        while first_output is None and time.monotonic() - started < TIMEOUT:
            ready, _, _ = select.select([process.stdout], [], [], 0.1)
            if ready:
                chunk = os.read(process.stdout.fileno(), 4096)
                if not chunk:
                    break
                buffered += chunk
                if b"\n}\n" in buffered:
                    first_output = time.monotonic()
        rest, err = process.communicate(timeout=TIMEOUT)
        finished = time.monotonic()
    finally:
        if process.poll() is None:
            process.kill()
    expect(process.returncode == 0, f"exited {process.returncode}: {err!r}")
    expect(first_output is not None, "no response was printed")
    expect(finished - first_output > 1.0,
           f"the first response was printed {finished - first_output:.2f} s before the end, expected > 1 s")
    sizes = [body_size(r) for r in json_values((buffered + rest).decode())]
    expect(sizes == [2, 4], f"response sizes {sizes}")


def check_client_streaming(skyport):
    out = skyport.ok("grpc.testing.TestService/StreamingInputCall",
                     '[{"payload": {"body": "AAAA"}}, {"payload": {"body": "AAAAAAAA"}}, {}]')
    expect(json_values(out) == [{"aggregatedPayloadSize": 9}], f"answered {out!r}")
    # JSON lines on standard input.
    lines = '{"payload": {"body": "AAAAAA=="}}\n{"payload": {"body": "AA"}}\n'
    out = skyport.ok("grpc.testing.TestService/StreamingInputCall", "-d", "-", stdin=lines)
    expect(json_values(out) == [{"aggregatedPayloadSize": 5}], f"answered {out!r} to JSON lines")


def check_bidirectional(skyport):
    out = skyport.ok("grpc.testing.TestService/FullDuplexCall",
                     '[{"responseParameters": [{"size": 1}]}, {"responseParameters": [{"size": 2}, {"size": 3}]}]')
    sizes = [body_size(r) for r in json_values(out)]
    expect(sizes == [1, 2, 3], f"response sizes {sizes}, expected [1, 2, 3]")


def check_status(skyport):
    err = skyport.fails(64 + 5, "grpc.testing.TestService/UnaryCall",
                        '{"responseStatus": {"code": 5, "message": "nothing here"}}',
                        headers=[f"authorization: Bearer {SECRET}"])
    expect(err == "ERROR:\n  Code: NotFound\n  Message: nothing here\n", f"stderr {err!r}")
    err = skyport.fails(64 + 12, "grpc.testing.TestService/UnimplementedCall")
    expect("Code: Unimplemented" in err, f"stderr {err!r}")


def check_deadline(skyport):
    err = skyport.fails(64 + 4, "--timeout", "0.5", "grpc.testing.TestService/StreamingOutputCall",
                        '{"responseParameters": [{"size": 1, "intervalUs": 5000000}]}')
    expect("Code: DeadlineExceeded" in err, f"stderr {err!r}")


def check_listing(skyport, expected):
    names = skyport.ok().split()
    missing = [name for name in expected if name not in names]
    expect(not missing, f"services {missing} not listed; listed {names}")
    expect(names == sorted(names), f"services not sorted: {names}")


def check_describe(skyport):
    out = skyport.ok("--describe", "grpc.testing.TestService")
    expect("rpc StreamingInputCall(stream grpc.testing.StreamingInputCallRequest) returns "
           "(grpc.testing.StreamingInputCallResponse);" in out, f"describe service: {out!r}")
    out = skyport.ok("--describe", "grpc.testing.SimpleRequest")
    expect("int32 response_size = 2;  // JSON: responseSize" in out, f"describe message: {out!r}")
    expect("grpc.testing.Payload payload = 3;" in out, f"describe message: {out!r}")
    out = skyport.ok("--describe", "grpc.testing.TestService/UnaryCall")
    expect(out.startswith("grpc.testing.TestService.UnaryCall is a method:\n"
                          "rpc UnaryCall(grpc.testing.SimpleRequest) returns (grpc.testing.SimpleResponse);\n"),
           f"describe method: {out!r}")
    expect("message SimpleResponse {" in out, f"describe method shows no response type: {out!r}")


def check_bad_input(skyport):
    err = skyport.fails(2, "grpc.testing.TestService/UnaryCall", '{"responseSize": 10, "payload": {"bdy": "AAAA"}}')
    expect("field 'payload.bdy'" in err, f"unknown field: stderr {err!r}")
    err = skyport.fails(2, "grpc.testing.TestService/UnaryCall", '{"responseSize": "ten"}')
    expect("field 'responseSize'" in err, f"wrong type: stderr {err!r}")
    err = skyport.fails(2, "grpc.testing.TestService/UnaryCall", '{"responseSize": }',
                        headers=[f"authorization: Bearer {SECRET}"])
    expect("not valid JSON" in err, f"malformed JSON: stderr {err!r}")
    err = skyport.fails(2, "grpc.testing.TestService/NoSuchCall", "{}")
    expect("NoSuchCall" in err and "UnaryCall" in err, f"unknown method: stderr {err!r}")
    err = skyport.fails(2, "grpc.testing.NoSuchService/Call", "{}")
    expect("NoSuchService" in err, f"unknown service: stderr {err!r}")
    err = skyport.fails(2, "grpc.testing.TestService/UnaryCall", "[{}, {}]")
    expect("one request message" in err, f"array for a unary call: stderr {err!r}")


def start(command, port, name, log_dir):
    log = open(os.path.join(log_dir, f"{name}.log"), "w")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    wait_port(process, port, name)
    return process


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin", required=True, help="the directory with skyport and interop-server")
    parser.add_argument("--log_dir", default=os.environ.get("TMPDIR", "/tmp"))
    args = parser.parse_args()
    binary = os.path.join(args.bin, "skyport")

    processes = []
    try:
        swift_port, python_port = free_port(), free_port()
        processes.append(start([os.path.join(args.bin, "interop-server"), "--port", str(swift_port)], swift_port,
                               "call-interop-server", args.log_dir))
        processes.append(start([sys.executable, os.path.join(HERE, "test_server.py"), "--port", str(python_port)],
                               python_port, "call-test-server", args.log_dir))
        swift = Skyport(binary, f"127.0.0.1:{swift_port}")
        python = Skyport(binary, f"127.0.0.1:{python_port}")
        checks = [
            ("interop-server: unary", lambda: check_unary(swift)),
            ("interop-server: empty request", lambda: check_empty_request(swift)),
            ("interop-server: server streaming", lambda: check_server_streaming(swift)),
            ("interop-server: responses printed as they arrive",
             lambda: check_streamed_responses_arrive_as_they_come(swift)),
            ("interop-server: client streaming", lambda: check_client_streaming(swift)),
            ("interop-server: bidirectional", lambda: check_bidirectional(swift)),
            ("interop-server: status", lambda: check_status(swift)),
            ("interop-server: deadline", lambda: check_deadline(swift)),
            ("interop-server: list", lambda: check_listing(swift, [
                "echo.Echo", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection",
                "grpc.reflection.v1alpha.ServerReflection", "grpc.testing.TestService"])),
            ("interop-server: describe", lambda: check_describe(swift)),
            ("interop-server: bad input", lambda: check_bad_input(swift)),
            ("test_server.py (grpcio): unary", lambda: check_unary(python)),
            ("test_server.py (grpcio): server streaming", lambda: check_server_streaming(python)),
            ("test_server.py (grpcio): client streaming", lambda: check_client_streaming(python)),
            ("test_server.py (grpcio): bidirectional", lambda: check_bidirectional(python)),
            ("test_server.py (grpcio): status", lambda: check_status(python)),
            ("test_server.py (grpcio): list", lambda: check_listing(python, [
                "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection", "grpc.testing.TestService"])),
            ("test_server.py (grpcio): describe", lambda: check_describe(python)),
            ("test_server.py (grpcio): bad input", lambda: check_bad_input(python)),
        ]
        if not os.access(binary, os.X_OK):
            checks = [("skyport binary", lambda: (_ for _ in ()).throw(Failure(f"{binary} is missing")))]
        return run_checks(checks)
    except RuntimeError as error:
        print(f"FAIL setup: {error}", flush=True)
        print("0 passed, 1 failed", flush=True)
        return 1
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


if __name__ == "__main__":
    sys.exit(main())
