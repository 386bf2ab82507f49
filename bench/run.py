"""`make bench`: the service's speed, measured against its own ceiling.

Starts `server.py` in its production configuration (the default settings, request
log on, SQLite in a directory of its own under bench/var/) over a generated
deployment, and drives it from separate load processes (bench/load.py), so that the
client never shares the server's interpreter. Every operation is measured at each
concurrency in the same run as a no-op RPC (Ping) through the same server stack, and
reported as a ratio to it: absolute figures on a shared 2-core machine vary by a
third from run to run, ratios measured together do not. The real ceiling of Python
gRPC here is lower than that Ping, though: the bare server of bench/bare.py (plain
grpcio, 32 threads, no interceptor, a no-op) is measured too, beside Ping and every
gRPC token call, at 16 calls in flight on 1 channel and 64 on 4 from one load
process, in interleaved rounds, and each median reported as a share of it (and of
Ping). bench/gateway.py drives the HTTP gateway's token calls with wrk, beside a
Keystone given by URL when there is one. Then bench/flood.py measures the hot path under a flood of wrong passwords
against its quiet self, and bench/soak.py drives a long mixed session and checks the
server gives its memory back.

    bench/run.py [--sizes small,large] [--duration 3] [--concurrency 1,16,64]
                 [--only speed|ceiling|gateway|soak]
                 [--skip runs,ceiling,scaling,gateway,flood,soak]
                 [--ceiling-rounds 3] [--soak-duration 75]
                 [--keystone URL --keystone-password P ...]  (bench/gateway.py)

The large deployment (a million users) is generated once and kept in bench/var/large
for the next run. Figures go to stdout and, as JSON, to bench/results-<time>.json and
bench/latest.json.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import grpc

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from identity_api.v1 import identity_pb2 as pb  # noqa: E402
from identity_api.v1 import identity_pb2_grpc as rpc  # noqa: E402

import flood  # noqa: E402
import gateway  # noqa: E402
from bare import BareServer  # noqa: E402
import micro  # noqa: E402
import soak  # noqa: E402

OPERATIONS = ("noop", "password", "rescope", "validate", "list_projects", "catalog")
PROBE = {"username": "gen-user-00000000", "user_domain": "gen-domain-00000",
         "password": "generated-password"}
SERVICE_USER, SERVICE_PASSWORD = "bench-service", "bench-service-password"
ADMIN_PASSWORD = "bench-admin-password"
# (operation, its least share of the no-op ceiling), at every concurrency measured.
CEILING_TARGETS = (("validate", 0.50), ("list_projects", 0.35), ("catalog", 0.35),
                   ("rescope", 0.40))
VALIDATE_P99_MS, VALIDATE_P99_AT = 10.0, 16
# The bare ceiling (bench/bare.py: plain grpcio, 32 threads, no interceptor, a no-op),
# measured beside the service's gRPC calls at each (calls in flight, channels) from
# one load process, in interleaved rounds; issue 13's least shares of it, and the
# most ValidateToken's p99 may be as a multiple of the ceiling's own at that load.
BARE_LOADS = ((16, 1), (64, 4))
BARE_OPS = ("noop", "validate", "list_projects", "catalog", "rescope")
BARE_TARGETS = (("noop", 0.90), ("validate", 0.80), ("list_projects", 0.75),
                ("catalog", 0.75), ("rescope", 0.60))
VALIDATE_P99_OF_BARE = 1.3
PARTS = ("runs", "ceiling", "scaling", "gateway", "flood", "soak")
PASSWORD_SHARE_OF_ARGON2 = 0.90  # issue 13: of raw argon2 on every core
PASSWORD_PAIRS = 3
MIDDLEWARE_US = 50.0
SCALE_LATENCY_RATIO = 1.25
SERVER_MEMORY_MB = 300.0
# `processes = auto` (one pinned worker per core) against one unpinned process, for
# ValidateToken at the top concurrency (8 connections): issue 13's least gain.
AUTO_SCALING = 1.7
SCALING_PLACEMENTS = (("one unpinned", 1, {"IDENTITY_CPU_AFFINITY": "off"}), ("auto", "auto", {}))
CATALOG = (("compute", "nova", "http://compute.example.test:8774/v2.1/$(project_id)s"),
           ("image", "glance", "http://image.example.test:9292"),
           ("network", "neutron", "http://network.example.test:9696"),
           ("volumev3", "cinderv3", "http://volume.example.test:8776/v3/$(project_id)s"),
           ("object-store", "swift", "http://object.example.test:8080/v1/AUTH_$(project_id)s"))


# ---- the deployment -------------------------------------------------------------------------

def manage(config: Path, *args: str) -> None:
    subprocess.run([sys.executable, "-m", "identity_grpc.manage", "--config", str(config), *args],
                   check=True, cwd=ROOT, env=dict(os.environ, IDENTITY_ADMIN_PASSWORD=ADMIN_PASSWORD))


def prepare(size: str) -> Path:
    """The deployment of `size`, generated unless a complete one is already there."""
    home = ROOT / "bench" / "var" / size
    config = home / "identity.toml"
    if (home / "ready").exists():
        return config
    shutil.rmtree(home, ignore_errors=True)  # a generation cut short: start over
    home.mkdir(parents=True, exist_ok=True)
    config.write_text("\n".join([
        f'database_url = "sqlite:///{home}/identity.db"',
        f'key_dir = "{home}/keys"',
        f'admin_password_file = "{home}/admin-password"',
        'listen = "127.0.0.1:0"',
        'http_listen = "127.0.0.1:0"',
    ]) + "\n")
    print(f"[{size}] generating the deployment in {home} ...", flush=True)
    manage(config, "setup")
    manage(config, "generate", "--size", size)
    add_bench_accounts(config)
    (home / "ready").write_text(time.strftime("%Y-%m-%d %H:%M:%S\n"))
    return config


def add_bench_accounts(config: Path) -> None:
    """A service user (ValidateToken's caller) and a catalog of the usual size."""
    from identity_grpc.bootstrap import Seeder
    from identity_grpc.config import load_settings
    from identity_grpc.core import Core

    core = Core(load_settings(str(config)))
    try:
        seed = Seeder(core)
        service = seed.user(SERVICE_USER, SERVICE_PASSWORD)
        seed.grant("service", "project", seed.project("service"), user_id=service)
        for service_type, name, url in CATALOG:
            for interface in ("public", "internal", "admin"):
                seed.endpoint(service_type, name, url, interface)
    finally:
        core.close()


# ---- the server -----------------------------------------------------------------------------

class Server:
    def __init__(self, config: Path, processes: int | str = "auto", env: dict | None = None):
        """`processes`: the setting, a count or "auto"; `env` may override it."""
        log = open(config.parent / "server.log", "ab")
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "IDENTITY_PROCESSES": str(processes),
               **(env or {})}
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "server.py"), "--config",
                                      str(config)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                     stderr=log, text=True)
        line = self.proc.stdout.readline()
        if "gRPC on" not in line:
            self.proc.kill()
            raise RuntimeError(f"server did not start (see {config.parent}/server.log)")
        self.address = line.split(" on ", 1)[1].strip()
        self.http_url = "http://" + self.proc.stdout.readline().split(" on ", 1)[1].strip()

    def pids(self) -> list[int]:
        """The server process and its workers (spawned children), if any."""
        found = [self.proc.pid]
        for entry in Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and int((entry / "stat").read_text()
                                                 .rsplit(")", 1)[1].split()[1]) == self.proc.pid:
                    found.append(int(entry.name))
            except (OSError, ValueError):
                continue
        return found

    def memory_mb(self) -> dict:
        """Peak and current resident memory of the largest server process."""
        peak = current = 0.0
        for pid in self.pids():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            peak = max(peak, int(fields["VmHWM"].split()[0]) / 1024)
            current = max(current, int(fields["VmRSS"].split()[0]) / 1024)
        return {"peak_mb": round(peak, 1), "rss_mb": round(current, 1)}

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def tokens_for(address: str) -> tuple[dict, str, int]:
    """The probe user's unscoped and project-scoped tokens, a service token, the
    project the probe user scopes to, and how many projects it sees."""
    with grpc.insecure_channel(address) as channel:
        stub = rpc.IdentityStub(channel)

        def login(username, domain, password, scope=None):
            user = pb.UserSelector(name=username, domain=pb.DomainSelector(name=domain))
            request = pb.AuthenticateRequest(
                password=pb.PasswordMethod(user=user, password=password), no_catalog=True)
            if scope is not None:
                request.scope.CopyFrom(scope)
            return stub.Authenticate(request).token

        unscoped = login(PROBE["username"], PROBE["user_domain"], PROBE["password"])
        projects = stub.ListProjects(pb.ListProjectsRequest(),
                                     metadata=(("x-auth-token", unscoped),)).projects
        project_id = sorted(p.id for p in projects)[0]
        scope = pb.Scope(project=pb.ProjectSelector(id=project_id))
        service_scope = pb.Scope(project=pb.ProjectSelector(
            name="service", domain=pb.DomainSelector(name="Default")))
        return {"user": unscoped,
                "project": login(PROBE["username"], PROBE["user_domain"], PROBE["password"], scope),
                "service": login(SERVICE_USER, "Default", SERVICE_PASSWORD, service_scope)
                }, project_id, len(projects)


