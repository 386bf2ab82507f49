"""The CPU the service's per-call stack costs, in one process, without the network.

Builds a core over bench/run.py's small deployment, wraps Ping and ValidateToken
with the request interceptor exactly as the server does, and calls the wrapped
handlers directly, with a minimal stand-in for gRPC's servicer context (no socket,
no gRPC core: what is measured is our Python per call). Logging is configured as
the server configures it, writing to stderr (send it to /dev/null); the CPU time of
every thread of the process is counted (the log-writing thread's included, waiting
for its queue to drain), best of 7 repetitions. bench/per_call.py measures the
whole server over the network; on a shared machine its throughput swings by a
third between windows, while this moves by a few percent.

    bench/stack_cost.py [--metrics] [--tree DIR] [--profile rescope] 2>/dev/null

`--tree DIR`: another source tree's identity_grpc (the code before a change, from
`git archive <commit> | tar -x -C DIR`); `--metrics`: with metrics on (that tree
must have them). Prints microseconds per call as JSON.
"""

import argparse
import cProfile
import json
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class Context:
    """What the interceptor and the servicers use of a gRPC servicer context."""

    def __init__(self, metadata=()):
        self._metadata = metadata

    def invocation_metadata(self):
        return self._metadata

    def peer(self) -> str:
        return "ipv4:127.0.0.1:5555"

    def set_trailing_metadata(self, metadata) -> None:
        self.trailers = metadata

    def abort(self, code, message):
        raise RuntimeError(f"{code}: {message}")


def cpu_per_call(call, request, context, count: int, drained) -> float:
    best = float("inf")
    for _ in range(7):
        started = time.process_time()  # every thread's CPU
        for _ in range(count):
            call(request, context)
        drained()
        best = min(best, (time.process_time() - started) / count)
    return round(best * 1e6, 2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", type=Path, default=ROOT)
    parser.add_argument("--metrics", action="store_true")
    parser.add_argument("--profile", choices=("validate", "rescope"),
                        help="also cProfile that call (5,000 times), the top 25 on stdout")
    args = parser.parse_args()
    sys.path.insert(0, str(args.tree.resolve()))
    sys.path.insert(1, str(ROOT / "bench"))
    import grpc
    import run
    from identity_api.v1 import identity_pb2 as pb
    from identity_grpc import serve
    from identity_grpc.config import load_settings
    from identity_grpc.core import Core
    from identity_grpc.operations import Operations
    from identity_grpc.transport.grpc_interceptor import RequestInterceptor
    from identity_grpc.transport.grpc_service import IdentityServicer

    config = run.prepare("small")
    server = run.Server(config)
    try:
        tokens, project_id, _ = run.tokens_for(server.address)
    finally:
        server.stop()
    settings = load_settings(str(config))
    serve.configure_logging(settings)
    core = Core(settings).start()
    ops = Operations(core)
    interceptor = RequestInterceptor(ops.tokens, settings.advertised_url, "/identity.",
                                     IdentityServicer.ANONYMOUS,
                                     **({"metrics_on": True} if args.metrics else {}))
    servicer = IdentityServicer(ops.tokens, ops.consumers)

    def wrapped(name, behavior):
        handler = grpc.unary_unary_rpc_method_handler(behavior)
        return interceptor.wrap_handler(f"/identity.v1.Identity/{name}", handler).unary_unary

    def drained():
        """Wait for the log's writer to have written what the calls queued."""
        listener = getattr(getattr(serve, "logs", None), "_listener", None)
        records = getattr(listener, "_records", None) or getattr(listener, "queue", None)
        while records is not None and not records.empty():
            time.sleep(0.001)

    validate = pb.ValidateTokenRequest(subject_token=tokens["project"], no_catalog=True)
    rescope = pb.AuthenticateRequest(token=pb.TokenMethod(token=tokens["user"]), no_catalog=True,
                                     scope=pb.Scope(project=pb.ProjectSelector(id=project_id)))
    as_service = Context((("x-auth-token", tokens["service"]),))
    figures = {
        "servicer_ping": cpu_per_call(servicer.Ping, pb.PingRequest(), Context(), 20000,
                                      drained),
        "ping": cpu_per_call(wrapped("Ping", servicer.Ping), pb.PingRequest(), Context(),
                             20000, drained),
        "validate": cpu_per_call(wrapped("ValidateToken", servicer.ValidateToken), validate,
                                 as_service, 10000, drained),
        "rescope": cpu_per_call(wrapped("Authenticate", servicer.Authenticate), rescope,
                                Context(), 5000, drained),
    }
    if args.profile:
        call = wrapped(*{"validate": ("ValidateToken", servicer.ValidateToken),
                         "rescope": ("Authenticate", servicer.Authenticate)}[args.profile])
        request, context = {"validate": (validate, as_service),
                            "rescope": (rescope, Context())}[args.profile]
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(5000):
            call(request, context)
        profile.disable()
        pstats.Stats(profile, stream=sys.stdout).sort_stats("tottime").print_stats(25)
    core.close()
    print(json.dumps({"tree": str(args.tree), "metrics": args.metrics, "us_per_call": figures}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
