"""Shutdown drains (docs/health.md): on a real SIGTERM the server reports NOT_SERVING
and not ready for `shutdown_drain_seconds` while answering every call, then closes its
listeners, lets the calls in flight finish within `shutdown_grace_seconds`, and exits 0;
a second signal ends the drain; with `processes` > 1 every worker drains."""

import json
import signal
import socket
import threading
import time

from conftest import ServerProcess
from health_probes import (NOT_SERVING, SERVING, HealthWatch, fetch, grpc_status, ready,
                           wait_until)
from support import DEMO_PASSWORDS, login

EXIT_MARGIN = 10.0  # seconds past drain + grace a loaded machine may need to exit
# Rehashing a cheap stored hash with these takes seconds: a login long enough to be
# in flight when the listeners close.
SLOW_HASHING = {"IDENTITY_ARGON2_TIME_COST": "100", "IDENTITY_ARGON2_MEMORY_KIB": "19456"}


def _http(server) -> str:
    return f"http://127.0.0.1:{server.http_port}"


def _exit_status(server, within: float) -> tuple[int, float]:
    """The exit status and how long after now it came."""
    start = time.monotonic()
    code = server.proc.wait(timeout=within)
    return code, time.monotonic() - start


def _assert_draining_but_serving(server) -> None:
    """Probes say stop sending traffic; calls are answered as ever."""
    address = f"127.0.0.1:{server.port}"
    assert grpc_status(address) == NOT_SERVING
    assert grpc_status(address, "identity.v1.Identity") == NOT_SERVING
    status, answer = ready(_http(server))
    assert (status, answer["failed"]) == (503, ["shutdown"]), answer
    status, _, body = fetch(_http(server) + "/healthcheck")
    assert status == 503 and "draining" in body, body
    assert fetch(_http(server) + "/healthz/live")[0] == 200
    assert login(server.stub, "alice").token  # a channel opened before the signal
    assert fetch(_http(server) + "/v3")[0] == 200  # a new connection


def test_sigterm_reports_not_serving_for_the_drain_while_calls_still_succeed(deployment):
    drain, grace = 4.0, 5.0
    server = ServerProcess(deployment, IDENTITY_SHUTDOWN_DRAIN_SECONDS=str(drain),
                           IDENTITY_SHUTDOWN_GRACE_SECONDS=str(grace))
    watch = HealthWatch(f"127.0.0.1:{server.port}")
    try:
        wait_until(lambda: watch.statuses, 5, "told the status")
        signalled = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        wait_until(lambda: watch.transitions() == [SERVING, NOT_SERVING], drain,
                   "NOT_SERVING on Watch")
        _assert_draining_but_serving(server)
        assert time.monotonic() - signalled < drain  # all of it within the drain
        watch.close()  # an open stream would hold the stop for the whole grace
        code, after = _exit_status(server, drain + grace + EXIT_MARGIN)
        assert code == 0
        assert drain - 0.5 <= time.monotonic() - signalled <= drain + grace + EXIT_MARGIN
    finally:
        watch.close()
        server.stop()


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return False
    except OSError:
        return True


def test_calls_in_flight_when_the_listeners_close_finish(deployment):
    drain, grace = 0.5, 20.0
    server = ServerProcess(deployment, IDENTITY_SHUTDOWN_DRAIN_SECONDS=str(drain),
                           IDENTITY_SHUTDOWN_GRACE_SECONDS=str(grace), **SLOW_HASHING)
    answers, finished = {}, {}

    def grpc_login():
        answers["grpc"] = bool(login(server.stub, "alice").token)
        finished["grpc"] = time.monotonic()

    def http_login():
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": "bob", "domain": {"id": "default"}, "password": DEMO_PASSWORDS["bob"]}}}}}
        answers["http"] = fetch(_http(server) + "/v3/auth/tokens", method="POST",
                                headers={"Content-Type": "application/json"},
                                body=json.dumps(body).encode(), timeout=grace)[0]
        finished["http"] = time.monotonic()

    try:
        login(server.stub, "nova")  # the channel connected before the calls
        calls = [threading.Thread(target=grpc_login), threading.Thread(target=http_login)]
        for call in calls:
            call.start()
        time.sleep(0.3)  # both are hashing now
        server.proc.send_signal(signal.SIGTERM)
        closed = wait_until(lambda: _refused(server.http_port) and time.monotonic(),
                            drain + 5, "the HTTP listener closed")
        wait_until(lambda: _refused(server.port), 5, "the gRPC listener closed")
        for call in calls:
            call.join(timeout=grace)
        assert answers == {"grpc": True, "http": 201}
        assert min(finished.values()) > closed  # in flight when the listeners closed
        assert _exit_status(server, grace + EXIT_MARGIN)[0] == 0
    finally:
        server.stop()


def test_a_second_signal_ends_the_drain_of_every_worker(deployment):
    """Two worker processes, a drain far longer than the test: the first SIGTERM to
    the supervisor reaches both workers (NOT_SERVING on every new connection), the
    second ends their drain, and the whole exits 0 at once."""
    drain, grace = 60.0, 2.0
    server = ServerProcess(deployment, IDENTITY_PROCESSES="2",
                           IDENTITY_SHUTDOWN_DRAIN_SECONDS=str(drain),
                           IDENTITY_SHUTDOWN_GRACE_SECONDS=str(grace))
    try:
        address = f"127.0.0.1:{server.port}"
        assert grpc_status(address) == SERVING
        server.proc.send_signal(signal.SIGTERM)
        wait_until(lambda: grpc_status(address) == NOT_SERVING, 10, "NOT_SERVING")
        # New connections land on either worker: each of them drains.
        assert {grpc_status(address) for _ in range(20)} == {NOT_SERVING}
        assert {ready(_http(server))[0] for _ in range(20)} == {503}
        assert login(server.stub, "alice").token
        server.proc.send_signal(signal.SIGTERM)
        code, after = _exit_status(server, grace + EXIT_MARGIN)
        assert code == 0 and after < grace + EXIT_MARGIN
    finally:
        server.stop()


def test_a_drain_of_zero_stops_at_once(deployment):
    server = ServerProcess(deployment, IDENTITY_SHUTDOWN_DRAIN_SECONDS="0")
    try:
        assert login(server.stub, "alice").token
        server.proc.send_signal(signal.SIGTERM)
        code, after = _exit_status(server, EXIT_MARGIN)
        assert code == 0 and after < 5
    finally:
        server.stop()
