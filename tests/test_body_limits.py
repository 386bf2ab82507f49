"""Request bodies are bounded before they are read (docs/limits.md): over
`max_request_body_size` (Keystone's 114,688 bytes) the gateway answers 413 from the
Content-Length alone, cuts a chunked body as soon as it passes the limit, and never
holds more; gRPC refuses such a message with RESOURCE_EXHAUSTED before decoding it.
Waitress' other refusals come in Keystone's JSON error format too."""

import json
import re
import select
import socket
import time
from pathlib import Path

import grpc
import pytest
from identity_api.admin.v1 import admin_pb2 as apb
from identity_api.v1 import identity_pb2 as pb

import support
from conftest import ServerProcess
from identity_grpc.config import Settings
from support import http_response, read_until_closed, rpc_error

LIMIT = Settings().max_request_body_size
TOO_LARGE = {"error": {"code": 413, "title": "Request Entity Too Large",
                       "message": f"Request is too large. Larger than max_request_body_size "
                                  f"({LIMIT})."}}
MIB = 1024 * 1024


def peak_rss_kib(pid: int) -> int:
    """The most memory the process has held so far (VmHWM), in KiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1))


def request_head(method: str, path: str, *headers: str) -> bytes:
    return "\r\n".join([f"{method} {path} HTTP/1.1", "Host: 127.0.0.1",
                        "Content-Type: application/json", *headers, "", ""]).encode()


def send_until_answered(sock: socket.socket, head: bytes, chunks, timeout: float = 10) -> bytes:
    """Send `head`, then `chunks` for as long as the server reads them; stop as soon
    as it answers (or stops reading); then everything it sent until it closed."""
    sock.sendall(head)
    sock.setblocking(False)
    deadline = time.monotonic() + timeout
    for chunk in chunks:
        view = memoryview(chunk)
        while view and time.monotonic() < deadline:
            readable, writable, _ = select.select([sock], [sock], [], 0.5)
            if readable:
                return read_until_closed(sock)
            if writable:
                try:
                    view = view[sock.send(view):]
                except OSError:  # the server closed while we were still sending
                    return read_until_closed(sock)
    return read_until_closed(sock, timeout=max(0.1, deadline - time.monotonic()))


def chunked(total: int, size: int = 64 * 1024):
    piece = b"x" * size
    for _ in range(total // size):
        yield b"%x\r\n" % size + piece + b"\r\n"
    yield b"0\r\n\r\n"


@pytest.fixture
def server(deployment):
    process = ServerProcess(deployment)
    yield process
    process.stop()


def assert_too_large(raw: bytes) -> None:
    status, headers, body = http_response(raw)
    assert status == 413, raw[:300]
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == TOO_LARGE
    assert body.endswith(b"}}\n")  # Keystone's compact error body
    assert headers["x-openstack-request-id"].startswith("req-")


def test_a_huge_content_length_is_refused_at_once_and_memory_stays_flat(server):
    before = peak_rss_kib(server.proc.pid)
    with socket.create_connection(("127.0.0.1", server.http_port)) as s:
        started = time.monotonic()
        raw = send_until_answered(
            s, request_head("POST", "/v3/auth/tokens", "Content-Length: 200000000"),
            [b'{"auth": {"identity": ', b" " * (20 * MIB)])
        assert time.monotonic() - started < 5
    assert_too_large(raw)
    assert peak_rss_kib(server.proc.pid) - before < 5 * 1024


def test_a_chunked_body_is_cut_past_the_limit_and_memory_stays_flat(server):
    before = peak_rss_kib(server.proc.pid)
    with socket.create_connection(("127.0.0.1", server.http_port)) as s:
        started = time.monotonic()
        raw = send_until_answered(
            s, request_head("POST", "/v3/auth/tokens", "Transfer-Encoding: chunked"),
            chunked(50 * MIB))
        assert time.monotonic() - started < 5
    assert_too_large(raw)
    assert peak_rss_kib(server.proc.pid) - before < 5 * 1024


def test_a_10_mib_admin_body_creates_no_user(service, gateway):
    token = support.system_admin_token(service.stub)
    body = json.dumps({"user": {"name": "huge", "domain_id": "default",
                                "blob": "x" * (10 * MIB)}}).encode()
    with socket.create_connection(("127.0.0.1", int(gateway.rsplit(":", 1)[1]))) as s:
        raw = send_until_answered(s, request_head("POST", "/v3/users", f"X-Auth-Token: {token}",
                                                  f"Content-Length: {len(body)}"), [body])
    assert_too_large(raw)
    admin = support.AdminClient(service.channel, token)
    assert not admin.call(admin.users.ListUsers, apb.ListUsersRequest(name="huge")).users


def _user_body(name: str, size: int) -> bytes:
    """A user create body of exactly `size` bytes (JSON whitespace fills it)."""
    body = json.dumps({"user": {"name": name, "domain_id": "default"}}).encode()
    return body + b" " * (size - len(body))


def test_a_body_of_exactly_the_limit_is_served_one_byte_more_is_not(service, gateway):
    from test_gateway_admin import call
    token = support.system_admin_token(service.stub)
    port = int(gateway.rsplit(":", 1)[1])
    for name, size, expected in (("at-limit", LIMIT, 201), ("past-limit", LIMIT + 1, 413)):
        body = _user_body(name, size)
        with socket.create_connection(("127.0.0.1", port)) as s:
            raw = send_until_answered(
                s, request_head("POST", "/v3/users", f"X-Auth-Token: {token}",
                                f"Content-Length: {len(body)}", "Connection: close"), [body])
        assert http_response(raw)[0] == expected, (name, raw[:300])
    status, _, users, _ = call(f"{gateway}/v3/users?name=at-limit", token=token)
    assert status == 200 and len(users["users"]) == 1
    status, _, users, _ = call(f"{gateway}/v3/users?name=past-limit", token=token)
    assert status == 200 and users["users"] == []


@pytest.mark.parametrize("head, status, title", [
    (request_head("POST", "/v3/auth/tokens", "Content-Length: 12abc"), 400, "Bad Request"),
    (request_head("GET", "/v3", "X-Big: " + "h" * (70 * 1024)), 431,
     "Request Header Fields Too Large"),
    (request_head("POST", "/v3/auth/tokens", "Transfer-Encoding: gzip"), 501, "Not Implemented"),
])
def test_requests_waitress_refuses_get_keystones_error_body(gateway, head, status, title):
    with socket.create_connection(("127.0.0.1", int(gateway.rsplit(":", 1)[1]))) as s:
        s.sendall(head)
        got, headers, body = http_response(read_until_closed(s))
    assert got == status
    assert headers["content-type"] == "application/json"
    error = json.loads(body)["error"]
    assert (error["code"], error["title"]) == (status, title) and error["message"]
    assert b"h" * 100 not in body  # never quotes the request back


def test_grpc_requests_past_the_limit_are_resource_exhausted(service, admin):
    password = "p" * (LIMIT + 1)
    error = rpc_error(service.stub.Authenticate, support.password_request("alice", password))
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    error = rpc_error(admin.call, admin.users.CreateUser,
                      apb.CreateUserRequest(name="huge", description="d" * (10 * MIB)))
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert not admin.call(admin.users.ListUsers, apb.ListUsersRequest(name="huge")).users
    # just under the limit, a request is decoded and judged on its merits
    error = rpc_error(service.stub.Authenticate,
                      support.password_request("alice", "p" * (LIMIT - 200)))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert service.stub.Ping(pb.PingRequest()) is not None
