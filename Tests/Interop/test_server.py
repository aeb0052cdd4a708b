#!/usr/bin/env python3
"""A grpcio `grpc.testing.TestService` server with the interop-spec server features, plus grpcio's health
and reflection services. The reference peer for `interop-client`.

    test_server.py --port N [--use_tls --tls_cert server.pem --tls_key server.key]

Features (doc/interop-test-descriptions.md, "Server"): EmptyCall, UnaryCall, CacheableUnaryCall,
StreamingInputCall, StreamingOutputCall, FullDuplexCall, HalfDuplexCall, Echo Status, Echo Metadata,
ResponseParameters.interval_us; UnimplementedCall returns UNIMPLEMENTED. A FullDuplexCall that is never
half-closed simply waits for more requests, which is the "sleeping server" timeout_on_sleeping_server
needs; the deadline ends it.
"""

import argparse
import os
import signal
import sys
import threading
import time
from concurrent import futures

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import grpc  # noqa: E402
from grpc_health.v1 import health, health_pb2, health_pb2_grpc  # noqa: E402
from grpc_reflection.v1alpha import reflection  # noqa: E402

import interop_protos  # noqa: E402

pb = interop_protos.load()
Empty = pb.empty_pb2.Empty
messages = pb.messages_pb2

ECHO_INITIAL = "x-grpc-test-echo-initial"
ECHO_TRAILING = "x-grpc-test-echo-trailing-bin"
CODES = {c.value[0]: c for c in grpc.StatusCode}


def _payload(size):
    return messages.Payload(type=messages.COMPRESSABLE, body=b"\x00" * size)


def _echo_metadata(context):
    """Echoes the test metadata keys: initial metadata now, trailing metadata with the status."""
    initial, trailing = [], []
    for key, value in context.invocation_metadata():
        if key == ECHO_INITIAL:
            initial.append((key, value))
        elif key == ECHO_TRAILING:
            trailing.append((key, value))
    if initial:
        context.send_initial_metadata(initial)
    if trailing:
        context.set_trailing_metadata(trailing)


def _apply_status(request, context):
    """Ends the call with request.response_status when it is set and not OK; returns True if it did."""
    if request.HasField("response_status") and request.response_status.code != 0:
        code = CODES.get(request.response_status.code, grpc.StatusCode.UNKNOWN)
        context.set_code(code)
        context.set_details(request.response_status.message)
        return True
    return False


def _check_response_type(request, context):
    if request.response_type != messages.COMPRESSABLE:
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"unsupported response_type {request.response_type}")


class TestService(pb.test_pb2_grpc.TestServiceServicer):
    def EmptyCall(self, request, context):
        _echo_metadata(context)
        return Empty()

    def UnaryCall(self, request, context):
        _echo_metadata(context)
        _check_response_type(request, context)
        if _apply_status(request, context):
            return messages.SimpleResponse()
        return messages.SimpleResponse(payload=_payload(request.response_size))

    def CacheableUnaryCall(self, request, context):
        _echo_metadata(context)
        context.send_initial_metadata([("cache-control", "max-age=60, public")])
        return messages.SimpleResponse(payload=messages.Payload(body=str(time.time_ns()).encode()))

    def StreamingInputCall(self, request_iterator, context):
        _echo_metadata(context)
        total = sum(len(r.payload.body) for r in request_iterator)
        return messages.StreamingInputCallResponse(aggregated_payload_size=total)

    def _respond(self, request, context):
        for params in request.response_parameters:
            if params.interval_us > 0:
                time.sleep(params.interval_us / 1e6)
            yield messages.StreamingOutputCallResponse(payload=_payload(params.size))

    def StreamingOutputCall(self, request, context):
        _echo_metadata(context)
        _check_response_type(request, context)
        yield from self._respond(request, context)
        _apply_status(request, context)

    def FullDuplexCall(self, request_iterator, context):
        _echo_metadata(context)
        for request in request_iterator:
            if _apply_status(request, context):
                return
            yield from self._respond(request, context)

    def HalfDuplexCall(self, request_iterator, context):
        _echo_metadata(context)
        requests = list(request_iterator)
        for request in requests:
            if _apply_status(request, context):
                return
            yield from self._respond(request, context)

    def UnimplementedCall(self, request, context):
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "UnimplementedCall is unimplemented by design")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--use_tls", nargs="?", const="true", default="false",
                        help="true/false; a bare --use_tls means true")
    parser.add_argument("--tls_cert")
    parser.add_argument("--tls_key")
    args = parser.parse_args()
    use_tls = args.use_tls.lower() in ("1", "true", "yes")

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=32))
    pb.test_pb2_grpc.add_TestServiceServicer_to_server(TestService(), server)

    health_servicer = health.HealthServicer()
    health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    health_servicer.set("grpc.testing.TestService", health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)

    service_names = [
        pb.test_pb2.DESCRIPTOR.services_by_name["TestService"].full_name,
        health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
        reflection.SERVICE_NAME,
    ]
    reflection.enable_server_reflection(service_names, server)

    address = f"[::]:{args.port}"
    if use_tls:
        if not (args.tls_cert and args.tls_key):
            parser.error("--use_tls needs --tls_cert and --tls_key")
        with open(args.tls_key, "rb") as f:
            key = f.read()
        with open(args.tls_cert, "rb") as f:
            cert = f.read()
        bound = server.add_secure_port(address, grpc.ssl_server_credentials([(key, cert)]))
    else:
        bound = server.add_insecure_port(address)
    if bound == 0:
        print(f"test_server: cannot bind port {args.port}", file=sys.stderr)
        return 1
    server.start()
    print(f"test_server listening on port {bound} ({'tls' if use_tls else 'h2c'})", file=sys.stderr, flush=True)

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.stop(grace=2).wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
