"""The CLI's connection to the service: the gRPC endpoint (found from an HTTP
OS_AUTH_URL through the service's version discovery), the token (held by
`identity_client.session.Session`, the one place scopes are built), calls with it
attached, paging, and turning a name or an id into an entity with calls the caller is
allowed (its own token, projects and assignments before any admin list)."""

import getpass
import http.client
import json
import ssl
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

import grpc
from identity_api.admin.v1 import admin_pb2 as apb
from identity_api.admin.v1 import admin_pb2_grpc as agrpc
from identity_api.v1 import identity_pb2 as pb
from identity_api.v1 import identity_pb2_grpc as rpc

from .. import tls as client_tls
from ..session import CHANNEL_OPTIONS, Session, SessionError
from .base import CliError, UsageError
from .options import DEFAULT_ADDRESS

DEFAULT_PORT = 50051
PAGE_SIZE = 1000
DISCOVERY_TIMEOUT = 10.0
GRPC_LINK_TYPE = "application/grpc"


# ---- where gRPC is ------------------------------------------------------------------

def host_port(netloc: str, what: str) -> str:
    if not netloc:
        raise UsageError(f"--os-auth-url: no host in {what!r}")
    if ":" not in netloc[netloc.rfind("]") + 1:]:
        netloc = f"{netloc}:{DEFAULT_PORT}"
    return netloc


def advertised_grpc(document: dict) -> str | None:
    """The gRPC link of a version discovery document (`GET /` or `GET /v3`)."""
    versions = ([document["version"]] if isinstance(document.get("version"), dict)
                else (document.get("versions") or {}).get("values") or [])
    for version in versions:
        for link in version.get("links") or []:
            if isinstance(link, dict) and link.get("type") == GRPC_LINK_TYPE:
                return link.get("href")
    return None


def discover(url: str, timeout: float, context: ssl.SSLContext | None = None) -> dict | None:
    """The version document at `url`; None when nothing speaking HTTP answers there
    (as when the URL names the gRPC port itself). `context`: for https, the CA bundle
    and client certificate (--os-cacert, --os-cert, --os-key)."""
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as answer:
            body = answer.read()
    except urllib.error.HTTPError as e:  # 300 Multiple Choices at the root, say
        body = e.read()
    except urllib.error.URLError as e:
        if isinstance(e.reason, ssl.SSLError):  # an answer, over TLS we cannot trust
            raise CliError("UNAVAILABLE", f"{url}: TLS failed: {e.reason} (--os-cacert, "
                                          "--os-cert, --os-key)") from None
        return None
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError):
        return None
    try:
        document = json.loads(body)
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


def grpc_target(auth_url: str | None, timeout: float = DISCOVERY_TIMEOUT,
                context: ssl.SSLContext | None = None) -> tuple[str, bool]:
    """The gRPC address OS_AUTH_URL leads to, and whether it wants TLS.

    `host:port` and `grpc[s]://host:port` name it; `http[s]://host:5000/v3` is the
    HTTP URL openstackclient takes, whose version discovery advertises it. An http URL
    where no HTTP server answers is taken as host:port (an old openrc's habit)."""
    url = (auth_url or DEFAULT_ADDRESS).strip()
    if "://" not in url:
        return host_port(url.split("/", 1)[0], auth_url), False
    parts = urlsplit(url)
    if parts.scheme in ("grpc", "grpcs"):
        return host_port(parts.netloc, auth_url), parts.scheme == "grpcs"
    if parts.scheme not in ("http", "https"):
        raise UsageError(f"--os-auth-url: unsupported scheme {parts.scheme!r}")
    document = discover(url, min(timeout, DISCOVERY_TIMEOUT), context)
    if document is None:
        return host_port(parts.netloc, auth_url), parts.scheme == "https"
    href = advertised_grpc(document)
    if not href:
        raise CliError("UNAVAILABLE", f"{url} does not advertise a gRPC endpoint in its "
                                      "version discovery; give the gRPC address (host:port)")
    return grpc_target(href, timeout, context)


# ---- kinds of entity ----------------------------------------------------------------------

@dataclass
class Kind:
    """How to get, list and name one kind of entity."""
    service: str
    get: str
    list: str
    request: type
    field: str
    by_domain: bool = True


KINDS = {
    "domain": Kind("Domains", "GetDomain", "ListDomains", apb.ListDomainsRequest, "domains",
                   by_domain=False),
    "project": Kind("Projects", "GetProject", "ListProjects", apb.ListProjectsRequest,
                    "projects"),
    "user": Kind("Users", "GetUser", "ListUsers", apb.ListUsersRequest, "users"),
    "group": Kind("Groups", "GetGroup", "ListGroups", apb.ListGroupsRequest, "groups"),
    "role": Kind("Roles", "GetRole", "ListRoles", apb.ListRolesRequest, "roles"),
    "service": Kind("Services", "GetService", "ListServices", apb.ListServicesRequest,
                    "services", by_domain=False),
}
STUBS = {"Identity": rpc.IdentityStub, **{
    name: getattr(agrpc, f"{name}Stub") for name in
    ("Domains", "Projects", "Users", "Groups", "Roles", "Assignments", "Regions", "Services",
     "Endpoints", "ApiKeys")}}


