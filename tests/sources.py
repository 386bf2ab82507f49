"""Calling a server from another loopback address than 127.0.0.1, so that a test can
play an attacker and its victim from two distinct sources on one machine."""

import http.client
import json
import socket
import threading
from urllib.parse import urlparse


def http_call(base_url: str, method: str, path: str, body=None, token: str | None = None,
              source: str = "127.0.0.1") -> tuple[int, dict, dict | None]:
    """(status, headers, parsed JSON body or None), sent from `source`."""
    url = urlparse(base_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30,
                                      source_address=(source, 0))
    headers = {"Content-Type": "application/json"}
    if token:
        headers["X-Auth-Token"] = token
    try:
        conn.request(method, path, json.dumps(body) if body is not None else None, headers)
        response = conn.getresponse()
        raw = response.read().decode()
        parsed = json.loads(raw) if raw and "json" in response.getheader("Content-Type", "") else None
        return response.status, dict(response.getheaders()), parsed
    finally:
        conn.close()


class SourceProxy:
    """A TCP relay on 127.0.0.1 that reaches `target_port` from `source` (another
    loopback address): a gRPC channel to `address` calls the server from there."""

    def __init__(self, target_port: int, source: str):
        self._target = ("127.0.0.1", target_port)
        self._source = source
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self._listener.getsockname()[1]}"
        self._sockets: list[socket.socket] = []
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self._target, timeout=30,
                                                source_address=(self._source, 0))
            upstream.settimeout(None)
            self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(a, b), daemon=True).start()

    def close(self) -> None:
        self._closed = True
        self._listener.close()
        for sock in self._sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass
