"""Where a call's time goes: py-spy samples the service's server process while one
load process (bench/load.py) keeps calls of one operation in flight.

Starts bench/run.py's server over the small deployment (production settings,
request log on), drives `--op` at `--concurrency` calls in flight on one channel,
and records the server for `--duration` seconds with `py-spy record --format raw
--nonblocking` (the `bench` extra: `pip install -e '.[bench]'`; py-spy reads another
process's memory, so it runs as root or with ptrace allowed). `--gil` keeps only the
samples of the thread holding the GIL: on this GIL-bound server, the time that
limits throughput. Prints the share of samples (a) in each part of the per-call
stack named in PARTS, counted once per sample whose stack passes through it, and
(b) the functions with the most samples of their own, then writes the collapsed
stacks (flamegraph.pl or speedscope.app read them) to bench/profile-<op>.txt.

    bench/spy_profile.py [--op noop|validate|list_projects|catalog|rescope]
                     [--concurrency 16] [--duration 10] [--rate 200] [--gil] [--native]
                     [--bare] [--top 25]
"""

import argparse
import collections
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import run  # noqa: E402
from per_call import cpu_seconds  # noqa: E402
from bare import BareServer  # noqa: E402

# (part, a pattern a frame "function (file:line)" of it matches); a part whose name
# ends in "(self)" counts only the samples whose innermost frame matches.
PARTS = (
    ("gRPC's Python serving code, its own lines (grpc/_server.py) (self)",
     r"\(grpc/_server\.py"),
    ("thread pool and locks: queue waits, conditions (self)",
     r"\((concurrent/futures/thread|threading|queue)\.py"),
    ("our interceptor (transport/grpc_interceptor.py)", r"grpc_interceptor\.py"),
    ("request log line (logging, identity_grpc/logs.py)", r"\(logging/|identity_grpc/logs\.py"),
    ("metrics (prometheus_client, identity_grpc/metrics.py)",
     r"prometheus_client/|identity_grpc/metrics\.py"),
    ("request ids and context variables", r"request_ids\.py|contextvars|_CALLER"),
    ("tracing (identity_grpc/tracing.py)", r"identity_grpc/tracing\.py"),
    ("servicer (transport/grpc_service.py)", r"grpc_service\.py"),
    ("message building (transport/grpc_messages.py, protobuf)",
     r"grpc_messages\.py|google/protobuf"),
    ("token verify and token ops (identity_grpc/tokens, operations)",
     r"identity_grpc/(tokens|operations)/"),
    ("crypto (cryptography)", r"cryptography/"),
    ("store (identity_grpc/store, peewee, sqlite3)", r"identity_grpc/store/|peewee|sqlite3"),
)
FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def short(frame: str) -> str:
    """`function (file:line)` with the file from its package on."""
    match = FRAME.match(frame)
    if not match:
        return frame
    path = match["file"]
    for anchor in ("site-packages/", "identity_grpc/", "/lib/python3"):
        if anchor in path:
            path = path.split(anchor, 1)[1]
            path = ("identity_grpc/" + path) if anchor == "identity_grpc/" else path
            break
    path = re.sub(r"^\.\d+/", "", path)  # /lib/python3.11/ -> the module path
    return f"{match['function']} ({path})"


def read_stacks(path: Path) -> list[tuple[list[str], int]]:
    stacks = []
    for line in path.read_text().splitlines():
        body, _, count = line.rpartition(" ")
        if body and count.isdigit():
            stacks.append(([short(f) for f in body.split(";")], int(count)))
    return stacks


def summarise(stacks, top: int) -> None:
    total = sum(count for _, count in stacks) or 1
    print(f"{total} samples")
    print("\nshare of samples passing through each part of the stack (or ending in it):")
    for name, pattern in PARTS:
        regex = re.compile(pattern)
        leaf = name.endswith("(self)")
        hits = sum(count for frames, count in stacks
                   if (regex.search(frames[-1]) if leaf else any(regex.search(f) for f in frames)))
        print(f"  {100 * hits / total:5.1f}%  {name}")
    own = collections.Counter()
    inclusive = collections.Counter()
    for frames, count in stacks:
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    print(f"\ntop {top} functions by samples of their own (self), with their inclusive share:")
    for frame, count in own.most_common(top):
        print(f"  {100 * count / total:5.1f}% self {100 * inclusive[frame] / total:5.1f}% incl  "
              f"{frame}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--op", default="validate", choices=run.OPERATIONS)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--rate", type=int, default=200, help="samples per second")
    parser.add_argument("--gil", action="store_true",
                        help="only the samples of the thread holding the GIL")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--bare", action="store_true",
                        help="profile the bare ceiling (bench/bare.py) instead: a no-op")
    parser.add_argument("--native", action="store_true",
                        help="py-spy --native: C frames too (gRPC core, protobuf's upb); "
                             "pauses the server at each sample, so fewer calls")
    args = parser.parse_args(argv)
    if args.bare:
        args.op = "noop"
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    config = run.prepare("small")
    # One process kept on one core, as each worker of `processes = auto` is: py-spy
    # records one process, and a supervisor serves nothing.
    service = run.Server(config, 1, {"IDENTITY_CPU_AFFINITY": "on"})
    try:
        tokens, project_id, _ = run.tokens_for(service.address)
    finally:
        if args.bare:
            service.stop()
    server = BareServer() if args.bare else service
    out = ROOT / "bench" / f"profile-{'bare' if args.bare else args.op}.txt"
    try:
        figures = {}
        load = threading.Thread(target=lambda: figures.update(run.measure(
            server.address, args.op, args.concurrency, args.duration + 2.0, tokens,
            project_id, processes=1, channels=1)))
        load.start()
        time.sleep(3.0)  # the load process starting, connecting and warming up
        cpu_before, began = cpu_seconds(server.pids()), time.monotonic()
        subprocess.run([py_spy, "record", "--pid", str(server.proc.pid), "--rate",
                        str(args.rate), "--duration", str(int(args.duration)), "--format",
                        "raw", "--output", str(out),
                        # py-spy unwinds C stacks only with the process paused per sample
                        *([] if args.native else ["--nonblocking"]),
                        *(["--gil"] if args.gil else []),
                        *(["--native"] if args.native else [])], check=True,
                       stdout=subprocess.DEVNULL)
        cpu = (cpu_seconds(server.pids()) - cpu_before) / (time.monotonic() - began)
        load.join()
    finally:
        server.stop()
    print(f"{'bare ' if args.bare else ''}{args.op} at {args.concurrency} in flight, {args.duration:g} s at {args.rate} Hz"
          f"{', GIL holder only' if args.gil else ''}; collapsed stacks in {out}")
    stacks = read_stacks(out)
    calls = figures["rps"] * args.duration
    print(f"{figures['rps']:.0f} calls/s; server CPU {cpu * 1e6 / figures['rps']:.0f} us per "
          f"call (all its threads, /proc); sampled {sum(c for _, c in stacks) / args.rate / calls * 1e6:.0f} us "
          f"per call{' holding the GIL' if args.gil else ''}")
    summarise(stacks, args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
