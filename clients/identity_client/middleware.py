"""Token checks in front of a consuming service: a gRPC server interceptor, and WSGI
and ASGI middleware, all over one `TokenVerifier`.

Each reads the user token (`x-auth-token` / `X-Auth-Token`) and an optional service
token (`x-service-token` / `X-Service-Token`), checks both, and hands the handler the
`IdentityContext`:

* gRPC: `current_identity()` inside the handler;
* WSGI: `environ['identity.context']`, plus the headers keystonemiddleware sets
  (`HTTP_X_USER_ID`, `HTTP_X_PROJECT_ID`, `HTTP_X_ROLES`, `HTTP_X_SERVICE_ROLES`...),
  after removing any such header the client sent itself;
* ASGI: `scope['identity.context']`, and the same headers in `scope['headers']`.

A call without a valid token is answered the way Keystone's clients expect, so they
know where to authenticate: HTTP 401 with Keystone's JSON error body and
`WWW-Authenticate: Keystone uri="<www_authenticate_uri>"`; gRPC UNAUTHENTICATED with
`www-authenticate` in the trailing metadata. If the identity service is needed and
cannot be reached: 503 / UNAVAILABLE. With `delay_auth_decision` the HTTP
middleware lets every call through and says what it found in `X-Identity-Status`
(`Confirmed` or `Invalid`), leaving the decision to the application, as
keystonemiddleware does.
"""

import asyncio
import contextvars
import json
import logging

import grpc
from identity_api.handlers import behavior_of, rebuilt, WrappingInterceptor

from .verifier import IdentityContext, IdentityUnavailable, TokenRejected, TokenVerifier

log = logging.getLogger(__name__)

__all__ = ["GrpcAuthInterceptor", "WsgiAuthMiddleware", "AsgiAuthMiddleware",
           "current_identity", "identity_headers", "IDENTITY_HEADERS"]

UNAUTHORIZED_MESSAGE = "The request you have made requires authentication."
UNAVAILABLE_MESSAGE = "The identity service is unavailable; try again later."

# Every header this middleware sets; any the client sent is removed first.
IDENTITY_HEADERS = (
    "X-Identity-Status", "X-Service-Identity-Status",
    "X-User-Id", "X-User-Name", "X-User-Domain-Id", "X-User-Domain-Name",
    "X-Project-Id", "X-Project-Name", "X-Project-Domain-Id", "X-Project-Domain-Name",
    "X-Domain-Id", "X-Domain-Name", "X-System-Scope", "X-Roles",
    "X-Service-User-Id", "X-Service-User-Name", "X-Service-User-Domain-Id",
    "X-Service-Project-Id", "X-Service-Project-Domain-Id", "X-Service-Roles",
    # Older names some services still read.
    "X-Tenant-Id", "X-Tenant-Name", "X-Tenant", "X-User", "X-Role",
)
_WSGI_KEYS = tuple("HTTP_" + h.upper().replace("-", "_") for h in IDENTITY_HEADERS)
_ASGI_NAMES = frozenset(h.lower().encode("latin-1") for h in IDENTITY_HEADERS)

_IDENTITY: contextvars.ContextVar[IdentityContext] = contextvars.ContextVar("identity")


def current_identity() -> IdentityContext:
    """The identity of the caller of the gRPC call being handled (LookupError outside
    one, or on a method the interceptor was told to leave alone)."""
    return _IDENTITY.get()


def identity_headers(context: IdentityContext | None, service_status: str | None = None
                     ) -> dict[str, str]:
    """The keystonemiddleware headers for a context (None: an invalid token)."""
    if context is None:
        headers = {"X-Identity-Status": "Invalid"}
    else:
        roles = ",".join(context.roles)
        headers = {
            "X-Identity-Status": "Confirmed",
            "X-User-Id": context.user_id, "X-User-Name": context.user_name,
            "X-User-Domain-Id": context.user_domain_id,
            "X-User-Domain-Name": context.user_domain_name,
            "X-Roles": roles, "X-User": context.user_name, "X-Role": roles,
        }
        if context.project_id:
            headers.update({
                "X-Project-Id": context.project_id, "X-Project-Name": context.project_name or "",
                "X-Project-Domain-Id": context.project_domain_id or "",
                "X-Project-Domain-Name": context.project_domain_name or "",
                "X-Tenant-Id": context.project_id, "X-Tenant-Name": context.project_name or "",
                "X-Tenant": context.project_name or ""})
        if context.domain_id:
            headers.update({"X-Domain-Id": context.domain_id,
                            "X-Domain-Name": context.domain_name or ""})
        if context.system:
            headers["X-System-Scope"] = "all"
        if context.service_user_id:
            headers.update({
                "X-Service-User-Id": context.service_user_id,
                "X-Service-User-Name": context.service_user_name or "",
                "X-Service-User-Domain-Id": context.service_user_domain_id or "",
                "X-Service-Project-Id": context.service_project_id or "",
                "X-Service-Project-Domain-Id": context.service_project_domain_id or "",
                "X-Service-Roles": ",".join(context.service_roles)})
    if service_status:
        headers["X-Service-Identity-Status"] = service_status
    return headers


