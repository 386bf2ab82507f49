"""Building the gRPC server: the Identity and admin services, standard health
checking and server reflection, behind the request interceptor."""

from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from identity_api.admin.v1 import admin_pb2 as apb
from identity_api.admin.v1 import admin_pb2_grpc as agrpc
from identity_api.v1 import identity_pb2 as pb
from identity_api.v1 import identity_pb2_grpc as pb_grpc

from .. import open_files
from ..config import Settings
from ..core import Core
from ..operations import Operations
from . import grpc_admin, grpc_admin_catalog
from .grpc_admin_api_keys import ApiKeysServicer
from .grpc_interceptor import RequestInterceptor
from .grpc_service import IdentityServicer

# A connection without a call for this long is sent GOAWAY; clients reconnect on
# their next call, so only connections left open and unused go.
IDLE_CONNECTION_SECONDS = 300
SERVICE_NAME = pb.DESCRIPTOR.services_by_name["Identity"].full_name
# Every admin service of the contract and the servicer that serves it.
ADMIN_SERVICERS = {
    "Domains": grpc_admin.DomainsServicer,
    "Projects": grpc_admin.ProjectsServicer,
    "Users": grpc_admin.UsersServicer,
    "Groups": grpc_admin.GroupsServicer,
    "Roles": grpc_admin.RolesServicer,
    "Assignments": grpc_admin.AssignmentsServicer,
    "ApiKeys": ApiKeysServicer,
    "Regions": grpc_admin_catalog.RegionsServicer,
    "Services": grpc_admin_catalog.ServicesServicer,
    "Endpoints": grpc_admin_catalog.EndpointsServicer,
}


def limit_options(settings: Settings) -> list[tuple[str, int]]:
    """gRPC core's bounds on what one client may hold (docs/limits.md): connections
    (counted from accept, before any handshake), the time a new connection has to
    send its HTTP/2 preface, how long one may sit without calls, and the size of a
    request message, refused with RESOURCE_EXHAUSTED before it is decoded."""
    return [("grpc.max_allowed_incoming_connections", settings.grpc_max_connections),
            ("grpc.server_handshake_timeout_ms", settings.request_timeout * 1000),
            ("grpc.max_connection_idle_ms", IDLE_CONNECTION_SECONDS * 1000),
            ("grpc.max_receive_message_length", settings.max_request_body_size)]


def create_server(core: Core, address: str | None = None,
                  reuse_port: bool = False) -> tuple[grpc.Server, int]:
    """A server, not yet started, bound to `address` (default: the settings'
    `listen`; port 0 picks a free port), and the port it got. Only worker processes
    meant to share a port set `reuse_port`: otherwise a second server started by
    mistake on a port in use must fail, not silently take half the connections."""
    settings = core.settings
    ops = Operations(core)
    interceptor = RequestInterceptor(ops.tokens, settings.advertised_url, "/identity.",
                                     IdentityServicer.ANONYMOUS,
                                     on_store_error=core.drop_connection,
                                     token_optional_methods=grpc_admin.TOKEN_OPTIONAL)
    open_files.ensure_open_files(open_files.needed(settings))
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=settings.grpc_workers,
                                   thread_name_prefix="grpc"),
        interceptors=[interceptor],
        options=[("grpc.so_reuseport", int(reuse_port)), *limit_options(settings)],
        maximum_concurrent_rpcs=settings.grpc_max_concurrent_rpcs)
    pb_grpc.add_IdentityServicer_to_server(IdentityServicer(ops.tokens, ops.consumers),
                                             server)
    names = [SERVICE_NAME]
    for service, servicer_class in ADMIN_SERVICERS.items():
        getattr(agrpc, f"add_{service}Servicer_to_server")(servicer_class(ops), server)
        names.append(apb.DESCRIPTOR.services_by_name[service].full_name)
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for name in (SERVICE_NAME, ""):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    reflection.enable_server_reflection(
        (*names, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
         reflection.SERVICE_NAME), server)
    try:
        port = server.add_insecure_port(address or settings.listen)
    except RuntimeError:  # grpcio raises where older releases returned 0
        port = 0
    if port == 0:
        raise OSError(f"could not bind gRPC to {address or settings.listen}")
    server.health_servicer = health_servicer  # so shutdown can report NOT_SERVING first
    return server, port
