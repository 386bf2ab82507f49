"""Cross-cutting work for every RPC, in one server interceptor.

For each unary method, and each server-streaming method of our own services, it:
decodes the request without ever failing with INTERNAL (undecodable bytes, such as
invalid UTF-8 in a string, become INVALID_ARGUMENT); authenticates the caller from
`x-auth-token` where the method needs one (a stream: again before each message, so
it ends when the token expires or is revoked); turns core errors into status codes
(with the `www-authenticate` trailer on UNAUTHENTICATED, `retry-after` on
RESOURCE_EXHAUSTED when known); and logs one JSON line per call, with no token or
password in it. Servicers only translate (and stream). Of the errors that are not
the core's own, only a store that cannot be reached is UNAVAILABLE
(`store.conflicts`); anything else is a bug, INTERNAL, logged with its traceback
under a request id that the client's message and trailer carry too.

Other streaming methods (the health service's Watch, reflection) pass through:
Watch serves without holding a thread, which wrapping would undo.

Handlers are wrapped once per method and reused, not rebuilt per call.
"""

import contextvars
import json
import logging
import math
import time
import uuid

import grpc
from identity_api.handlers import WrappingInterceptor, rebuilt

from .. import errors
from ..records import TokenInfo
from ..operations import store_unreachable
from ..operations.tokens import TokenOps

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


