"""The CLI's connection to the service: the channel, authentication (password or
token, scoped as the OS_* settings say), calls with the token attached, paging, and
turning a name or an id into an entity."""

import getpass
import sys
from dataclasses import dataclass
from urllib.parse import urlsplit

import grpc
from identity_api.admin.v1 import admin_pb2 as apb
from identity_api.admin.v1 import admin_pb2_grpc as agrpc
from identity_api.v1 import identity_pb2 as pb
from identity_api.v1 import identity_pb2_grpc as rpc

from .cli_base import CliError, UsageError

DEFAULT_ADDRESS = "127.0.0.1:50051"
DEFAULT_PORT = 50051
PAGE_SIZE = 1000


def grpc_target(auth_url: str) -> tuple[str, bool]:
    """The gRPC address in an auth URL, and whether it wants TLS. `http://host:port/v3`
    and `host:port` both mean host:port."""
    url = (auth_url or DEFAULT_ADDRESS).strip()
    tls = False
    if "://" in url:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https", "grpc", "grpcs"):
            raise UsageError(f"--os-auth-url: unsupported scheme {parts.scheme!r}")
        tls = parts.scheme in ("https", "grpcs")
        url = parts.netloc
    else:
        url = url.split("/", 1)[0]
    if not url:
        raise UsageError(f"--os-auth-url: no host in {auth_url!r}")
    host_end = url.rfind("]")
    if ":" not in url[host_end + 1:]:
        url = f"{url}:{DEFAULT_PORT}"
    return url, tls


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


class Session:
    def __init__(self, options):
        self.options = options
        self._channel = None
        self._stubs = {}
        self._token = None
        self._token_info = None
        self._domains = {}

    # ---- the channel and calls --------------------------------------------------

    @property
    def channel(self) -> grpc.Channel:
        if self._channel is None:
            target, tls = grpc_target(self.options.os_auth_url)
            self._channel = (grpc.secure_channel(target, grpc.ssl_channel_credentials())
                             if tls else grpc.insecure_channel(target))
        return self._channel

    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()

    def stub(self, service: str):
        if service not in self._stubs:
            self._stubs[service] = STUBS[service](self.channel)
        return self._stubs[service]

    def call(self, service: str, method: str, request, anonymous: bool = False):
        metadata = () if anonymous else (("x-auth-token", self.token),)
        try:
            return getattr(self.stub(service), method)(
                request, metadata=metadata, timeout=self.options.timeout)
        except grpc.RpcError as e:
            failure = rpc_failure(e)
            if failure.code == "UNIMPLEMENTED":
                package = "identity.v1" if service == "Identity" else "identity.admin.v1"
                failure = CliError("UNIMPLEMENTED", f"this server does not offer "
                                                    f"{package}.{service}/{method}")
            raise failure from None

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

    # ---- authentication -----------------------------------------------------------

    def user_domain(self) -> pb.DomainSelector:
        o = self.options
        if o.os_user_domain_id:
            return pb.DomainSelector(id=o.os_user_domain_id)
        if o.os_user_domain_name:
            return pb.DomainSelector(name=o.os_user_domain_name)
        return pb.DomainSelector(id=o.os_default_domain_id or "default")

    def scope(self) -> pb.Scope | None:
        o = self.options
        if o.scope == "system":
            if o.os_system_scope.lower() != "all":
                raise UsageError(f"--os-system-scope: the only system scope is 'all', "
                                 f"not {o.os_system_scope!r}")
            return pb.Scope(system=pb.SystemScope(all=True))
        if o.scope == "domain":
            return pb.Scope(domain=pb.DomainSelector(id=o.os_domain_id) if o.os_domain_id
                            else pb.DomainSelector(name=o.os_domain_name))
        if o.scope == "project":
            if o.os_project_id:
                return pb.Scope(project=pb.ProjectSelector(id=o.os_project_id))
            if o.os_project_domain_id:
                domain = pb.DomainSelector(id=o.os_project_domain_id)
            elif o.os_project_domain_name:
                domain = pb.DomainSelector(name=o.os_project_domain_name)
            else:
                domain = self.user_domain()
            return pb.Scope(project=pb.ProjectSelector(name=o.os_project_name, domain=domain))
        return None

    def authenticate(self, scope: pb.Scope | None = None, use_options_scope: bool = True):
        """A new token from the configured credentials: AuthenticateResponse."""
        o = self.options
        if use_options_scope and scope is None:
            scope = self.scope()
        if o.os_token:
            request = pb.AuthenticateRequest(token=pb.TokenMethod(token=o.os_token))
        elif o.os_api_key:
            method = pb.ApiKeyMethod(key=o.os_api_key)
            if o.os_user_id or o.os_username:
                method.user.CopyFrom(pb.UserSelector(id=o.os_user_id) if o.os_user_id else
                                     pb.UserSelector(name=o.os_username, domain=self.user_domain()))
            request = pb.AuthenticateRequest(api_key=method)
        else:
            if not o.os_username and not o.os_user_id:
                raise UsageError("no credentials: set --os-username/OS_USERNAME and "
                                 "--os-password/OS_PASSWORD, or --os-token/OS_TOKEN, or "
                                 "--os-api-key/OS_API_KEY")
            password = o.os_password
            if password is None:
                password = ask("Password: ", "--os-password/OS_PASSWORD")
            user = (pb.UserSelector(id=o.os_user_id) if o.os_user_id else
                    pb.UserSelector(name=o.os_username, domain=self.user_domain()))
            request = pb.AuthenticateRequest(password=pb.PasswordMethod(
                user=user, password=password))
        if scope is not None:
            request.scope.CopyFrom(scope)
        return self.call("Identity", "Authenticate", request, anonymous=True)

    @property
    def token(self) -> str:
        if self._token is None:
            if self.options.os_token and self.scope() is None:
                self._token = self.options.os_token  # used as it is
            else:
                answer = self.authenticate()
                self._token, self._token_info = answer.token, answer.token_info
        return self._token

    @property
    def token_info(self) -> pb.Token:
        """The facts of the token this session calls with."""
        if self._token_info is None:
            token = self.token
            if self._token_info is None:
                self._token_info = self.call("Identity", "ValidateToken", pb.ValidateTokenRequest(
                    subject_token=token, no_catalog=True)).token_info
        return self._token_info

    # ---- names and ids --------------------------------------------------------------

    def domain_id(self, ref: str | None) -> str:
        """The id of the domain named `ref` (by name or id); "" for none."""
        if not ref:
            return ""
        if ref not in self._domains:
            self._domains[ref] = self.find("domain", ref).id
        return self._domains[ref]

    def find(self, kind: str, ref: str, domain: str | None = None):
        """The entity `ref` names: its id, else its name (within `domain`, a domain
        name or id, when given). No match or several matches is a CliError."""
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
        domain_id = self.domain_id(domain) if spec.by_domain else ""
        request = spec.request(name=ref)
        if domain_id:
            request.domain_id = domain_id
        found = self.list_all(spec.service, spec.list, request, spec.field)
        if kind == "service" and not found:  # a service may be named by its type
            found = self.list_all(spec.service, spec.list, spec.request(type=ref), spec.field)
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

    def find_id(self, kind: str, ref: str | None, domain: str | None = None) -> str:
        return self.find(kind, ref, domain).id if ref else ""
