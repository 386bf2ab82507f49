"""Building the gRPC server: the Identity and admin services, standard health
checking and server reflection, behind the request interceptor."""

import sys
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from identity_api.admin.v1 import admin_pb2 as apb
from identity_api.v1 import identity_pb2 as pb
from identity_api.v1 import identity_pb2_grpc as pb_grpc

from .. import open_files, tls
from ..config import Settings
from ..core import Core
from ..operations import Operations
from . import grpc_health
from . import (grpc_admin, grpc_admin_catalog, grpc_admin_credential_blobs, grpc_admin_domain_config,
               grpc_admin_endpoint_filter, grpc_admin_limits, grpc_admin_policies,
               grpc_admin_project_tags)
from .grpc_admin_api_keys import ApiKeysServicer
from .grpc_admin_audit import AuditServicer
from .grpc_admin_trusts import TrustsServicer
from .grpc_admin_oauth1 import OAuth1Servicer
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
    "ProjectTags": grpc_admin_project_tags.ProjectTagsServicer,
    "DomainConfigs": grpc_admin_domain_config.DomainConfigsServicer,
    "Policies": grpc_admin_policies.PoliciesServicer,
    "RegisteredLimits": grpc_admin_limits.RegisteredLimitsServicer,
    "Limits": grpc_admin_limits.LimitsServicer,
    "EndpointGroups": grpc_admin_endpoint_filter.EndpointGroupsServicer,
    "ProjectEndpoints": grpc_admin_endpoint_filter.ProjectEndpointsServicer,
    "Credentials": grpc_admin_credential_blobs.CredentialsServicer,
    "Trusts": TrustsServicer,
    "OAuth1": OAuth1Servicer,
    "Audit": AuditServicer,
}


def _add_admin_servicer(server: grpc.Server, service: str, servicer) -> None:
    """Serve `servicer`, whichever proto file of the admin API (admin.proto, or a
    family's own) declares its service: the generated module of its base class."""
    base = next(b for b in type(servicer).__mro__
                if b.__name__ == f"{service}Servicer" and b.__module__.endswith("_pb2_grpc"))
    getattr(sys.modules[base.__module__], f"add_{service}Servicer_to_server")(servicer, server)


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
                                     IdentityServicer.ANONYMOUS
                                     | grpc_admin_credential_blobs.ANONYMOUS,
                                     on_store_error=core.drop_connection,
                                     token_optional_methods=grpc_admin.TOKEN_OPTIONAL,
                                     metrics_on=bool(settings.metrics_listen))
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
        _add_admin_servicer(server, service, servicer_class(ops))
        names.append(f"{apb.DESCRIPTOR.package}.{service}")
    health_servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    grpc_health.follow(ops.health, health_servicer, (SERVICE_NAME, ""))
    reflection.enable_server_reflection(
        (*names, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
         reflection.SERVICE_NAME), server)
    try:
        port = (server.add_secure_port(address or settings.listen, tls.grpc_credentials(settings))
                if tls.enabled(settings) else server.add_insecure_port(address or settings.listen))
    except RuntimeError:  # grpcio raises where older releases returned 0
        port = 0
    if port == 0:
        raise OSError(f"could not bind gRPC to {address or settings.listen}")
    server.health_servicer = health_servicer
    return server, port
