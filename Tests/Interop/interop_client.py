#!/usr/bin/env python3
"""A grpcio client running the standard gRPC interop test cases (doc/interop-test-descriptions.md)
against any `grpc.testing.TestService` server.

    interop_client.py --server_host localhost --server_port N --test_case all
                      [--use_tls [--ca_file ca.pem] [--server_host_override foo.test.google.fr]]

Prints `PASS <case>` or `FAIL <case>: <reason>` per case; exits 1 when any case failed.
"""

import argparse
import os
import queue
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import grpc  # noqa: E402

import interop_protos  # noqa: E402

pb = interop_protos.load()
Empty = pb.empty_pb2.Empty
messages = pb.messages_pb2

ECHO_INITIAL = "x-grpc-test-echo-initial"
ECHO_INITIAL_VALUE = "test_initial_metadata_value"
ECHO_TRAILING = "x-grpc-test-echo-trailing-bin"
ECHO_TRAILING_VALUE = b"\xab\xab\xab"
REQUEST_SIZES = [27182, 8, 1828, 45904]
RESPONSE_SIZES = [31415, 9, 2653, 58979]
SPECIAL_MESSAGE = "\t\ntest with whitespace\r\nand Unicode BMP \u263a and non-BMP \U0001f608\t\n"
CALL_TIMEOUT = 30  # seconds; every call but the deadline test gets this, so a stuck server fails, not hangs


from check_runner import Failure, expect, run_checks  # noqa: E402,F401


def zeros(size):
    return messages.Payload(body=b"\x00" * size)


def check_payload(payload, size, what):
    expect(len(payload.body) == size, f"{what}: payload body is {len(payload.body)} bytes, expected {size}")
    expect(payload.body == b"\x00" * size, f"{what}: payload body is not all zeros")


def expect_status(error, code, message=None, what="call"):
    expect(isinstance(error, grpc.RpcError), f"{what}: expected an RpcError, got {error!r}")
    expect(error.code() == code, f"{what}: status {error.code()} ({error.details()!r}), expected {code}")
    if message is not None:
        expect(error.details() == message, f"{what}: status message {error.details()!r}, expected {message!r}")


class Pipe:
    """A blocking request iterator the test feeds one message at a time (ping-pong style calls)."""

    _END = object()

    def __init__(self):
        self._queue = queue.Queue()

    def add(self, message):
        self._queue.put(message)

    def close(self):
        self._queue.put(self._END)

    def __iter__(self):
        return self

    def __next__(self):
        item = self._queue.get()
        if item is self._END:
            raise StopIteration
        return item


def empty_unary(stub, _):
    response = stub.EmptyCall(Empty(), timeout=CALL_TIMEOUT)
    expect(isinstance(response, Empty), f"response is {type(response).__name__}, not Empty")


def large_unary(stub, _):
    request = messages.SimpleRequest(response_size=314159, payload=zeros(271828))
    response = stub.UnaryCall(request, timeout=CALL_TIMEOUT)
    check_payload(response.payload, 314159, "response")


def client_streaming(stub, _):
    requests = (messages.StreamingInputCallRequest(payload=zeros(size)) for size in REQUEST_SIZES)
    response = stub.StreamingInputCall(requests, timeout=CALL_TIMEOUT)
    expect(response.aggregated_payload_size == 74922,
           f"aggregated_payload_size {response.aggregated_payload_size}, expected 74922")


def server_streaming(stub, _):
    request = messages.StreamingOutputCallRequest(
        response_parameters=[messages.ResponseParameters(size=size) for size in RESPONSE_SIZES])
    responses = list(stub.StreamingOutputCall(request, timeout=CALL_TIMEOUT))
    expect(len(responses) == 4, f"{len(responses)} responses, expected 4")
    for i, (response, size) in enumerate(zip(responses, RESPONSE_SIZES)):
        check_payload(response.payload, size, f"response {i}")


