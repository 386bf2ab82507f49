"""TLS on both transports, for real: certificates made here (tests/tls_certificates.py),
a real server on loopback, gRPC's own channels and HTTPS clients (requests, ssl).

Proved on gRPC and the gateway alike: TLS serves; a client trusting another CA is
refused; with mutual TLS a client without a certificate, or with one from another CA,
is refused and one with a good certificate is served; a certificate replaced on disk
serves the next connection, without a restart, while open connections keep theirs.
The gateway's limits hold over TLS (408, 413), and a client that never finishes its
handshake neither stalls others nor holds its connection past `request_timeout`.
"""

import json
import os
import socket
import ssl
import time
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
import requests
from grpc_health.v1 import health_pb2, health_pb2_grpc

from identity_grpc.core import Core
from identity_grpc.gateway.server import HttpServer
from identity_grpc.transport.grpc_server import create_server
from support import read_until_closed
from tls_certificates import CertificateAuthority

TIMEOUT = 10


@dataclass
class Pki:
    ca: CertificateAuthority
    other_ca: CertificateAuthority  # trusted by nobody here: the impostor
    live: Path  # the server's files, which rotation replaces

    @property
    def server_cert(self) -> Path:
        return self.live / "server.pem"

    @property
    def server_key(self) -> Path:
        return self.live / "server-key.pem"

    def rotate(self, ca: CertificateAuthority, name: str = "rotated") -> None:
        """A new server certificate from `ca`, put in place the way deployment tools
        do: written beside, then renamed over the live files (key first)."""
        issued = ca.issue(name, stem=f"new-{name}", directory=self.live)
        os.replace(issued.key, self.server_key)
        os.replace(issued.cert, self.server_cert)


@pytest.fixture
def pki(tmp_path) -> Pki:
    ca = CertificateAuthority(tmp_path / "pki", "root")
    other = CertificateAuthority(tmp_path / "pki", "impostor")
    live = tmp_path / "live"
    live.mkdir()
    ca.issue("server", stem="server", directory=live)
    return Pki(ca, other, live)


@dataclass
class TlsService:
    core: Core
    grpc_port: int
    http_port: int
    pki: Pki

    @property
    def https(self) -> str:
        return f"https://127.0.0.1:{self.http_port}"

    def channel(self, ca: Path | None = None, client=None) -> grpc.Channel:
        """A channel of its own (no subchannel shared with another test's channel)."""
        credentials = grpc.ssl_channel_credentials(
            root_certificates=(ca or self.pki.ca.cert).read_bytes(),
            private_key=client.key.read_bytes() if client else None,
            certificate_chain=client.cert.read_bytes() if client else None)
        return grpc.secure_channel(f"127.0.0.1:{self.grpc_port}", credentials,
                                   options=[("grpc.use_local_subchannel_pool", 1)])

    def health(self, **kwargs) -> str:
        with self.channel(**kwargs) as channel:
            return health_check(channel)


def health_check(channel: grpc.Channel) -> str:
    reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(),
                                                      timeout=TIMEOUT)
    return health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)


def start_tls(settings, pki: Pki, **changes):
    settings = settings.replace(tls_cert_file=str(pki.server_cert),
                                tls_key_file=str(pki.server_key), **changes)
    core = Core(settings).start()
    server, port = create_server(core, "127.0.0.1:0")
    server.start()
    http = HttpServer(core, "127.0.0.1:0", grpc_address=f"127.0.0.1:{port}").start()
    return core, server, http, TlsService(core, port, http.port, pki)


@pytest.fixture
def tls_service(deployment, pki):
    core, server, http, running = start_tls(deployment, pki, request_timeout=2)
    yield running
    http.stop()
    server.stop(0).wait()
    core.close()


@pytest.fixture
def clients(pki):
    """Client certificates: one from the server's CA, one from the impostor's."""
    return (pki.ca.issue("client", server=False), pki.other_ca.issue("client", server=False))


@pytest.fixture
def mtls_service(deployment, pki):
    core, server, http, running = start_tls(deployment, pki,
                                            tls_client_ca_file=str(pki.ca.cert))
    yield running
    http.stop()
    server.stop(0).wait()
    core.close()


def refused_over_grpc(service: TlsService, **kwargs) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as refused:
        service.health(**kwargs)
    return refused.value.code()


# ---- TLS, and the wrong CA ---------------------------------------------------------

def test_grpc_serves_over_tls_and_a_client_trusting_another_ca_is_refused(tls_service, pki):
    assert tls_service.health() == "SERVING"
    assert refused_over_grpc(tls_service, ca=pki.other_ca.cert) == grpc.StatusCode.UNAVAILABLE
    with grpc.insecure_channel(f"127.0.0.1:{tls_service.grpc_port}") as plaintext:
        with pytest.raises(grpc.RpcError):
            health_check(plaintext)


