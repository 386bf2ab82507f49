"""The HTTP gateway's token calls under wrk, and the same requests against Keystone.

Each target is an HTTP identity endpoint and a user with a project on it: ours is
the bench's server (bench/run.py, its probe user), and `--keystone URL` adds a
Keystone given by URL (with `--keystone-user`, `--keystone-password`,
`--keystone-project`, domains `Default` unless told). Both are sent exactly the
same requests, built from tokens each issued to its user:

    validate       GET  /v3/auth/tokens     X-Auth-Token and X-Subject-Token: the project token
    rescope        POST /v3/auth/tokens     the unscoped token, scoped to the project
    auth_projects  GET  /v3/auth/projects   the unscoped token
    auth_catalog   GET  /v3/auth/catalog    the project token

wrk (Debian's `wrk`: an event-driven C load generator, so the client costs little
beside either server) runs each for `--duration` seconds with 2 threads at each of
`--connections`, in `--rounds` interleaved rounds (the machine drifts within a run:
a round shares its moment); the medians of requests a second and latency are
reported, with our share of Keystone's. A run whose answers were not all 2xx is
reported with their count, never silently counted; socket errors (a server closing
each connection after its answer) are counted apart.

    bench/gateway.py [--duration 15] [--connections 4,16] [--rounds 3]
                     [--keystone URL --keystone-user U --keystone-password P
                      --keystone-project P]

Without wrk (not installed, not root to install it) the gateway figures are
skipped, saying so.
"""

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

OPERATIONS = ("validate", "rescope", "auth_projects", "auth_catalog")
TARGET_SHARE = 10.0  # issue 13: every token call at least 10x Keystone's req/s

# A wrk script: one fixed request, and at the end one JSON line with what wrk counted.
SCRIPT = """
wrk.method = %(method)s
wrk.body = %(body)s
wrk.headers["Content-Type"] = "application/json"
%(headers)s
done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %%d, "duration_us": %%d, "non_2xx": %%d, "socket_errors": %%d, ' ..
    '"p50_ms": %%.3f, "p99_ms": %%.3f}\\n',
    summary.requests, summary.duration, errors.status,
    errors.connect + errors.read + errors.write + errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
"""


@dataclass
class Target:
    """An identity endpoint and the tokens of one user of it with a project."""
    name: str
    url: str
    unscoped: str
    project_token: str
    project_id: str


def lua(value: str) -> str:
    return json.dumps(value)  # a JSON string is a Lua string literal for these values


def post_json(url: str, body: dict, token: str = "") -> tuple[str, dict]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json",
                                              **({"X-Auth-Token": token} if token else {})})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.headers["X-Subject-Token"], json.loads(response.read())


def target_for(name: str, url: str, user: str, password: str, project: str = "",
               user_domain: str = "Default", project_domain: str = "Default") -> Target:
    """Log `user` in on `url`: unscoped, then scoped to `project` (a name; empty: the
    first project `GET /v3/auth/projects` lists for the user)."""
    url = url.rstrip("/")
    if not url.endswith("/v3"):
        url += "/v3"
    identity = {"methods": ["password"], "password": {"user": {
        "name": user, "domain": {"name": user_domain}, "password": password}}}
    unscoped, _ = post_json(f"{url}/auth/tokens", {"auth": {"identity": identity}})
    if project:
        scope = {"project": {"name": project, "domain": {"name": project_domain}}}
    else:
        listed = urllib.request.Request(f"{url}/auth/projects", headers={"X-Auth-Token": unscoped})
        with urllib.request.urlopen(listed, timeout=30) as response:
            scope = {"project": {"id": json.loads(response.read())["projects"][0]["id"]}}
    scoped, body = post_json(f"{url}/auth/tokens", {"auth": {"identity": identity,
                                                             "scope": scope}})
    return Target(name, url, unscoped, scoped, body["token"]["project"]["id"])


def script_for(op: str, target: Target) -> tuple[str, str]:
    """(URL, wrk script) of `op` against `target`."""
    method, body, path, headers = "GET", "", "/auth/tokens", {}
    if op == "validate":
        headers = {"X-Auth-Token": target.project_token, "X-Subject-Token": target.project_token}
    elif op == "rescope":
        method = "POST"
        body = json.dumps({"auth": {"identity": {"methods": ["token"],
                                                 "token": {"id": target.unscoped}},
                                    "scope": {"project": {"id": target.project_id}}}})
        headers = {"X-Auth-Token": target.unscoped}
    elif op == "auth_projects":
        path, headers = "/auth/projects", {"X-Auth-Token": target.unscoped}
    elif op == "auth_catalog":
        path, headers = "/auth/catalog", {"X-Auth-Token": target.project_token}
    else:
        raise ValueError(op)
    lines = "\n".join(f"wrk.headers[{lua(k)}] = {lua(v)}" for k, v in headers.items())
    return target.url + path, SCRIPT % {"method": lua(method), "body": lua(body),
                                        "headers": lines}


