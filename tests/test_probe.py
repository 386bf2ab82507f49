"""The container's health check (`python -m identity_grpc.probe`) against a real
gateway: 0 while ready, over plaintext and over TLS; 1 while draining, and when
nothing listens."""

import subprocess
import sys

from identity_grpc.core import Core
from identity_grpc.gateway.server import HttpServer

from support import clean_env
from test_operations import free_port
from test_tls import pki, tls_service  # noqa: F401  (fixtures)


def probe(port: int, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "identity_grpc.probe", *args],
                          env=clean_env(IDENTITY_HTTP_LISTEN=f"127.0.0.1:{port}", **env),
                          capture_output=True, text=True, timeout=30)


def test_ready_then_draining_then_gone(deployment):
    core = Core(deployment).start()
    http = HttpServer(core, "127.0.0.1:0").start()
    try:
        assert probe(http.port).returncode == 0
        assert probe(http.port, "live").returncode == 0
        core.health.begin_drain()
        done = probe(http.port)
        assert done.returncode == 1 and "503" in done.stderr, done.stderr
        assert probe(http.port, "live").returncode == 0
    finally:
        http.stop()
        core.close()
    done = probe(free_port())
    assert done.returncode == 1 and "probe: http://127.0.0.1:" in done.stderr


def test_over_tls(tls_service):  # noqa: F811
    cert, key = tls_service.pki.server_cert, tls_service.pki.server_key
    done = probe(tls_service.http_port, IDENTITY_TLS_CERT_FILE=str(cert),
                 IDENTITY_TLS_KEY_FILE=str(key))
    assert done.returncode == 0, done.stderr
    assert probe(tls_service.http_port).returncode == 1  # plaintext to a TLS port
