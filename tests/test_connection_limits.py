"""Connections a client may hold (docs/limits.md): the gateway keeps answering while
many idle and trickling (slowloris) connections are open, cuts requests that take
longer than `request_timeout` to arrive, and gRPC caps connections and concurrent
calls per server. Each test talks only to servers it started on loopback."""

import contextlib
import logging
import http.client
import re
import resource
import selectors
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
import pytest
from identity_api.v1 import identity_pb2 as pb
from identity_api.v1 import identity_pb2_grpc as rpc

from conftest import ServerProcess, start_service
from identity_grpc import open_files
from identity_grpc.config import Settings
from support import auth_md, http_response, login, project_scope, read_until_closed

IDLE_CONNECTIONS = 1000  # with the trickling ones, past select()'s 1,024 descriptors
TRICKLING_CONNECTIONS = 100
SLOW_REQUEST_TIMEOUT = 5  # request_timeout of the server they are held against
SLOW_HEADER = b"GET /v3 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 200


@contextlib.contextmanager
def soft_open_file_limit(count: int):
    """Children started meanwhile inherit a soft limit of `count` (systemd's 1,024)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(count, hard), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def open_file_limits(pid: int) -> tuple[int, int]:
    text = Path(f"/proc/{pid}/limits").read_text()
    soft, hard = re.search(r"Max open files\s+(\d+)\s+(\d+)", text).groups()
    return int(soft), int(hard)


def version_discovery_seconds(port: int) -> float:
    """How long a fresh client waits for `GET /v3` (200) on a new connection."""
    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", "/v3")
        assert connection.getresponse().status == 200
    finally:
        connection.close()
    return time.monotonic() - started


class Trickler:
    """Slowloris: connections that each send one more header byte every second and
    never finish; records when, and with what, the server closed each one."""

    def __init__(self, port: int, count: int):
        self.sockets = [socket.create_connection(("127.0.0.1", port)) for _ in range(count)]
        self.started = time.monotonic()
        self.closed_after: dict[socket.socket, float] = {}
        self.answers: dict[socket.socket, bytes] = {s: b"" for s in self.sockets}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        selector = selectors.DefaultSelector()
        for s in self.sockets:
            s.setblocking(False)
            selector.register(s, selectors.EVENT_READ)
        sent, next_byte = 0, time.monotonic()
        while not self._stop.is_set() and len(self.closed_after) < len(self.sockets):
            if time.monotonic() >= next_byte and sent < len(SLOW_HEADER):
                for s in self.sockets:
                    if s not in self.closed_after:
                        with contextlib.suppress(OSError):
                            s.send(SLOW_HEADER[sent:sent + 1])
                sent, next_byte = sent + 1, next_byte + 1.0
            for key, _ in selector.select(timeout=0.1):
                s = key.fileobj
                try:
                    data = s.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                self.answers[s] += data
                if not data:
                    self.closed_after[s] = time.monotonic() - self.started
                    selector.unregister(s)

    def wait_until_all_closed(self, timeout: float) -> None:
        self._thread.join(timeout)
        self._stop.set()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for s in self.sockets:
            s.close()


@pytest.mark.slow
def test_gateway_answers_while_idle_and_trickling_connections_are_held(deployment):
    ours = open_files.ensure_open_files(4096)  # this test's own end of the connections
    if ours < IDLE_CONNECTIONS + TRICKLING_CONNECTIONS + 256:
        pytest.skip(f"the hard open-file limit ({ours}) cannot hold this test's connections")
    with soft_open_file_limit(1024):
        server = ServerProcess(deployment, IDENTITY_REQUEST_TIMEOUT=str(SLOW_REQUEST_TIMEOUT))
    idle, trickler = [], None
    try:
        idle = [socket.create_connection(("127.0.0.1", server.http_port))
                for _ in range(IDLE_CONNECTIONS)]
        trickler = Trickler(server.http_port, TRICKLING_CONNECTIONS)
        time.sleep(1.5)  # every connection accepted, each trickler a byte or two in
        assert version_discovery_seconds(server.http_port) < 5
        answered_at = time.monotonic() - trickler.started
        soft, hard = open_file_limits(server.proc.pid)  # raised from 1,024 at start
        assert soft == min(hard, open_files.needed(Settings())), (soft, hard)

        trickler.wait_until_all_closed(timeout=30)
        assert len(trickler.closed_after) == TRICKLING_CONNECTIONS
        cuts = trickler.closed_after.values()
        first_cut, last_cut = min(cuts), max(cuts)
        assert answered_at < first_cut  # it answered while every one was held
        assert SLOW_REQUEST_TIMEOUT - 0.5 <= first_cut and last_cut < SLOW_REQUEST_TIMEOUT + 15
        for answer in trickler.answers.values():
            status, headers, body = http_response(answer)
            assert status == 408 and headers["content-type"] == "application/json"
            assert b'"title":"Request Timeout"' in body

        assert version_discovery_seconds(server.http_port) < 5  # idle ones still held
        for s in idle[:50]:
            s.setblocking(False)
            with pytest.raises(BlockingIOError):  # open, nothing sent: not yet cut
                s.recv(1)
    finally:
        if trickler:
            trickler.close()
        for s in idle:
            s.close()
        server.stop()


def test_a_hard_open_file_limit_too_low_lowers_the_http_limit_and_says_so(tmp_path):
    """Where the hard limit cannot cover the connection limits, the soft limit goes as
    high as it may and the HTTP limit shrinks to fit, rather than accept() failing."""
    hard = min(1500, resource.getrlimit(resource.RLIMIT_NOFILE)[1])
    script = ("import logging, resource\n"
              "from identity_grpc import open_files\n"
              "from identity_grpc.config import Settings\n"
              "logging.basicConfig()\n"
              "print(open_files.http_connection_limit(Settings()),"
              " resource.getrlimit(resource.RLIMIT_NOFILE)[0])\n")
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (min(1024, hard), hard)))
    http_limit, soft = map(int, done.stdout.split())
    assert soft == hard
    assert http_limit == max(open_files.HTTP_FLOOR,
                             hard - Settings().grpc_max_connections - open_files.RESERVED)
    assert "raise the hard limit" in done.stderr


def test_a_slow_body_is_cut_but_a_quiet_keep_alive_connection_is_not(deployment):
    """The timeout is on receiving a request, its headers and its body: a connection
    resting between requests is idle, and only `http_idle_timeout` closes it."""
    from identity_grpc.gateway.server import HttpServer
    running = start_service(deployment.replace(request_timeout=1))
    gateway = HttpServer(running.core, "127.0.0.1:0").start()
    try:
        with socket.create_connection(("127.0.0.1", gateway.port)) as s:
            s.sendall(b"POST /v3/auth/tokens HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n"
                      b"\r\n{\"auth\"")
            started = time.monotonic()
            status, _, body = http_response(read_until_closed(s))
            assert status == 408 and 0.9 < time.monotonic() - started < 8
            assert b"did not arrive within 1 seconds" in body
        connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=10)
        connection.connect()
        first = connection.sock
        connection.request("GET", "/v3")
        assert connection.getresponse().read()
        time.sleep(2.5)  # resting longer than request_timeout
        connection.request("GET", "/v3")
        assert connection.getresponse().read()
        assert connection.sock is first
        connection.close()
    finally:
        gateway.stop()
        running.stop()


# ---- gRPC ------------------------------------------------------------------------

OWN_CONNECTION = [("grpc.use_local_subchannel_pool", 1)]  # no sharing between channels


def ping(address: str, timeout: float = 2, wait_for_ready: bool = False):
    """A fresh channel (its own connection) and its Ping's status code."""
    channel = grpc.insecure_channel(address, options=OWN_CONNECTION)
    try:
        rpc.IdentityStub(channel).Ping(pb.PingRequest(), timeout=timeout,
                                       wait_for_ready=wait_for_ready)
        return channel, grpc.StatusCode.OK
    except grpc.RpcError as e:
        return channel, e.code()


