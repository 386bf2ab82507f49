"""Cross-cutting work for every RPC, in one server interceptor.

For each unary method, and each server-streaming method of our own services, it:
decodes the request without ever failing with INTERNAL (undecodable bytes, such as
invalid UTF-8 in a string, become INVALID_ARGUMENT); authenticates the caller from
`x-auth-token` where the method needs one (a stream: again before each message, so
it ends when the token expires or is revoked); turns core errors into status codes
(with the `www-authenticate` trailer on UNAUTHENTICATED, `retry-after` on
RESOURCE_EXHAUSTED when known); and records the call (`_MethodRecord`): a request
id, returned in the `x-openstack-request-id` trailer and carried by every log record
made while the call is served; one request-log record when it ends, with no token
or password in it (health checks at DEBUG, so probes do not fill the log); its
count and latency when metrics are on; its span when tracing is. Servicers only
translate (and stream). Of the errors that are not the core's own, only a store
that cannot be reached is UNAVAILABLE (`store.conflicts`); anything else is a bug,
INTERNAL, logged with its traceback under the call's request id, which the
client's message carries too.

Other streaming methods (the health service's Watch, reflection) pass through:
Watch serves without holding a thread, which wrapping would undo.

Handlers are wrapped once per method and reused, not rebuilt per call.
"""

import contextvars
import logging
import math
import time

import grpc
from identity_api.handlers import WrappingInterceptor, rebuilt

from .. import errors, metrics, request_ids, tracing
from ..audit import origin
from ..records import TokenInfo
from ..operations import store_unreachable
from ..operations.tokens import TokenOps
from .grpc_peer import call_origin

log = logging.getLogger("identity_grpc.requests")
HEALTH_PREFIX = "/grpc.health.v1.Health/"

_CALLER: contextvars.ContextVar[TokenInfo] = contextvars.ContextVar("caller")

