"""`make bench`: the service's speed, measured against its own ceiling.

Starts `server.py` in its production configuration (the default settings, request
log on, SQLite in a directory of its own under bench/var/) over a generated
deployment, and drives it from separate load processes (bench/load.py), so that the
client never shares the server's interpreter. Every operation is measured at each
concurrency in the same run as a no-op RPC (Ping) through the same server stack, and
reported as a ratio to it: absolute figures on a shared 2-core machine vary by a
third from run to run, ratios measured together do not. Then bench/flood.py
measures the hot path under a flood of wrong passwords against its quiet self, and
bench/soak.py drives a long mixed session and checks the server gives its memory back.

    bench/run.py [--sizes small,large] [--duration 3] [--concurrency 1,16,64]
                 [--only speed|soak] [--soak-duration 75]

The large deployment (a million users) is generated once and kept in bench/var/large
for the next run. Figures go to stdout and, as JSON, to bench/results-<time>.json and
bench/latest.json.
"""

import argparse
import json
import os
import shutil
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
PASSWORD_SHARE_OF_ARGON2 = 0.85
PASSWORD_PAIRS = 3
MIDDLEWARE_US = 50.0
SCALE_LATENCY_RATIO = 1.25
SERVER_MEMORY_MB = 300.0
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
    def __init__(self, config: Path, processes: int = 1, env: dict | None = None):
        log = open(config.parent / "server.log", "ab")
        env = dict(os.environ, PYTHONUNBUFFERED="1", IDENTITY_PROCESSES=str(processes),
                   **(env or {}))
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "server.py"), "--config",
                                      str(config)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                     stderr=log, text=True)
        line = self.proc.stdout.readline()
        if "gRPC on" not in line:
            self.proc.kill()
            raise RuntimeError(f"server did not start (see {config.parent}/server.log)")
        self.address = line.split(" on ", 1)[1].strip()

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
            project_id: str) -> dict:
    """`concurrency` calls in flight, from two load processes (one at concurrency 1)."""
    processes = 1 if concurrency == 1 else 2
    shares = [concurrency // processes + (i < concurrency % processes) for i in range(processes)]
    start_at = time.time() + 2.0  # time to start Python and connect, then a warm-up
    jobs = [dict(PROBE, address=address, op=op, concurrency=share, duration=duration,
                 start_at=start_at, channels=1 if share == 1 else 4, tokens=tokens,
                 project_id=project_id) for share in shares]
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
        argon2 = hash_parameters(settings)
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
    finally:
        server.stop()
    top = max(args.concurrency)
    for processes in (1, 2):
        server = Server(config, processes)
        try:
            for op in ("noop", "validate"):
                run = measure(server.address, op, top, args.duration, tokens, project_id)
                run["processes"] = processes
                result["scaling"].append(run)
                print(f"[{size}] {processes} process(es) {op:>9} c={top:<3} {run['rps']:>9.1f} req/s",
                      flush=True)
        finally:
            server.stop()
    result["flood"] = flood.run(lambda env: Server(config, env=env), args.duration, tokens,
                                project_id)
    return result


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
    for concurrency in sorted({c for _, c in runs}):
        raw = result["argon2"]["beside_password"][str(concurrency)]
        ratio = runs[("password", concurrency)]["rps"] / raw["rate"]
        check(f"password c={concurrency} / raw argon2 ({raw['threads']} thread)",
              round(ratio, 3), f">= {PASSWORD_SHARE_OF_ARGON2}", ratio >= PASSWORD_SHARE_OF_ARGON2)
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
    runs = {(r["op"], r["concurrency"]): r for r in result["runs"]}
    print(f"\n== {result['size']} deployment (probe user sees {result['probe_projects']} projects)")
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
    scaling = {(r["op"], r["processes"]): r["rps"] for r in result["scaling"]}
    for op in ("noop", "validate"):
        one, two = scaling[(op, 1)], scaling[(op, 2)]
        print(f"processes 1 -> 2, {op}: {one} -> {two} req/s (x{two / one:.2f})")
    flood.report(result["flood"])
    print(f"{'target':>48} {'figure':>9} {'limit':>8}")
    for c in result["verdicts"]:
        print(f"{c['target']:>48} {c['figure']:>9} {c['limit']:>8} {c['unit']:<3}"
              f"{'met' if c['met'] else 'MISSED'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="small",
                        help="comma-separated deployment sizes: small, large (default small)")
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per measurement")
    parser.add_argument("--concurrency", default="1,16,64",
                        help="calls in flight, comma-separated (default 1,16,64)")
    parser.add_argument("--only", choices=("speed", "soak"),
                        help="only the speed runs (per size), or only the memory soak")
    parser.add_argument("--soak-duration", type=float, default=75.0,
                        help="seconds of the soak's mixed session (default 75; 0: no soak)")
    args = parser.parse_args(argv)
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    if unknown := set(sizes) - {"small", "large"}:
        parser.error(f"unknown size(s) {sorted(unknown)}: use small and/or large")
    results = []
    for size in sizes if args.only != "soak" else ():
        result = bench_size(size, args)
        small = results[0] if results and results[0]["size"] == "small" else None
        result["verdicts"] = verdicts(result, small) + result["flood"]["verdicts"]
        results.append(result)
    soaked = None
    if args.only != "speed" and args.soak_duration > 0:
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