def test_the_gateway_serves_https_and_a_client_trusting_another_ca_is_refused(tls_service, pki):
    reply = requests.get(f"{tls_service.https}/v3", verify=pki.ca.cert, timeout=TIMEOUT)
    assert reply.status_code == 200
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{tls_service.https}/v3", verify=pki.other_ca.cert, timeout=TIMEOUT)


def test_version_discovery_advertises_https_and_grpcs(tls_service, pki):
    version = requests.get(f"{tls_service.https}/v3", verify=pki.ca.cert, timeout=TIMEOUT,
                           headers={"Accept": "application/json"}).json()["version"]
    hrefs = {link["rel"]: link["href"] for link in version["links"]}
    assert hrefs["self"] == f"{tls_service.https}/v3/"
    assert hrefs["alternate"] == f"grpcs://127.0.0.1:{tls_service.grpc_port}"


# ---- mutual TLS ---------------------------------------------------------------------

def test_mtls_over_grpc_serves_only_a_client_certificate_from_the_ca(mtls_service, clients):
    good, impostor = clients
    assert mtls_service.health(client=good) == "SERVING"
    assert refused_over_grpc(mtls_service) == grpc.StatusCode.UNAVAILABLE
    assert refused_over_grpc(mtls_service, client=impostor) == grpc.StatusCode.UNAVAILABLE


def test_mtls_over_https_serves_only_a_client_certificate_from_the_ca(mtls_service, clients, pki):
    good, impostor = clients
    url = f"{mtls_service.https}/v3"
    reply = requests.get(url, verify=pki.ca.cert, cert=(good.cert, good.key), timeout=TIMEOUT)
    assert reply.status_code == 200
    for cert in (None, (impostor.cert, impostor.key)):
        with pytest.raises((requests.exceptions.SSLError, requests.exceptions.ConnectionError)):
            requests.get(url, verify=pki.ca.cert, cert=cert, timeout=TIMEOUT)


# ---- rotation -----------------------------------------------------------------------

def test_a_rotated_certificate_serves_new_grpc_connections_without_a_restart(tls_service, pki):
    successor = CertificateAuthority(pki.live.parent / "pki", "successor")
    kept = tls_service.channel()
    assert health_check(kept) == "SERVING"
    assert refused_over_grpc(tls_service, ca=successor.cert) == grpc.StatusCode.UNAVAILABLE
    pki.rotate(successor)
    assert tls_service.health(ca=successor.cert) == "SERVING"
    assert refused_over_grpc(tls_service) == grpc.StatusCode.UNAVAILABLE  # the old CA's
    assert health_check(kept) == "SERVING"  # its connection keeps the old certificate
    kept.close()


def served_certificate(port: int) -> bytes:
    """The certificate a new TLS connection to `port` is shown (not verified)."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as raw:
        with context.wrap_socket(raw) as tls:
            return tls.getpeercert(binary_form=True)


def test_a_rotated_certificate_serves_new_https_connections_without_a_restart(tls_service, pki):
    successor = CertificateAuthority(pki.live.parent / "pki", "successor")
    before = served_certificate(tls_service.http_port)
    kept = requests.Session()  # (a session's own `verify` loses to REQUESTS_CA_BUNDLE)
    assert kept.get(f"{tls_service.https}/v3", verify=pki.ca.cert,
                    timeout=TIMEOUT).status_code == 200
    pki.rotate(successor)
    assert served_certificate(tls_service.http_port) != before
    reply = requests.get(f"{tls_service.https}/v3", verify=successor.cert, timeout=TIMEOUT)
    assert reply.status_code == 200
    assert kept.get(f"{tls_service.https}/v3", verify=pki.ca.cert,
                    timeout=TIMEOUT).status_code == 200  # its connection, kept alive
    kept.close()


def test_a_half_written_rotation_keeps_the_last_good_certificate(tls_service, pki):
    """A new certificate beside the old key (the key not yet replaced): refused with
    a warning, and every new connection still served, with the old pair."""
    stray = CertificateAuthority(pki.live.parent / "pki", "stray").issue("server")
    before = served_certificate(tls_service.http_port)
    os.replace(stray.cert, pki.server_cert)
    assert served_certificate(tls_service.http_port) == before
    assert tls_service.health() == "SERVING"


# ---- the gateway's bounds over TLS ---------------------------------------------------

def tls_socket(port: int, pki: Pki) -> ssl.SSLSocket:
    context = ssl.create_default_context(cafile=pki.ca.cert)
    raw = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    return context.wrap_socket(raw, server_hostname="127.0.0.1")


def test_a_stalled_handshake_stalls_no_one_and_is_closed_after_request_timeout(tls_service, pki):
    stalled = socket.create_connection(("127.0.0.1", tls_service.http_port), timeout=TIMEOUT)
    stalled.sendall(b"\x16\x03\x01\x00")  # the first bytes of a ClientHello, then nothing
    started = time.monotonic()
    reply = requests.get(f"{tls_service.https}/v3", verify=pki.ca.cert, timeout=TIMEOUT)
    assert reply.status_code == 200
    assert still_open(stalled)  # served while the stalled handshake still held its connection
    assert read_until_closed(stalled, timeout=TIMEOUT) == b""
    assert time.monotonic() - started < 2 + 8  # request_timeout, a sweep, a loaded machine
    stalled.close()


def still_open(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        return sock.recv(1) != b""
    except BlockingIOError:
        return True
    finally:
        sock.setblocking(True)
        sock.settimeout(TIMEOUT)


def test_a_stalled_grpc_handshake_is_closed_after_request_timeout(tls_service):
    """gRPC's handshake timeout (request_timeout) covers the TLS handshake."""
    stalled = socket.create_connection(("127.0.0.1", tls_service.grpc_port), timeout=TIMEOUT)
    stalled.sendall(b"\x16\x03\x01\x00")
    started = time.monotonic()
    assert tls_service.health() == "SERVING"
    assert still_open(stalled)
    assert read_until_closed(stalled, timeout=TIMEOUT) == b""
    assert time.monotonic() - started < 2 + 8
    stalled.close()


