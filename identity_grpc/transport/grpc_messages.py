"""Translation between protobuf messages and the core's requests and records."""

from google.protobuf.timestamp_pb2 import Timestamp
from identity_api.v1 import identity_pb2 as pb

from ..errors import InvalidArgument
from ..records import (ApiKeyCredentials, DomainRecord, PasswordCredentials, ProjectRecord,
                       RoleRecord, ScopeRequest, Selector, ServiceRecord, TokenCredentials,
                       TokenInfo)


def _selector(message, with_domain: bool) -> Selector:
    domain = None
    if with_domain and message.HasField("domain"):
        domain = Selector(id=message.domain.id, name=message.domain.name)
    return Selector(id=message.id, name=message.name, domain=domain)


def credentials_from(request: pb.AuthenticateRequest):
    method = request.WhichOneof("method")
    if method == "password":
        if not request.password.HasField("user"):
            raise InvalidArgument("password.user", "is required")
        return PasswordCredentials(user=_selector(request.password.user, True),
                                   password=request.password.password)
    if method == "token":
        if not request.token.token:
            raise InvalidArgument("token.token", "is required")
        return TokenCredentials(token=request.token.token)
    if method == "api_key":
        given = request.api_key
        if not given.key:
            if not given.secret or not (given.id or given.name):
                raise InvalidArgument("api_key.key", "is required (or secret, with id or name)")
        user = _selector(given.user, True) if given.HasField("user") else None
        return ApiKeyCredentials(key=given.key, user=user, id=given.id, name=given.name,
                                 secret=given.secret)
    raise InvalidArgument("method", "one of password, token or api_key is required")


def scope_from(request: pb.AuthenticateRequest) -> ScopeRequest:
    if not request.HasField("scope"):
        return ScopeRequest()
    target = request.scope.WhichOneof("target")
    if target == "project":
        return ScopeRequest("project", _selector(request.scope.project, True))
    if target == "domain":
        return ScopeRequest("domain", _selector(request.scope.domain, False))
    if target == "system":
        if not request.scope.system.all:
            raise InvalidArgument("scope.system.all", "must be true (the whole system)")
        return ScopeRequest("system")
    if target == "trust_id":
        if not request.scope.trust_id:
            raise InvalidArgument("scope.trust_id", "is required")
        return ScopeRequest("trust", Selector(id=request.scope.trust_id))
    raise InvalidArgument("scope", "must name a project, a domain, the system or a trust")


def domain_message(d: DomainRecord) -> pb.Domain:
    return pb.Domain(id=d.id, name=d.name, enabled=d.enabled, description=d.description)


def project_message(p: ProjectRecord) -> pb.Project:
    return pb.Project(id=p.id, name=p.name, domain=domain_message(p.domain), enabled=p.enabled,
                      description=p.description, parent_id=p.parent_id, is_domain=p.is_domain)


def role_message(r: RoleRecord) -> pb.Role:
    return pb.Role(id=r.id, name=r.name)


def service_message(s: ServiceRecord) -> pb.CatalogService:
    return pb.CatalogService(id=s.id, type=s.type, name=s.name, endpoints=[
        pb.Endpoint(id=e.id, interface=e.interface, region=e.region, url=e.url)
        for e in s.endpoints])


# The core renders one catalog tuple per project and keeps it, so its messages can be
# kept beside it, keyed by identity: building them cost a third of a rescope.
_catalog_memo: dict[int, tuple[tuple, list[pb.CatalogService]]] = {}


def catalog_messages(services: tuple) -> list[pb.CatalogService]:
    """Shared messages: callers copy them into their response, never change them."""
    memo = _catalog_memo.get(id(services))
    if memo is not None and memo[0] is services:  # holding `services` pins its id
        return memo[1]
    messages = [service_message(s) for s in services]
    if len(_catalog_memo) >= 10_000:
        _catalog_memo.clear()
    _catalog_memo[id(services)] = (services, messages)
    return messages


def timestamp_of_ms(milliseconds: int) -> Timestamp:
    """Unix milliseconds (a token's issue time, a cutoff) as a Timestamp."""
    seconds, ms = divmod(max(int(milliseconds), 0), 1000)
    return Timestamp(seconds=seconds, nanos=ms * 1_000_000)


def token_message(info: TokenInfo) -> pb.Token:
    ident = info.identity
    user = ident.user
    token = pb.Token(
        user=pb.User(id=user.id, name=user.name, domain=domain_message(user.domain),
                     password_expires_at=(Timestamp(seconds=user.password_expires_at)
                                          if user.password_expires_at is not None else None)),
        roles=[role_message(r) for r in ident.roles], methods=info.methods,
        issued_at=timestamp_of_ms(info.issued_at), expires_at=Timestamp(seconds=info.expires_at),
        audit_ids=info.audit_ids)
    if ident.project is not None:
        token.project.CopyFrom(project_message(ident.project))
    elif ident.domain is not None:
        token.domain.CopyFrom(domain_message(ident.domain))
    elif ident.scope_type == "system":
        token.system.all = True
    if info.catalog is not None:
        token.catalog.extend(catalog_messages(info.catalog))
    if ident.trust is not None:
        trust = ident.trust
        token.trust.CopyFrom(pb.TokenTrust(id=trust.id, impersonation=trust.impersonation,
                                           trustor_user_id=trust.trustor_user_id,
                                           trustee_user_id=trust.trustee_user_id))
    return token