def ping_pong(stub, _):
    pipe = Pipe()
    responses = stub.FullDuplexCall(pipe, timeout=CALL_TIMEOUT)
    try:
        for i, (request_size, response_size) in enumerate(zip(REQUEST_SIZES, RESPONSE_SIZES)):
            pipe.add(messages.StreamingOutputCallRequest(
                response_parameters=[messages.ResponseParameters(size=response_size)],
                payload=zeros(request_size)))
            response = next(responses, None)
            expect(response is not None, f"stream ended before response {i}")
            check_payload(response.payload, response_size, f"response {i}")
        pipe.close()
        rest = list(responses)
        expect(not rest, f"{len(rest)} responses after the fourth")
        expect(responses.code() == grpc.StatusCode.OK, f"status {responses.code()}")
    finally:
        pipe.close()
        responses.cancel()


def empty_stream(stub, _):
    responses = list(stub.FullDuplexCall(iter([]), timeout=CALL_TIMEOUT))
    expect(not responses, f"{len(responses)} responses, expected none")


def _check_echoed_metadata(initial, trailing, what):
    initial = [(k, v) for k, v in (initial or []) if k == ECHO_INITIAL]
    trailing = [(k, v) for k, v in (trailing or []) if k == ECHO_TRAILING]
    expect(initial == [(ECHO_INITIAL, ECHO_INITIAL_VALUE)],
           f"{what}: initial metadata {ECHO_INITIAL} is {initial!r}")
    expect(trailing == [(ECHO_TRAILING, ECHO_TRAILING_VALUE)],
           f"{what}: trailing metadata {ECHO_TRAILING} is {trailing!r}")


def custom_metadata(stub, _):
    metadata = [(ECHO_INITIAL, ECHO_INITIAL_VALUE), (ECHO_TRAILING, ECHO_TRAILING_VALUE)]
    request = messages.SimpleRequest(response_size=314159, payload=zeros(271828))
    response, call = stub.UnaryCall.with_call(request, metadata=metadata, timeout=CALL_TIMEOUT)
    check_payload(response.payload, 314159, "unary response")
    _check_echoed_metadata(call.initial_metadata(), call.trailing_metadata(), "UnaryCall")

    request = messages.StreamingOutputCallRequest(
        response_parameters=[messages.ResponseParameters(size=314159)], payload=zeros(271828))
    call = stub.FullDuplexCall(iter([request]), metadata=metadata, timeout=CALL_TIMEOUT)
    responses = list(call)
    expect(len(responses) == 1, f"FullDuplexCall: {len(responses)} responses, expected 1")
    check_payload(responses[0].payload, 314159, "FullDuplexCall response")
    _check_echoed_metadata(call.initial_metadata(), call.trailing_metadata(), "FullDuplexCall")


def _status_round_trip(stub, message, full_duplex):
    status = messages.EchoStatus(code=2, message=message)
    try:
        stub.UnaryCall(messages.SimpleRequest(response_status=status), timeout=CALL_TIMEOUT)
        raise Failure("UnaryCall succeeded, expected status UNKNOWN")
    except grpc.RpcError as error:
        expect_status(error, grpc.StatusCode.UNKNOWN, message, "UnaryCall")
    if not full_duplex:
        return
    call = stub.FullDuplexCall(iter([messages.StreamingOutputCallRequest(response_status=status)]),
                               timeout=CALL_TIMEOUT)
    try:
        rest = list(call)
        raise Failure(f"FullDuplexCall succeeded with {len(rest)} responses, expected status UNKNOWN")
    except grpc.RpcError as error:
        expect_status(error, grpc.StatusCode.UNKNOWN, message, "FullDuplexCall")


def status_code_and_message(stub, _):
    _status_round_trip(stub, "test status message", full_duplex=True)


def special_status_message(stub, _):
    _status_round_trip(stub, SPECIAL_MESSAGE, full_duplex=False)


def unimplemented_method(stub, _):
    try:
        stub.UnimplementedCall(Empty(), timeout=CALL_TIMEOUT)
        raise Failure("UnimplementedCall succeeded")
    except grpc.RpcError as error:
        expect_status(error, grpc.StatusCode.UNIMPLEMENTED, what="UnimplementedCall")


def unimplemented_service(_, channel):
    stub = pb.test_pb2_grpc.UnimplementedServiceStub(channel)
    try:
        stub.UnimplementedCall(Empty(), timeout=CALL_TIMEOUT)
        raise Failure("UnimplementedService/UnimplementedCall succeeded")
    except grpc.RpcError as error:
        expect_status(error, grpc.StatusCode.UNIMPLEMENTED, what="UnimplementedService")