def test_grpc_caps_connections_per_server(deployment):
    running = start_service(deployment.replace(grpc_max_connections=3, request_timeout=1))
    channels = []
    try:
        for _ in range(3):
            channel, code = ping(running.address)
            channels.append(channel)
            assert code == grpc.StatusCode.OK
        refused, code = ping(running.address)
        refused.close()  # else it keeps reconnecting, and may take the place freed next
        assert code == grpc.StatusCode.UNAVAILABLE  # the fourth connection is refused
        channels.pop(0).close()
        channel, code = ping(running.address, timeout=10, wait_for_ready=True)
        channels.append(channel)
        assert code == grpc.StatusCode.OK  # a freed place is taken again
    finally:
        for channel in channels:
            channel.close()
        running.stop()


def test_grpc_connections_that_never_handshake_are_cut(deployment):
    """Bare TCP connections count against the cap from accept; they get
    `request_timeout` to send the HTTP/2 preface, then go."""
    running = start_service(deployment.replace(grpc_max_connections=3, request_timeout=1))
    raw = [socket.create_connection(("127.0.0.1", running.port)) for _ in range(3)]
    try:
        time.sleep(0.3)
        channel, code = ping(running.address)
        channel.close()
        assert code == grpc.StatusCode.UNAVAILABLE
        for s in raw:
            s.settimeout(10)
            received = b""
            while chunk := s.recv(4096):  # SETTINGS, then GOAWAY, then closed
                received += chunk
            assert b"handshake timeout" in received
        channel, code = ping(running.address, timeout=10, wait_for_ready=True)
        channel.close()
        assert code == grpc.StatusCode.OK
    finally:
        for s in raw:
            s.close()
        running.stop()