def rpc_failure(error: grpc.RpcError) -> CliError:
    code = error.code().name if error.code() is not None else "UNKNOWN"
    details = " ".join((error.details() or "").split()) or "(no details)"
    return CliError(code, details)


def ask(prompt: str, what: str) -> str:
    """A secret typed at the terminal; a usage error when there is none to type at."""
    if not sys.stdin.isatty():
        raise UsageError(f"{what} is required")
    try:
        return getpass.getpass(prompt)
    except (EOFError, KeyboardInterrupt):
        raise UsageError(f"{what} is required") from None


def session_arguments(o) -> dict:
    """identity_client.session.Session's arguments from the settled options."""
    if not (o.os_token or o.os_api_key or o.os_username or o.os_user_id):
        raise UsageError("no credentials: set --os-username/OS_USERNAME and "
                         "--os-password/OS_PASSWORD, or --os-token/OS_TOKEN, or "
                         "--os-api-key/OS_API_KEY")
    user_domain_id = o.os_user_domain_id or (
        None if o.os_user_domain_name else o.os_default_domain_id or "default")
    kwargs = dict(username=o.os_username, user_id=o.os_user_id,
                  user_domain_id=user_domain_id, user_domain_name=o.os_user_domain_name,
                  timeout=o.timeout)
    if o.os_token:
        kwargs["token"] = o.os_token
    elif o.os_api_key:
        kwargs["api_key"] = o.os_api_key
    else:
        kwargs["password"] = (o.os_password if o.os_password is not None
                              else ask("Password: ", "--os-password/OS_PASSWORD"))
    if o.scope == "system":
        if o.os_system_scope.lower() != "all":
            raise UsageError(f"--os-system-scope: the only system scope is 'all', "
                             f"not {o.os_system_scope!r}")
        kwargs["system_scope"] = "all"
    elif o.scope == "domain":
        kwargs.update(domain_id=o.os_domain_id, domain_name=o.os_domain_name)
    elif o.scope == "project":
        kwargs.update(project_id=o.os_project_id, project_name=o.os_project_name,
                      project_domain_id=o.os_project_domain_id,
                      project_domain_name=o.os_project_domain_name)
        if not (o.os_project_domain_id or o.os_project_domain_name):  # the user's domain
            kwargs.update(project_domain_id=user_domain_id,
                          project_domain_name=o.os_user_domain_name)
    return kwargs


