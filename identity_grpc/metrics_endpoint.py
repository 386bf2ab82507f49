"""Serving the Prometheus metrics (`metrics`) on `metrics_listen`, a port of its own.

One process: its own metrics, from memory (with the client's process and Python
collectors). Several (`processes` > 1): every worker writes its values to files in
a directory the supervisor makes for the run (prometheus-client's multiprocess
mode, chosen by `PROMETHEUS_MULTIPROC_DIR`, which the workers inherit), and the
supervisor serves them combined: counters and histograms summed over the workers,
gauges as each says (`multiprocess_mode`: a sum, or the stalest worker's feed poll).
A scrape thus covers every worker, whichever one the kernel would have handed the
connection to. The directory is the supervisor's for one run: made empty at start,
removed at exit, and a stopped worker's live gauges are dropped from it.
"""

import os
import shutil
import tempfile

from prometheus_client import REGISTRY, CollectorRegistry, multiprocess, start_http_server

from .config import Settings
from .startup import StartupError

MULTIPROCESS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


class MetricsEndpoint:
    """An HTTP server answering scrapes of `registry` (any path; `/metrics` by
    convention) on a daemon thread; `address` is host:port as bound."""

    def __init__(self, address: str, registry):
        host, _, port = address.rpartition(":")
        try:
            self._server, _ = start_http_server(int(port), host.strip("[]") or "127.0.0.1",
                                                registry)
        except OSError as e:
            raise StartupError(f"metrics_listen {address}: cannot bind: "
                               f"{e.strerror or e}") from None
        self.address = f"{host}:{self._server.server_port}"

    def announce(self) -> None:
        print(f"identity service: metrics on {self.address}", flush=True)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def start(settings: Settings) -> MetricsEndpoint | None:
    """This process's metrics on `metrics_listen`; None when it is empty."""
    if not settings.metrics_listen:
        return None
    return MetricsEndpoint(settings.metrics_listen, REGISTRY)


class WorkersMetrics(MetricsEndpoint):
    """The supervisor's endpoint: every worker's metrics, from their files."""

    def __init__(self, address: str):
        self.directory = tempfile.mkdtemp(prefix="identity-metrics-")
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=self.directory)
        try:
            super().__init__(address, registry)
        except StartupError:
            shutil.rmtree(self.directory, ignore_errors=True)
            raise
        # Read by prometheus-client when a worker imports it: workers are spawned
        # after this, so each writes its values under the directory.
        os.environ[MULTIPROCESS_DIR_VARIABLE] = self.directory

    def worker_stopped(self, pid: int) -> None:
        """Drop a stopped worker's live gauges (its counters stay in the sums)."""
        multiprocess.mark_process_dead(pid, self.directory)

    def stop(self) -> None:
        super().stop()
        os.environ.pop(MULTIPROCESS_DIR_VARIABLE, None)
        shutil.rmtree(self.directory, ignore_errors=True)


def for_workers(settings: Settings) -> WorkersMetrics | None:
    """The supervisor's endpoint, before it starts the workers; None when off."""
    if not settings.metrics_listen:
        return None
    return WorkersMetrics(settings.metrics_listen)
