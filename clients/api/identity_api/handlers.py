"""Rebuilding a gRPC method handler around new behaviour (same kind, same
serializers), as the service's interceptor and `identity_client`'s middleware both do;
it depends on grpcio alone."""

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
