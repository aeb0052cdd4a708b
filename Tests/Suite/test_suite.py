"""The whole suite as real processes: `skyport up` from compose/compose.yaml, health through grpcio's own
health client, one real method per service through `skyport call`, access control, metrics, a SIGTERM in
the middle of a stream of calls, and `skyport down`. Called by `make test`:

    PY=.venv/bin/python BIN=$(swift build --show-bin-path) .venv/bin/python Tests/Suite/test_suite.py

Prints one PASS/FAIL line per check, then the cold-start time and the idle RSS of every service, and
ends with `suite: N passed, N failed` (exit status 1 when anything failed). The suite runs on the
compose ports plus SUITE_PORT_OFFSET (default 20000), in a temporary state directory.
"""

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import urllib.error

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ["BIN"]
SKYPORT = os.path.join(BIN, "skyport")
OFFSET = int(os.environ.get("SUITE_PORT_OFFSET", "20000"))
STATE = tempfile.mkdtemp(prefix="skyport-suite.")
CALL_TIMEOUT = 15

PASSED = 0
FAILED = 0


def check(name, condition, detail=""):
    global PASSED, FAILED
    if condition:
        PASSED += 1
        print(f"PASS {name}", flush=True)
    else:
        FAILED += 1
        print(f"FAIL {name}" + (f": {detail}" if detail else ""), flush=True)
    return condition