# ---- load -----------------------------------------------------------------------------------

def measure(address: str, op: str, concurrency: int, duration: float, tokens: dict,
            project_id: str, processes: int | None = None, channels: int | None = None) -> dict:
    """`concurrency` calls in flight, from two load processes (one at concurrency 1)
    of 4 channels each (1 at concurrency 1), unless told how many of each."""
    processes = processes or (1 if concurrency == 1 else 2)
    shares = [concurrency // processes + (i < concurrency % processes) for i in range(processes)]
    start_at = time.time() + 2.0  # time to start Python and connect, then a warm-up
    jobs = [dict(PROBE, address=address, op=op, concurrency=share, duration=duration,
                 start_at=start_at, channels=channels or (1 if share == 1 else 4),
                 tokens=tokens, project_id=project_id) for share in shares]
    loads = [subprocess.Popen([sys.executable, str(ROOT / "bench" / "load.py")], cwd=ROOT,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
             for _ in jobs]
    for load, job in zip(loads, jobs):
        load.stdin.write(json.dumps(job))
        load.stdin.close()
    results = [json.loads(load.stdout.read()) for load in loads]
    for load in loads:
        load.wait()
    latencies = sorted(x for r in results for x in r["latencies"])
    errors = sum(r["error_count"] for r in results)
    if errors:
        print(f"  {op} at {concurrency}: {errors} errors, e.g. "
              f"{[e for r in results for e in r['errors']][:2]}", file=sys.stderr)
    count = len(latencies)
    return {"op": op, "concurrency": concurrency, "calls": count, "errors": errors,
            "rps": round(count / duration, 1),
            "p50_ms": round(percentile(latencies, 50) * 1000, 3),
            "p99_ms": round(percentile(latencies, 99) * 1000, 3)}


def measure_password(address: str, concurrency: int, args, tokens: dict, project_id: str,
                     argon2: dict) -> tuple[dict, dict]:
    """Password authentication beside its yardstick, the raw argon2 rate: each pair
    measured back to back, PASSWORD_PAIRS times, and the pair of median ratio kept.
    The machine's speed drifts by a third over a run; a pair shares its moment."""
    threads = 1 if concurrency == 1 else os.cpu_count() or 1
    pairs = []
    for _ in range(PASSWORD_PAIRS):
        rate = micro.argon2_verify_rate(**argon2, threads=threads, seconds=2.0)
        run = measure(address, "password", concurrency, args.duration, tokens, project_id)
        pairs.append((run["rps"] / rate, rate, run))
    pairs.sort(key=lambda pair: pair[0])
    _, rate, run = pairs[len(pairs) // 2]
    return run, {"threads": threads, "rate": round(rate, 1),
                 "ratios": [round(ratio, 3) for ratio, _, _ in pairs]}


def measure_ceiling(server: Server, args, tokens: dict, project_id: str) -> dict:
    """Every gRPC token call and the service's Ping beside the bare ceiling, at each of
    BARE_LOADS from one load process, in `args.ceiling_rounds` interleaved rounds
    (the machine drifts within a run: a round shares its moment); the medians, each
    as a share of the ceiling's median and of the service's own Ping."""
    bare, pinned = BareServer(), BareServer(cpu=0)
    rounds: dict[tuple[int, str], list[dict]] = {}
    try:
        for round_ in range(args.ceiling_rounds):
            for in_flight, channels in BARE_LOADS:
                for name, target, op in [("bare", bare, "noop"), ("bare_pinned", pinned, "noop")] + [
                        (op, server, op) for op in BARE_OPS]:
                    run = measure(target.address, op, in_flight, args.duration, tokens,
                                  project_id, processes=1, channels=channels)
                    rounds.setdefault((in_flight, name), []).append(run)
                    print(f"[ceiling round {round_ + 1}] {name:>13} c={in_flight:<3} "
                          f"{channels} channel(s) {run['rps']:>9.1f} req/s  "
                          f"p99 {run['p99_ms']:8.2f} ms", flush=True)
    finally:
        bare.stop()
        pinned.stop()
    loads = []
    for in_flight, channels in BARE_LOADS:
        def median(name, key):
            return statistics.median(r[key] for r in rounds[(in_flight, name)])
        ceiling, ping = median("bare", "rps"), median("noop", "rps")
        rows = [{"op": name, "rps": median(name, "rps"), "p50_ms": median(name, "p50_ms"),
                 "p99_ms": median(name, "p99_ms"),
                 "share_of_bare": round(median(name, "rps") / ceiling, 3),
                 "share_of_ping": round(median(name, "rps") / ping, 3),
                 "rounds_rps": [r["rps"] for r in rounds[(in_flight, name)]],
                 "errors": sum(r["errors"] for r in rounds[(in_flight, name)])}
                for name in ("bare", "bare_pinned", *BARE_OPS)]
        loads.append({"concurrency": in_flight, "channels": channels, "load_processes": 1,
                      "rows": rows, "validate_p99_of_bare": round(
                          median("validate", "p99_ms") / median("bare", "p99_ms"), 2)})
    return {"rounds": args.ceiling_rounds, "duration": args.duration,
            "server_threads": BareServer.THREADS, "loads": loads}


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * p / 100))]