STATUS_FOR = {
    errors.InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    errors.Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    errors.InvalidSubjectToken: grpc.StatusCode.UNAUTHENTICATED,
    errors.PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    errors.NotFound: grpc.StatusCode.NOT_FOUND,
    errors.AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    errors.FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    errors.ForbiddenState: grpc.StatusCode.FAILED_PRECONDITION,
    errors.ReadOnlyBackend: grpc.StatusCode.FAILED_PRECONDITION,
    errors.Aborted: grpc.StatusCode.ABORTED,
    errors.ResourceExhausted: grpc.StatusCode.RESOURCE_EXHAUSTED,
    errors.Unavailable: grpc.StatusCode.UNAVAILABLE,
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


class _MethodRecord:
    """What is recorded of each call of one method, set up once per method: the
    request-log level, the metrics' children (None: metrics off), the tracer (None:
    tracing off)."""

    __slots__ = ("method", "level", "observed", "tracer")

    def __init__(self, method: str, metrics_on: bool, tracer):
        self.method = method
        self.level = logging.DEBUG if method.startswith(HEALTH_PREFIX) else logging.INFO
        self.observed = metrics.grpc_calls(method) if metrics_on else None
        self.tracer = tracer

    def start_span(self, context, request_id: str):
        if self.tracer is None:
            return None
        return tracing.start_grpc_span(self.tracer, self.method, context, request_id)

    def finish(self, code, user_id: str, context, started: float, request_id: str,
               span) -> None:
        elapsed = time.perf_counter() - started
        if self.observed is not None:
            self.observed[code](elapsed)
        if log.isEnabledFor(self.level):
            fields = {"rpc": self.method, "code": code.name, "user_id": user_id,
                      "peer": context.peer(), "duration_ms": round(elapsed * 1000, 3),
                      "request_id": request_id}
            if span is not None:
                fields["trace_id"] = tracing.trace_id_of(span)
            log.log(self.level, "rpc", extra=fields)
        if span is not None:
            tracing.end_grpc_span(span, code)


class RequestInterceptor(WrappingInterceptor):
    def __init__(self, tokens: TokenOps, auth_url: str, authenticated_prefix: str,
                 anonymous_methods: frozenset[str], on_store_error=lambda: None,
                 token_optional_methods: frozenset[str] = frozenset(),
                 metrics_on: bool = False):
        """Methods whose full name starts with `authenticated_prefix` need a caller,
        except the `anonymous_methods` (full names), and the `token_optional_methods`,
        whose caller is authenticated only when the call carries a token. With
        `metrics_on`, every call is counted and timed (`metrics`)."""
        super().__init__()
        self._metrics_on = metrics_on
        self._tracer = tracing.tracer()
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
        record = _MethodRecord(method, self._metrics_on, self._tracer)

        def handle(request, context):
            started = time.perf_counter()
            request_id = request_ids.new()
            current_id = request_ids.CURRENT.set(request_id)
            span = record.start_span(context, request_id)
            context.set_trailing_metadata(((request_ids.HEADER, request_id),))
            user_id = ""
            reset = None
            code, message, trailers = grpc.StatusCode.OK, "", ()
            bound = origin.bind(call_origin(context))
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
                code, message, trailers = self._failure(method, e, request_id)
            finally:
                if reset is not None:
                    _CALLER.reset(reset)
                origin.unbind(bound)
                request_ids.CURRENT.reset(current_id)
                record.finish(code, user_id, context, started, request_id, span)
            if trailers:
                context.set_trailing_metadata(trailers + ((request_ids.HEADER, request_id),))
            context.abort(code, message)
        return handle

    def _wrap_stream(self, method: str, behavior, needs_caller: bool):
        """As `_wrap`, for a method that yields its responses. The caller is
        authenticated again before the servicer is resumed for each message, and is
        `current_caller()` (and its request id `request_ids.current()`) only while
        the servicer runs, never across a yield."""
        record = _MethodRecord(method, self._metrics_on, self._tracer)

        def handle(request, context):
            started = time.perf_counter()
            request_id = request_ids.new()
            span = record.start_span(context, request_id)
            context.set_trailing_metadata(((request_ids.HEADER, request_id),))
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
                    current_id = request_ids.CURRENT.set(request_id)
                    try:
                        if responses is None:
                            responses = iter(behavior(request, context))
                        response = next(responses)
                    except StopIteration:
                        break
                    finally:
                        if reset is not None:
                            _CALLER.reset(reset)
                        request_ids.CURRENT.reset(current_id)
                    yield response
            except GeneratorExit:  # the call ended (the client left) while we waited
                code = grpc.StatusCode.CANCELLED
                raise
            except Exception as e:
                current_id = request_ids.CURRENT.set(request_id)
                try:
                    code, message, trailers = self._failure(method, e, request_id)
                finally:
                    request_ids.CURRENT.reset(current_id)
            finally:
                if responses is not None and hasattr(responses, "close"):
                    responses.close()  # its own clean-up, also when the client left
                record.finish(code, user_id, context, started, request_id, span)
            if code is grpc.StatusCode.OK:
                return
            if trailers:
                context.set_trailing_metadata(trailers + ((request_ids.HEADER, request_id),))
            context.abort(code, message)
        return handle

    def _failure(self, method: str, error: Exception, request_id: str):
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
        return self._unexpected(method, error, request_id)

    def _unexpected(self, method: str, error: Exception,
                    request_id: str) -> tuple[grpc.StatusCode, str, tuple]:
        """Status, message and trailers for an error that is not the core's own:
        UNAVAILABLE for a store that cannot be reached, after which this thread lets
        go of its connection; INTERNAL for anything else, which leaves the connection
        alone (the statement failed, not the link). Either is logged with its
        traceback under the call's request id, which the client is told in the
        message (and, as for every call, the `x-openstack-request-id` trailer)."""
        if store_unreachable(error):
            metrics.STORE_ERRORS.labels("grpc").inc()
            log.exception("store unavailable in %s (request %s)", method, request_id)
            self._on_store_error()
            return (grpc.StatusCode.UNAVAILABLE,
                    f"the identity store is unavailable (request {request_id})", ())
        log.exception("internal error in %s (request %s)", method, request_id)
        return grpc.StatusCode.INTERNAL, f"internal error (request {request_id})", ()

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