def skyport(*args, timeout=120, env=None):
    return subprocess.run(
        [SKYPORT, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
        env=None if env is None else {**os.environ, **env})


def up():
    return skyport("up", "--state-dir", STATE, "--bin-dir", BIN, "--port-offset", str(OFFSET), "--timeout", "90")


def call(target, method, body="{}", headers=()):
    """`skyport call`: (exit code, parsed JSON or None, stderr)."""
    args = ["call", "--state-dir", STATE, target, method, body]
    for header in headers:
        args += ["-H", header]
    result = skyport(*args, timeout=CALL_TIMEOUT + 15)
    try:
        parsed = json.loads(result.stdout) if result.stdout.strip() else None
    except json.JSONDecodeError:
        parsed = None
    return result.returncode, parsed, result.stderr


def state():
    with open(os.path.join(STATE, "suite.json")) as f:
        return {i["name"]: i for i in json.load(f)["instances"]}


def tls_credentials():
    tls = os.path.join(STATE, "tls")
    read = lambda name: open(os.path.join(tls, name), "rb").read()
    return grpc.ssl_channel_credentials(
        root_certificates=read("ca.pem"), private_key=read("skyport-key.pem"), certificate_chain=read("skyport.pem"))


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def eventually(condition, timeout=15.0, interval=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    return condition()


def python_stubs(area):
    """Python messages and stubs for Proto/<area>/v1/<area>.proto, generated now with grpcio-tools."""
    from grpc_tools import protoc
    import grpc_tools
    import importlib
    out = os.path.join(STATE, "py")
    os.makedirs(out, exist_ok=True)
    well_known = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")
    rc = protoc.main(["protoc", f"-I{well_known}", f"-I{ROOT}/Proto", f"--python_out={out}", f"--grpc_python_out={out}",
                      f"{area}/v1/{area}.proto"])
    if rc != 0:
        raise RuntimeError(f"protoc failed for {area}.proto")
    if out not in sys.path:
        sys.path.insert(0, out)
    return importlib.import_module(f"{area}.v1.{area}_pb2"), importlib.import_module(f"{area}.v1.{area}_pb2_grpc")


def billing_stubs():
    return python_stubs("billing")


def test_up_and_health():
    started = time.monotonic()
    result = up()
    wall = time.monotonic() - started
    check("skyport up exits 0", result.returncode == 0, result.stdout + result.stderr)
    if result.returncode != 0:
        return None
    match = re.search(r"suite SERVING in (\d+) ms", result.stdout)
    check("skyport up reports the cold start", match is not None, result.stdout)
    instances = state()
    expected = {"entitlement", "redemption", "hostmgr-dc1", "streamhost-dc1", "hostmgr-dc2", "streamhost-dc2",
                "forecast", "distribution", "billing"}
    check("every compose service with an executable runs (two data centres)", set(instances) == expected,
          str(sorted(instances)))
    credentials = tls_credentials()
    for name, instance in sorted(instances.items()):
        with grpc.secure_channel(instance["address"], credentials) as channel:
            try:
                response = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
                status = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
            except grpc.RpcError as error:
                status = f"{error.code()}: {error.details()}"
        check(f"grpcio health client: {name} SERVING", status == "SERVING", status)
    status = skyport("status", "--state-dir", STATE)
    check("skyport status exits 0 with every service SERVING", status.returncode == 0 and status.stdout.count("SERVING") == 9,
          status.stdout + status.stderr)
    return {"cold_start_ms": int(match.group(1)) if match else None, "wall_s": wall, "instances": instances}


def test_one_real_method_per_service():
    code, created, err = call("entitlement", "skyport.entitlement.v1.Entitlement/CreateDeveloper",
                              '{"displayName": "Ada Lovelace", "email": "ada@example.com"}')
    ok = check("entitlement CreateDeveloper", code == 0 and created and created.get("apiKey", "").startswith("sk_"),
               f"{code} {created} {err}")
    if ok:
        developer = created["developer"]["developerId"]
        key = created["apiKey"]
        code, me, err = call("entitlement", "skyport.entitlement.v1.Entitlement/WhoAmI",
                             headers=[f"authorization: Bearer {key}"])
        check("entitlement WhoAmI with the API key (public method)", code == 0 and me and me["developerId"] == developer,
              f"{code} {me} {err}")
        code, _, err = call("entitlement", "skyport.entitlement.v1.Entitlement/WhoAmI",
                            headers=["authorization: Bearer sk_0123456789abcdef_" + "A" * 43])
        check("entitlement WhoAmI with a wrong key is UNAUTHENTICATED", code == 64 + 16, f"{code} {err}")
        logs = open(os.path.join(STATE, "logs", "entitlement.log")).read()
        check("the API key never reaches a log", key not in logs and key.split("_", 2)[2] not in logs)
        # The developer's side through the tool's own commands (the API key from the environment).
        developer_env = {"SKYPORT_API_KEY": key}
        registered = skyport("app", "register", "--state-dir", STATE, "--name", "Demo", "--home", "dc2", "--cpu", "2",
                             "--memory-mib", "2048", env=developer_env)
        app_id = registered.stdout.strip()
        published = skyport("app", "publish", "--state-dir", STATE, app_id, "--version", "1.0.0", "--command", "bin/demo",
                            env=developer_env)
        granted = skyport("entitlement", "grant", "--state-dir", STATE, app_id, "user-1", env=developer_env)
        requested = skyport("session", "request", "--state-dir", STATE, app_id, "user-1", env=developer_env)
        token = re.search(r"^token:\s+(skt1\.\S+)$", requested.stdout, re.M)
        url = re.search(r"^redeem url:\s+(\S+)$", requested.stdout, re.M)
        redemption_port = 7102 + OFFSET
        code4 = requested.returncode
        check("a developer registers an app homed in dc2, publishes, grants, and gets a one-time token for a user",
              registered.returncode == 0 and app_id.startswith("app_") and published.returncode == 0
              and granted.returncode == 0 and code4 == 0 and token is not None and url is not None
              and url.group(1).startswith(f"skyport://127.0.0.1:{redemption_port}/redeem?token=skt1."),
              "\n".join(r.stdout + r.stderr for r in (registered, published, granted, requested)))
        session = {"tokenText": token.group(1)} if token else None
        wrong = skyport("session", "request", "--state-dir", STATE, app_id, "user-1",
                        env={"SKYPORT_API_KEY": "sk_0123456789abcdef_" + "A" * 43})
        check("a wrong API key is refused with UNAUTHENTICATED", wrong.returncode != 0 and "UNAUTHENTICATED" in wrong.stderr,
              wrong.stdout + wrong.stderr)
        denied = skyport("session", "request", "--state-dir", STATE, app_id, "user-without-entitlement", env=developer_env)
        check("a user without an entitlement is refused with PERMISSION_DENIED",
              denied.returncode != 0 and "PERMISSION_DENIED" in denied.stderr, denied.stdout + denied.stderr)
        if code4 == 0 and session:
            dc2_log = open(os.path.join(STATE, "logs", "hostmgr-dc2.log")).read()
            check("the session was created by the home data centre's host management, over mutual TLS",
                  "/skyport.hostmgr.v1.HostManager/CreateSession" in dc2_log and "(entitlement)" in dc2_log)
            check("the token never reaches a log", all(session["tokenText"][5:45] not in open(os.path.join(STATE, "logs", f)).read()
                                                        for f in os.listdir(os.path.join(STATE, "logs"))))
        # Key rotation through the tool: the operator adds a key and revokes the first; the first is refused at once.
        added = skyport("developer", "add-key", "--state-dir", STATE, developer)
        new_key = re.search(r"^api key:\s+(sk_\S+)$", added.stdout, re.M)
        revoked = skyport("developer", "revoke-key", "--state-dir", STATE, developer, key.split("_", 2)[1])
        old_refused = skyport("app", "show", "--state-dir", STATE, app_id, env=developer_env)
        new_works = skyport("app", "show", "--state-dir", STATE, app_id,
                            env={"SKYPORT_API_KEY": new_key.group(1) if new_key else ""})
        check("the operator adds an API key and revokes the first: the old key is UNAUTHENTICATED, the new one works",
              added.returncode == 0 and new_key is not None and revoked.returncode == 0
              and old_refused.returncode != 0 and "UNAUTHENTICATED" in old_refused.stderr
              and new_works.returncode == 0 and app_id in new_works.stdout,
              "\n".join(r.stdout + r.stderr for r in (added, revoked, old_refused, new_works)))
        if new_key:
            logs = "".join(open(os.path.join(STATE, "logs", f)).read() for f in os.listdir(os.path.join(STATE, "logs")))
            check("the added API key never reaches a log either", new_key.group(1).split("_", 2)[2] not in logs)

    code, dc, err = call("redemption", "skyport.redemption.v1.Redemption/UpsertDataCentre",
                         '{"datacentreId": "dc3", "hostmgrAddress": "127.0.0.1:1", "latitude": 48.1, '
                         '"longitude": 11.6, "region": "eu-south"}')
    code2, listed, err2 = call("redemption", "skyport.redemption.v1.Redemption/ListDataCentres")
    check("redemption UpsertDataCentre then ListDataCentres",
          code == 0 and code2 == 0 and listed
          and [d["datacentreId"] for d in listed.get("datacentres", [])] == ["dc1", "dc2", "dc3"],
          f"{code} {err} {code2} {listed} {err2}")

    for dc in ("dc1", "dc2"):
        def registered():
            code, hosts, _ = call(f"hostmgr-{dc}", "skyport.hostmgr.v1.HostManager/ListHosts")
            return hosts if code == 0 and hosts and hosts.get("hosts") else None
        hosts = eventually(registered)
        code, status, err = call(f"streamhost-{dc}", "skyport.streamhost.v1.StreamHost/GetStatus")
        check(f"streamhost-{dc} registered itself with hostmgr-{dc} over mutual TLS",
              hosts is not None and code == 0 and status
              and [h["hostId"] for h in hosts["hosts"]] == [status["hostId"]]
              and hosts["datacentre"] == dc and status["datacentre"] == dc
              and int(status.get("registeredAtUnixMs", "0")) > 0,
              f"{hosts} {code} {status} {err}")

    code, _, err = call("hostmgr-dc1", "skyport.hostmgr.v1.HostManager/CreateSession",
                        '{"appId": "app-1", "userId": "user-1", "developerId": "dev-1"}')
    check("only entitlement may create sessions (the operator is PERMISSION_DENIED: no entitlement check bypass)",
          code == 64 + 7, f"{code} {err}")

    code, recorded, err = call("forecast", "skyport.forecast.v1.Forecast/RecordDemand",
                               '{"appId": "app-1", "region": "eu-central", "networkProvider": "isp-a", '
                               '"observedAtUnixMs": "1763769600000", "sessions": 7}')
    code2, demand, err2 = call("forecast", "skyport.forecast.v1.Forecast/GetDemand",
                               '{"appId": "app-1", "region": "eu-central"}')
    check("forecast RecordDemand then GetDemand", code == 0 and code2 == 0 and demand and demand.get("totalSessions") == "7",
          f"{code} {recorded} {err} {code2} {demand} {err2}")

    package = '{"appId": "app-1", "version": "1.0.0", "sizeBytes": "1048576", "sha256": "' + "ab" * 32 + '"}'
    code, _, err = call("distribution", "skyport.distribution.v1.Distribution/RegisterPackage", package)
    code2, _, err2 = call("distribution", "skyport.distribution.v1.Distribution/RegisterPackage", package)
    code3, listed, err3 = call("distribution", "skyport.distribution.v1.Distribution/ListPackages", '{"appId": "app-1"}')
    check("distribution RegisterPackage, a second time ALREADY_EXISTS, ListPackages",
          code == 0 and code2 == 64 + 6 and code3 == 0 and listed and len(listed.get("packages", [])) == 1,
          f"{code} {err} {code2} {err2} {code3} {listed} {err3}")

    code, ingested, err = call("billing", "skyport.billing.v1.Billing/IngestUsage",
                               '{"idempotencyKey": "suite-1", "developerId": "dev-1", "appId": "app-1", '
                               '"kind": "USAGE_KIND_SESSION_SECONDS", "quantity": "60", "occurredAtUnixMs": "1763769600000"}')
    code2, usage, err2 = call("billing", "skyport.billing.v1.Billing/GetUsage", '{"developerId": "dev-1"}')
    check("billing IngestUsage then GetUsage", code == 0 and code2 == 0 and usage
          and usage["totals"][0]["quantity"] == "60", f"{code} {ingested} {err} {code2} {usage} {err2}")

    code, _, err = call("billing", "skyport.billing.v1.Billing/GetInvoice", '{"developerId": "dev-1"}')
    check("a method still to come is UNIMPLEMENTED", code == 64 + 12 and "Unimplemented" in err, f"{code} {err}")
    code, _, err = call("hostmgr-dc1", "skyport.hostmgr.v1.HostManager/RegisterHost",
                        '{"hostId": "fake", "address": "127.0.0.1:1", "datacentre": "dc1", "slots": 1}')
    check("the skyport identity may not call a stream-host-only method (PERMISSION_DENIED)", code == 64 + 7, f"{code} {err}")


def test_metrics(instances):
    billing = instances["billing"]
    token = open(os.path.join(STATE, "secrets", "metrics_token")).read().strip()
    url = f"http://{billing['metricsAddress']}/metrics"
    try:
        urllib.request.urlopen(url, timeout=5)
        check("metrics without the token are refused", False, "served without a token")
    except urllib.error.HTTPError as error:
        check("metrics without the token are refused", error.code == 401, str(error.code))
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    text = urllib.request.urlopen(request, timeout=5).read().decode()
    check("billing metrics: RPC counts by status, latency histogram, store latency",
          'skyport_rpc_requests_total{method="/skyport.billing.v1.Billing/IngestUsage",code="OK"}' in text
          and 'skyport_rpc_errors_total{method="/skyport.billing.v1.Billing/GetInvoice",code="UNIMPLEMENTED"}' in text
          and "skyport_rpc_duration_seconds_bucket" in text and "skyport_store_transaction_duration_seconds_bucket" in text,
          text[:500])


def test_sigterm_mid_stream(instances):
    """Four threads of IngestUsage calls; SIGTERM to billing in the middle. Every call must end with a status
    (OK, or UNAVAILABLE once billing stops taking calls), and after billing comes back every OK call is stored
    exactly once and nothing else is."""
    billing_pb2, billing_pb2_grpc = billing_stubs()
    billing = instances["billing"]
    outcomes = []
    spans = []  # (start, end, code) of every call
    lock = threading.Lock()
    stop = threading.Event()
    signalled = threading.Event()

    def worker(index):
        with grpc.secure_channel(billing["address"], tls_credentials()) as channel:
            stub = billing_pb2_grpc.BillingStub(channel)
            sequence = 0
            unavailable_after_signal = 0
            while not stop.is_set() and unavailable_after_signal < 5:
                sequence += 1
                request = billing_pb2.IngestUsageRequest(
                    idempotency_key=f"sigterm-{index}-{sequence}", developer_id="dev-sigterm", app_id="app-1",
                    kind=billing_pb2.USAGE_KIND_SESSION_SECONDS, quantity=1, occurred_at_unix_ms=1763769600000)
                started = time.monotonic()
                try:
                    stub.IngestUsage(request, timeout=CALL_TIMEOUT)
                    outcome = ("OK", "")
                except grpc.RpcError as error:
                    outcome = (error.code().name, error.details() or "")
                with lock:
                    outcomes.append(outcome)
                    spans.append((started, time.monotonic(), outcome[0]))
                if signalled.is_set() and outcome[0] == "UNAVAILABLE":
                    unavailable_after_signal += 1
                    time.sleep(0.05)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(1.5)
    calls_before = len(outcomes)
    signal_time = time.monotonic()
    os.kill(billing["pid"], signal.SIGTERM)
    signalled.set()
    exited = eventually(lambda: not os.path.exists(f"/proc/{billing['pid']}") or
                        open(f"/proc/{billing['pid']}/stat").read().split()[2] == "Z", timeout=20)
    time.sleep(0.5)
    stop.set()
    for thread in threads:
        thread.join(timeout=CALL_TIMEOUT + 5)
    codes = {}
    details = {}
    for code, detail in outcomes:
        codes[code] = codes.get(code, 0) + 1
        if code != "OK":
            details[detail] = details.get(detail, 0) + 1
    ok = codes.get("OK", 0)
    print(f"  calls: {codes}; non-OK details: {details}")
    check("a stream of calls was running when SIGTERM arrived", calls_before > 20, str(calls_before))
    check("billing exited after SIGTERM within its grace period", bool(exited))
    spanning = [code for start, end, code in spans if start < signal_time < end]
    check("calls in flight when SIGTERM arrived finished OK (the drain let them complete)",
          spanning and all(code == "OK" for code in spanning), str(spanning))
    cut = [detail for detail in details if re.search(r"closed|reset|removed|RST_STREAM|GOAWAY", detail, re.I)]
    check("no call was cut without a status: every call is OK, or UNAVAILABLE because billing no longer listened",
          set(codes) <= {"OK", "UNAVAILABLE"} and ok > 0 and not cut, f"{codes} {details}")
    log = open(billing["logFile"]).read()
    check("billing logged a graceful shutdown (NOT_SERVING, drain, store closed, stopped)",
          "shutting down: NOT_SERVING" in log and 'msg="store closed"' in log and "msg=stopped" in log)

    # Bring billing back (skyport up starts only what is not running) and count what it stored.
    result = up()
    check("skyport up restarts only the stopped service", result.returncode == 0 and "1 started, 8 kept" in result.stdout,
          result.stdout + result.stderr)
    code, usage, err = call("billing", "skyport.billing.v1.Billing/GetUsage", '{"developerId": "dev-sigterm"}')
    stored = int(usage["totals"][0]["events"]) if code == 0 and usage and usage.get("totals") else -1
    check("every OK call was stored exactly once, and no failed one", stored == ok, f"stored {stored}, OK {ok}, {codes}")


def test_sessions():
    """Sessions end to end on real processes: the demo, 100 racing redemptions, routing, a lost host."""
    started = time.monotonic()
    demo = skyport("demo", "--state-dir", STATE, timeout=240)
    check("skyport demo: a real session end to end, and a second one resuming the saved state",
          demo.returncode == 0 and "resumed saved state" in demo.stdout, demo.stdout[-2500:] + demo.stderr[-1500:])
    first = re.search(r"redemption 1\s+client 198\.51\.100\.7 → (dc\d)", demo.stdout)
    second = re.search(r"redemption 2\s+client 192\.0\.2\.10 → (dc\d)", demo.stdout)
    check("routing: a client near dc2 (Frankfurt) lands in dc2; one near dc1 (Amsterdam) in dc1",
          first is not None and first.group(1) == "dc2" and second is not None and second.group(1) == "dc1",
          demo.stdout[-2500:])
    print(f"demo took {time.monotonic() - started:.1f} s")
    print(demo.stdout)

    # A developer, an app homed in dc1 with the demo package, a user.
    code, created, err = call("entitlement", "skyport.entitlement.v1.Entitlement/CreateDeveloper",
                              '{"displayName": "Grace Hopper", "email": "grace@example.com"}')
    if not check("a second developer", code == 0 and created, f"{code} {err}"):
        return
    env = {"SKYPORT_API_KEY": created["apiKey"]}
    app_id = skyport("app", "register", "--state-dir", STATE, "--name", "Races", "--home", "dc1",
                     "--memory-mib", "64", env=env).stdout.strip()
    skyport("app", "publish", "--state-dir", STATE, app_id, "--version", "1.0.0", "--command", "python3 demo_app.py",
            env=env)
    skyport("package", "install", "--state-dir", STATE, app_id, "1.0.0", "Services/StreamHost/DemoApp")
    skyport("entitlement", "grant", "--state-dir", STATE, app_id, "bob", env=env)

    def hosts_hold_package():
        for dc in ("dc1", "dc2"):
            code, hosts, _ = call(f"hostmgr-{dc}", "skyport.hostmgr.v1.HostManager/ListHosts")
            if code != 0 or not any(p.get("appId") == app_id for h in hosts.get("hosts", []) for p in h.get("packages", [])):
                return False
        return True
    check("both data centres learn of the installed package from their hosts", eventually(hosts_hold_package, 20))

    def token():
        requested = skyport("session", "request", "--state-dir", STATE, app_id, "bob", env=env)
        found = re.search(r"^token:\s+(skt1\.\S+)$", requested.stdout, re.M)
        return found.group(1) if found else None

    redemption_pb2, redemption_grpc = python_stubs("redemption")
    redemption = state()["redemption"]["address"]
    ca = open(os.path.join(STATE, "tls", "ca.pem"), "rb").read()
    # The public surface: TLS without a client certificate, as a thin client connects.
    public = grpc.ssl_channel_credentials(root_certificates=ca)

    def redeem(text, forwarded=None):
        with grpc.secure_channel(redemption, public) as channel:
            stub = redemption_grpc.RedemptionStub(channel)
            metadata = [("x-forwarded-for", forwarded)] if forwarded else None
            try:
                return grpc.StatusCode.OK, stub.Redeem(redemption_pb2.RedeemRequest(token_text=text), timeout=30,
                                                       metadata=metadata)
            except grpc.RpcError as error:
                return error.code(), error.details()

    # 100 concurrent redemptions of one token, from grpcio: exactly one wins, everywhere.
    text = token()
    results = []
    lock = threading.Lock()

    def race(index):
        outcome = redeem(text, "198.51.100.7" if index % 2 else "192.0.2.10")
        with lock:
            results.append(outcome)
    threads = [threading.Thread(target=race, args=(i,)) for i in range(100)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    codes = [code for code, _ in results]
    check("100 concurrent redemptions of one token (grpcio, both data centres): exactly one succeeds",
          codes.count(grpc.StatusCode.OK) == 1 and codes.count(grpc.StatusCode.FAILED_PRECONDITION) == 99,
          f"{ {c.name: codes.count(c) for c in set(codes)} }")

    # A token with one bit flipped, and garbage, are refused with clear statuses.
    text = token()
    flipped = text[:20] + ("A" if text[20] != "A" else "B") + text[21:]
    code, _ = redeem(flipped)
    check("a token with a flipped bit is refused (UNAUTHENTICATED or INVALID_ARGUMENT)",
          code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.INVALID_ARGUMENT), f"{code}")

    # A stream host killed with SIGKILL: its sessions are lost within 3 heartbeat intervals (2 s here).
    # (A forward that failed under the race above marks its data centre down until the next probe.)
    def dc1_first():
        code, decision, _ = call("redemption", "skyport.redemption.v1.Redemption/ExplainRoute",
                                 '{"clientAddress": "192.0.2.10"}')
        return code == 0 and decision and decision["candidates"][0]["datacentreId"] == "dc1"
    eventually(dc1_first, timeout=10)
    code, placed = redeem(text, "192.0.2.10")
    if check("a session placed in dc1 (provisioned, client not connected yet)",
             code == grpc.StatusCode.OK and placed.datacentre == "dc1", f"{code} {placed}"):
        host = state()["streamhost-dc1"]
        killed_at = time.time()
        os.kill(host["pid"], signal.SIGKILL)

        def lost():
            code, sessions, _ = call("hostmgr-dc1", "skyport.hostmgr.v1.HostManager/ListSessions")
            return code == 0 and next((s for s in sessions.get("sessions", [])
                                       if s["sessionId"] == placed.session_id and s.get("state") == "lost"), None)
        # Judged by when host management ended the session (its own clock), not by when a poll saw it.
        session = eventually(lost, timeout=20)
        after = int(session.get("endedAtUnixMs", 0)) / 1000 - killed_at if session else None
        check("after SIGKILL of its stream host the session is marked lost within 3 intervals (+1 s tick)",
              after is not None and 0 < after <= 3 * 2 + 2, f"{after} s after the kill")
        restarted = up()
        check("skyport up restarts the killed stream host", restarted.returncode == 0, restarted.stderr[-800:])

    # A store that disagrees with a heartbeat is corrected: a phantom instance written straight into
    # hostmgr-dc2's database ends once the host's next heartbeat (every 2 s) does not report it.
    code, status, err = call("streamhost-dc2", "skyport.streamhost.v1.StreamHost/GetStatus")
    database = os.path.join(STATE, "data", "hostmgr-dc2", "hostmgr.sqlite3")
    if check("the stream host of dc2 reports its id", code == 0 and status, f"{code} {err}"):
        with sqlite3.connect(database, timeout=10) as db:
            db.execute("INSERT INTO instances (instance_id, host_id, app_id, version_id, seats, sessions, cpu_units, "
                       "memory_mib, state, started_at_ms) VALUES ('inst-phantom', ?, 'app_phantom', '1.0.0', 1, 0, 1, "
                       "64, 'idle', ?)", (status["hostId"], int(time.time() * 1000) - 60_000))

        def corrected():
            with sqlite3.connect(database, timeout=10) as db:
                row = db.execute("SELECT state, end_reason FROM instances WHERE instance_id = 'inst-phantom'").fetchone()
            return row if row and row[0] == "ended" else None
        row = eventually(corrected, timeout=15)
        log = open(os.path.join(STATE, "logs", "hostmgr-dc2.log")).read()
        check("a store row the host's heartbeat contradicts is corrected from the host's actual state",
              row == ("ended", "not on host") and "corrected the store from a host's actual state" in log, f"{row}")

    # Routing around a data centre that is down: near dc2, but dc2's host management is stopped.
    hostmgr2 = state()["hostmgr-dc2"]
    os.kill(hostmgr2["pid"], signal.SIGTERM)

    def dc2_down():
        code, decision, _ = call("redemption", "skyport.redemption.v1.Redemption/ExplainRoute",
                                 '{"clientAddress": "198.51.100.7"}')
        return decision if code == 0 and decision and decision["candidates"][0]["datacentreId"] == "dc1" else None
    decision = eventually(dc2_down, timeout=20)
    check("with dc2 down, a client near dc2 is routed to dc1 (and the decision says why)",
          decision is not None and any(c.get("skippedBecause") for c in decision["candidates"]
                                       if c["datacentreId"] == "dc2"), f"{decision}")
    code, placed = redeem(token(), "198.51.100.7")
    check("a redemption near dc2 while dc2 is down lands in dc1",
          code == grpc.StatusCode.OK and placed.datacentre == "dc1", f"{code} {placed}")
    restarted = up()
    check("skyport up restarts host management dc2", restarted.returncode == 0, restarted.stderr[-800:])


def test_down(instances):
    pids = {name: state()[name]["pid"] for name in instances}
    result = skyport("down", "--state-dir", STATE, timeout=60)
    check("skyport down exits 0", result.returncode == 0, result.stdout + result.stderr)
    alive = [name for name, pid in pids.items()
             if os.path.exists(f"/proc/{pid}") and open(f"/proc/{pid}/stat").read().split()[2] != "Z"]
    check("every service process is gone", not alive, str(alive))
    logs_ok = all(open(os.path.join(STATE, "logs", f"{name}.log")).read().rstrip().endswith("msg=stopped")
                  for name in instances)
    check("every service logged a clean stop", logs_ok)
    status = skyport("status", "--state-dir", STATE)
    check("skyport status after down reports no suite", status.returncode == 1, status.stdout)


def main():
    report = None
    try:
        report = test_up_and_health()
        if report:
            idle = {name: rss_kib(instance["pid"]) for name, instance in report["instances"].items()}
            test_one_real_method_per_service()
            test_metrics(report["instances"])
            test_sigterm_mid_stream(report["instances"])
            test_sessions()
            test_down(report["instances"])
            print(f"cold start of the suite: {report['cold_start_ms']} ms (skyport up wall time {report['wall_s']:.2f} s)")
            print("idle RSS per service (KiB): " + ", ".join(f"{name} {kib}" for name, kib in sorted(idle.items())))
    finally:
        if os.path.exists(os.path.join(STATE, "suite.json")):
            skyport("down", "--state-dir", STATE, "--timeout", "5", timeout=60)
        if FAILED and os.environ.get("SUITE_KEEP_STATE") is None:
            for log in sorted(os.listdir(os.path.join(STATE, "logs"))) if os.path.isdir(os.path.join(STATE, "logs")) else []:
                print(f"--- {log} (last 15 lines)")
                print("\n".join(open(os.path.join(STATE, "logs", log)).read().splitlines()[-15:]))
        if os.environ.get("SUITE_KEEP_STATE") is None:
            shutil.rmtree(STATE, ignore_errors=True)
        else:
            print(f"state kept in {STATE}")
    print(f"suite: {PASSED} passed, {FAILED} failed")
    sys.exit(1 if FAILED else 0)


if __name__ == "__main__":
    main()