def bench_size(size: str, args) -> dict:
    from identity_grpc.config import load_settings

    config = prepare(size)
    settings = load_settings(str(config))
    result = {"size": size, "runs": [], "scaling": []}
    server = Server(config)
    try:
        tokens, project_id, result["probe_projects"] = tokens_for(server.address)
        if "runs" in args.parts:
            measure_runs(server, args, result, tokens, project_id, hash_parameters(settings))
        if "ceiling" in args.parts and args.ceiling_rounds > 0:
            result["ceiling"] = measure_ceiling(server, args, tokens, project_id)
        if "gateway" in args.parts:
            why = gateway.available()
            if why:
                print(f"[{size}] gateway figures skipped: {why}", flush=True)
                result["gateway"] = {"skipped": why}
            else:
                result["gateway"] = gateway.run(gateway.target_for(
                    "ours", server.http_url, PROBE["username"], PROBE["password"],
                    user_domain=PROBE["user_domain"]), args)
    finally:
        server.stop()
    top = max(args.concurrency)
    for placement, processes, env in SCALING_PLACEMENTS if "scaling" in args.parts else ():
        server = Server(config, processes, env)
        try:
            for op in ("noop", "validate"):
                run = measure(server.address, op, top, args.duration, tokens, project_id)
                run["placement"] = placement
                result["scaling"].append(run)
                print(f"[{size}] {placement:>12} {op:>9} c={top:<3} {run['rps']:>9.1f} req/s",
                      flush=True)
        finally:
            server.stop()
    if "flood" in args.parts:
        result["flood"] = flood.run(lambda env: Server(config, env=env), args.duration, tokens,
                                    project_id)
    return result


