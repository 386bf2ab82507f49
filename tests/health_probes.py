"""Probing a server as a load balancer or Kubernetes does: the gateway's health paths
over HTTP, and grpc.health.v1 (Check, and a Watch that records what it hears)."""

import json
import threading
import time
import urllib.error
import urllib.request

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
PROBE_TIMEOUT = 5.0


def fetch(url: str, method: str = "GET", headers: dict | None = None, body: bytes | None = None,
          timeout: float = PROBE_TIMEOUT):
    """(status, headers, body text) of one request, on a connection of its own."""
    request = urllib.request.Request(url, method=method, headers=headers or {}, data=body)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def ready(base: str) -> tuple[int, dict]:
    status, _, body = fetch(base + "/healthz/ready")
    return status, json.loads(body)


def grpc_status(address: str, service: str = "") -> int:
    """What Health.Check answers, over a new channel (a new connection)."""
    with grpc.insecure_channel(address) as channel:
        return health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=PROBE_TIMEOUT).status


def wait_until(condition, timeout: float, what: str):
    """Poll `condition` until it returns something true; fail naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not {what} within {timeout} s")
        time.sleep(0.05)


class HealthWatch:
    """A Health.Watch stream, on a thread, recording each status it is sent."""

    def __init__(self, address: str, service: str = ""):
        self.statuses: list[int] = []
        self._channel = grpc.insecure_channel(address)
        self._call = health_pb2_grpc.HealthStub(self._channel).Watch(
            health_pb2.HealthCheckRequest(service=service))
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for answer in self._call:
                self.statuses.append(answer.status)
        except grpc.RpcError:
            pass  # cancelled by close(), or the server went away

    def transitions(self) -> list[int]:
        """The statuses heard, each repeat folded into one."""
        folded: list[int] = []
        for status in self.statuses:
            if not folded or folded[-1] != status:
                folded.append(status)
        return folded

    def close(self) -> None:
        self._call.cancel()
        self._channel.close()
        self._thread.join(timeout=PROBE_TIMEOUT)
