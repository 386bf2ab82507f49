"""`make bench`'s password flood: the hot path while wrong passwords pour in.

An attacker process keeps FLOOD_IN_FLIGHT anonymous wrong-password Authenticates in
flight (for an unknown user, sent again the moment an answer comes back, whatever it
is) while another load process measures ValidateToken, ListProjects and Catalog; each
is measured quiet and flooded back to back, ROUNDS times, in one run against one
server, and the flooded p99 divided by the quiet one (median over the rounds) must
stay within P99_RATIO_TARGET. The server runs with the throttles of failed passwords
off, as if the flood came from many addresses: the hashing queue's bound alone must
hold. Before that bound, every gRPC thread waited on argon2 and ValidateToken's p50
went from about 1 ms to about 2 s.

The same is measured with the hashing threads at the server's own priority
(`password_hash_nice = 0`), to show what running them niced is worth, and with a flood
of no-op Pings instead, the yardstick: what FLOOD_IN_FLIGHT of the cheapest calls
already cost the others on a server with one interpreter, which no password check can
beat. The verdicts are those of the password flood with the default settings.
"""

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLOOD_IN_FLIGHT = 64
MEASURED = ("validate", "list_projects", "catalog")
MEASURED_IN_FLIGHT = 16  # the concurrency of the bench's other p99 target
ROUNDS = 2
P99_RATIO_TARGET = 5.0
UNTHROTTLED = {"IDENTITY_LOGIN_FAILURES_PER_USER_AND_ADDRESS": "0",
               "IDENTITY_LOGIN_FAILURES_PER_ADDRESS": "0"}
# (name, the flood's operation, extra server environment)
CONFIGS = (("default", "flood", {}), ("hash_nice_0", "flood", {"IDENTITY_PASSWORD_HASH_NICE": "0"}),
           ("ping_flood", "noop", {}))


def run(start_server, duration: float, tokens: dict, project_id: str) -> dict:
    """`start_server(env)` starts the bench's server with extra environment and
    returns it (with `.address` and `.stop()`)."""
    result = {"flood_in_flight": FLOOD_IN_FLIGHT, "measured_in_flight": MEASURED_IN_FLIGHT,
              "configs": {}, "verdicts": []}
    for name, flood_op, env in CONFIGS:
        server = start_server(dict(UNTHROTTLED, **env))
        try:
            rounds = [{op: _quiet_and_flooded(server.address, op, flood_op, duration, tokens,
                                              project_id)
                       for op in MEASURED} for _ in range(ROUNDS)]
        finally:
            server.stop()
        result["configs"][name] = {"rounds": rounds,
                                   "ops": {op: _summary(rounds, op) for op in MEASURED}}
    for op, summary in result["configs"]["default"]["ops"].items():
        result["verdicts"].append({
            "target": f"{op} p99 under a {FLOOD_IN_FLIGHT}-password flood / quiet",
            "figure": summary["p99_ratio"], "limit": f"<= {P99_RATIO_TARGET}", "unit": "x",
            "met": summary["p99_ratio"] <= P99_RATIO_TARGET})
    return result


def _summary(rounds: list[dict], op: str) -> dict:
    ratios = [r[op]["flooded"]["p99_ms"] / r[op]["quiet"]["p99_ms"] for r in rounds]
    floods = [r[op]["flood"] for r in rounds]
    return {"quiet_p99_ms": statistics.median(r[op]["quiet"]["p99_ms"] for r in rounds),
            "flooded_p99_ms": statistics.median(r[op]["flooded"]["p99_ms"] for r in rounds),
            "p99_ratio": round(statistics.median(ratios), 2),
            "ratios": [round(x, 2) for x in ratios],
            "flood_shed": sum(f.get("RESOURCE_EXHAUSTED", 0) for f in floods),
            "flood_refused": sum(f.get("UNAUTHENTICATED", 0) for f in floods),
            "flood_answered": sum(f.get("OK", 0) for f in floods)}


def _quiet_and_flooded(address: str, op: str, flood_op: str, duration: float, tokens: dict,
                       project_id: str) -> dict:
    quiet = _measure([_job(address, op, MEASURED_IN_FLIGHT, duration, tokens, project_id)])[0]
    measured, flood = _measure([
        _job(address, op, MEASURED_IN_FLIGHT, duration, tokens, project_id),
        # the flood starts a second early, so that the measured window is all flooded
        _job(address, flood_op, FLOOD_IN_FLIGHT, duration + 1.5, tokens, project_id, lead=1.0)])
    return {"quiet": _figures(quiet, duration), "flooded": _figures(measured, duration),
            "flood": flood["codes"]}


def _job(address, op, in_flight, duration, tokens, project_id, lead: float = 0.0) -> dict:
    return {"address": address, "op": op, "concurrency": in_flight, "duration": duration,
            "channels": 4 if in_flight > 1 else 1, "tokens": tokens, "project_id": project_id,
            "lead": lead}


def _measure(jobs: list[dict]) -> list[dict]:
    """Run the jobs in load processes of their own, all started together."""
    start_at = time.time() + 2.0  # time to start Python and connect
    loads = [subprocess.Popen([sys.executable, str(ROOT / "bench" / "load.py")], cwd=ROOT,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
             for _ in jobs]
    for load, job in zip(loads, jobs):
        lead = job.pop("lead")
        load.stdin.write(json.dumps(dict(job, start_at=start_at - lead)))
        load.stdin.close()
    results = [json.loads(load.stdout.read()) for load in loads]
    for load in loads:
        load.wait()
    return results


def _figures(result: dict, duration: float) -> dict:
    latencies = sorted(result["latencies"])
    if result["error_count"]:
        print(f"  flood bench: {result['error_count']} errors, e.g. {result['errors'][:2]}",
              file=sys.stderr)

    def at(p):  # NaN when no call completed in the window (a load process started late)
        if not latencies:
            return float("nan")
        return round(latencies[min(len(latencies) - 1, int(len(latencies) * p / 100))] * 1000, 3)

    return {"calls": len(latencies), "rps": round(len(latencies) / duration, 1),
            "p50_ms": at(50), "p99_ms": at(99), "errors": result["error_count"]}


def report(flood: dict) -> None:
    print(f"\npassword flood ({flood['flood_in_flight']} wrong passwords in flight, throttles "
          f"off; {flood['measured_in_flight']} measured calls in flight; median of {ROUNDS} "
          "rounds; the flood's answers: shed RESOURCE_EXHAUSTED, refused UNAUTHENTICATED, "
          "ok; ping_flood: 64 Pings instead, the yardstick)")
    print(f"{'settings':>12} {'operation':>14} {'quiet p99':>10} {'flooded p99':>12} "
          f"{'ratio':>6} {'shed':>8} {'refused':>8} {'ok':>8}")
    for name, config in flood["configs"].items():
        for op, f in config["ops"].items():
            print(f"{name:>12} {op:>14} {f['quiet_p99_ms']:>8.2f}ms {f['flooded_p99_ms']:>10.2f}ms "
                  f"{f['p99_ratio']:>5.2f}x {f['flood_shed']:>8} {f['flood_refused']:>8} "
                  f"{f['flood_answered']:>8}")