def measure_runs(server: Server, args, result: dict, tokens: dict, project_id: str,
                 argon2: dict) -> None:
    """Every operation at each concurrency beside the service's own Ping, the
    middleware's check and the server's memory, into `result`."""
    size = result["size"]
    result["argon2"] = {"parameters": argon2, "beside_password": {}}
    for concurrency in args.concurrency:
        for op in OPERATIONS:
            if op == "password":
                run, yardstick = measure_password(server.address, concurrency, args,
                                                  tokens, project_id, argon2)
                result["argon2"]["beside_password"][str(concurrency)] = yardstick
            else:
                run = measure(server.address, op, concurrency, args.duration, tokens,
                              project_id)
            result["runs"].append(run)
            print(f"[{size}] {op:>13} c={concurrency:<3} {run['rps']:>9.1f} req/s  "
                  f"p50 {run['p50_ms']:8.2f} ms  p99 {run['p99_ms']:8.2f} ms", flush=True)
    result["server_memory"] = server.memory_mb()
    result["middleware"] = micro.middleware_check(
        server.address, SERVICE_USER, SERVICE_PASSWORD, "service",
        [tokens["project"]] + fresh_tokens(server.address, tokens["user"], project_id, 200))


def hash_parameters(settings) -> dict:
    return {"time_cost": settings.argon2_time_cost, "memory_kib": settings.argon2_memory_kib,
            "parallelism": settings.argon2_parallelism}


