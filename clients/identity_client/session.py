"""A client session: a token kept valid, and the catalog it came with.

    session = Session("identity:50051", username="nova", password="...",
                      project_name="service")
    stub.SomeCall(request, metadata=session.metadata())   # a valid token, always
    session.endpoint("compute", interface="internal", region="RegionOne")

The session authenticates on first use, keeps the token and renews it `renew_before`
seconds before it expires (re-authenticating with the password or API key it was
given; a session made from a bare token cannot renew and raises `SessionExpired`
once the token is gone). Expiry is measured on the session's own clock from the
token's lifetime (expires_at - issued_at), so clock skew with the server does not
matter. Safe to share between threads: one thread renews, the others keep using the
still-valid token meanwhile.

Over TLS: an address `grpcs://host:port`, or any of `cacert` (the CA bundle to trust,
default the system's), `cert` and `key` (a client certificate, for a service
requiring mutual TLS), as openstackclient's --os-cacert, --os-cert and --os-key.
"""

import threading
import time
from dataclasses import dataclass
from typing import Callable

import grpc
from identity_api.v1 import identity_pb2 as pb
from identity_api.v1 import identity_pb2_grpc as rpc

from . import tls as client_tls

__all__ = ["Session", "SessionError", "SessionExpired", "EndpointNotFound", "Endpoint"]

DEFAULT_RENEW_BEFORE = 60.0
# The largest message the session's channel accepts, stated rather than left to
# gRPC's default (4 MiB). The service sends its revocation snapshot in chunks of
# at most 1,000 events (~250 KB), so this is ample; it also leaves room for an
# older service that sends the snapshot as one message, and for large catalogs.
MAX_RECEIVE_MESSAGE_BYTES = 16 * 1024 * 1024
CHANNEL_OPTIONS = (("grpc.max_receive_message_length", MAX_RECEIVE_MESSAGE_BYTES),)


class SessionError(Exception):
    """Authentication failed, or the identity service could not be reached."""

    def __init__(self, message: str, code: grpc.StatusCode | None = None):
        super().__init__(message)
        self.code = code


class SessionExpired(SessionError):
    """The token ran out and the session has no credentials to get another."""


class EndpointNotFound(LookupError):
    pass


@dataclass(frozen=True)
class Endpoint:
    service_type: str
    service_name: str
    interface: str
    region: str
    url: str


def _domain(domain_id: str | None, domain_name: str | None) -> pb.DomainSelector | None:
    if domain_id:
        return pb.DomainSelector(id=domain_id)
    if domain_name:
        return pb.DomainSelector(name=domain_name)
    return None


def _scope(project_id=None, project_name=None, project_domain_id=None,
           project_domain_name=None, domain_id=None, domain_name=None,
           system_scope=None) -> pb.Scope | None:
    if project_id or project_name:
        selector = pb.ProjectSelector(id=project_id or "", name="" if project_id else project_name)
        if not project_id:
            domain = _domain(project_domain_id, project_domain_name)
            selector.domain.CopyFrom(domain or pb.DomainSelector(id="default"))
        return pb.Scope(project=selector)
    if domain_id or domain_name:
        return pb.Scope(domain=_domain(domain_id, domain_name))
    if system_scope:
        if system_scope not in (True, "all"):
            raise ValueError("system_scope must be 'all' (the only system scope)")
        return pb.Scope(system=pb.SystemScope(all=True))
    return None


