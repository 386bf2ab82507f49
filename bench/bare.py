"""The bare ceiling of Python gRPC on this machine: a `grpc.server` with a
ThreadPoolExecutor of 32 threads, no interceptor, and a no-op Ping, in a process of
its own (`BareServer`). bench/run.py and bench/per_call.py divide the service's
figures by it, measured in the same run: the machine's own speed moves between runs
(docs/performance.md).

    bench/bare.py          # serves until stopped; prints "bare gRPC on ADDRESS"
    bench/bare.py --cpu N  # the same with every thread kept on core N

The pinned one is not the ceiling the issue divides by; it is reported beside it, to
show how much of a share above 1 comes from keeping a process on one core
(identity_grpc/placement.py) rather than from the stack itself.
"""

import os
import subprocess
import sys
from concurrent import futures
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
THREADS = 32  # the ceiling PERF-NOTES names


def serve_bare() -> None:
    """The bare ceiling: a no-op Ping, no interceptor; prints its address."""
    import grpc
    from identity_api.v1 import identity_pb2 as pb
    from identity_api.v1 import identity_pb2_grpc as rpc

    class Bare(rpc.IdentityServicer):
        def Ping(self, request, context):
            return pb.PingResponse()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=THREADS))
    rpc.add_IdentityServicer_to_server(Bare(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(f"bare gRPC on 127.0.0.1:{port}", flush=True)
    server.wait_for_termination()


class BareServer:
    """bench/bare.py in a process of its own, with run.Server's `address`, `pids`
    and `stop`; with `cpu`, kept on that core."""

    THREADS = THREADS

    def __init__(self, cpu: int | None = None):
        pin = [] if cpu is None else ["--cpu", str(cpu)]
        self.proc = subprocess.Popen([sys.executable, __file__, *pin], cwd=ROOT,
                                     stdout=subprocess.PIPE, text=True)
        self.address = self.proc.stdout.readline().split(" on ", 1)[1].strip()

    def pids(self) -> list[int]:
        return [self.proc.pid]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--cpu"]:
        os.sched_setaffinity(0, {int(sys.argv[2])})  # before gRPC starts any thread
    serve_bare()
