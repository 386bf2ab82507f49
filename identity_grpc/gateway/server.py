"""Serving the gateway with waitress, a production WSGI server, beside gRPC."""

import logging
import socket
import threading

from waitress.adjustments import Adjustments
from waitress.task import ThreadedTaskDispatcher

from .. import open_files, tls
from ..config import Settings
from ..core import Core
from ..operations import Operations
from . import admin_assignment_routes, admin_catalog_routes, admin_routes, auth_routes, discovery
from . import app_creds_routes, trusts_routes
from . import (credential_blobs_routes, domain_config_routes, endpoint_filter_routes, implied_roles_routes, limits_routes,
               policies_routes, project_tags_routes)
from . import health_routes, oauth1_routes
from .access import Recorded
from .connections import MAX_HEADER_BYTES, GatewayServer, finish_in_flight
from .tls_connections import TlsGatewayServer
from .wsgi import Gateway

# Threads running the gateway's handlers. Twice the default password queue on two
# CPUs (passwords.QUEUE_PER_THREAD per hashing thread): a flood of password checks
# parks at most half of them, and token calls keep the rest.
HTTP_THREADS = 16

_QUEUE_LOG = logging.getLogger("identity_grpc.gateway.queue")
_QUEUE_LOG.setLevel(logging.ERROR)

ROUTE_MODULES = [
    health_routes,
    discovery,
    auth_routes,
    admin_routes,
    admin_assignment_routes,
    admin_catalog_routes,
    trusts_routes,
    app_creds_routes,
    project_tags_routes,
    domain_config_routes,
    policies_routes,
    limits_routes,
    endpoint_filter_routes,
    implied_roles_routes,
    credential_blobs_routes,
    oauth1_routes,
]


def build_app(core: Core, ops: Operations | None = None, grpc_address: str = "") -> Gateway:
    """`grpc_address`: where the gRPC service beside it listens (host:port), which
    version discovery advertises."""
    routes = [route for module in ROUTE_MODULES for route in module.ROUTES]
    return Gateway(core, ops or Operations(core), routes, core.settings.public_url, grpc_address)


def _adjustments(settings: Settings, threads: int) -> dict:
    """Waitress' settings from ours."""
    return dict(
        threads=threads, connection_limit=open_files.http_connection_limit(settings),
        channel_timeout=settings.http_idle_timeout, cleanup_interval=1,
        asyncore_use_poll=True, max_request_header_size=MAX_HEADER_BYTES,
        # waitress refuses a body of its limit or more, Keystone one over its limit
        max_request_body_size=settings.max_request_body_size + 1,
        url_scheme="https" if tls.enabled(settings) else "http")


class HttpServer:
    """A waitress server on its own thread; `port` is the one it bound.

    Bounded as docs/limits.md says: at most `http_connection_limit` connections
    (watched with poll(), since select() cannot see descriptors past 1,024), idle
    ones closed after `http_idle_timeout`, requests that take longer than
    `request_timeout` to arrive cut with a 408, bodies over `max_request_body_size`
    refused with a 413 before they are read."""

    def __init__(self, core: Core, address: str | None = None, threads: int = HTTP_THREADS,
                 reuse_port: bool = False, grpc_address: str = ""):
        settings = core.settings
        adjustments = _adjustments(settings, threads)
        host, _, port = (address or settings.http_listen).rpartition(":")
        host = host or "127.0.0.1"
        if reuse_port:  # worker processes sharing one port: waitress takes our socket
            host = host.strip("[]")
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            listener = socket.create_server((host, int(port)), family=family, reuse_port=True)
            adj = Adjustments(sockets=[listener], **adjustments)
            places = [dict(_sock=listener, bind_socket=False,
                           sockinfo=(listener.family, listener.type, listener.proto,
                                     listener.getsockname()))]
        else:
            adj = Adjustments(host=host, port=int(port), **adjustments)
            places = [dict(sockinfo=info) for info in adj.listen]
        self._dispatcher = ThreadedTaskDispatcher()
        # waitress warns "Task queue depth is N" for each request that arrives while
        # every thread is busy: under ordinary load, every request (143,252 lines in
        # 45 s at 16 connections), written on the hot path. A request waiting for a
        # thread is not a fault; its wait shows in the route's latency.
        self._dispatcher.queue_logger = _QUEUE_LOG
        self._dispatcher.set_thread_count(threads)
        self._map: dict = {}  # every listener and connection, for one loop
        # Each request's id, access-log record, metrics and span (gateway/access.py).
        app = Recorded(build_app(core, grpc_address=grpc_address),
                       metrics_on=bool(settings.metrics_listen))
        server_class, extra = GatewayServer, {}
        if tls.enabled(settings):  # docs/tls.md: TLS on waitress' own loop
            server_class, extra = TlsGatewayServer, dict(contexts=tls.ServerContexts(settings))
        self._servers = [server_class(app, self._map, dispatcher=self._dispatcher, adj=adj,
                                      body_limit=settings.max_request_body_size,
                                      request_timeout=settings.request_timeout, **extra, **place)
                         for place in places]
        self.port = self._servers[0].effective_port
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="http", daemon=True)

    def start(self) -> "HttpServer":
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            self._servers[0].run()  # one loop over every listener's map
        except (OSError, ValueError):
            if not self._stopping:  # after stop(), select() may see closed sockets
                raise

    def stop(self, grace: float = 0.0) -> None:
        """Close the listening socket, let requests in flight finish (within `grace`
        seconds), then close every connection (clients keep them alive), so the loop
        ends."""
        self._stopping = True
        finish_in_flight(self._servers, self._map, grace)
        channels = self._map  # waitress keeps its sockets in this map
        while channels:
            for channel in list(channels.values()):
                channel.handle_close()
        self._dispatcher.shutdown()
        self._thread.join(timeout=5)