def fresh_tokens(address: str, unscoped: str, project_id: str, count: int) -> list[str]:
    with grpc.insecure_channel(address) as channel:
        stub = rpc.IdentityStub(channel)
        request = pb.AuthenticateRequest(token=pb.TokenMethod(token=unscoped), no_catalog=True,
                                         scope=pb.Scope(project=pb.ProjectSelector(id=project_id)))
        return [stub.Authenticate(request).token for _ in range(count)]


# ---- verdicts -------------------------------------------------------------------------------

def verdicts(result: dict, small: dict | None) -> list[dict]:
    """Every target of the issue with the figure measured against it."""
    runs = {(r["op"], r["concurrency"]): r for r in result["runs"]}
    checks = []

    def check(name, figure, target, met, unit=""):
        checks.append({"target": name, "figure": figure, "limit": target, "unit": unit,
                       "met": bool(met)})

    for concurrency in sorted({c for _, c in runs}):
        ceiling = runs[("noop", concurrency)]["rps"]
        for op, share in CEILING_TARGETS:
            ratio = runs[(op, concurrency)]["rps"] / ceiling
            check(f"{op} c={concurrency} / no-op", round(ratio, 3), f">= {share}", ratio >= share)
    if ("validate", VALIDATE_P99_AT) in runs:
        p99 = runs[("validate", VALIDATE_P99_AT)]["p99_ms"]
        ceiling_p99 = runs[("noop", VALIDATE_P99_AT)]["p99_ms"]  # the stack's own tail
        check(f"validate p99 at c={VALIDATE_P99_AT} (no-op's: {ceiling_p99:.1f} ms)", p99,
              f"<= {VALIDATE_P99_MS}", p99 <= VALIDATE_P99_MS, "ms")
    for load in result.get("ceiling", {}).get("loads", ()):
        rows = {row["op"]: row for row in load["rows"]}
        where = f"c={load['concurrency']}, {load['channels']} channel(s)"
        for op, share in BARE_TARGETS:
            ratio = rows[op]["share_of_bare"]
            check(f"{op} {where} / bare ceiling", ratio, f">= {share}", ratio >= share)
        ratio = load["validate_p99_of_bare"]
        check(f"validate p99 {where} / bare's (bare: {rows['bare']['p99_ms']:.1f} ms)", ratio,
              f"<= {VALIDATE_P99_OF_BARE}", ratio <= VALIDATE_P99_OF_BARE, "x")
    for row in result.get("gateway", {}).get("rows", ()):
        where = f"gateway {row['op']} c={row['connections']}"
        if "share_of_keystone" in row:
            check(f"{where} / Keystone", row["share_of_keystone"], f">= {gateway.TARGET_SHARE}",
                  row["share_of_keystone"] >= gateway.TARGET_SHARE, "x")
        if row["target"] == "ours":
            check(f"{where}: answers not 2xx", row["errors"], "== 0", row["errors"] == 0)
    scaling = {(r["op"], r["placement"]): r for r in result.get("scaling", ())}
    if ("validate", "auto") in scaling:
        one, auto = scaling[("validate", "one unpinned")], scaling[("validate", "auto")]
        gain = auto["rps"] / one["rps"]
        check(f"validate c={auto['concurrency']}, processes = auto / one unpinned",
              round(gain, 3), f">= {AUTO_SCALING}", gain >= AUTO_SCALING, "x")
    for concurrency in sorted({c for _, c in runs}):
        raw = result["argon2"]["beside_password"][str(concurrency)]
        ratio = runs[("password", concurrency)]["rps"] / raw["rate"]
        check(f"password c={concurrency} / raw argon2 ({raw['threads']} thread)",
              round(ratio, 3), f">= {PASSWORD_SHARE_OF_ARGON2}", ratio >= PASSWORD_SHARE_OF_ARGON2)
    if "middleware" not in result:  # the runs were skipped
        return checks
    middleware = result["middleware"]
    check("middleware local check", round(middleware["check_us"], 2), f"<= {MIDDLEWARE_US}",
          middleware["check_us"] <= MIDDLEWARE_US, "us")
    check("middleware local check, through WSGI", round(middleware["wsgi_us"], 2),
          f"<= {MIDDLEWARE_US}", middleware["wsgi_us"] <= MIDDLEWARE_US, "us")
    memory = result["server_memory"]["peak_mb"]
    check("server peak memory", memory, f"< {SERVER_MEMORY_MB}", memory < SERVER_MEMORY_MB, "MB")
    if small is not None:
        base = {(r["op"], r["concurrency"]): r for r in small["runs"]}
        for (op, concurrency), run in sorted(runs.items()):
            if op == "noop" or concurrency != 1 or (op, concurrency) not in base:
                continue
            ratio = run["p50_ms"] / base[(op, concurrency)]["p50_ms"]
            check(f"{op} c=1 p50, {result['size']} / {small['size']}", round(ratio, 3),
                  f"<= {SCALE_LATENCY_RATIO}", ratio <= SCALE_LATENCY_RATIO)
    return checks


