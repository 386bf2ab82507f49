"""`identity_api.handlers`, which both interceptors (the service's and the one consuming
services put on their own servers) wrap their handlers with: a handler of each of the
four kinds keeps its kind and serializers, and is built once per method. Unary and
server-streaming calls are also covered end to end by the service's own tests; the
client-streaming kinds only here."""

from concurrent import futures

import grpc
import pytest
from identity_api.handlers import WrappingInterceptor, behavior_of, rebuilt

SERVICE = "demo.Echo"


def _shout(behavior):
    """The wrapped behaviour: the original's answers, upper-cased."""
    def handle(request, context):
        answer = behavior(request, context)
        if isinstance(answer, str):
            return answer.upper()
        return (a.upper() for a in answer)
    return handle


class _Shouting(WrappingInterceptor):
    def __init__(self):
        super().__init__()
        self.built: list[str] = []

    def wrap_handler(self, method, handler):
        if method.endswith("/Untouched"):
            return None
        self.built.append(method)
        return rebuilt(handler, _shout(behavior_of(handler)))


def _codec():
    return {"request_deserializer": lambda b: b.decode(),
            "response_serializer": lambda s: s.encode()}


@pytest.fixture(scope="module")
def channel_and_interceptor():
    handlers = grpc.method_handlers_generic_handler(SERVICE, {
        "UnaryUnary": grpc.unary_unary_rpc_method_handler(lambda r, c: f"<{r}>", **_codec()),
        "UnaryStream": grpc.unary_stream_rpc_method_handler(
            lambda r, c: iter([r, r]), **_codec()),
        "StreamUnary": grpc.stream_unary_rpc_method_handler(
            lambda rs, c: "+".join(rs), **_codec()),
        "StreamStream": grpc.stream_stream_rpc_method_handler(
            lambda rs, c: (f"<{r}>" for r in rs), **_codec()),
        "Untouched": grpc.unary_unary_rpc_method_handler(lambda r, c: f"<{r}>", **_codec()),
    })
    interceptor = _Shouting()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2), interceptors=[interceptor])
    server.add_generic_rpc_handlers((handlers,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    yield channel, interceptor
    channel.close()
    server.stop(0).wait()


def _call(channel, kind: str, method: str):
    return getattr(channel, kind)(f"/{SERVICE}/{method}", request_serializer=str.encode,
                                  response_deserializer=bytes.decode)


def test_each_kind_of_handler_is_wrapped_keeping_its_serializers(channel_and_interceptor):
    channel, _ = channel_and_interceptor
    assert _call(channel, "unary_unary", "UnaryUnary")("a") == "<A>"
    assert list(_call(channel, "unary_stream", "UnaryStream")("b")) == ["B", "B"]
    assert _call(channel, "stream_unary", "StreamUnary")(iter(["c", "d"])) == "C+D"
    assert list(_call(channel, "stream_stream", "StreamStream")(iter(["e", "f"]))) == ["<E>", "<F>"]


def test_a_handler_is_built_once_per_method_and_one_left_alone_passes_through(
        channel_and_interceptor):
    channel, interceptor = channel_and_interceptor
    for _ in range(3):
        assert _call(channel, "unary_unary", "UnaryUnary")("a") == "<A>"
        assert _call(channel, "unary_unary", "Untouched")("a") == "<a>"
    assert interceptor.built.count(f"/{SERVICE}/UnaryUnary") == 1
    assert not any(m.endswith("/Untouched") for m in interceptor.built)