def wrk(url: str, script: str, connections: int, duration: float) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as file:
        file.write(script)
        file.flush()
        result = subprocess.run(
            ["wrk", "-t", str(min(2, connections)), "-c", str(connections),
             "-d", f"{duration:g}s", "--latency", "-s", file.name, url],
            capture_output=True, text=True, timeout=duration + 60)
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode != 0 or not lines:
        raise RuntimeError(f"wrk failed ({result.returncode}): {result.stderr or result.stdout}")
    figures = json.loads(lines[-1])
    seconds = figures["duration_us"] / 1e6
    # A server that closes each connection after its answer (uWSGI's --http-socket
    # without --http-keepalive) shows as socket errors, one a request, answers intact;
    # an answer that is not 2xx is an error.
    return {"rps": round(figures["requests"] / seconds, 1), "p50_ms": figures["p50_ms"],
            "p99_ms": figures["p99_ms"], "requests": figures["requests"],
            "errors": figures["non_2xx"], "socket_errors": figures["socket_errors"]}


def available() -> str | None:
    """None when wrk can run, else why not."""
    return None if shutil.which("wrk") else "wrk is not installed (Debian package wrk)"


def measure(targets: list[Target], connections: list[int], duration: float,
            rounds: int) -> dict:
    """Every operation on every target at each connection count, interleaved."""
    runs: dict[tuple[str, str, int], list[dict]] = {}
    for round_ in range(rounds):
        for op in OPERATIONS:
            for count in connections:
                for target in targets:
                    url, script = script_for(op, target)
                    run = wrk(url, script, count, duration)
                    runs.setdefault((target.name, op, count), []).append(run)
                    print(f"[gateway round {round_ + 1}] {target.name:>8} {op:>13} "
                          f"c={count:<3} {run['rps']:>9.1f} req/s  p99 {run['p99_ms']:7.2f} ms"
                          + (f"  {run['errors']} not 2xx" if run["errors"] else "")
                          + (f"  {run['socket_errors']} socket errors" if run["socket_errors"]
                             else ""), flush=True)
    rows = []
    for (name, op, count), results in runs.items():
        rows.append({"target": name, "op": op, "connections": count,
                     "rps": statistics.median(r["rps"] for r in results),
                     "p50_ms": statistics.median(r["p50_ms"] for r in results),
                     "p99_ms": statistics.median(r["p99_ms"] for r in results),
                     "rounds_rps": [r["rps"] for r in results],
                     "errors": sum(r["errors"] for r in results),
                     "socket_errors": sum(r.get("socket_errors", 0) for r in results)})
    by_key = {(r["target"], r["op"], r["connections"]): r for r in rows}
    for row in rows:
        keystone = by_key.get(("keystone", row["op"], row["connections"]))
        if row["target"] == "ours" and keystone and keystone["rps"]:
            row["share_of_keystone"] = round(row["rps"] / keystone["rps"], 2)
    return {"duration": duration, "rounds": rounds, "connections": connections,
            "targets": {t.name: t.url for t in targets}, "rows": rows}


def report(result: dict) -> None:
    print(f"HTTP gateway under wrk (medians of {result['rounds']} rounds, "
          f"{result['duration']:g} s each):")
    print(f"{'target':>9} {'operation':>14} {'conn':>4} {'req/s':>9} {'p50 ms':>8} "
          f"{'p99 ms':>8} {'x Keystone':>10}")
    for row in result["rows"]:
        share = row.get("share_of_keystone")
        print(f"{row['target']:>9} {row['op']:>14} {row['connections']:>4} {row['rps']:>9.1f} "
              f"{row['p50_ms']:>8.2f} {row['p99_ms']:>8.2f} "
              f"{'' if share is None else share:>10}"
              + (f"  ({row['errors']} not 2xx)" if row["errors"] else "")
              + (f"  ({row['socket_errors']} socket errors)" if row["socket_errors"] else ""))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gateway-duration", type=float, default=15.0,
                        help="seconds of each wrk run")
    parser.add_argument("--gateway-connections", default="4,16")
    parser.add_argument("--gateway-rounds", type=int, default=3)
    parser.add_argument("--keystone", default="", help="a Keystone's URL, measured beside ours")
    parser.add_argument("--keystone-user", default="admin")
    parser.add_argument("--keystone-password", default="")
    parser.add_argument("--keystone-project", default="admin")
    parser.add_argument("--keystone-user-domain", default="Default")
    parser.add_argument("--keystone-project-domain", default="Default")


def run(ours: Target, args) -> dict:
    """The gateway figures for `ours`, beside `args.keystone` when given."""
    targets = [ours]
    if args.keystone:
        targets.append(target_for("keystone", args.keystone, args.keystone_user,
                                  args.keystone_password, args.keystone_project,
                                  args.keystone_user_domain, args.keystone_project_domain))
    connections = [int(c) for c in str(args.gateway_connections).split(",") if c]
    return measure(targets, connections, args.gateway_duration, args.gateway_rounds)


def main(argv: list[str] | None = None) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import run as bench_run  # noqa: E402

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    why = available()
    if why:
        print(f"gateway figures skipped: {why}", file=sys.stderr)
        return 2
    config = bench_run.prepare("small")
    server = bench_run.Server(config)
    try:
        result = run(target_for("ours", server.http_url, bench_run.PROBE["username"],
                                bench_run.PROBE["password"],
                                user_domain=bench_run.PROBE["user_domain"]), args)
    finally:
        server.stop()
    report(result)
    (Path(__file__).resolve().parent / "gateway.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
