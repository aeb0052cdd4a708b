#!/usr/bin/env python3
"""Checks a server's standard health and reflection services with grpcio's own client libraries.

    check_health_reflection.py HOST:PORT [--tls --ca_file ca.pem --host_override foo.test.google.fr]
                               [--expect_services a,b,c] [--allow_missing_v1]

Health (grpcio-health-checking): Check("") and Check("grpc.testing.TestService") are SERVING; Watch("")
delivers SERVING first; Check of an unknown service fails with NOT_FOUND.
Reflection (grpcio-reflection): ProtoReflectionDescriptorDatabase lists the expected services, finds the
file defining grpc.testing.TestService, and a DescriptorPool over it resolves grpc.testing.SimpleRequest.
Raw ServerReflectionInfo streams on v1alpha and v1 (stubs generated from Debian's grpc/reflection/v1):
list_services, file_containing_symbol, and NOT_FOUND in error_response for a missing symbol.
Prints PASS/FAIL per check; exits 1 when any check failed.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import grpc  # noqa: E402
from google.protobuf import descriptor_pb2, descriptor_pool  # noqa: E402
from google.protobuf.descriptor_database import DescriptorDatabase  # noqa: E402
from grpc_health.v1 import health_pb2, health_pb2_grpc  # noqa: E402
from grpc_reflection.v1alpha import reflection_pb2 as v1alpha_pb2  # noqa: E402
from grpc_reflection.v1alpha import reflection_pb2_grpc as v1alpha_pb2_grpc  # noqa: E402
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (  # noqa: E402
    ProtoReflectionDescriptorDatabase,
)

import interop_protos  # noqa: E402

TIMEOUT = 10
DEFAULT_SERVICES = "grpc.testing.TestService,echo.Echo,grpc.health.v1.Health"
MISSING_SYMBOL = "skyport.no.such.Symbol"
NOT_FOUND = grpc.StatusCode.NOT_FOUND.value[0]


from check_runner import Failure, expect, run_checks  # noqa: E402,F401


def check_health(channel, _):
    stub = health_pb2_grpc.HealthStub(channel)
    serving = health_pb2.HealthCheckResponse.SERVING
    for service in ["", "grpc.testing.TestService"]:
        response = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=TIMEOUT)
        expect(response.status == serving, f"Check({service!r}) is {response.status}, expected SERVING")
    try:
        stub.Check(health_pb2.HealthCheckRequest(service="skyport.NoSuchService"), timeout=TIMEOUT)
        raise Failure("Check of an unknown service succeeded, expected NOT_FOUND")
    except grpc.RpcError as error:
        expect(error.code() == grpc.StatusCode.NOT_FOUND, f"Check of an unknown service: {error.code()}")


def check_health_watch(channel, _):
    stub = health_pb2_grpc.HealthStub(channel)
    stream = stub.Watch(health_pb2.HealthCheckRequest(service=""), timeout=TIMEOUT)
    try:
        first = next(stream)
        expect(first.status == health_pb2.HealthCheckResponse.SERVING,
               f"Watch('') first status is {first.status}, expected SERVING")
    finally:
        stream.cancel()


def check_reflection_database(channel, args):
    db = ProtoReflectionDescriptorDatabase(channel)
    services = set(db.get_services())
    missing = [s for s in args.expect_services if s not in services]
    expect(not missing, f"services {missing} not listed; listed: {sorted(services)}")
    file = db.FindFileContainingSymbol("grpc.testing.TestService")
    expect(any(s.name == "TestService" for s in file.service),
           f"file {file.name} does not define TestService")
    pool = descriptor_pool.DescriptorPool(db)
    service = pool.FindServiceByName("grpc.testing.TestService")
    expect("UnaryCall" in service.methods_by_name, "TestService has no UnaryCall")
    request = pool.FindMessageTypeByName("grpc.testing.SimpleRequest")
    expect("response_size" in request.fields_by_name, "SimpleRequest has no response_size field")
    expect(service.methods_by_name["UnaryCall"].input_type.full_name == "grpc.testing.SimpleRequest",
           "UnaryCall input is not SimpleRequest")
    try:
        db.FindFileContainingSymbol(MISSING_SYMBOL)
        raise Failure(f"{MISSING_SYMBOL} was found")
    except KeyError:
        pass


def _raw_reflection(stub, pb, what, args):
    requests = [
        pb.ServerReflectionRequest(list_services="*"),
        pb.ServerReflectionRequest(file_containing_symbol="grpc.testing.TestService"),
        pb.ServerReflectionRequest(file_containing_symbol=MISSING_SYMBOL),
    ]
    responses = list(stub.ServerReflectionInfo(iter(requests), timeout=TIMEOUT))
    expect(len(responses) == 3, f"{what}: {len(responses)} responses to 3 requests")
    listed, found, missing = responses

    expect(listed.WhichOneof("message_response") == "list_services_response",
           f"{what}: list_services answered with {listed.WhichOneof('message_response')}")
    names = {s.name for s in listed.list_services_response.service}
    absent = [s for s in args.expect_services if s not in names]
    expect(not absent, f"{what}: services {absent} not listed; listed: {sorted(names)}")

    expect(found.WhichOneof("message_response") == "file_descriptor_response",
           f"{what}: file_containing_symbol answered with {found.WhichOneof('message_response')}")
    db = DescriptorDatabase()
    names = []
    for raw in found.file_descriptor_response.file_descriptor_proto:
        proto = descriptor_pb2.FileDescriptorProto.FromString(raw)
        names.append(proto.name)
        db.Add(proto)
    pool = descriptor_pool.DescriptorPool(db)
    try:
        pool.FindServiceByName("grpc.testing.TestService")
        message = pool.FindMessageTypeByName("grpc.testing.SimpleRequest")
    except KeyError as error:
        raise Failure(f"{what}: cannot resolve from files {names}: {error}") from None
    expect(message.fields_by_name["payload"].message_type.full_name == "grpc.testing.Payload",
           f"{what}: SimpleRequest.payload does not resolve to grpc.testing.Payload")

    expect(missing.WhichOneof("message_response") == "error_response",
           f"{what}: missing symbol answered with {missing.WhichOneof('message_response')}")
    expect(missing.error_response.error_code == NOT_FOUND,
           f"{what}: missing symbol error_code {missing.error_response.error_code}, expected {NOT_FOUND}")


def check_reflection_v1alpha(channel, args):
    _raw_reflection(v1alpha_pb2_grpc.ServerReflectionStub(channel), v1alpha_pb2, "v1alpha", args)


def check_reflection_v1(channel, args):
    pb = interop_protos.load()
    try:
        _raw_reflection(pb.reflection_v1_pb2_grpc.ServerReflectionStub(channel), pb.reflection_v1_pb2, "v1", args)
    except grpc.RpcError as error:
        if error.code() == grpc.StatusCode.UNIMPLEMENTED and args.allow_missing_v1:
            print("  (server has no grpc.reflection.v1; allowed by --allow_missing_v1)")
            return
        raise


CHECKS = [check_health, check_health_watch, check_reflection_database, check_reflection_v1alpha, check_reflection_v1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", help="HOST:PORT")
    parser.add_argument("--tls", action="store_true")
    parser.add_argument("--ca_file")
    parser.add_argument("--host_override")
    parser.add_argument("--expect_services", default=DEFAULT_SERVICES,
                        type=lambda s: [x for x in s.split(",") if x])
    parser.add_argument("--allow_missing_v1", action="store_true",
                        help="pass when the server only implements grpc.reflection.v1alpha (grpcio's own server)")
    args = parser.parse_args()

    options = []
    if args.host_override:
        options.append(("grpc.default_authority", args.host_override))
    if args.tls:
        root = open(args.ca_file, "rb").read() if args.ca_file else None
        if args.host_override:
            options.append(("grpc.ssl_target_name_override", args.host_override))
        channel = grpc.secure_channel(args.target, grpc.ssl_channel_credentials(root), options=options)
    else:
        channel = grpc.insecure_channel(args.target, options=options)

    try:
        return run_checks((check.__name__, lambda check=check: check(channel, args)) for check in CHECKS)
    finally:
        channel.close()

if __name__ == "__main__":
    sys.exit(main())