def test_grpc_calls_past_the_concurrency_cap_are_resource_exhausted(deployment):
    running = start_service(deployment.replace(grpc_max_concurrent_rpcs=2))
    streams = []
    try:
        nova = login(running.stub, "nova", project_scope("service")).token
        for _ in range(2):  # each revocation stream is a call that stays open
            stream = running.stub.WatchRevocations(pb.WatchRevocationsRequest(),
                                                   metadata=auth_md(nova))
            assert next(stream).snapshot
            streams.append(stream)
        with pytest.raises(grpc.RpcError) as info:
            running.stub.Ping(pb.PingRequest(), timeout=5)
        assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        streams.pop().cancel()
        deadline = time.monotonic() + 5
        while True:  # the cancelled call's place frees once its thread notices
            try:
                running.stub.Ping(pb.PingRequest(), timeout=5)
                break
            except grpc.RpcError as e:
                assert e.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
                assert time.monotonic() < deadline
                time.sleep(0.1)
    finally:
        for stream in streams:
            stream.cancel()
        running.stop()


def test_requests_waiting_for_a_gateway_thread_log_no_warning(service, caplog):
    """waitress warns for every request that finds all its threads busy; under
    ordinary load that is every request, a line each on the hot path."""
    from identity_grpc.gateway.server import HttpServer

    gateway = HttpServer(service.core, "127.0.0.1:0", threads=1).start()
    caplog.set_level(logging.DEBUG)
    answered = []

    def get_many():
        connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=10)
        for _ in range(20):
            connection.request("GET", "/v3")
            answered.append(connection.getresponse().read() and True)
        connection.close()

    try:
        clients = [threading.Thread(target=get_many) for _ in range(8)]
        for client in clients:
            client.start()
        for client in clients:
            client.join(timeout=30)
    finally:
        gateway.stop()
    assert len(answered) == 160
    assert not [r for r in caplog.records if "queue depth" in r.getMessage()]
