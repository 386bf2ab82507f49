"""Cross-cutting work for every RPC, in one server interceptor.

For each unary method it: decodes the request without ever failing with INTERNAL
(undecodable bytes, such as invalid UTF-8 in a string, become INVALID_ARGUMENT);
authenticates the caller from `x-auth-token` where the method needs one; turns core
errors into status codes (with the `www-authenticate` trailer on UNAUTHENTICATED);
and logs one JSON line per call, with no token or password in it.

Handlers are wrapped once per method and reused, not rebuilt per call.
"""

import contextvars
import json
import logging
import time

import grpc
import peewee as pw

from .. import errors
from ..auth import AuthService
from ..records import TokenInfo

log = logging.getLogger("identity_grpc.requests")

_CALLER: contextvars.ContextVar[TokenInfo] = contextvars.ContextVar("caller")

STATUS_FOR = {
    errors.InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    errors.Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    errors.InvalidSubjectToken: grpc.StatusCode.UNAUTHENTICATED,
    errors.PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    errors.NotFound: grpc.StatusCode.NOT_FOUND,
    errors.AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    errors.FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    errors.Aborted: grpc.StatusCode.ABORTED,
    errors.ResourceExhausted: grpc.StatusCode.RESOURCE_EXHAUSTED,
}


def current_caller() -> TokenInfo:
    """The validated token of the caller of the RPC being served."""
    return _CALLER.get()


def optional_caller() -> TokenInfo | None:
    """The caller's validated token in a method whose token is optional, else None."""
    return _CALLER.get(None)


class _Undecodable:
    __slots__ = ("reason",)

    def __init__(self, reason: str):
        self.reason = reason


def _tolerant(deserializer):
    def deserialize(data: bytes):
        try:
            return deserializer(data)
        except Exception as e:  # DecodeError and friends: the client sent bad bytes
            return _Undecodable(str(e))
    return deserialize


class RequestInterceptor(grpc.ServerInterceptor):
    def __init__(self, auth: AuthService, auth_url: str, authenticated_prefix: str,
                 anonymous_methods: frozenset[str], on_store_error=lambda: None,
                 token_optional_methods: frozenset[str] = frozenset()):
        """Methods whose full name starts with `authenticated_prefix` need a caller,
        except the `anonymous_methods` (full names), and the `token_optional_methods`,
        whose caller is authenticated only when the call carries a token."""
        self._auth = auth
        self._token_optional = token_optional_methods
        self._challenge = (("www-authenticate", f'Keystone uri="{auth_url.rstrip("/")}/v3"'),)
        self._prefix = authenticated_prefix
        self._anonymous = anonymous_methods
        self._on_store_error = on_store_error
        self._handlers: dict[str, grpc.RpcMethodHandler] = {}

    def intercept_service(self, continuation, handler_call_details):
        method = handler_call_details.method
        handler = self._handlers.get(method)
        if handler is not None:
            return handler
        handler = continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler  # streaming (health watch, reflection): passed through
        needs_caller = method.startswith(self._prefix) and method not in self._anonymous
        if method in self._token_optional:
            needs_caller = None  # only with a token
        handler = grpc.unary_unary_rpc_method_handler(
            self._wrap(method, handler.unary_unary, needs_caller),
            request_deserializer=_tolerant(handler.request_deserializer),
            response_serializer=handler.response_serializer)
        self._handlers[method] = handler
        return handler

    def _wrap(self, method: str, behavior, needs_caller: bool | None):
        """`needs_caller` None: authenticate the caller if the call carries a token."""
        def handle(request, context):
            started = time.perf_counter()
            user_id = ""
            reset = None
            code, message = grpc.StatusCode.OK, ""
            challenge = False
            try:
                if isinstance(request, _Undecodable):
                    raise errors.InvalidArgument("request", f"could not be decoded: {request.reason}")
                if needs_caller or (needs_caller is None and _has_token(context)):
                    caller = self._authenticate(context)
                    user_id = caller.identity.user.id
                    reset = _CALLER.set(caller)
                response = behavior(request, context)
                if not user_id and hasattr(response, "token_info"):
                    user_id = response.token_info.user.id  # who just authenticated
                return response
            except errors.IdentityError as e:
                code, message = STATUS_FOR.get(type(e), grpc.StatusCode.INTERNAL), e.message
                # Point at where to authenticate only when the caller's own
                # credentials failed, not when a token it asks about is bad.
                challenge = type(e) is errors.Unauthenticated
            except (pw.OperationalError, pw.InterfaceError):
                log.exception("store unavailable in %s", method)
                self._on_store_error()
                code, message = grpc.StatusCode.UNAVAILABLE, "the identity store is unavailable"
            except Exception:
                log.exception("unexpected error in %s", method)
                code, message = grpc.StatusCode.INTERNAL, "internal error"
            finally:
                if reset is not None:
                    _CALLER.reset(reset)
                log.info(json.dumps({
                    "rpc": method, "code": code.name, "user_id": user_id, "peer": context.peer(),
                    "ms": round((time.perf_counter() - started) * 1000, 3)}))
            if challenge:
                context.set_trailing_metadata(self._challenge)
            context.abort(code, message)
        return handle

    def _authenticate(self, context) -> TokenInfo:
        token = None
        for key, value in context.invocation_metadata():
            if key == "x-auth-token":
                token = value
                break
        if not token:
            raise errors.Unauthenticated("x-auth-token: this call needs a token in its metadata")
        try:
            return self._auth.validate(token, include_catalog=False)
        except errors.Unauthenticated as e:
            raise errors.Unauthenticated(f"x-auth-token: {e.message}") from None


def _has_token(context) -> bool:
    return any(key == "x-auth-token" and value for key, value in context.invocation_metadata())
