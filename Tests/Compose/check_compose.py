#!/usr/bin/env python3
"""Structural check of compose/compose.yaml against the suite's container conventions.

`skyport up` runs the same file as local processes and depends on these conventions, and a real Docker
engine depends on the hardening; nothing else on a machine without Docker would notice a slip. Each
check prints one line, PASS or FAIL (with every violation under it); the exit status is non-zero when
any check failed.

    check_compose.py [--compose compose/compose.yaml] [--init-script compose/postgres/init-databases.sh]
    check_compose.py --self-test    # mutates copies of the parsed file; asserts every mutation is caught

The conventions (compose/README.md has the prose):
- services: postgres plus nine Skyport services; each Skyport service is built from compose/Dockerfile
  with build.args.SERVICE one of the seven executables, image skyport/<executable>:dev.
- hardening, every container: non-root user, read_only, tmpfs /tmp, cap_drop ALL, no-new-privileges,
  cpu and memory limits, restart unless-stopped, SIGTERM (postgres: SIGINT, its image's own), a stop
  grace period longer than SHUTDOWN_GRACE, a named volume for the writable data.
- health: Skyport services call `skyport health 127.0.0.1:7000 --tls-ca ...`; postgres `pg_isready`.
- ports: exactly "127.0.0.1:<grpc>:7000" and "127.0.0.1:<metrics>:9000" per the port table.
- environment: SKYPORT_<EXECUTABLE>_<KEY> only, the common keys with their values, the data-centre keys,
  other services addressed as <compose service>:<container port>.
- database: URL and password file per service, naming a database the init script creates.
- depends_on: all on postgres (healthy), stream hosts on their host management, redemption and
  entitlement on what they call.
- secrets: the CA, the service's own certificate and key only, its own database password only.
"""

from __future__ import annotations

import argparse
import copy
import os
import re
import sys
from dataclasses import dataclass
from typing import Any, Callable

import yaml

EXECUTABLES = ("entitlement", "redemption", "hostmgr", "forecast", "distribution", "billing", "streamhost")


@dataclass(frozen=True)
class Expected:
    executable: str
    grpc_port: int
    metrics_port: int
    datacentre: str | None
    depends_on: tuple[str, ...]  # besides postgres
    client_port: int | None = None  # stream hosts: the published client (SessionChannel) port


# The port table and the start order (compose/README.md).
SERVICES: dict[str, Expected] = {
    "entitlement": Expected("entitlement", 7101, 9101, None, ("hostmgr-dc1", "hostmgr-dc2", "billing", "distribution")),
    "redemption": Expected("redemption", 7102, 9102, None, ("hostmgr-dc1", "hostmgr-dc2")),
    "hostmgr-dc1": Expected("hostmgr", 7103, 9103, "dc1", ()),
    "streamhost-dc1": Expected("streamhost", 7107, 9107, "dc1", ("hostmgr-dc1",), 7127),
    "hostmgr-dc2": Expected("hostmgr", 7113, 9113, "dc2", ()),
    "streamhost-dc2": Expected("streamhost", 7117, 9117, "dc2", ("hostmgr-dc2",), 7137),
    "forecast": Expected("forecast", 7104, 9104, None, ()),
    "distribution": Expected("distribution", 7105, 9105, None, ()),
    "billing": Expected("billing", 7106, 9106, None, ()),
}
POSTGRES = "postgres"
GRPC_PORT, METRICS_PORT, POSTGRES_PORT, CLIENT_PORT = 7000, 9000, 5432, 7100
# The only bind mount allowed: read-only configuration shipped beside the compose file.
CONFIG_MOUNT = ("./config", "/etc/skyport")
DATA_DIR = "/var/lib/skyport"
TLS_DIR = "/run/secrets/skyport"
SHUTDOWN_GRACE = "10s"
HEALTH_TEST = ["CMD", "/usr/local/bin/skyport", "health", "127.0.0.1:7000", "--tls-ca", f"{TLS_DIR}/ca.pem"]


def db_name(service: str) -> str:
    return service.replace("-", "_")


def env_prefix(executable: str) -> str:
    return "SKYPORT_" + executable.upper().replace("-", "_") + "_"