def cancel_after_begin(stub, _):
    pipe = Pipe()
    future = stub.StreamingInputCall.future(pipe, timeout=CALL_TIMEOUT)
    try:
        # Let the call start (headers on the wire) before cancelling it.
        time.sleep(0.05)
        future.cancel()
        expect(future.cancelled(), "call was not cancelled")
        expect(future.code() == grpc.StatusCode.CANCELLED, f"status {future.code()}, expected CANCELLED")
    finally:
        pipe.close()


def cancel_after_first_response(stub, _):
    pipe = Pipe()
    responses = stub.FullDuplexCall(pipe, timeout=CALL_TIMEOUT)
    try:
        pipe.add(messages.StreamingOutputCallRequest(
            response_parameters=[messages.ResponseParameters(size=31415)], payload=zeros(27182)))
        response = next(responses)
        check_payload(response.payload, 31415, "first response")
        responses.cancel()
        try:
            next(responses)
            raise Failure("stream continued after cancel")
        except grpc.RpcError as error:
            expect_status(error, grpc.StatusCode.CANCELLED, what="after cancel")
    finally:
        pipe.close()


def timeout_on_sleeping_server(stub, _):
    pipe = Pipe()
    responses = stub.FullDuplexCall(pipe, timeout=0.001)
    try:
        pipe.add(messages.StreamingOutputCallRequest(payload=zeros(27182)))
        try:
            response = next(responses)
            raise Failure(f"received a response ({len(response.payload.body)} bytes), expected DEADLINE_EXCEEDED")
        except StopIteration:
            raise Failure("call ended OK, expected DEADLINE_EXCEEDED")
        except grpc.RpcError as error:
            expect_status(error, grpc.StatusCode.DEADLINE_EXCEEDED, what="FullDuplexCall")
    finally:
        pipe.close()


TEST_CASES = {
    f.__name__: f
    for f in [
        empty_unary, large_unary, client_streaming, server_streaming, ping_pong, empty_stream,
        custom_metadata, status_code_and_message, special_status_message, unimplemented_method,
        unimplemented_service, cancel_after_begin, cancel_after_first_response, timeout_on_sleeping_server,
    ]
}


def parse_bool(text):
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"not a boolean: {text!r}")


def make_channel(args):
    target = f"{args.server_host}:{args.server_port}"
    options = [("grpc.max_receive_message_length", 16 * 1024 * 1024)]
    if not args.use_tls:
        if args.server_host_override:
            options.append(("grpc.default_authority", args.server_host_override))
        return grpc.insecure_channel(target, options=options)
    root = None
    if args.ca_file:
        with open(args.ca_file, "rb") as f:
            root = f.read()
    if args.server_host_override:
        options.append(("grpc.ssl_target_name_override", args.server_host_override))
        options.append(("grpc.default_authority", args.server_host_override))
    return grpc.secure_channel(target, grpc.ssl_channel_credentials(root_certificates=root), options=options)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server_host", default="localhost")
    parser.add_argument("--server_port", type=int, required=True)
    parser.add_argument("--test_case", default="all", help="a case name, a comma-separated list, or 'all'")
    parser.add_argument("--use_tls", nargs="?", const=True, default=False, type=parse_bool)
    parser.add_argument("--use_test_ca", nargs="?", const=True, default=False, type=parse_bool,
                        help="accepted for compatibility; use --ca_file")
    parser.add_argument("--server_host_override")
    parser.add_argument("--ca_file")
    args = parser.parse_args()

    names = list(TEST_CASES) if args.test_case == "all" else [n.strip() for n in args.test_case.split(",") if n.strip()]
    unknown = [n for n in names if n not in TEST_CASES]
    if unknown:
        parser.error(f"unknown test case(s): {', '.join(unknown)}; known: {', '.join(TEST_CASES)}")

    channel = make_channel(args)
    try:
        grpc.channel_ready_future(channel).result(timeout=10)
    except grpc.FutureTimeoutError:
        print(f"FAIL connect: {args.server_host}:{args.server_port} not ready within 10 s", flush=True)
        return 1
    stub = pb.test_pb2_grpc.TestServiceStub(channel)

    try:
        return run_checks((name, lambda name=name: TEST_CASES[name](stub, channel)) for name in names)
    finally:
        channel.close()

if __name__ == "__main__":
    sys.exit(main())
