"""Several server processes on one port.

CPython runs one thread of Python at a time, so a process spends at most one core
on handlers. Each worker is a whole server (core, gRPC, gateway) in a process of its
own, bound with SO_REUSEPORT so that the kernel spreads *connections* over the
workers (not calls: one client on one channel stays on one worker). Workers share
only the store and the key directory; to each other they are replicas, so what one
revokes the others refuse within one poll of the change feed.

The supervisor stays small: it binds nothing it serves, starts the workers, waits,
and stops them all on SIGTERM, or when one dies, so that whatever runs the service
(systemd, Kubernetes) sees the failure and restarts it whole. What would stop every
worker at start (a bad policy file, the store, the keys, an address in use) it finds
first, and a worker that cannot start reports why: either way one line and exit
status 2, as for one process. With `metrics_listen`, the supervisor serves every
worker's metrics combined (`metrics_endpoint.WorkersMetrics`).
"""

import logging
import multiprocessing
import multiprocessing.connection
import os
import queue
import socket
import sys
import time

from . import logs, metrics_endpoint, placement, startup
from .config import Settings
from .startup import EXIT_CONFIGURATION, StartupError

log = logging.getLogger(__name__)
READY_TIMEOUT_SECONDS = 60.0
STOP_MARGIN_SECONDS = 5.0  # past a worker's drain and grace, before it is killed


def serve_workers(settings: Settings, warn_demo_passwords: bool = False) -> int:
    from .serve import announce, stop_on_signals

    try:
        # Once, here: the schema upgrade (not N processes racing each other), and what
        # would stop every worker anyway.
        startup.check(settings)
        # Port 0 means "any free port", which must be one port for every worker: the
        # supervisor picks it and keeps it bound (never listening) while they run. A
        # fixed port is held the same way, so that one in use is found here.
        grpc_holder, listen = _pin_port("listen", settings.listen)
        http_holder, http_listen = _pin_port("http_listen", settings.http_listen)
        metrics = metrics_endpoint.for_workers(settings)  # before the workers start
    except StartupError as e:
        print(f"identity service: {e}", file=sys.stderr)
        return EXIT_CONFIGURATION
    settings = settings.replace(listen=listen, http_listen=http_listen)
    stopping = stop_on_signals()

    context = multiprocessing.get_context("spawn")  # gRPC does not survive fork
    ready = context.Queue()
    # The first worker alone warns of the demo's passwords (once, not once a process).
    count = placement.process_count(settings)
    # Hashes at once on this host: as many as one process would run (passwords.py).
    hash_slots = context.BoundedSemaphore(settings.password_hash_concurrency
                                          or os.cpu_count() or 2)
    workers = [context.Process(target=_worker, daemon=True,
                               args=(settings, ready, warn_demo_passwords and i == 0,
                                     placement.worker_cpu(settings, i, count), hash_slots),
                               name=f"identity-worker-{i}") for i in range(count)]
    for worker in workers:
        worker.start()
    started = _wait_until_ready(workers, ready)
    if isinstance(started, int):
        _stop(workers, settings, metrics=metrics)
        return started
    announce(settings, *started)
    if metrics is not None:
        metrics.announce()
    print(f"identity service: {len(workers)} processes", flush=True)

    sentinels = [w.sentinel for w in workers]
    died = []
    while not stopping.is_set() and not died:
        died = multiprocessing.connection.wait(sentinels, timeout=0.2)
    if died:
        log.error("a worker process exited; stopping the others")
    _stop(workers, settings, stopping, metrics)
    for holder in (grpc_holder, http_holder):
        holder.close()
    print("identity service: stopped", flush=True)
    return 1 if died else 0


def _wait_until_ready(workers, ready) -> tuple[int, int] | int:
    """The (gRPC, HTTP) ports once every worker serves; else, having said why on
    stderr, the exit status: 2 when a worker could not start as configured."""
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    ports = []
    while len(ports) < len(workers):
        dead = [w for w in workers if w.exitcode is not None]
        try:
            # A worker that died said why first, if it could: wait a moment for it.
            kind, *detail = ready.get(timeout=1.0 if dead else 0.2)
        except queue.Empty:
            if dead or time.monotonic() > deadline:
                why = (f"{dead[0].name} exited with status {dead[0].exitcode}" if dead
                       else f"not serving after {READY_TIMEOUT_SECONDS:.0f} s")
                print(f"identity service: workers did not start: {why}", file=sys.stderr)
                return 1
            continue
        if kind == "failed":
            print(f"identity service: {detail[0]}", file=sys.stderr)
            return EXIT_CONFIGURATION
        ports.append(tuple(detail))
    return ports[0]


def _worker(settings: Settings, ready, warn_demo_passwords: bool = False,
            cpu: int | None = None, hash_slots=None) -> None:
    from .serve import configure_logging, serve, stop_on_signals

    if cpu is not None:  # before any thread starts: they all inherit it
        placement.pin_thread(cpu)
    configure_logging(settings)
    stopping = stop_on_signals()
    try:
        serve(settings, stopping, reuse_port=True, warn_demo_passwords=warn_demo_passwords,
              serve_metrics=False, hash_slots=hash_slots,
              on_ready=lambda _settings, grpc_port, http_port: ready.put(
                  ("ready", grpc_port, http_port)))
    except StartupError as e:  # told by the supervisor, once
        ready.put(("failed", str(e)))
        sys.exit(EXIT_CONFIGURATION)
    finally:
        logs.stop()  # what is still queued, written before the process ends


def _pin_port(setting: str, address: str) -> tuple[socket.socket, str]:
    """A socket bound (SO_REUSEPORT, never listening) to `address`, and the address
    with the port it got: the workers bind beside it."""
    host, _, port = address.rpartition(":")
    bare = host.strip("[]")
    family = socket.AF_INET6 if ":" in bare else socket.AF_INET
    holder = socket.socket(family, socket.SOCK_STREAM)
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        holder.bind((bare, int(port)))
    except OSError as e:
        holder.close()
        raise StartupError(f"{setting} {address}: cannot bind: {e.strerror or e}") from None
    return holder, f"{host}:{holder.getsockname()[1]}"


def _stop(workers, settings: Settings, stopping=None, metrics=None) -> None:
    """SIGTERM to each worker, which drains and stops as one process does
    (docs/health.md); a second signal to the supervisor is passed on (it ends their
    drain). A worker still running past its drain and grace, and a margin, is killed;
    the metrics forget each stopped worker's live gauges."""
    for worker in workers:
        if worker.is_alive():
            worker.terminate()
    deadline = time.monotonic() + (settings.shutdown_drain_seconds
                                   + settings.shutdown_grace_seconds + STOP_MARGIN_SECONDS)
    hurried = False
    while any(w.is_alive() for w in workers) and time.monotonic() < deadline:
        if stopping is not None and stopping.hurry.is_set() and not hurried:
            hurried = True
            for worker in workers:
                if worker.is_alive():
                    worker.terminate()
        multiprocessing.connection.wait([w.sentinel for w in workers if w.is_alive()],
                                        timeout=0.1)
    for worker in workers:
        if worker.is_alive():
            worker.kill()
            worker.join(timeout=5)
    if metrics is not None:
        for worker in workers:
            if worker.pid is not None:
                metrics.worker_stopped(worker.pid)
        metrics.stop()
