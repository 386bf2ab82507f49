"""`server.py` in a process of its own whose stdout, stderr and metrics a test reads:
the addresses it announces, its log lines (each parsed as JSON), a scrape of its
metrics endpoint over HTTP."""

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import grpc
from identity_api.v1 import identity_pb2_grpc as rpc
from prometheus_client.parser import text_string_to_metric_families

from conftest import store_env

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 60.0


class ObservedServer:
    def __init__(self, settings, directory: Path, **extra_env: str):
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "IDENTITY_LISTEN": "127.0.0.1:0",
               "IDENTITY_HTTP_LISTEN": "127.0.0.1:0", "IDENTITY_METRICS_LISTEN": "127.0.0.1:0",
               **store_env(settings), "IDENTITY_POLL_INTERVAL": str(settings.poll_interval),
               **extra_env}
        self.stderr_path = directory / f"server-{time.monotonic_ns()}.stderr"
        self._stderr = open(self.stderr_path, "w")
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "server.py")], env=env,
                                     stdout=subprocess.PIPE, stderr=self._stderr, text=True)
        self.addresses = self._announced(extra_env.get("IDENTITY_METRICS_LISTEN", "x") != "")
        self.channel = grpc.insecure_channel(self.addresses["gRPC"])
        self.stub = rpc.IdentityStub(self.channel)

    def _announced(self, with_metrics: bool) -> dict[str, str]:
        """{"gRPC": host:port, "HTTP": ..., "metrics": ...} from the start-up lines."""
        wanted = {"gRPC", "HTTP"} | ({"metrics"} if with_metrics else set())
        found: dict[str, str] = {}
        deadline = time.monotonic() + START_TIMEOUT
        while not wanted <= found.keys():
            line = self.proc.stdout.readline()
            if not line or time.monotonic() > deadline:
                self.proc.kill()
                raise RuntimeError(f"server did not start: {found}; stderr: {self.stderr()}")
            what, _, address = line.removeprefix("identity service: ").partition(" on ")
            if address:
                found[what] = address.strip()
        return found

    @property
    def http(self) -> str:
        return f"http://{self.addresses['HTTP']}"

    def scrape(self) -> dict[tuple, float]:
        """Every sample of the metrics endpoint: (name, sorted label pairs) -> value."""
        with urllib.request.urlopen(f"http://{self.addresses['metrics']}/metrics",
                                    timeout=10) as response:
            text = response.read().decode()
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for family in text_string_to_metric_families(text) for s in family.samples}

    def stderr(self) -> str:
        if not self._stderr.closed:
            self._stderr.flush()
        return self.stderr_path.read_text()

    def log_lines(self) -> list[dict]:
        """Every stderr line, each of which must be one JSON object."""
        lines = []
        for number, line in enumerate(self.stderr().splitlines(), 1):
            try:
                lines.append(json.loads(line))
            except ValueError:
                raise AssertionError(f"stderr line {number} is not JSON: {line!r}") from None
        return lines

    def stop(self) -> int:
        """SIGTERM; the exit status, once every log line is written (again: the same)."""
        if self.proc.returncode is not None:
            return self.proc.returncode
        self.channel.close()
        self.proc.terminate()
        try:
            code = self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait(timeout=10)
        self._stderr.close()
        return code


def sample(samples: dict, name: str, **labels) -> float:
    """The value of one sample (0 when the series is absent)."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)
