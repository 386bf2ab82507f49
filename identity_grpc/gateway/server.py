"""Serving the gateway with waitress, a production WSGI server, beside gRPC."""

import socket
import threading

from waitress.server import create_server as create_waitress

from ..core import Core
from ..operations import Operations
from . import admin_assignment_routes, admin_catalog_routes, admin_routes, auth_routes, discovery
from .wsgi import Gateway

ROUTE_MODULES = [
    discovery,
    auth_routes,
    admin_routes,
    admin_assignment_routes,
    admin_catalog_routes,
]


def build_app(core: Core, ops: Operations | None = None) -> Gateway:
    routes = [route for module in ROUTE_MODULES for route in module.ROUTES]
    return Gateway(core, ops or Operations(core), routes, core.settings.public_url)


class HttpServer:
    """A waitress server on its own thread; `port` is the one it bound."""

    def __init__(self, core: Core, address: str | None = None, threads: int = 8,
                 reuse_port: bool = False):
        host, _, port = (address or core.settings.http_listen).rpartition(":")
        host = host or "127.0.0.1"
        if reuse_port:  # worker processes sharing one port: waitress takes our socket
            host = host.strip("[]")
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            listener = socket.create_server((host, int(port)), family=family, reuse_port=True)
            self._server = create_waitress(build_app(core), sockets=[listener],
                                           threads=threads)
        else:
            self._server = create_waitress(build_app(core), host=host, port=int(port),
                                           threads=threads)
        self.port = self._server.effective_port
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="http", daemon=True)

    def start(self) -> "HttpServer":
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            self._server.run()
        except (OSError, ValueError):
            if not self._stopping:  # after stop(), select() may see closed sockets
                raise

    def stop(self) -> None:
        """Close the listening socket and every open connection (clients keep
        connections alive), so the loop ends, then let requests in flight finish."""
        self._stopping = True
        channels = self._server._map  # waitress keeps its sockets in this map
        while channels:
            for channel in list(channels.values()):
                channel.handle_close()
        self._server.task_dispatcher.shutdown()
        self._thread.join(timeout=5)
