"""Generates Python stubs for the gRPC interop protos at run time (nothing generated is committed).

The protos declare the package `grpc.testing` and import each other as `grpc/testing/*.proto`, so protoc's
Python output would live in a package called `grpc`, which would shadow grpcio itself. The generated
modules are therefore written under a private top-level package (`_skyport_gen`) and their
`from grpc.testing import ...` / `from grpc.reflection.v1 import ...` lines rewritten to point there.
The serialized descriptors keep their canonical file names (`grpc/testing/test.proto`), which is what a
reflection server reports.
"""

import atexit
import importlib
import os
import re
import shutil
import sys
import tempfile
import types

GRPC_PROTO = os.environ.get("GRPC_PROTO", "/usr/share/grpc-proto")
_GEN_PACKAGE = "_skyport_gen"
_REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

_loaded = None


def _protoc(include_dirs, out_dir, files):
    from grpc_tools import protoc  # imported late: only needed here
    import grpc_tools

    well_known = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    args = ["grpc_tools.protoc", f"-I{well_known}"]
    args += [f"-I{d}" for d in include_dirs]
    args += [f"--python_out={out_dir}", f"--grpc_python_out={out_dir}"]
    args += files
    rc = protoc.main(args)
    if rc != 0:
        raise RuntimeError(f"grpc_tools.protoc failed ({rc}) for {files}")


def _rewrite_imports(root):
    pattern = re.compile(r"^from (grpc\.testing|grpc\.reflection\.v1|echo)( import )", re.MULTILINE)
    for dirpath, _, names in os.walk(root):
        for name in names:
            if not name.endswith(".py"):
                continue
            path = os.path.join(dirpath, name)
            with open(path, encoding="utf-8") as f:
                text = f.read()
            new = pattern.sub(rf"from {_GEN_PACKAGE}.\1\2", text)
            if new != text:
                with open(path, "w", encoding="utf-8") as f:
                    f.write(new)


def load():
    """Returns a namespace with empty_pb2, messages_pb2, test_pb2, test_pb2_grpc, reflection_v1_pb2,
    reflection_v1_pb2_grpc, echo_pb2 and echo_pb2_grpc (the last two only when Proto/echo exists)."""
    global _loaded
    if _loaded is not None:
        return _loaded
    tmp = tempfile.mkdtemp(prefix="skyport-interop-pb-")
    atexit.register(shutil.rmtree, tmp, True)
    out = os.path.join(tmp, _GEN_PACKAGE)
    os.makedirs(out)
    _protoc(
        [GRPC_PROTO],
        out,
        [
            "grpc/testing/empty.proto",
            "grpc/testing/messages.proto",
            "grpc/testing/test.proto",
            "grpc/reflection/v1/reflection.proto",
        ],
    )
    echo_dir = os.path.join(_REPO_ROOT, "Proto")
    has_echo = os.path.exists(os.path.join(echo_dir, "echo", "echo.proto"))
    if has_echo:
        _protoc([echo_dir], out, ["echo/echo.proto"])
    _rewrite_imports(out)
    sys.path.insert(0, tmp)
    ns = types.SimpleNamespace()
    for attr, module in [
        ("empty_pb2", "grpc.testing.empty_pb2"),
        ("messages_pb2", "grpc.testing.messages_pb2"),
        ("test_pb2", "grpc.testing.test_pb2"),
        ("test_pb2_grpc", "grpc.testing.test_pb2_grpc"),
        ("reflection_v1_pb2", "grpc.reflection.v1.reflection_pb2"),
        ("reflection_v1_pb2_grpc", "grpc.reflection.v1.reflection_pb2_grpc"),
    ] + ([("echo_pb2", "echo.echo_pb2"), ("echo_pb2_grpc", "echo.echo_pb2_grpc")] if has_echo else []):
        setattr(ns, attr, importlib.import_module(f"{_GEN_PACKAGE}.{module}"))
    _loaded = ns
    return ns
