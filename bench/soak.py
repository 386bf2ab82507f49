"""`make bench`'s soak: does the server give memory back after a long mixed session?

Starts `server.py` (run.Server) over a fresh SQLite store with the small generated
deployment, reads its resident memory (VmRSS in /proc/<pid>/status) once it serves,
then drives a long mixed session from LOAD_PROCESSES separate load processes (this
file run with `--load`): many distinct users logging in by password and by token,
every new token validated (so the server sees tens of thousands of distinct tokens),
project lists, catalogs, role grants and revocations, users and projects created and
deleted, wrong passwords (the server's throttle per source address is off, as if they
came from many addresses). It samples RSS through the run (peak: VmHWM), then reads it
again when the load stops and after IDLE_SECONDS of quiet, and reports the growth:
memory a long-running server keeps for a session that is over is memory it leaks.

    bench/run.py --only soak [--soak-duration 75]
    bench/soak.py [--duration 75] [--env IDENTITY_X=y ...]
"""

import argparse
import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOAD_PROCESSES = 2
IN_FLIGHT = 8  # sessions per load process
IDLE_SECONDS = 8.0  # quiet after the load, before the last reading
PEAK_TARGET_MB = 250.0
AFTER_IDLE_TARGET_MB = 30.0  # RSS after the idle, minus RSS of the server just started
WARM_UP_LOGINS = 2 * (os.cpu_count() or 1)  # at once, twice: every hashing thread hashes
GENERATED_PASSWORD = "generated-password"
GENERATED_USERS = 1_000  # the small deployment's (identity_grpc.synthetic.SIZES)
# (action, weight): a session picks one at random each turn.
MIX = (("password_login", 2), ("rescope_validate", 10), ("validate_many", 4),
       ("list_projects", 4), ("catalog", 4), ("grant_revoke", 1), ("user_lifecycle", 1),
       ("project_lifecycle", 1), ("wrong_password", 1))
# Answers that are part of the session, not errors: a throttled or shed login, a
# refused scope (a generated user may hold no role on the picked project).
SERVER_ENV = {"IDENTITY_LOGIN_FAILURES_PER_ADDRESS": "0"}
EXPECTED_CODES = {"RESOURCE_EXHAUSTED", "UNAUTHENTICATED", "PERMISSION_DENIED"}


# ---- the driver -----------------------------------------------------------------------------

def fresh_deployment() -> Path:
    """bench/var/soak, made again from nothing: a soak starts from an empty cache and a
    store no earlier run has grown."""
    import run

    home = ROOT / "bench" / "var" / "soak"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    config = home / "identity.toml"
    config.write_text("\n".join([
        f'database_url = "sqlite:///{home}/identity.db"', f'key_dir = "{home}/keys"',
        f'admin_password_file = "{home}/admin-password"', 'listen = "127.0.0.1:0"',
        'http_listen = "127.0.0.1:0"']) + "\n")
    run.manage(config, "setup")
    run.manage(config, "generate", "--size", "small")
    run.add_bench_accounts(config)
    return config


def warm_up(address: str) -> None:
    """A few password logins, WARM_UP_LOGINS at once: every hashing thread has hashed.
    From then on each holds argon2's working memory (19 MiB by default) for the next
    check, as a server in service always does (docs/memory.md): that is the baseline a
    session is measured against, not memory the session left."""
    import grpc
    from identity_api.v1 import identity_pb2 as pb
    from identity_api.v1 import identity_pb2_grpc as rpc

    with grpc.insecure_channel(address) as channel:
        stub = rpc.IdentityStub(channel)
        user = pb.UserSelector(name="gen-user-00000000",
                               domain=pb.DomainSelector(name="gen-domain-00000"))
        request = pb.AuthenticateRequest(password=pb.PasswordMethod(
            user=user, password=GENERATED_PASSWORD), no_catalog=True)
        for _ in range(2):
            calls = [stub.Authenticate.future(request) for _ in range(WARM_UP_LOGINS)]
            for call in calls:
                call.result()


def rss_mb(server) -> tuple[float, float]:
    """(VmRSS, VmHWM) in MB of the largest of the server's processes (a worker, with
    `processes` > 1: its supervisor serves nothing): the targets are per process."""
    memory = server.memory_mb()
    return memory["rss_mb"], memory["peak_mb"]


