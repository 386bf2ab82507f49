"""Rebuilding a gRPC method handler around new behaviour (same kind, same
serializers), once per method, as the service's interceptor and `identity_client`'s
middleware both do; it depends on grpcio alone."""

from typing import Callable

import grpc

# (request streaming, response streaming): the attribute holding a handler's
# behaviour, and the factory making a handler of that kind.
_KINDS = {
    (False, False): ("unary_unary", grpc.unary_unary_rpc_method_handler),
    (False, True): ("unary_stream", grpc.unary_stream_rpc_method_handler),
    (True, False): ("stream_unary", grpc.stream_unary_rpc_method_handler),
    (True, True): ("stream_stream", grpc.stream_stream_rpc_method_handler),
}


def behavior_of(handler: grpc.RpcMethodHandler) -> Callable:
    """The function a handler runs (its `unary_unary`, `unary_stream`...)."""
    return getattr(handler, _KINDS[handler.request_streaming, handler.response_streaming][0])


def rebuilt(handler: grpc.RpcMethodHandler, behavior: Callable,
            wrap_deserializer: Callable[[Callable], Callable] | None = None
            ) -> grpc.RpcMethodHandler:
    """A handler of `handler`'s kind and serializers running `behavior` instead;
    `wrap_deserializer`, if given, is applied to its request deserializer."""
    factory = _KINDS[handler.request_streaming, handler.response_streaming][1]
    deserializer = handler.request_deserializer
    if wrap_deserializer is not None:
        deserializer = wrap_deserializer(deserializer)
    return factory(behavior, request_deserializer=deserializer,
                   response_serializer=handler.response_serializer)


class WrappingInterceptor(grpc.ServerInterceptor):
    """A server interceptor that wraps each method's handler once (`wrap_handler`)
    and serves every later call of the method with it, so nothing is rebuilt per
    call. A method `wrap_handler` leaves alone (None) passes through as resolved."""

    def __init__(self):
        self._handlers: dict[str, grpc.RpcMethodHandler] = {}

    def wrap_handler(self, method: str,
                     handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler | None:
        raise NotImplementedError

    def intercept_service(self, continuation, handler_call_details):
        method = handler_call_details.method
        handler = self._handlers.get(method)
        if handler is not None:
            return handler
        handler = continuation(handler_call_details)
        if handler is None:
            return handler
        wrapped = self.wrap_handler(method, handler)
        if wrapped is None:
            return handler
        self._handlers[method] = wrapped
        return wrapped