def test_a_request_that_never_arrives_is_cut_with_408_over_tls(tls_service, pki):
    with tls_socket(tls_service.http_port, pki) as conn:
        conn.sendall(b"GET /v3 HTTP/1.1\r\nHost: x\r\n")  # headers never end
        raw = read_until_closed(conn, timeout=TIMEOUT)
    assert raw.split(b"\r\n")[0].endswith(b" 408 Request Timeout"), raw[:80]


def test_a_body_over_the_limit_is_refused_with_413_over_tls(tls_service, pki):
    """Refused from its Content-Length, before a byte of it is read (a client still
    sending a body the server will not read may see the connection reset first)."""
    limit = tls_service.core.settings.max_request_body_size
    with tls_socket(tls_service.http_port, pki) as conn:
        conn.sendall(b"POST /v3/auth/tokens HTTP/1.1\r\nHost: x\r\nContent-Type: "
                     b"application/json\r\nContent-Length: %d\r\n\r\n" % (limit + 1))
        raw = read_until_closed(conn, timeout=TIMEOUT)
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b" 413 " in head.split(b"\r\n")[0], raw[:80]
    assert json.loads(body)["error"]["code"] == 413


def test_the_connection_limit_holds_over_tls(deployment, pki):
    """Past `http_connection_limit` a new connection waits in the backlog, its
    handshake not begun, until an open one closes."""
    core, server, http, service = start_tls(deployment, pki, http_connection_limit=5)
    held = []
    try:
        # waitress counts its listener and its wake-up pipe among the connections
        held = [tls_socket(service.http_port, pki) for _ in range(5 - len(http._map))]
        time.sleep(0.3)  # each accepted, and its handshake done
        waiting = socket.create_connection(("127.0.0.1", service.http_port), timeout=TIMEOUT)
        context = ssl.create_default_context(cafile=pki.ca.cert)
        waiting.settimeout(1.0)
        with pytest.raises((TimeoutError, socket.timeout)):
            context.wrap_socket(waiting, server_hostname="127.0.0.1")  # not accepted yet
        waiting.close()
        held.pop().close()
        with tls_socket(service.http_port, pki) as conn:  # a place is free again
            conn.sendall(b"GET /v3 HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n"
                         b"Connection: close\r\n\r\n")
            assert read_until_closed(conn, timeout=TIMEOUT).startswith(b"HTTP/1.1 200")
    finally:
        for conn in held:
            conn.close()
        http.stop()
        server.stop(0).wait()
        core.close()


def answered(conn: ssl.SSLSocket, wait: float = 0.05) -> bytes:
    """What the server has answered so far: application data only (poll() alone would
    also wake for TLS 1.3's session tickets)."""
    conn.settimeout(wait)
    try:
        return conn.recv(65536)
    except (TimeoutError, ssl.SSLWantReadError, socket.timeout):
        return b""
    finally:
        conn.settimeout(TIMEOUT)


def test_headers_over_the_limit_are_refused_with_431_over_tls(tls_service, pki):
    from identity_grpc.gateway.connections import MAX_HEADER_BYTES
    with tls_socket(tls_service.http_port, pki) as conn:
        conn.sendall(b"GET /v3 HTTP/1.1\r\nHost: x\r\nX-Big: ")
        answer = b""
        for _ in range(2 * MAX_HEADER_BYTES // 4096):  # until the server answers
            conn.sendall(b"a" * 4096)
            answer = answered(conn)
            if answer:
                break
        raw = answer + read_until_closed(conn, timeout=TIMEOUT)
    assert b" 431 " in raw.split(b"\r\n")[0], raw[:80]


def test_a_large_response_arrives_whole_over_tls(tls_service, pki):
    """More than one TLS record and more than one socket send: the JSON-home document."""
    reply = requests.get(f"{tls_service.https}/v3", verify=pki.ca.cert, timeout=TIMEOUT,
                         headers={"Accept": "application/json-home"})
    assert reply.status_code == 200 and len(reply.content) > 16384, len(reply.content)
    reply.json()
