"""Several server processes on one port.

CPython runs one thread of Python at a time, so a process spends at most one core
on handlers. Each worker is a whole server (core, gRPC, gateway) in a process of its
own, bound with SO_REUSEPORT so that the kernel spreads *connections* over the
workers (not calls: one client on one channel stays on one worker). Workers share
only the store and the key directory; to each other they are replicas, so what one
revokes the others refuse within one poll of the change feed.

The supervisor stays small: it binds nothing it serves, starts the workers, waits,
and stops them all on SIGTERM, or when one dies, so that whatever runs the service
(systemd, Kubernetes) sees the failure and restarts it whole.
"""

import logging
import multiprocessing
import multiprocessing.connection
import socket
import sys

from .config import Settings
from .store.db import open_database

log = logging.getLogger(__name__)
READY_TIMEOUT_SECONDS = 60.0


def serve_workers(settings: Settings) -> int:
    from .serve import announce, stop_on_signals

    # Upgrade the schema once, here, not in N processes racing each other.
    open_database(settings.database_url).close()
    # Port 0 means "any free port", which must be one port for every worker: the
    # supervisor picks it and keeps it bound (never listening) while they run.
    grpc_holder, listen = _pin_port(settings.listen)
    http_holder, http_listen = _pin_port(settings.http_listen)
    settings = settings.replace(listen=listen, http_listen=http_listen)
    stopping = stop_on_signals()

    context = multiprocessing.get_context("spawn")  # gRPC does not survive fork
    ready = context.Queue()
    workers = [context.Process(target=_worker, args=(settings, ready), daemon=True,
                               name=f"identity-worker-{i}") for i in range(settings.processes)]
    for worker in workers:
        worker.start()
    try:
        ports = [ready.get(timeout=READY_TIMEOUT_SECONDS) for _ in workers]
    except Exception:
        print("identity service: workers did not start", file=sys.stderr)
        _stop(workers)
        return 1
    announce(settings, ports[0][0], ports[0][1])
    print(f"identity service: {len(workers)} processes", flush=True)

    sentinels = [w.sentinel for w in workers]
    died = []
    while not stopping.is_set() and not died:
        died = multiprocessing.connection.wait(sentinels, timeout=0.2)
    if died:
        log.error("a worker process exited; stopping the others")
    _stop(workers)
    for holder in (grpc_holder, http_holder):
        if holder is not None:
            holder.close()
    print("identity service: stopped", flush=True)
    return 1 if died else 0


def _worker(settings: Settings, ready) -> None:
    from .serve import configure_logging, serve, stop_on_signals

    configure_logging(settings)
    stopping = stop_on_signals()
    serve(settings, stopping, reuse_port=True,
          on_ready=lambda _settings, grpc_port, http_port: ready.put((grpc_port, http_port)))


def _pin_port(address: str) -> tuple[socket.socket | None, str]:
    host, _, port = address.rpartition(":")
    if int(port) != 0:
        return None, address
    bare = host.strip("[]")
    family = socket.AF_INET6 if ":" in bare else socket.AF_INET
    holder = socket.socket(family, socket.SOCK_STREAM)
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    holder.bind((bare, 0))
    return holder, f"{host}:{holder.getsockname()[1]}"


def _stop(workers) -> None:
    for worker in workers:
        if worker.is_alive():
            worker.terminate()  # SIGTERM: each stops gracefully
    for worker in workers:
        worker.join(timeout=10)
        if worker.is_alive():
            worker.kill()