def _challenge(uri: str) -> str:
    return f'Keystone uri="{uri}"'


def _error_body(status: int, title: str, message: str) -> bytes:
    return (json.dumps({"error": {"code": status, "message": message, "title": title}},
                       separators=(",", ":")) + "\n").encode()


class _Outcome:
    """What the check of one request's tokens came to."""

    __slots__ = ("context", "status", "service_status", "reason")

    def __init__(self, context=None, status=200, service_status=None, reason=""):
        self.context, self.status, self.service_status, self.reason = (
            context, status, service_status, reason)


def _decide(verifier: TokenVerifier, token: str | None, service_token: str | None,
            local_only: bool = False) -> _Outcome | None:
    """Check both tokens; None when `local_only` and that would take a call."""
    if not token:
        return _Outcome(status=401, service_status="Invalid" if service_token else None,
                        reason="no token")
    try:
        if local_only:
            context = verifier.check_local(token, service_token)
            if context is None:
                return None
        else:
            context = verifier.check(token, service_token)
        return _Outcome(context, service_status="Confirmed" if service_token else None)
    except TokenRejected as e:
        return _Outcome(status=401, service_status=_service_status(verifier, service_token,
                                                                   local_only),
                        reason=e.reason)
    except IdentityUnavailable as e:
        log.warning("token not checked: %s", e)
        return _Outcome(status=503, reason=str(e))


def _service_status(verifier, service_token, local_only) -> str | None:
    """Which of the two tokens failed, for X-Service-Identity-Status."""
    if not service_token:
        return None
    try:
        ok = (verifier.check_local(service_token) if local_only
              else verifier.check(service_token)) is not None
        return "Confirmed" if ok else None
    except (TokenRejected, IdentityUnavailable):
        return "Invalid"


# ---- gRPC -------------------------------------------------------------------------------

class GrpcAuthInterceptor(WrappingInterceptor):
    """Refuses calls without a valid token, and makes the caller's identity available
    to the handler through `current_identity()`. Methods whose full name starts with
    one of `exempt_prefixes` (health checks, reflection) are left alone.

    The check runs in the handler's thread, not in the interceptor's, since that one
    dispatches every call of the server and must never wait on the network."""

    def __init__(self, verifier: TokenVerifier, www_authenticate_uri: str,
                 exempt_prefixes: tuple[str, ...] = ("/grpc.health.", "/grpc.reflection.")):
        super().__init__()
        self._verifier = verifier
        self._trailer = (("www-authenticate", _challenge(www_authenticate_uri)),)
        self._exempt = tuple(exempt_prefixes)

    def wrap_handler(self, method: str, handler: grpc.RpcMethodHandler):
        if method.startswith(self._exempt):
            return None
        behavior = behavior_of(handler)
        return rebuilt(handler, self._wrap_stream(behavior) if handler.response_streaming
                       else self._wrap(behavior))

    def _identity(self, context) -> IdentityContext:
        token = service_token = None
        for key, value in context.invocation_metadata():
            if key == "x-auth-token":
                token = value
            elif key == "x-service-token":
                service_token = value
        outcome = _decide(self._verifier, token, service_token)
        if outcome.status == 200:
            return outcome.context
        if outcome.status == 401:
            context.set_trailing_metadata(self._trailer)
            context.abort(grpc.StatusCode.UNAUTHENTICATED,
                          f"{UNAUTHORIZED_MESSAGE} ({outcome.reason})")
        context.abort(grpc.StatusCode.UNAVAILABLE, UNAVAILABLE_MESSAGE)

    def _wrap(self, behavior):
        def handle(request, context):
            reset = _IDENTITY.set(self._identity(context))
            try:
                return behavior(request, context)
            finally:
                _IDENTITY.reset(reset)
        return handle

    def _wrap_stream(self, behavior):
        def handle(request, context):
            reset = _IDENTITY.set(self._identity(context))
            try:
                yield from behavior(request, context)
            finally:
                try:
                    _IDENTITY.reset(reset)
                except ValueError:  # finished in another thread (abandoned stream)
                    pass
        return handle