def report(result: dict) -> None:
    print(f"\n== {result['size']} deployment (probe user sees {result['probe_projects']} projects)")
    if result["runs"]:
        report_runs(result)
    if "ceiling" in result:
        report_ceiling(result["ceiling"])
    if result.get("gateway", {}).get("rows"):
        gateway.report(result["gateway"])
    elif "gateway" in result:
        print(f"gateway figures skipped: {result['gateway']['skipped']}")
    scaling = {(r["op"], r["placement"]): r["rps"] for r in result["scaling"]}
    for op in ("noop", "validate") if scaling else ():
        one, auto = scaling[(op, "one unpinned")], scaling[(op, "auto")]
        print(f"one unpinned process -> processes = auto, {op}: {one} -> {auto} req/s "
              f"(x{auto / one:.2f})")
    if "flood" in result:
        flood.report(result["flood"])
    print(f"{'target':>48} {'figure':>9} {'limit':>8}")
    for c in result["verdicts"]:
        print(f"{c['target']:>48} {c['figure']:>9} {c['limit']:>8} {c['unit']:<3}"
              f"{'met' if c['met'] else 'MISSED'}")


def report_ceiling(ceiling: dict) -> None:
    print(f"beside the bare ceiling (medians of {ceiling['rounds']} interleaved rounds, "
          f"{ceiling['duration']:g} s each, one load process):")
    print(f"{'operation':>14} {'c':>3} {'ch':>2} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'/ bare':>7} {'/ Ping':>7}")
    for load in ceiling["loads"]:
        for row in load["rows"]:
            print(f"{row['op']:>14} {load['concurrency']:>3} {load['channels']:>2} "
                  f"{row['rps']:>9.1f} {row['p50_ms']:>8.2f} {row['p99_ms']:>8.2f} "
                  f"{row['share_of_bare']:>7.3f} {row['share_of_ping']:>7.3f}")
        print(f"{'':>14} validate p99 / bare p99 at c={load['concurrency']}: "
              f"x{load['validate_p99_of_bare']}")