def common_env(service: str, exe: Expected) -> dict[str, str]:
    db = db_name(service)
    env = {
        "LISTEN": f"0.0.0.0:{GRPC_PORT}",
        "METRICS_LISTEN": f"0.0.0.0:{METRICS_PORT}",
        "DATABASE_URL": f"postgres://{db}@postgres:{POSTGRES_PORT}/{db}?sslmode=disable",
        "DATABASE_PASSWORD_FILE": f"/run/secrets/{db}_db_password",
        "DATA_DIR": DATA_DIR,
        "TLS_CERT": f"{TLS_DIR}/{exe.executable}.pem",
        "TLS_KEY": f"{TLS_DIR}/{exe.executable}-key.pem",
        "TLS_CA": f"{TLS_DIR}/ca.pem",
        "METRICS_TOKEN_FILE": "/run/secrets/metrics_token",
        "LOG_LEVEL": "info",
        "SHUTDOWN_GRACE": SHUTDOWN_GRACE,
    }
    if exe.executable == "entitlement":
        env["API_KEY_PEPPER_FILE"] = "/run/secrets/api_key_pepper"
    if exe.executable == "hostmgr":
        env["DATACENTRE"] = exe.datacentre or ""
    if exe.executable == "streamhost":
        env["DATACENTRE"] = exe.datacentre or ""
        env["HOSTMGR"] = f"hostmgr-{exe.datacentre}:{GRPC_PORT}"
        env["ADVERTISE_ADDRESS"] = f"{service}:{GRPC_PORT}"
        env["SLOTS"] = "16"
        env["CLIENT_LISTEN"] = f"0.0.0.0:{CLIENT_PORT}"
        env["CLIENT_ADVERTISE_ADDRESS"] = f"{service}:{CLIENT_PORT}"
    return env


# --- helpers over the compose model (short and long syntaxes) ---------------------------------------