class Session:
    def __init__(self, address: str | None = None, *, channel: grpc.Channel | None = None,
                 username: str | None = None, user_id: str | None = None,
                 password: str | None = None, user_domain_id: str | None = None,
                 user_domain_name: str | None = None, api_key: str | None = None,
                 token: str | None = None, project_id: str | None = None,
                 project_name: str | None = None, project_domain_id: str | None = None,
                 project_domain_name: str | None = None, domain_id: str | None = None,
                 domain_name: str | None = None, system_scope: str | bool | None = None,
                 renew_before: float = DEFAULT_RENEW_BEFORE, timeout: float = 10.0,
                 clock: Callable[[], float] = time.time, cacert: str | None = None,
                 cert: str | None = None, key: str | None = None):
        if (address is None) == (channel is None):
            raise ValueError("give the service's address or a channel, not both")
        methods = [m for m, given in (("password", password is not None),
                                      ("api_key", api_key is not None),
                                      ("token", token is not None)) if given]
        if len(methods) != 1:
            raise ValueError("give exactly one of password, api_key or token")
        if password is not None and not (user_id or username):
            raise ValueError("a password needs username or user_id")
        self._own_channel = channel is None
        self.channel = channel if channel is not None else client_tls.channel(
            address.removeprefix("grpcs://").removeprefix("grpc://"),
            tls=address.startswith("grpcs://") or any((cacert, cert, key)),
            cacert=cacert, cert=cert, key=key, options=CHANNEL_OPTIONS)
        self.stub = rpc.IdentityStub(self.channel)
        self._user = None
        if user_id or username:
            self._user = pb.UserSelector(id=user_id or "", name="" if user_id else username)
            if not user_id:
                self._user.domain.CopyFrom(_domain(user_domain_id, user_domain_name)
                                           or pb.DomainSelector(id="default"))
        self._password = password
        self._api_key = api_key
        self._scope = _scope(project_id, project_name, project_domain_id, project_domain_name,
                             domain_id, domain_name, system_scope)
        self._renew_before = renew_before
        self._timeout = timeout
        self._clock = clock
        self._lock = threading.Lock()
        # Replaced together, as one tuple: (token, info, local expiry).
        self._state: tuple[str, pb.Token, float] | None = None
        if token is not None:
            if self._scope is not None:
                self._adopt(self._call(pb.AuthenticateRequest(token=pb.TokenMethod(token=token),
                                                              scope=self._scope)))
            else:
                self._adopt(self._validate_own(token), fresh=False)

    # ---- the token ---------------------------------------------------------------

    @property
    def can_renew(self) -> bool:
        return self._password is not None or self._api_key is not None

    @property
    def token(self) -> str:
        """A token valid for at least `renew_before` more seconds when the session can
        renew; otherwise the current one while it lasts."""
        state = self._state
        if state is not None and self._clock() < state[2] - self._renew_before:
            return state[0]
        with self._lock:
            state = self._state
            now = self._clock()
            if state is not None and now < state[2] - self._renew_before:
                return state[0]
            if self.can_renew:
                try:
                    self._adopt(self._call(self._request()))
                except SessionError:
                    if state is not None and now < state[2]:
                        return state[0]  # renewal failed but the old token still works
                    raise
            elif state is None or now >= state[2]:
                raise SessionExpired("the session's token has expired and it holds no "
                                     "credentials to get another")
            return self._state[0]

    @property
    def token_info(self) -> pb.Token:
        self.token  # noqa: B018 - authenticate or renew as needed
        return self._state[1]

    def metadata(self) -> tuple[tuple[str, str], ...]:
        """Call metadata carrying the session's token."""
        return (("x-auth-token", self.token),)

    def invalidate(self) -> None:
        """Forget the token (say, after the service refused it); the next use gets a
        new one, if the session can."""
        with self._lock:
            if self.can_renew:
                self._state = None

    def authenticate(self) -> pb.Token:
        """Authenticate now, whatever the state of the current token."""
        with self._lock:
            if not self.can_renew:
                raise SessionError("a session made from a token cannot authenticate again")
            self._adopt(self._call(self._request()))
            return self._state[1]

    def rescope(self, *, project_id: str | None = None, project_name: str | None = None,
                project_domain_id: str | None = None, project_domain_name: str | None = None,
                domain_id: str | None = None, domain_name: str | None = None,
                system_scope: str | bool | None = None) -> pb.Token:
        """Exchange the token for one on another scope (never outliving it); renewals
        keep the new scope."""
        scope = _scope(project_id, project_name, project_domain_id, project_domain_name,
                       domain_id, domain_name, system_scope)
        if scope is None:
            raise ValueError("name a project, a domain or the system scope")
        current = self.token
        with self._lock:
            self._adopt(self._call(pb.AuthenticateRequest(token=pb.TokenMethod(token=current),
                                                          scope=scope)))
            self._scope = scope
            return self._state[1]

    # ---- the catalog -------------------------------------------------------------

    def endpoints(self) -> list[Endpoint]:
        return [Endpoint(service.type, service.name, e.interface, e.region, e.url)
                for service in self.token_info.catalog for e in service.endpoints]

    def endpoint(self, service_type: str, interface: str = "public",
                 region: str | None = None, service_name: str | None = None) -> str:
        """The URL of the `interface` endpoint of a `service_type` service (in
        `region`, when named) in the token's catalog."""
        interface = interface.removesuffix("URL")  # "publicURL" as in the old catalogs
        for e in self.endpoints():
            if (e.service_type == service_type and e.interface == interface
                    and (region is None or e.region == region)
                    and (service_name is None or e.service_name == service_name)):
                return e.url
        where = f" in region {region}" if region else ""
        if not self.token_info.catalog:
            raise EndpointNotFound("the token has no catalog (is it scoped?)")
        raise EndpointNotFound(f"no {interface} endpoint for {service_type}{where}")

    def close(self) -> None:
        if self._own_channel:
            self.channel.close()

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- internals ------------------------------------------------------------------

    def _request(self) -> pb.AuthenticateRequest:
        if self._password is not None:
            request = pb.AuthenticateRequest(
                password=pb.PasswordMethod(user=self._user, password=self._password))
        else:
            request = pb.AuthenticateRequest(api_key=pb.ApiKeyMethod(key=self._api_key))
            if self._user is not None:
                request.api_key.user.CopyFrom(self._user)
        if self._scope is not None:
            request.scope.CopyFrom(self._scope)
        return request

    def _call(self, request: pb.AuthenticateRequest) -> pb.AuthenticateResponse:
        try:
            return self.stub.Authenticate(request, timeout=self._timeout)
        except grpc.RpcError as e:
            raise SessionError(f"authentication failed: {e.details()}", e.code()) from None

    def _validate_own(self, token: str) -> pb.AuthenticateResponse:
        try:
            info = self.stub.ValidateToken(pb.ValidateTokenRequest(subject_token=token),
                                           metadata=(("x-auth-token", token),),
                                           timeout=self._timeout).token_info
        except grpc.RpcError as e:
            raise SessionError(f"the token was not accepted: {e.details()}", e.code()) from None
        return pb.AuthenticateResponse(token=token, token_info=info)

    def _adopt(self, response: pb.AuthenticateResponse, fresh: bool = True) -> None:
        info = response.token_info
        if fresh:
            # Just issued: it lives expires_at - issued_at from about now, whatever the
            # two clocks say (less a second for issued_at's truncation).
            expiry = self._clock() + info.expires_at.seconds - info.issued_at.seconds - 1
        else:
            expiry = float(info.expires_at.seconds)
        self._state = (response.token, info, expiry)
