"""Running the service: settings, logging, the server, graceful shutdown.

Logs, metrics and traces: docs/observability.md (`logs`, `metrics_endpoint`, `tracing`)."""

import argparse
import contextlib
import os
import sys

from . import allocator, demo_passwords, logs, metrics_endpoint, placement, secret_env, tracing
from .config import Settings, load_settings
from .lifecycle import Stopping, drain_and_stop, stop_on_signals
from .startup import EXIT_CONFIGURATION, StartupError, bind_grpc, bind_http, open_core


def main(argv: list[str] | None = None) -> int:
    # The server never needs the bootstrap password; `make run` hands it the same
    # environment as `identity-manage setup`. Gone before any thread or worker starts.
    secret_env.take(secret_env.ADMIN_PASSWORD)
    if argv is None:  # run as a program, not called from one: safe to start it again
        allocator.reexec_with_huge_pages(sys.orig_argv[1:])  # `-m identity_grpc.serve` too
    parser = argparse.ArgumentParser(
        description="Serve the identity service: gRPC and the HTTP gateway.")
    parser.add_argument("--config", help="settings file (TOML); IDENTITY_* variables override it")
    parser.add_argument("--demo", action="store_true",
                        help="this is the demo: its published passwords are expected "
                             "(without it, each still in use is warned of at start)")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(args.config or os.environ.get("IDENTITY_CONFIG"))
    except (ValueError, OSError) as e:  # one clear line naming the setting, no traceback
        print(f"identity service: bad configuration: {e}", file=sys.stderr)
        return EXIT_CONFIGURATION
    if placement.process_count(settings) > 1:
        configure_logging(settings)
        from .workers import serve_workers
        return serve_workers(settings, warn_demo_passwords=not args.demo)
    cpu = placement.worker_cpu(settings, 0, 1)
    if cpu is not None:  # before any thread starts (the log's writer too): they inherit it
        placement.pin_thread(cpu)
    configure_logging(settings)
    stopping = stop_on_signals()
    try:
        serve(settings, stopping, on_ready=announce, warn_demo_passwords=not args.demo)
    except StartupError as e:  # the policy file, the store, the keys, an address
        print(f"identity service: {e}", file=sys.stderr)
        return EXIT_CONFIGURATION
    print("identity service: stopped", flush=True)
    return 0


def configure_logging(settings: Settings) -> None:
    logs.configure(settings.log_level, settings.log_format)  # JSON lines on stderr


def announce(settings: Settings, grpc_port: int, http_port: int) -> None:
    """The lines operators (and tests, and the benchmark) wait for."""
    host = settings.listen.rsplit(":", 1)[0]
    print(f"identity service: gRPC on {host}:{grpc_port}", flush=True)
    http_host = settings.http_listen.rsplit(":", 1)[0]
    print(f"identity service: HTTP on {http_host}:{http_port}", flush=True)


def serve(settings: Settings, stopping: Stopping, on_ready, reuse_port: bool = False,
          warn_demo_passwords: bool = False, serve_metrics: bool = True, hash_slots=None):
    """One whole server (core, gRPC, gateway, and the metrics unless `serve_metrics`
    is off: a worker's are served by its supervisor) until `stopping` is set. Raises
    StartupError, having started nothing, when it cannot start as configured.
    `warn_demo_passwords`: once serving, warn of the demo's passwords still in use."""
    allocator.configure(settings.malloc_mmap_threshold_kib)
    traces = tracing.start(settings)  # before the transports, which ask for its tracer
    core = open_core(settings, hash_slots)
    with contextlib.ExitStack() as undo:  # unwound only if a later step fails
        undo.callback(core.close)
        server, port = bind_grpc(core, reuse_port)
        undo.callback(server.stop, None)
        metrics = metrics_endpoint.start(settings) if serve_metrics else None
        if metrics is not None:
            undo.callback(metrics.stop)
        http = bind_http(core, reuse_port, port)
        undo.pop_all()
    core.start()
    server.start()
    http.start()
    on_ready(settings, port, http.port)
    if metrics is not None:
        metrics.announce()
    if warn_demo_passwords:
        demo_passwords.warn_in_background(core)
    stopping.wait()
    drain_and_stop(settings, core.health, stopping, server, http)  # docs/health.md
    core.close()
    if metrics is not None:
        metrics.stop()
    tracing.stop(traces)


if __name__ == "__main__":  # python -m identity_grpc.serve
    sys.exit(main())
