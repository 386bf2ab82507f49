"""Stopping without dropping a call: drain, close the listeners, finish, exit.

On SIGTERM (or SIGINT) a server first *drains* for `shutdown_drain_seconds`: it reports
not ready (gRPC health NOT_SERVING, `/healthz/ready` and `/healthcheck` 503) while
answering every call as before, so that load balancers and Kubernetes take it out of
rotation before it stops answering. Then it closes both listeners, gives the calls in
flight `shutdown_grace_seconds` to finish, and returns (the process exits 0). A second
signal during the drain ends the drain at once. Every worker of `processes` > 1 does
the same: the supervisor passes each signal on (docs/health.md).
"""

import logging
import signal
import threading

from .config import Settings
from .health import Health

log = logging.getLogger(__name__)


class Stopping(threading.Event):
    """Set by the first stop signal; `hurry` is set by the next one."""

    def __init__(self):
        super().__init__()
        self.hurry = threading.Event()

    def signal(self) -> None:
        if self.is_set():
            self.hurry.set()
        self.set()


def stop_on_signals() -> Stopping:
    stopping = Stopping()

    def stop(signum, frame):
        stopping.signal()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    return stopping


def drain_and_stop(settings: Settings, health: Health, stopping: Stopping, grpc_server,
                   http_server) -> None:
    """The shutdown timeline, once `stopping` is set: drain, close, finish."""
    drain, grace = settings.shutdown_drain_seconds, settings.shutdown_grace_seconds
    health.begin_drain()
    if drain:
        log.info("stopping: reporting not ready for %g s while still serving", drain)
        if stopping.hurry.wait(drain):
            log.info("stopping: a second signal ended the drain")
    log.info("stopping: listeners closed; %g s for calls in flight", grace)
    grpc_stopped = grpc_server.stop(grace)  # closes its listener now, cancels calls at `grace`
    http_server.stop(grace)
    grpc_stopped.wait()
