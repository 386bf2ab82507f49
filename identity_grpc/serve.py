"""Running the service: settings, logging, the server, graceful shutdown."""

import argparse
import contextlib
import logging
import os
import signal
import sys
import threading

from . import allocator, secret_env
from .config import Settings, load_settings
from .startup import EXIT_CONFIGURATION, StartupError, bind_grpc, bind_http, open_core

SHUTDOWN_GRACE_SECONDS = 5.0


def main(argv: list[str] | None = None) -> int:
    # The server never needs the bootstrap password; `make run` hands it the same
    # environment as `identity-manage setup`. Gone before any thread or worker starts.
    secret_env.take(secret_env.ADMIN_PASSWORD)
    if argv is None:  # run as a program, not called from one: safe to start it again
        allocator.reexec_with_huge_pages(sys.argv)
    parser = argparse.ArgumentParser(
        description="Serve the identity service: gRPC and the HTTP gateway.")
    parser.add_argument("--config", help="settings file (TOML); IDENTITY_* variables override it")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(args.config or os.environ.get("IDENTITY_CONFIG"))
    except (ValueError, OSError) as e:  # one clear line naming the setting, no traceback
        print(f"identity service: bad configuration: {e}", file=sys.stderr)
        return EXIT_CONFIGURATION
    configure_logging(settings)
    if settings.processes > 1:
        from .workers import serve_workers
        return serve_workers(settings)
    stopping = stop_on_signals()
    try:
        serve(settings, stopping, on_ready=announce)
    except StartupError as e:  # the policy file, the store, the keys, an address
        print(f"identity service: {e}", file=sys.stderr)
        return EXIT_CONFIGURATION
    print("identity service: stopped", flush=True)
    return 0


def configure_logging(settings: Settings) -> None:
    logging.basicConfig(level=settings.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")


def stop_on_signals() -> threading.Event:
    stopping = threading.Event()

    def stop(signum, frame):
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    return stopping


def announce(settings: Settings, grpc_port: int, http_port: int) -> None:
    """The lines operators (and tests, and the benchmark) wait for."""
    host = settings.listen.rsplit(":", 1)[0]
    print(f"identity service: gRPC on {host}:{grpc_port}", flush=True)
    http_host = settings.http_listen.rsplit(":", 1)[0]
    print(f"identity service: HTTP on {http_host}:{http_port}", flush=True)


def serve(settings: Settings, stopping: threading.Event, on_ready, reuse_port: bool = False):
    """One whole server (core, gRPC, gateway) until `stopping` is set. Raises
    StartupError, having started nothing, when it cannot start as configured."""
    allocator.configure(settings.malloc_mmap_threshold_kib)
    core = open_core(settings)
    with contextlib.ExitStack() as undo:  # unwound only if a later step fails
        undo.callback(core.close)
        server, port = bind_grpc(core, reuse_port)
        undo.callback(server.stop, None)
        http = bind_http(core, reuse_port, port)
        undo.pop_all()
    core.start()
    server.start()
    http.start()
    on_ready(settings, port, http.port)
    stopping.wait()
    # Tell load balancers first, then let calls in flight finish.
    server.health_servicer.enter_graceful_shutdown()
    http.stop()
    server.stop(SHUTDOWN_GRACE_SECONDS).wait()
    core.close()