class Connection:
    def __init__(self, options):
        self.options = options
        self._channel = None
        self._session = None
        self._stubs = {}
        self._domains = {}

    # ---- the channel, the token and calls ------------------------------------------

    @property
    def channel(self) -> grpc.Channel:
        if self._channel is None:
            o = self.options
            files = dict(cacert=o.os_cacert, cert=o.os_cert, key=o.os_key)
            try:
                context = client_tls.ssl_context(**files)
                target, tls = grpc_target(o.os_auth_url, o.timeout, context)
                self._channel = client_tls.channel(target, tls=tls, options=CHANNEL_OPTIONS,
                                                   **files)
            except client_tls.TlsFileError as e:
                raise UsageError(f"--os-cacert/--os-cert/--os-key: {e}") from None
        return self._channel

    @property
    def session(self) -> Session:
        if self._session is None:
            try:
                self._session = Session(channel=self.channel,
                                        **session_arguments(self.options))
            except SessionError as e:
                raise self.refusal(e) from None
            except ValueError as e:
                raise UsageError(str(e)) from None
        return self._session

    @staticmethod
    def refusal(error: SessionError) -> CliError:
        return CliError(error.code.name if error.code else "UNAUTHENTICATED",
                        " ".join(str(error).split()))

    @property
    def token(self) -> str:
        try:
            return self.session.token
        except SessionError as e:
            raise self.refusal(e) from None

    @property
    def token_info(self) -> pb.Token:
        self.token  # noqa: B018 - authenticate first
        return self.session.token_info

    def issue(self) -> tuple[str, pb.Token]:
        """A new token from the credentials (the given one, rescoped if asked, for a
        token)."""
        try:
            if self.session.can_renew:
                self.session.authenticate()
            return self.session.token, self.session.token_info
        except SessionError as e:
            raise self.refusal(e) from None

    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()

    def call(self, service: str, method: str, request):
        metadata = (("x-auth-token", self.token),)
        try:
            return getattr(self._stub(service), method)(
                request, metadata=metadata, timeout=self.options.timeout)
        except grpc.RpcError as e:
            failure = rpc_failure(e)
            if failure.code == "UNIMPLEMENTED":
                package = "identity.v1" if service == "Identity" else "identity.admin.v1"
                failure = CliError("UNIMPLEMENTED", f"this server does not offer "
                                                    f"{package}.{service}/{method}")
            raise failure from None

    def _stub(self, service: str):
        if service not in self._stubs:
            self._stubs[service] = STUBS[service](self.channel)
        return self._stubs[service]

    def list_all(self, service: str, method: str, request, field: str) -> list:
        """Every page of a list call."""
        items = []
        if not request.page_size:
            request.page_size = PAGE_SIZE
        while True:
            answer = self.call(service, method, request)
            items.extend(getattr(answer, field))
            if not answer.next_page_token:
                return items
            request.page_token = answer.next_page_token

    # ---- names and ids ------------------------------------------------------------------

    def domain_id(self, ref: str | None) -> str:
        """The id of the domain named `ref` (by name or id); "" for none."""
        if not ref:
            return ""
        if ref not in self._domains:
            self._domains[ref] = self.find("domain", ref).id
        return self._domains[ref]

    def find_id(self, kind: str, ref: str | None, domain: str | None = None) -> str:
        return self.find(kind, ref, domain).id if ref else ""

    def find(self, kind: str, ref: str, domain: str | None = None):
        """The entity `ref` names: its id, else its name (within `domain`, a domain
        name or id, when given). Looked for first by id, then among what the caller
        may see of its own (its user, domains, projects, roles), then in the admin
        list. No match or several matches is a CliError."""
        spec = KINDS[kind]
        if not ref:
            raise UsageError(f"an empty {kind} name")
        denied = None
        try:
            return self.call(spec.service, spec.get, apb.GetRequest(id=ref))
        except CliError as e:
            if e.code == "PERMISSION_DENIED":
                denied = e
            elif e.code not in ("NOT_FOUND", "INVALID_ARGUMENT"):
                raise
        own = self._own(kind, ref, domain)
        if own is not None:
            return own
        domain_id = self.domain_id(domain) if spec.by_domain else ""
        request = spec.request(name=ref)
        if domain_id:
            request.domain_id = domain_id
        try:
            found = self.list_all(spec.service, spec.list, request, spec.field)
            if kind == "service" and not found:  # a service may be named by its type
                found = self.list_all(spec.service, spec.list, spec.request(type=ref), spec.field)
        except CliError as e:
            if e.code != "PERMISSION_DENIED":
                raise
            raise denied or e from None
        found = [f for f in found if not domain_id or getattr(f, "domain_id", domain_id)
                 == domain_id]
        if len(found) == 1:
            return found[0]
        where = f" in domain {domain!r}" if domain_id else ""
        if not found:
            if denied is not None:
                raise denied
            raise CliError("NOT_FOUND", f"no {kind} with name or id {ref!r}{where}")
        domains = sorted({getattr(f, "domain_id", "") for f in found} - {""})
        hint = (f" (in domains {', '.join(domains)}); give its id, or its domain"
                if len(domains) > 1 else "; give its id")
        raise CliError("", f"{len(found)} {kind}s are named {ref!r}{where}{hint}")

    def _own(self, kind: str, ref: str, domain: str | None):
        """`ref` among the caller's own: the entity, fetched with a call the caller is
        allowed, or None when it is not one of them."""
        info = self.token_info
        if kind == "user":
            me = info.user
            if ref == me.name and (not domain or domain in (me.domain.id, me.domain.name)):
                return self.call("Users", "GetUser", apb.GetRequest(id=me.id))
        elif kind == "domain":
            mine = [info.user.domain] + ([info.project.domain] if info.HasField("project")
                                         else []) + ([info.domain] if info.HasField("domain")
                                                     else [])
            for d in mine:
                if ref in (d.id, d.name):
                    return d
        elif kind == "project":
            try:
                projects = self.call("Identity", "ListProjects", pb.ListProjectsRequest()).projects
            except CliError:
                projects = []
            matches = [p for p in projects if ref in (p.id, p.name)
                       and (not domain or domain in (p.domain.id, p.domain.name))]
            if len(matches) == 1:
                p = matches[0]
                return self._fetched("Projects", "GetProject", apb.Project(
                    id=p.id, name=p.name, domain_id=p.domain.id, enabled=p.enabled,
                    description=p.description, parent_id=p.parent_id, is_domain=p.is_domain))
        elif kind == "role" and not domain:
            roles = {r.id: r for r in info.roles if ref in (r.id, r.name)}
            if not roles:
                roles = {a.role.id: a.role for a in self._own_assignments()
                         if ref in (a.role.id, a.role.name) and not a.role.domain_id}
            if len(roles) == 1:
                role = next(iter(roles.values()))
                return self._fetched("Roles", "GetRole", apb.Role(id=role.id, name=role.name))
        return None

    def _own_assignments(self) -> list:
        try:
            return self.list_all("Assignments", "ListRoleAssignments",
                                 apb.ListRoleAssignmentsRequest(
                                     user_id=self.token_info.user.id, effective=True,
                                     include_names=True), "role_assignments")
        except CliError:
            return []

    def _fetched(self, service: str, method: str, known):
        """The entity `known` stands for as the admin API shapes it, when the caller
        may fetch it; else `known` (what the caller's own lists said of it)."""
        try:
            return self.call(service, method, apb.GetRequest(id=known.id))
        except CliError:
            return known