class RequestInterceptor(WrappingInterceptor):
    def __init__(self, tokens: TokenOps, auth_url: str, authenticated_prefix: str,
                 anonymous_methods: frozenset[str], on_store_error=lambda: None,
                 token_optional_methods: frozenset[str] = frozenset()):
        """Methods whose full name starts with `authenticated_prefix` need a caller,
        except the `anonymous_methods` (full names), and the `token_optional_methods`,
        whose caller is authenticated only when the call carries a token."""
        super().__init__()
        self._tokens = tokens
        self._token_optional = token_optional_methods
        self._challenge = (("www-authenticate", f'Keystone uri="{auth_url.rstrip("/")}/v3"'),)
        self._prefix = authenticated_prefix
        self._anonymous = anonymous_methods
        self._on_store_error = on_store_error

    def wrap_handler(self, method: str, handler: grpc.RpcMethodHandler):
        ours = method.startswith(self._prefix)
        needs_caller = ours and method not in self._anonymous
        if method in self._token_optional:
            needs_caller = None  # only with a token
        if handler.unary_unary is not None:
            return rebuilt(handler, self._wrap(method, handler.unary_unary, needs_caller),
                           wrap_deserializer=_tolerant)
        if handler.unary_stream is not None and ours:
            return rebuilt(handler, self._wrap_stream(method, handler.unary_stream, needs_caller),
                           wrap_deserializer=_tolerant)
        return None  # other streaming methods (health watch, reflection)

    def _wrap(self, method: str, behavior, needs_caller: bool | None):
        """`needs_caller` None: authenticate the caller if the call carries a token."""
        def handle(request, context):
            started = time.perf_counter()
            user_id = ""
            reset = None
            code, message, trailers = grpc.StatusCode.OK, "", ()
            try:
                _check_decoded(request)
                if needs_caller or (needs_caller is None and _has_token(context)):
                    caller = self._authenticate(context)
                    user_id = caller.identity.user.id
                    reset = _CALLER.set(caller)
                response = behavior(request, context)
                if not user_id and hasattr(response, "token_info"):
                    user_id = response.token_info.user.id  # who just authenticated
                return response
            except Exception as e:
                code, message, trailers = self._failure(method, e)
            finally:
                if reset is not None:
                    _CALLER.reset(reset)
                self._log(method, code, user_id, context, started)
            if trailers:
                context.set_trailing_metadata(trailers)
            context.abort(code, message)
        return handle

    def _wrap_stream(self, method: str, behavior, needs_caller: bool):
        """As `_wrap`, for a method that yields its responses. The caller is
        authenticated again before the servicer is resumed for each message, and is
        `current_caller()` only while the servicer runs, never across a yield."""
        def handle(request, context):
            started = time.perf_counter()
            user_id = ""
            code, message, trailers = grpc.StatusCode.OK, "", ()
            responses = None
            try:
                _check_decoded(request)
                while True:
                    reset = None
                    if needs_caller:
                        caller = self._authenticate(context)
                        user_id = caller.identity.user.id
                        reset = _CALLER.set(caller)
                    try:
                        if responses is None:
                            responses = iter(behavior(request, context))
                        response = next(responses)
                    except StopIteration:
                        break
                    finally:
                        if reset is not None:
                            _CALLER.reset(reset)
                    yield response
            except GeneratorExit:  # the call ended (the client left) while we waited
                code = grpc.StatusCode.CANCELLED
                raise
            except Exception as e:
                code, message, trailers = self._failure(method, e)
            finally:
                if responses is not None and hasattr(responses, "close"):
                    responses.close()  # its own clean-up, also when the client left
                self._log(method, code, user_id, context, started)
            if code is grpc.StatusCode.OK:
                return
            if trailers:
                context.set_trailing_metadata(trailers)
            context.abort(code, message)
        return handle

    def _failure(self, method: str, error: Exception):
        """The status, message and trailers a failed call ends with."""
        if isinstance(error, errors.IdentityError):
            code = STATUS_FOR.get(type(error), grpc.StatusCode.INTERNAL)
            # Point at where to authenticate only when the caller's own credentials
            # failed, not when a token it asks about is bad.
            if type(error) is errors.Unauthenticated:
                return code, error.message, self._challenge
            retry_after = getattr(error, "retry_after", None)
            if retry_after is not None:
                return code, error.message, (("retry-after", str(max(1, math.ceil(retry_after)))),)
            return code, error.message, ()
        return self._unexpected(method, error)

    def _unexpected(self, method: str, error: Exception) -> tuple[grpc.StatusCode, str, tuple]:
        """Status, message and trailers for an error that is not the core's own:
        UNAVAILABLE for a store that cannot be reached, after which this thread lets
        go of its connection; INTERNAL for anything else, which leaves the connection
        alone (the statement failed, not the link). Either is logged with its
        traceback under a request id made for this call, which the client is told
        in the message and the `x-openstack-request-id` trailer."""
        request_id = f"req-{uuid.uuid4()}"
        trailers = (("x-openstack-request-id", request_id),)
        if store_unreachable(error):
            log.exception("store unavailable in %s (request %s)", method, request_id)
            self._on_store_error()
            return (grpc.StatusCode.UNAVAILABLE,
                    f"the identity store is unavailable (request {request_id})", trailers)
        log.exception("internal error in %s (request %s)", method, request_id)
        return grpc.StatusCode.INTERNAL, f"internal error (request {request_id})", trailers

    @staticmethod
    def _log(method: str, code, user_id: str, context, started: float) -> None:
        log.info(json.dumps({
            "rpc": method, "code": code.name, "user_id": user_id, "peer": context.peer(),
            "ms": round((time.perf_counter() - started) * 1000, 3)}))

    def _authenticate(self, context) -> TokenInfo:
        token = None
        for key, value in context.invocation_metadata():
            if key == "x-auth-token":
                token = value
                break
        if not token:
            raise errors.Unauthenticated("x-auth-token: this call needs a token in its metadata")
        try:
            return self._tokens.validate(token, include_catalog=False)
        except errors.Unauthenticated as e:
            raise errors.Unauthenticated(f"x-auth-token: {e.message}") from None


def _check_decoded(request) -> None:
    if isinstance(request, _Undecodable):
        raise errors.InvalidArgument("request", f"could not be decoded: {request.reason}")


def _has_token(context) -> bool:
    return any(key == "x-auth-token" and value for key, value in context.invocation_metadata())