def report_runs(result: dict) -> None:
    runs = {(r["op"], r["concurrency"]): r for r in result["runs"]}
    print(f"{'operation':>14} {'c':>3} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'/ no-op':>8}")
    for (op, concurrency), run in sorted(runs.items(), key=lambda kv: (kv[0][1], OPERATIONS.index(kv[0][0]))):
        ratio = run["rps"] / runs[("noop", concurrency)]["rps"]
        print(f"{op:>14} {concurrency:>3} {run['rps']:>9.1f} {run['p50_ms']:>8.2f} "
              f"{run['p99_ms']:>8.2f} {ratio:>8.3f}")
    print("raw argon2 verify/s beside the password runs (median of 3 pairs): " + ", ".join(
        f"c={c}: {raw['rate']} on {raw['threads']} thread(s), ratios {raw['ratios']}"
        for c, raw in result["argon2"]["beside_password"].items()))
    m = result["middleware"]
    print(f"middleware: local check {m['check_us']:.2f} us, through WSGI {m['wsgi_us']:.2f} us, "
          f"first sight of a token {m['first_sight_us']:.0f} us (one ValidateToken call)")
    print(f"server memory: peak {result['server_memory']['peak_mb']} MB")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="small",
                        help="comma-separated deployment sizes: small, large (default small)")
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per measurement")
    parser.add_argument("--concurrency", default="1,16,64",
                        help="calls in flight, comma-separated (default 1,16,64)")
    parser.add_argument("--only", choices=("speed", "ceiling", "gateway", "soak"),
                        help="only the speed runs (per size: every part but the soak), only "
                             "the bare-ceiling comparison, only the HTTP gateway under wrk, "
                             "or only the memory soak")
    parser.add_argument("--skip", default="",
                        help=f"comma-separated parts not to run, of {', '.join(PARTS)} (runs: "
                             "every operation beside the service's Ping at each concurrency)")
    parser.add_argument("--ceiling-rounds", type=int, default=3,
                        help="interleaved rounds beside the bare ceiling (default 3; 0: none)")
    parser.add_argument("--soak-duration", type=float, default=75.0,
                        help="seconds of the soak's mixed session (default 75; 0: no soak)")
    gateway.add_arguments(parser)
    args = parser.parse_args(argv)
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    skipped = {p.strip() for p in args.skip.split(",") if p.strip()}
    if unknown := skipped - set(PARTS):
        parser.error(f"unknown part(s) {sorted(unknown)} to skip: use {', '.join(PARTS)}")
    only = {"speed": set(PARTS) - {"soak"}, "ceiling": {"ceiling"}, "gateway": {"gateway"},
            "soak": {"soak"}}
    args.parts = only.get(args.only, set(PARTS)) - skipped
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    if unknown := set(sizes) - {"small", "large"}:
        parser.error(f"unknown size(s) {sorted(unknown)}: use small and/or large")
    results = []
    for size in sizes if args.parts - {"soak"} else ():
        result = bench_size(size, args)
        small = results[0] if results and results[0]["size"] == "small" else None
        result["verdicts"] = verdicts(result, small) + result.get("flood", {}).get("verdicts", [])
        results.append(result)
    soaked = None
    if "soak" in args.parts and args.soak_duration > 0:
        soaked = soak.soak(args.soak_duration)
    for result in results:
        report(result)
    if soaked is not None:
        soak.report(soaked)
    document = {"when": time.strftime("%Y-%m-%dT%H:%M:%S"), "cpus": os.cpu_count(),
                "duration": args.duration, "results": results, "soak": soaked}
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for name in (f"results-{stamp}.json", "latest.json"):
        (ROOT / "bench" / name).write_text(json.dumps(document, indent=2) + "\n")
    missed = [c["target"] for r in results for c in r["verdicts"] if not c["met"]]
    missed += [c["target"] for c in (soaked or {}).get("verdicts", []) if not c["met"]]
    print(f"\nfigures in bench/results-{stamp}.json; "
          + (f"{len(missed)} target(s) missed" if missed else "every target met"))
    return 0

if __name__ == "__main__":
    sys.exit(main())