def as_dict_env(value: Any) -> dict[str, str | None]:
    """`environment` as a mapping, from either its mapping or its list syntax."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return {str(k): (None if v is None else str(v)) for k, v in value.items()}
    result: dict[str, str | None] = {}
    for item in value:
        key, sep, val = str(item).partition("=")
        result[key] = val if sep else None
    return result


def secret_mounts(service: dict) -> list[tuple[str, str]]:
    """(source, target) of every secret a service mounts; short syntax targets /run/secrets/<source>."""
    mounts = []
    for item in service.get("secrets") or []:
        if isinstance(item, str):
            mounts.append((item, f"/run/secrets/{item}"))
        else:
            source = str(item.get("source", ""))
            target = str(item.get("target") or source)
            if not target.startswith("/"):
                target = f"/run/secrets/{target}"
            mounts.append((source, target))
    return mounts


def volume_mounts(service: dict) -> list[tuple[str, str, str]]:
    """(type, source, target) of every volume: type `volume` (named), `bind` or `tmpfs`."""
    mounts = []
    for item in service.get("volumes") or []:
        if isinstance(item, str):
            parts = item.split(":")
            if len(parts) == 1:
                mounts.append(("volume", "", parts[0]))  # anonymous
                continue
            source, target = parts[0], parts[1]
            kind = "bind" if source.startswith((".", "/", "~", "$")) else "volume"
            mounts.append((kind, source, target))
        else:
            mounts.append((str(item.get("type", "volume")), str(item.get("source", "")), str(item.get("target", ""))))
    return mounts


def tmpfs_targets(service: dict) -> list[str]:
    value = service.get("tmpfs") or []
    if isinstance(value, str):
        value = [value]
    return [str(v).split(":")[0] for v in value]


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(us|ms|s|m|h)")


def seconds(value: Any) -> float | None:
    """A compose duration (`1m30s`, `10s`, `500ms`) in seconds; None when unparseable."""
    if value is None:
        return None
    text = str(value).strip()
    if not text or _DURATION.sub("", text):
        return None
    unit = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
    return sum(float(n) * unit[u] for n, u in _DURATION.findall(text))


def memory_bytes(value: Any) -> int | None:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([bkmg]?)b?", str(value).strip().lower())
    if not match:
        return None
    scale = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[match.group(2)]
    return int(float(match.group(1)) * scale)


def is_root_user(user: Any) -> bool:
    if user is None or str(user).strip() == "":
        return True  # unset: whatever the image says, root for postgres' and most images
    name = str(user).split(":")[0].strip()
    return name in ("0", "root")


def depends(service: dict) -> dict[str, str]:
    """depends_on as {service: condition}; the list syntax means service_started."""
    value = service.get("depends_on") or {}
    if isinstance(value, list):
        return {str(v): "service_started" for v in value}
    return {str(k): str((v or {}).get("condition", "service_started")) for k, v in value.items()}


def init_databases(init_script: str) -> list[str]:
    """The DATABASES=(...) list of compose/postgres/init-databases.sh."""
    with open(init_script, encoding="utf-8") as handle:
        for line in handle:
            match = re.match(r"\s*DATABASES=\(([^)]*)\)\s*$", line)
            if match:
                return match.group(1).split()
    return []


# --- the checks: each returns its violations --------------------------------------------------------


class Model:
    def __init__(self, compose: dict, databases: list[str]) -> None:
        self.compose = compose
        self.databases = databases
        self.services: dict[str, dict] = compose.get("services") or {}
        self.secrets: dict[str, dict] = compose.get("secrets") or {}
        self.volumes: dict[str, Any] = compose.get("volumes") or {}

    def skyport(self) -> list[tuple[str, dict, Expected]]:
        return [(name, self.services[name], exp) for name, exp in SERVICES.items() if name in self.services]

    def secret_file(self, source: str) -> str:
        return str((self.secrets.get(source) or {}).get("file", ""))


def check_services(m: Model) -> list[str]:
    errors = []
    expected = set(SERVICES) | {POSTGRES}
    missing, extra = expected - set(m.services), set(m.services) - expected
    if missing:
        errors.append(f"missing services: {', '.join(sorted(missing))}")
    if extra:
        errors.append(f"unexpected services (skyport up would not know them): {', '.join(sorted(extra))}")
    return errors


def check_build(m: Model) -> list[str]:
    errors = []
    for name, svc, exp in m.skyport():
        build = svc.get("build")
        if not isinstance(build, dict):
            errors.append(f"{name}: build must be a mapping with context, dockerfile and args.SERVICE")
            continue
        if build.get("context") != "..":
            errors.append(f"{name}: build.context is {build.get('context')!r}, want '..' (the repository root)")
        if build.get("dockerfile") != "compose/Dockerfile":
            errors.append(f"{name}: build.dockerfile is {build.get('dockerfile')!r}, want 'compose/Dockerfile'")
        args = build.get("args") or {}
        if isinstance(args, list):
            args = as_dict_env(args)
        service_arg = args.get("SERVICE")
        if service_arg not in EXECUTABLES:
            errors.append(f"{name}: build.args.SERVICE is {service_arg!r}, not one of {' '.join(EXECUTABLES)}")
        elif service_arg != exp.executable:
            errors.append(f"{name}: build.args.SERVICE is {service_arg!r}, want {exp.executable!r}")
        if svc.get("image") != f"skyport/{exp.executable}:dev":
            errors.append(f"{name}: image is {svc.get('image')!r}, want 'skyport/{exp.executable}:dev'")
    postgres = m.services.get(POSTGRES) or {}
    image = str(postgres.get("image", ""))
    if not re.fullmatch(r"postgres:16[\w.-]*-bookworm", image):
        errors.append(f"postgres: image is {image!r}, want postgres:16-bookworm (pinned by tag)")
    return errors


def check_hardening(m: Model) -> list[str]:
    errors = []
    grace = seconds(SHUTDOWN_GRACE) or 0
    for name, svc in m.services.items():
        is_postgres = name == POSTGRES
        if is_root_user(svc.get("user")):
            errors.append(f"{name}: user {svc.get('user')!r} is root or unset; run as a non-root user")
        elif not is_postgres and str(svc.get("user")).split(":")[0] != "10001":
            errors.append(f"{name}: user is {svc.get('user')!r}, want the image's skyport user 10001:10001")
        if svc.get("read_only") is not True:
            errors.append(f"{name}: read_only must be true")
        if "/tmp" not in tmpfs_targets(svc):
            errors.append(f"{name}: tmpfs must include /tmp")
        if "ALL" not in [str(c).upper() for c in svc.get("cap_drop") or []]:
            errors.append(f"{name}: cap_drop must include ALL")
        if svc.get("cap_add"):
            errors.append(f"{name}: cap_add {svc.get('cap_add')} gives capabilities back")
        if svc.get("privileged"):
            errors.append(f"{name}: privileged must not be set")
        opts = [str(o).replace("=", ":") for o in svc.get("security_opt") or []]
        if "no-new-privileges:true" not in opts:
            errors.append(f"{name}: security_opt must include no-new-privileges:true")
        limits = ((svc.get("deploy") or {}).get("resources") or {}).get("limits") or {}
        try:
            cpus = float(limits.get("cpus", 0))
        except (TypeError, ValueError):
            cpus = 0
        if cpus <= 0:
            errors.append(f"{name}: deploy.resources.limits.cpus must be set (> 0)")
        if not memory_bytes(limits.get("memory", "")):
            errors.append(f"{name}: deploy.resources.limits.memory must be set")
        if svc.get("restart") != "unless-stopped":
            errors.append(f"{name}: restart is {svc.get('restart')!r}, want unless-stopped")
        allowed_signals = ("SIGTERM", "SIGINT") if is_postgres else ("SIGTERM",)
        if svc.get("stop_signal") not in allowed_signals:
            errors.append(f"{name}: stop_signal is {svc.get('stop_signal')!r}, want {' or '.join(allowed_signals)}")
        stop = seconds(svc.get("stop_grace_period"))
        if stop is None or stop <= grace:
            errors.append(
                f"{name}: stop_grace_period {svc.get('stop_grace_period')!r} must be longer than "
                f"SHUTDOWN_GRACE ({SHUTDOWN_GRACE})")
        if svc.get("network_mode") == "host" or svc.get("pid") == "host" or svc.get("ipc") == "host":
            errors.append(f"{name}: must not share the host's network, pid or ipc namespace")
        # Writable data lives on a named volume, one per container.
        data_target = "/var/lib/postgresql/data" if is_postgres else DATA_DIR
        data = [v for v in volume_mounts(svc) if v[2] == data_target]
        if len(data) != 1 or data[0][0] != "volume" or not data[0][1]:
            errors.append(f"{name}: {data_target} must be a named volume")
        for kind, source, target in volume_mounts(svc):
            if kind == "volume" and source and source not in m.volumes:
                errors.append(f"{name}: volume {source!r} is not declared under top-level volumes")
            read_only_config = (source, target) == CONFIG_MOUNT and any(
                isinstance(item, str) and item == f"{source}:{target}:ro" for item in svc.get("volumes") or [])
            if kind == "bind" and not is_postgres and not read_only_config:
                errors.append(f"{name}: bind mount {source}:{target}; services get secrets and named volumes only")
    named = [v[1] for svc in m.services.values() for v in volume_mounts(svc) if v[0] == "volume" and v[1]]
    shared = sorted({v for v in named if named.count(v) > 1})
    if shared:
        errors.append(f"named volumes shared between containers: {', '.join(shared)}")
    return errors


def check_health(m: Model) -> list[str]:
    errors = []
    for name, svc in m.services.items():
        hc = svc.get("healthcheck") or {}
        if hc.get("disable"):
            errors.append(f"{name}: healthcheck is disabled")
            continue
        test = hc.get("test")
        if name == POSTGRES:
            if not test or "pg_isready" not in " ".join(map(str, test if isinstance(test, list) else [test])):
                errors.append("postgres: healthcheck must run pg_isready")
        elif test != HEALTH_TEST:
            errors.append(f"{name}: healthcheck.test is {test!r}, want {HEALTH_TEST!r}")
        for key in ("interval", "timeout", "start_period"):
            if seconds(hc.get(key)) is None:
                errors.append(f"{name}: healthcheck.{key} must be a duration")
        if not isinstance(hc.get("retries"), int) or hc.get("retries") < 1:
            errors.append(f"{name}: healthcheck.retries must be a positive integer")
        if seconds(hc.get("timeout")) and seconds(hc.get("interval")) and seconds(hc["timeout"]) > seconds(hc["interval"]):
            errors.append(f"{name}: healthcheck.timeout is longer than its interval")
    return errors


def check_ports(m: Model) -> list[str]:
    errors = []
    seen: dict[int, str] = {}
    for name, svc in m.services.items():
        ports = [str(p) if not isinstance(p, dict) else p for p in svc.get("ports") or []]
        if name == POSTGRES:
            if ports:
                errors.append(f"postgres: publishes {ports}; only the services reach it, on the compose network")
            continue
        exp = SERVICES.get(name)
        if exp is None:
            continue
        want = [f"127.0.0.1:{exp.grpc_port}:{GRPC_PORT}", f"127.0.0.1:{exp.metrics_port}:{METRICS_PORT}"]
        if exp.client_port is not None:
            want.append(f"127.0.0.1:{exp.client_port}:{CLIENT_PORT}")
        if sorted(map(str, ports)) != sorted(want):
            errors.append(f"{name}: ports are {ports}, want exactly {want}")
        for port in ports:
            parts = str(port).split(":")
            if len(parts) != 3 or parts[0] != "127.0.0.1":
                errors.append(f"{name}: port {port!r} is not bound to 127.0.0.1")
            else:
                host_port = int(parts[1]) if parts[1].isdigit() else -1
                if host_port in seen:
                    errors.append(f"{name}: host port {host_port} also published by {seen[host_port]}")
                seen[host_port] = name
    return errors


def check_environment(m: Model) -> list[str]:
    errors = []
    container_ports = {
        name: {GRPC_PORT} | ({CLIENT_PORT} if exp.client_port is not None else set()) for name, exp in SERVICES.items()
    } | {POSTGRES: {POSTGRES_PORT}}
    address = re.compile(r"(?:^|[/@])([a-z][a-z0-9-]*):(\d+)")
    for name, svc, exp in m.skyport():
        env = as_dict_env(svc.get("environment"))
        prefix = env_prefix(exp.executable)
        for key in env:
            if not key.startswith(prefix):
                errors.append(f"{name}: environment {key} lacks the prefix {prefix} (SKYPORT_<EXECUTABLE>_<KEY>)")
        for key, value in common_env(name, exp).items():
            got = env.get(prefix + key)
            if got != value:
                errors.append(f"{name}: {prefix}{key} is {got!r}, want {value!r}")
        for key, value in env.items():
            for host, port in address.findall(value or ""):
                if host in ("localhost",):
                    errors.append(f"{name}: {key} addresses localhost; use <compose service>:<container port>")
                elif host in container_ports and int(port) not in container_ports[host]:
                    errors.append(
                        f"{name}: {key} = {value!r} uses port {port} of {host}; write the container port "
                        f"{host}:{min(container_ports[host])}")
            # Trusted proxies are address blocks, not addresses to reach.
            if "127.0.0.1" in (value or "") and not key.endswith("_TRUSTED_PROXIES"):
                errors.append(f"{name}: {key} = {value!r}; other services are <compose service>:<container port>")
        # streamhost: its HOSTMGR must be in its own data centre.
        if exp.executable == "streamhost" and env.get(prefix + "DATACENTRE") != exp.datacentre:
            errors.append(f"{name}: {prefix}DATACENTRE must be {exp.datacentre!r}")
    return errors


def check_database(m: Model) -> list[str]:
    errors = []
    if not m.databases:
        return ["compose/postgres/init-databases.sh: no DATABASES=(...) line found"]
    used: dict[str, str] = {}
    for name, svc, exp in m.skyport():
        env = as_dict_env(svc.get("environment"))
        prefix = env_prefix(exp.executable)
        url = env.get(prefix + "DATABASE_URL") or ""
        match = re.fullmatch(r"postgres://([a-z0-9_]+)@postgres:5432/([a-z0-9_]+)\?sslmode=disable", url)
        if not match:
            errors.append(f"{name}: {prefix}DATABASE_URL {url!r} is not postgres://<db>@postgres:5432/<db>?sslmode=disable")
            continue
        user, db = match.groups()
        if user != db or db != db_name(name):
            errors.append(f"{name}: database URL names role {user!r} and database {db!r}, want {db_name(name)!r} for both")
        if db not in m.databases:
            errors.append(f"{name}: database {db!r} is not created by compose/postgres/init-databases.sh")
        if db in used:
            errors.append(f"{name}: database {db!r} is also used by {used[db]}")
        used[db] = name
        password_file = env.get(prefix + "DATABASE_PASSWORD_FILE")
        if password_file != f"/run/secrets/{db}_db_password":
            errors.append(f"{name}: {prefix}DATABASE_PASSWORD_FILE is {password_file!r}, want /run/secrets/{db}_db_password")
        mounts = dict((target, source) for source, target in secret_mounts(svc))
        source = mounts.get(f"/run/secrets/{db}_db_password")
        if source is None:
            errors.append(f"{name}: the secret /run/secrets/{db}_db_password is not mounted")
        elif m.secret_file(source) != f"./secrets/{db}_db_password":
            errors.append(f"{name}: secret {source!r} reads {m.secret_file(source)!r}, want ./secrets/{db}_db_password")
    unused = sorted(set(m.databases) - set(used))
    if unused:
        errors.append(f"init-databases.sh creates databases no service uses: {', '.join(unused)}")
    postgres = m.services.get(POSTGRES) or {}
    pg_mounts = dict((target, source) for source, target in secret_mounts(postgres))
    for db in m.databases:
        source = pg_mounts.get(f"/run/secrets/{db}_db_password")
        if source is None or m.secret_file(source) != f"./secrets/{db}_db_password":
            errors.append(f"postgres: must mount ./secrets/{db}_db_password at /run/secrets/{db}_db_password for the init script")
    if not any(
        kind == "bind" and source.endswith("postgres/init-databases.sh") and target.startswith("/docker-entrypoint-initdb.d/")
        for kind, source, target in volume_mounts(postgres)
    ):
        errors.append("postgres: ./postgres/init-databases.sh must be mounted into /docker-entrypoint-initdb.d/")
    return errors


def check_depends_on(m: Model) -> list[str]:
    errors = []
    for name, svc in m.services.items():
        deps = depends(svc)
        for target, condition in deps.items():
            if target not in m.services:
                errors.append(f"{name}: depends on unknown service {target!r}")
            if condition != "service_healthy":
                errors.append(f"{name}: depends_on {target} has condition {condition!r}, want service_healthy")
        exp = SERVICES.get(name)
        if exp is None:
            continue
        for target in (POSTGRES, *exp.depends_on):
            if target not in deps:
                errors.append(f"{name}: must depend on {target} (condition: service_healthy)")
        if exp.executable == "streamhost":
            wrong = [d for d in deps if d.startswith("hostmgr-") and d != f"hostmgr-{exp.datacentre}"]
            if wrong:
                errors.append(f"{name}: depends on {', '.join(wrong)}, a host management of another data centre")
    # No cycles: a start order must exist.
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        if state.get(node) == 1:
            errors.append(f"depends_on cycle: {' -> '.join(path + [node])}")
            return
        if state.get(node) == 2 or node not in m.services:
            return
        state[node] = 1
        for nxt in depends(m.services[node]):
            visit(nxt, path + [node])
        state[node] = 2

    for node in m.services:
        visit(node, [])
    return errors


def check_secrets(m: Model) -> list[str]:
    errors = []
    for source, spec in m.secrets.items():
        file = str((spec or {}).get("file", ""))
        if not file.startswith("./secrets/"):
            errors.append(f"secret {source}: file {file!r} is not under compose/secrets/ (git-ignored)")
    tls_files = {source for source in m.secrets if m.secret_file(source).startswith("./secrets/tls/")}
    key_owner: dict[str, list[str]] = {}
    for name, svc in m.services.items():
        exp = SERVICES.get(name)
        mounts = secret_mounts(svc)
        for source, target in mounts:
            if source not in m.secrets:
                errors.append(f"{name}: secret {source!r} is not declared under top-level secrets")
                continue
            file = os.path.basename(m.secret_file(source))
            if source in tls_files:
                allowed = {"ca.pem"} if exp is None else {"ca.pem", f"{exp.executable}.pem", f"{exp.executable}-key.pem"}
                if file not in allowed:
                    errors.append(f"{name}: mounts {m.secret_file(source)}, which is not its own (allowed: {', '.join(sorted(allowed))})")
                if target != f"{TLS_DIR}/{file}":
                    errors.append(f"{name}: TLS secret {source} is mounted at {target}, want {TLS_DIR}/{file}")
                if file.endswith("-key.pem"):
                    key_owner.setdefault(file, []).append(name)
            elif file.endswith("_db_password") and name != POSTGRES:
                if file != f"{db_name(name)}_db_password":
                    errors.append(f"{name}: mounts another service's database password {file}")
        if exp is None:
            continue
        targets = {target: source for source, target in mounts}
        for file in ("ca.pem", f"{exp.executable}.pem", f"{exp.executable}-key.pem"):
            source = targets.get(f"{TLS_DIR}/{file}")
            if source is None or m.secret_file(source) != f"./secrets/tls/{file}":
                errors.append(f"{name}: must mount ./secrets/tls/{file} at {TLS_DIR}/{file}")
        source = targets.get("/run/secrets/metrics_token")
        if source is None or m.secret_file(source) != "./secrets/metrics_token":
            errors.append(f"{name}: must mount ./secrets/metrics_token at /run/secrets/metrics_token")
    # A key is shared only by the instances of one executable (hostmgr-dc1/-dc2, streamhost-dc1/-dc2).
    for file, owners in key_owner.items():
        executables = {SERVICES[o].executable for o in owners if o in SERVICES}
        if len(executables) > 1 or any(o not in SERVICES for o in owners):
            errors.append(f"key {file} is mounted by {', '.join(owners)}")
    if "ca-key.pem" in {os.path.basename(m.secret_file(s)) for s in m.secrets}:
        errors.append("the CA's private key (ca-key.pem) must never be a secret")
    return errors


CHECKS: list[tuple[str, Callable[[Model], list[str]]]] = [
    ("services", check_services),
    ("build and image", check_build),
    ("hardening", check_hardening),
    ("health checks", check_health),
    ("published ports", check_ports),
    ("environment", check_environment),
    ("databases", check_database),
    ("depends_on", check_depends_on),
    ("secrets", check_secrets),
]


def run_checks(compose: dict, databases: list[str]) -> dict[str, list[str]]:
    model = Model(compose, databases)
    results = {}
    for title, check in CHECKS:
        try:
            results[title] = check(model)
        except Exception as error:  # a malformed file must fail the check, not crash the checker
            results[title] = [f"checker error on malformed input: {type(error).__name__}: {error}"]
    return results


# --- self-test ------------------------------------------------------------------------------------


def _mutations() -> list[tuple[str, str, Callable[[dict], None]]]:
    """(description, the check that must catch it, mutation of a parsed compose file)."""

    def svc(c: dict, name: str) -> dict:
        return c["services"][name]

    def env(c: dict, name: str) -> dict:
        return svc(c, name)["environment"]

    def rename_env(c: dict) -> None:
        e = env(c, "forecast")
        e["SKYPORT_BILLING_LOG_LEVEL"] = e.pop("SKYPORT_FORECAST_LOG_LEVEL")

    def mount_foreign_key(c: dict) -> None:
        svc(c, "redemption")["secrets"].append({"source": "tls_hostmgr_key", "target": "/run/secrets/skyport/hostmgr-key.pem"})

    def mount_foreign_key_short(c: dict) -> None:
        svc(c, "billing")["secrets"].append("tls_entitlement_key")

    def foreign_password(c: dict) -> None:
        svc(c, "forecast")["secrets"].append({"source": "billing_db_password", "target": "/run/secrets/billing_db_password"})

    def streamhost_other_dc(c: dict) -> None:
        deps = svc(c, "streamhost-dc2")["depends_on"]
        deps["hostmgr-dc1"] = deps.pop("hostmgr-dc2")

    def remove_memory(c: dict) -> None:
        del svc(c, "distribution")["deploy"]["resources"]["limits"]["memory"]

    def cycle(c: dict) -> None:
        svc(c, "hostmgr-dc1")["depends_on"]["entitlement"] = {"condition": "service_healthy"}

    def undeclared_db(c: dict) -> None:
        e = env(c, "billing")
        e["SKYPORT_BILLING_DATABASE_URL"] = "postgres://invoices@postgres:5432/invoices?sslmode=disable"

    def published_address(c: dict) -> None:
        env(c, "streamhost-dc1")["SKYPORT_STREAMHOST_HOSTMGR"] = "hostmgr-dc1:7103"

    return [
        ("drop read_only", "hardening", lambda c: svc(c, "entitlement").pop("read_only")),
        ("user root", "hardening", lambda c: svc(c, "billing").update(user="root")),
        ("user 0:0", "hardening", lambda c: svc(c, "hostmgr-dc2").update(user="0:0")),
        ("postgres user unset", "hardening", lambda c: svc(c, "postgres").pop("user")),
        ("remove a memory limit", "hardening", remove_memory),
        ("remove cap_drop", "hardening", lambda c: svc(c, "forecast").pop("cap_drop")),
        ("stop_grace_period not above SHUTDOWN_GRACE", "hardening",
         lambda c: svc(c, "redemption").update(stop_grace_period="10s")),
        ("data on a bind mount", "hardening",
         lambda c: svc(c, "billing").update(volumes=["./data:/var/lib/skyport"])),
        ("wrong env prefix", "environment", rename_env),
        ("address with the published port", "environment", published_address),
        ("second service mounting another's key", "secrets", mount_foreign_key),
        ("short-syntax mount of another's key", "secrets", mount_foreign_key_short),
        ("another service's database password", "secrets", foreign_password),
        ("unknown build.args.SERVICE", "build and image",
         lambda c: svc(c, "forecast")["build"]["args"].update(SERVICE="forecaster")),
        ("image name", "build and image", lambda c: svc(c, "billing").update(image="skyport/billing:latest")),
        ("healthcheck not through skyport health", "health checks",
         lambda c: svc(c, "distribution")["healthcheck"].update(test=["CMD", "true"])),
        ("port on all interfaces", "published ports",
         lambda c: svc(c, "entitlement").update(ports=["7101:7000", "127.0.0.1:9101:9000"])),
        ("a third published port", "published ports",
         lambda c: svc(c, "billing")["ports"].append("127.0.0.1:9999:9999")),
        ("database the init script does not create", "databases", undeclared_db),
        ("password file of another database", "databases",
         lambda c: env(c, "redemption").update(SKYPORT_REDEMPTION_DATABASE_PASSWORD_FILE="/run/secrets/billing_db_password")),
        ("no dependency on postgres", "depends_on", lambda c: svc(c, "forecast")["depends_on"].pop("postgres")),
        ("service_started instead of healthy", "depends_on",
         lambda c: svc(c, "billing")["depends_on"]["postgres"].update(condition="service_started")),
        ("streamhost on the other data centre's hostmgr", "depends_on", streamhost_other_dc),
        ("dependency cycle", "depends_on", cycle),
        ("missing service", "services", lambda c: c["services"].pop("hostmgr-dc2")),
    ]


def self_test(compose: dict, databases: list[str]) -> int:
    failures = 0
    baseline = run_checks(compose, databases)
    if any(baseline.values()):
        print("FAIL self-test baseline: the real compose file must pass before mutating it")
        return 1
    for description, must_catch, mutate in _mutations():
        mutated = copy.deepcopy(compose)
        mutate(mutated)
        results = run_checks(mutated, databases)
        caught = results.get(must_catch) or []
        if caught:
            print(f"PASS self-test: {description} -> {must_catch}: {caught[0]}")
        else:
            failures += 1
            others = [t for t, e in results.items() if e]
            print(f"FAIL self-test: {description} not caught by '{must_catch}' (other checks failing: {others or 'none'})")
    # The init script's database list is an input too: dropping one database must be caught.
    results = run_checks(compose, [d for d in databases if d != "billing"])
    if results["databases"]:
        print(f"PASS self-test: init script without billing -> databases: {results['databases'][0]}")
    else:
        failures += 1
        print("FAIL self-test: init script without billing not caught by 'databases'")
    return failures


def main() -> int:
    root = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compose", default=os.path.join(root, "compose", "compose.yaml"))
    parser.add_argument("--init-script", default=os.path.join(root, "compose", "postgres", "init-databases.sh"))
    parser.add_argument("--self-test", action="store_true", help="prove every convention check catches a mutation")
    args = parser.parse_args()

    with open(args.compose, encoding="utf-8") as handle:
        compose = yaml.safe_load(handle)
    databases = init_databases(args.init_script)

    if args.self_test:
        failures = self_test(compose, databases)
        print(f"self-test: {'FAIL' if failures else 'PASS'} ({failures} mutation(s) not caught)")
        return 1 if failures else 0

    failed = 0
    for title, errors in run_checks(compose, databases).items():
        if errors:
            failed += 1
            print(f"FAIL compose {title}")
            for error in errors:
                print(f"     - {error}")
        else:
            print(f"PASS compose {title}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