# ---- WSGI ---------------------------------------------------------------------------------

class WsgiAuthMiddleware:
    def __init__(self, app, verifier: TokenVerifier, www_authenticate_uri: str,
                 delay_auth_decision: bool = False):
        self.app = app
        self._verifier = verifier
        self._uri = www_authenticate_uri
        self._delay = delay_auth_decision

    def __call__(self, environ, start_response):
        for key in _WSGI_KEYS:
            environ.pop(key, None)
        environ.pop("identity.context", None)
        outcome = _decide(self._verifier, environ.get("HTTP_X_AUTH_TOKEN"),
                          environ.get("HTTP_X_SERVICE_TOKEN"))
        if outcome.status == 503:
            return self._error(start_response, 503, "Service Unavailable", UNAVAILABLE_MESSAGE)
        if outcome.status == 401 and not self._delay:
            return self._error(start_response, 401, "Unauthorized", UNAUTHORIZED_MESSAGE)
        for name, value in identity_headers(outcome.context, outcome.service_status).items():
            environ["HTTP_" + name.upper().replace("-", "_")] = value
        if outcome.context is not None:
            environ["identity.context"] = outcome.context
        return self.app(environ, start_response)

    def _error(self, start_response, status: int, title: str, message: str):
        body = _error_body(status, title, message)
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        if status == 401:
            headers.append(("WWW-Authenticate", _challenge(self._uri)))
        start_response(f"{status} {title}", headers)
        return [body]


# ---- ASGI ----------------------------------------------------------------------------------

class AsgiAuthMiddleware:
    """The same for ASGI apps. A token seen before is checked in the event loop (it
    costs microseconds); one that needs a call to the identity service is checked in
    a worker thread, so the loop never blocks."""

    def __init__(self, app, verifier: TokenVerifier, www_authenticate_uri: str,
                 delay_auth_decision: bool = False):
        self.app = app
        self._verifier = verifier
        self._uri = www_authenticate_uri
        self._delay = delay_auth_decision

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        token = service_token = None
        headers = []
        for name, value in scope.get("headers", ()):
            lower = name.lower()
            if lower == b"x-auth-token":
                token = value.decode("latin-1")
            elif lower == b"x-service-token":
                service_token = value.decode("latin-1")
            if lower not in _ASGI_NAMES:
                headers.append((name, value))
        outcome = _decide(self._verifier, token, service_token, local_only=True)
        if outcome is None:
            outcome = await asyncio.to_thread(_decide, self._verifier, token, service_token)
        if outcome.status != 200 and (outcome.status == 503 or not self._delay):
            return await self._refuse(scope, send, outcome.status)
        for name, value in identity_headers(outcome.context, outcome.service_status).items():
            headers.append((name.lower().encode("latin-1"), value.encode("latin-1", "replace")))
        scope = dict(scope, headers=headers)
        if outcome.context is not None:
            scope["identity.context"] = outcome.context
        else:
            scope.pop("identity.context", None)
        return await self.app(scope, receive, send)

    async def _refuse(self, scope, send, status: int) -> None:
        if scope["type"] == "websocket":  # closing before accepting answers 403
            await send({"type": "websocket.close", "code": 1008})
            return
        title, message = ((("Unauthorized", UNAUTHORIZED_MESSAGE)) if status == 401
                          else ("Service Unavailable", UNAVAILABLE_MESSAGE))
        body = _error_body(status, title, message)
        headers = [(b"content-type", b"application/json"),
                   (b"content-length", str(len(body)).encode())]
        if status == 401:
            headers.append((b"www-authenticate", _challenge(self._uri).encode("latin-1")))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