def soak(duration: float, env: dict | None = None, config: Path | None = None) -> dict:
    """One soak of `duration` seconds against a fresh server; its memory figures."""
    import run

    config = config or fresh_deployment()
    # Every load process calls from 127.0.0.1: without this, the throttle per source
    # address would refuse every password login once 100 wrong ones came in, and the
    # session would stop logging in (the throttle per user and address stays on).
    server = run.Server(config, env=dict(SERVER_ENV, **(env or {})))
    try:
        time.sleep(1.0)  # the server settles: its threads and first connections
        started, _ = rss_mb(server)
        warm_up(server.address)
        warmed, _ = rss_mb(server)
        start_at = time.time() + 2.0
        job = {"address": server.address, "duration": duration, "start_at": start_at,
               "admin_password": run.ADMIN_PASSWORD, "service_user": run.SERVICE_USER,
               "service_password": run.SERVICE_PASSWORD}
        loads = []
        for i in range(LOAD_PROCESSES):
            load = subprocess.Popen([sys.executable, __file__, "--load"], cwd=ROOT,
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            load.stdin.write(json.dumps(dict(job, seed=i)))
            load.stdin.close()
            loads.append(load)
        samples = []
        while any(load.poll() is None for load in loads):
            samples.append((round(time.time() - start_at, 1), round(rss_mb(server)[0], 1)))
            time.sleep(1.0)
        results = [json.loads(load.stdout.read() or "{}") for load in loads]
        after, peak = rss_mb(server)
        time.sleep(IDLE_SECONDS)
        after_idle, peak = rss_mb(server)
    finally:
        server.stop()
    calls: dict[str, int] = {}
    codes: dict[str, int] = {}
    errors: list[str] = []
    for r in results:
        for name, count in r.get("calls", {}).items():
            calls[name] = calls.get(name, 0) + count
        for name, count in r.get("codes", {}).items():
            codes[name] = codes.get(name, 0) + count
        errors += r.get("errors", [])
    result = {"duration": duration, "env": env or {}, "calls": calls, "codes": codes,
              "distinct_tokens": sum(r.get("tokens", 0) for r in results),
              "errors": errors[:5], "error_count": sum(r.get("error_count", 0) for r in results),
              "started_mb": round(started, 1), "warmed_mb": round(warmed, 1), "peak_mb": round(peak, 1), "after_mb": round(after, 1),
              "after_idle_mb": round(after_idle, 1),
              "growth_mb": round(after_idle - started, 1),
              "peak_ratio": round(peak / started, 2), "after_idle_ratio": round(after_idle / started, 2),
              "samples": samples, "load_average": os.getloadavg()}
    result["verdicts"] = [
        {"target": "soak peak server memory", "figure": result["peak_mb"],
         "limit": f"< {PEAK_TARGET_MB}", "unit": "MB", "met": peak < PEAK_TARGET_MB},
        {"target": f"soak RSS after {IDLE_SECONDS:.0f} s idle - at start", "figure": result["growth_mb"],
         "limit": f"<= {AFTER_IDLE_TARGET_MB}", "unit": "MB",
         "met": result["growth_mb"] <= AFTER_IDLE_TARGET_MB}]
    return result


def report(result: dict) -> None:
    print(f"\n== soak, {result['duration']:.0f} s, {LOAD_PROCESSES}x{IN_FLIGHT} sessions"
          f"{' ' + str(result['env']) if result['env'] else ''}")
    print("calls: " + ", ".join(f"{k} {v}" for k, v in sorted(result["calls"].items()))
          + f"; {result['distinct_tokens']} distinct tokens validated; codes {result['codes']}")
    if result["error_count"]:
        print(f"  {result['error_count']} unexpected errors, e.g. {result['errors'][:2]}")
    print(f"server RSS: started {result['started_mb']} MB, warmed up (every hashing thread has "
          f"hashed) {result['warmed_mb']} MB, peak {result['peak_mb']} MB "
          f"(x{result['peak_ratio']}), after {result['after_mb']} MB, after "
          f"{IDLE_SECONDS:.0f} s idle {result['after_idle_mb']} MB (x{result['after_idle_ratio']}, "
          f"{result['growth_mb']:+} MB); load average "
          + ", ".join(f"{x:.2f}" for x in result["load_average"]))
    for c in result["verdicts"]:
        print(f"{c['target']:>48} {c['figure']:>9} {c['limit']:>8} {c['unit']:<3}"
              f"{'met' if c['met'] else 'MISSED'}")


# ---- one load process -----------------------------------------------------------------------

class Session:
    """One client's mixed session: it keeps the tokens it got and uses them again."""

    def __init__(self, stub, admin, job: dict, rng: random.Random, counters: dict):
        from identity_api.v1 import identity_pb2 as pb
        self.pb, self.stub, self.admin, self.job, self.rng = pb, stub, admin, job, rng
        self.counters = counters
        self.tokens: list[tuple[str, str]] = []  # (unscoped token, user name)
        self.recent: list[str] = []  # project-scoped tokens, most recent last

    def _user(self, i: int):
        pb = self.pb
        return pb.UserSelector(name=f"gen-user-{i:08d}",
                               domain=pb.DomainSelector(name=f"gen-domain-{i % 10:05d}"))

    async def password_login(self):
        pb = self.pb
        i = self.rng.randrange(GENERATED_USERS)
        response = await self.stub.Authenticate(pb.AuthenticateRequest(
            password=pb.PasswordMethod(user=self._user(i), password=GENERATED_PASSWORD),
            no_catalog=True))
        self.tokens.append((response.token, f"gen-user-{i:08d}"))
        del self.tokens[:-50]

    async def _unscoped(self) -> str:
        if not self.tokens:
            await self.password_login()
        return self.rng.choice(self.tokens)[0]

    async def rescope_validate(self):
        pb = self.pb
        token = await self._unscoped()
        md = (("x-auth-token", token),)
        projects = (await self.stub.ListProjects(pb.ListProjectsRequest(), metadata=md)).projects
        if not projects:
            return
        project = self.rng.choice(projects)
        scoped = (await self.stub.Authenticate(pb.AuthenticateRequest(
            token=pb.TokenMethod(token=token),
            scope=pb.Scope(project=pb.ProjectSelector(id=project.id))))).token
        await self.stub.ValidateToken(pb.ValidateTokenRequest(
            subject_token=scoped, no_catalog=self.rng.random() < 0.5), metadata=self.job["as_service"])
        self.counters["tokens"] += 1
        self.recent.append(scoped)
        del self.recent[:-200]

    async def validate_many(self):
        pb = self.pb
        for token in self.rng.sample(self.recent, min(10, len(self.recent))):
            await self.stub.ValidateToken(pb.ValidateTokenRequest(subject_token=token),
                                          metadata=self.job["as_service"])

    async def list_projects(self):
        await self.stub.ListProjects(self.pb.ListProjectsRequest(),
                                     metadata=(("x-auth-token", await self._unscoped()),))

    async def catalog(self):
        if self.recent:
            await self.stub.Catalog(self.pb.CatalogRequest(),
                                    metadata=(("x-auth-token", self.rng.choice(self.recent)),))

    async def grant_revoke(self):
        from identity_api.admin.v1 import admin_pb2 as apb
        a, md = self.admin, self.job["as_admin"]
        user_id = (await a["users"].ListUsers(apb.ListUsersRequest(
            name=f"gen-user-{self.rng.randrange(GENERATED_USERS):08d}"), metadata=md)).users[0].id
        project_id = (await a["projects"].ListProjects(apb.ListProjectsRequest(
            name=f"gen-project-{self.rng.randrange(100):07d}"), metadata=md)).projects[0].id
        grant = apb.GrantRequest(role_id=self.job["reader_role"], actor=apb.Actor(user_id=user_id),
                                 target=apb.Target(project_id=project_id))
        await a["assignments"].GrantRole(grant, metadata=md)
        await a["assignments"].RevokeRole(grant, metadata=md)

    async def user_lifecycle(self):
        from identity_api.admin.v1 import admin_pb2 as apb
        pb, a, md = self.pb, self.admin, self.job["as_admin"]
        name = f"soak-{self.job['seed']}-{self.rng.getrandbits(48):012x}"
        user = await a["users"].CreateUser(apb.CreateUserRequest(
            name=name, domain_id="default", password="soak-password-1"), metadata=md)
        grant = apb.GrantRequest(role_id=self.job["reader_role"], actor=apb.Actor(user_id=user.id),
                                 target=apb.Target(project_id=self.job["service_project"]))
        await a["assignments"].GrantRole(grant, metadata=md)
        token = (await self.stub.Authenticate(pb.AuthenticateRequest(
            password=pb.PasswordMethod(user=pb.UserSelector(
                name=name, domain=pb.DomainSelector(id="default")), password="soak-password-1"),
            scope=pb.Scope(project=pb.ProjectSelector(id=self.job["service_project"]))))).token
        await self.stub.ValidateToken(pb.ValidateTokenRequest(subject_token=token),
                                      metadata=self.job["as_service"])
        await a["users"].DeleteUser(apb.DeleteRequest(id=user.id), metadata=md)

    async def project_lifecycle(self):
        from identity_api.admin.v1 import admin_pb2 as apb
        a, md = self.admin, self.job["as_admin"]
        name = f"soak-{self.job['seed']}-{self.rng.getrandbits(48):012x}"
        project = await a["projects"].CreateProject(apb.CreateProjectRequest(
            name=name, domain_id="default", description="x" * 200), metadata=md)
        await a["projects"].DeleteProject(apb.DeleteRequest(id=project.id), metadata=md)

    async def wrong_password(self):
        """A wrong password for a generated user, or for a name nobody holds (a new
        one each time: the throttles keep a count per name and address)."""
        pb = self.pb
        i = self.rng.randrange(GENERATED_USERS)
        user = (self._user(i) if self.rng.random() < 0.5 else pb.UserSelector(
            name=f"nobody-{self.rng.getrandbits(48):012x}", domain=pb.DomainSelector(id="default")))
        await self.stub.Authenticate(pb.AuthenticateRequest(
            password=pb.PasswordMethod(user=user, password="not-the-password"), no_catalog=True))


async def setup(stub, admin, job: dict) -> None:
    """The service and admin tokens, the reader role's id, the service project's."""
    from identity_api.admin.v1 import admin_pb2 as apb
    from identity_api.v1 import identity_pb2 as pb

    def password(name, secret, scope):
        return pb.AuthenticateRequest(password=pb.PasswordMethod(
            user=pb.UserSelector(name=name, domain=pb.DomainSelector(id="default")),
            password=secret), scope=scope, no_catalog=True)

    service_scope = pb.Scope(project=pb.ProjectSelector(
        name="service", domain=pb.DomainSelector(id="default")))
    service = await stub.Authenticate(password(job["service_user"], job["service_password"],
                                               service_scope))
    job["as_service"] = (("x-auth-token", service.token),)
    system = await stub.Authenticate(password("admin", job["admin_password"],
                                              pb.Scope(system=pb.SystemScope(all=True))))
    job["as_admin"] = md = (("x-auth-token", system.token),)
    roles = (await admin["roles"].ListRoles(apb.ListRolesRequest(), metadata=md)).roles
    job["reader_role"] = next(r.id for r in roles if r.name == "reader")
    job["service_project"] = (await admin["projects"].ListProjects(
        apb.ListProjectsRequest(name="service", domain_id="default"), metadata=md)).projects[0].id


async def load(job: dict) -> dict:
    import grpc
    from identity_api.admin.v1 import admin_pb2_grpc as agrpc
    from identity_api.v1 import identity_pb2_grpc as rpc

    channel = grpc.aio.insecure_channel(job["address"])
    await channel.channel_ready()
    stub = rpc.IdentityStub(channel)
    admin = {name.lower(): getattr(agrpc, f"{name}Stub")(channel)
             for name in ("Users", "Projects", "Roles", "Assignments")}
    await setup(stub, admin, job)
    counters = {"tokens": 0}
    calls: dict[str, int] = {}
    codes: dict[str, int] = {}
    errors: list[str] = []
    await asyncio.sleep(max(0.0, job["start_at"] - time.time()))
    end_at = time.time() + job["duration"]
    actions = [name for name, weight in MIX for _ in range(weight)]

    async def session(n: int):
        s = Session(stub, admin, job, random.Random(job["seed"] * 1000 + n), counters)
        while time.time() < end_at:
            action = s.rng.choice(actions)
            try:
                await getattr(s, action)()
                calls[action] = calls.get(action, 0) + 1
            except grpc.aio.AioRpcError as e:
                code = e.code().name
                codes[code] = codes.get(code, 0) + 1
                if code == "RESOURCE_EXHAUSTED":
                    await asyncio.sleep(0.5)  # shed or throttled: back off as a client would
                if code not in EXPECTED_CODES:
                    errors.append(f"{action}: {code}: {e.details()}")

    await asyncio.gather(*(session(n) for n in range(IN_FLIGHT)))
    await channel.close()
    return {"calls": calls, "codes": codes, "tokens": counters["tokens"],
            "errors": errors[:5], "error_count": len(errors)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--load", action="store_true", help="be one load process (JSON job on stdin)")
    parser.add_argument("--duration", type=float, default=75.0, help="seconds of load")
    parser.add_argument("--env", action="append", default=[],
                        help="IDENTITY_NAME=value for the server, repeatable")
    args = parser.parse_args(argv)
    if args.load:
        json.dump(asyncio.run(load(json.load(sys.stdin))), sys.stdout)
        return 0
    sys.path.insert(0, str(ROOT / "bench"))
    env = dict(item.split("=", 1) for item in args.env)
    result = soak(args.duration, env)
    report(result)
    return 0 if all(c["met"] for c in result["verdicts"]) else 1


if __name__ == "__main__":
    sys.exit(main())
