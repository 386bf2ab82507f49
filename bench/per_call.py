"""What the service's per-call stack costs: Ping and ValidateToken beside a bare gRPC
server, in one run.

The bare server (bench/bare.py) is a `grpc.server` with a ThreadPoolExecutor of 32 threads, no
interceptor and a no-op Ping: the ceiling PERF-NOTES says to divide by, since the
machine's own speed moves from run to run. The service runs in its production
configuration (bench/run.py's `Server`, request log on), once as configured and
once per extra variant given with `--variant NAME=VAR=VALUE[,VAR=VALUE]` (for
instance `metrics=IDENTITY_METRICS_LISTEN=127.0.0.1:0`), and once from another
source tree with `--baseline DIR` (`git archive <commit> | tar -x -C DIR`: the code
before a change, beside it in the same run). Every target is measured
in each of `--rounds` interleaved rounds (the machine drifts within a run: a round
shares its moment), and the median of each is reported with its share of the bare
ceiling, and with the server CPU time each call cost (user + system time of the
server's processes over the window, from /proc, divided by the calls): on a machine
shared with other work, throughput swings by a third from one window to the next,
while a call's CPU cost barely moves.

    bench/per_call.py [--duration 5] [--concurrency 16] [--rounds 3] [--variant ...]
                      [--baseline DIR] [--ops noop,validate,rescope]
"""

import argparse
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import run  # noqa: E402
from bare import BareServer  # noqa: E402

WARM_UP = 2.0  # seconds between a run's start and its counted window (run.measure's)


def server_from(tree: Path, config: Path) -> "run.Server":
    """bench/run.py's server, but `tree`'s server.py (its own identity_grpc first on
    the path), over the same deployment."""
    saved, run.ROOT = run.ROOT, tree
    try:
        return run.Server(config)
    finally:
        run.ROOT = saved


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes have used so far."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def measure(server, op: str, args, tokens: dict, project_id: str) -> dict:
    """run.measure, with the server CPU time per call (µs) over its counted window:
    the load counts the calls begun between `start_at` (WARM_UP seconds after the
    run starts: Python starting, connecting, warm-up calls) and the window's end,
    so the CPU is read at those two moments, from a thread of its own."""
    pids = server.pids()
    window_start = time.time() + WARM_UP
    readings = []

    def read_at(moments):
        for moment in moments:
            time.sleep(max(0.0, moment - time.time()))
            readings.append(cpu_seconds(pids))

    reader = threading.Thread(target=read_at,
                              args=([window_start, window_start + args.duration],))
    reader.start()
    result = run.measure(server.address, op, args.concurrency, args.duration, tokens,
                         project_id)
    reader.join()
    spent = readings[1] - readings[0]
    result["cpu_us_per_call"] = round(spent / result["calls"] * 1e6, 1) if result["calls"] \
        else float("nan")
    return result


def parse_variant(text: str) -> tuple[str, dict]:
    name, _, assignments = text.partition("=")
    env = dict(pair.split("=", 1) for pair in assignments.split(",") if pair)
    return name, env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--ops", default="noop,validate",
                        help="comma-separated operations of bench/load.py (default noop,validate)")
    parser.add_argument("--variant", action="append", default=[],
                        help="NAME=VAR=VALUE[,VAR=VALUE]: the service again with this environment")
    parser.add_argument("--baseline", type=Path,
                        help="another source tree whose server is measured too, as `baseline`")
    args = parser.parse_args(argv)
    config = run.prepare("small")
    bare = BareServer()
    servers = {"service": run.Server(config)}
    for name, env in map(parse_variant, args.variant):
        servers[name] = run.Server(config, env=env)
    if args.baseline:
        servers["baseline"] = server_from(args.baseline.resolve(), config)
    try:
        tokens, project_id, _ = run.tokens_for(servers["service"].address)
        targets = [("bare", bare, "noop")] + [
            (name, server, op) for name, server in servers.items()
            for op in args.ops.split(",")]
        figures: dict[tuple[str, str], list[dict]] = {}
        for round_ in range(args.rounds):
            for name, server, op in targets:
                result = measure(server, op, args, tokens, project_id)
                figures.setdefault((name, op), []).append(result)
                print(f"round {round_ + 1}: {name:>10} {op:>8} {result['rps']:>8.1f} req/s "
                      f"p50 {result['p50_ms']:.2f} ms p99 {result['p99_ms']:.2f} ms "
                      f"{result['cpu_us_per_call']:7.1f} us CPU/call", flush=True)
    finally:
        bare.stop()
        for server in servers.values():
            server.stop()
    ceiling = statistics.median(r["rps"] for r in figures[("bare", "noop")])
    summary = []
    print(f"\nmedians of {args.rounds} rounds, {args.concurrency} in flight, "
          f"{args.duration:g} s each")
    for (name, op), results in figures.items():
        rps = statistics.median(r["rps"] for r in results)
        p99 = statistics.median(r["p99_ms"] for r in results)
        cpu = statistics.median(r["cpu_us_per_call"] for r in results)
        summary.append({"target": name, "op": op, "rps": rps, "p99_ms": p99,
                        "share_of_bare": round(rps / ceiling, 3), "cpu_us_per_call": cpu})
        print(f"{name:>10} {op:>8} {rps:>8.1f} req/s  p99 {p99:6.2f} ms  "
              f"{rps / ceiling:.3f} of bare  {cpu:7.1f} us CPU/call")
    (ROOT / "bench" / "per_call.json").write_text(json.dumps(
        {"cpus": os.cpu_count(), "concurrency": args.concurrency, "duration": args.duration,
         "rounds": args.rounds, "summary": summary}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
