"""Tracing (the `otel` extra, docs/observability.md): a server configured with an OTLP
endpoint sends a span per gRPC call and per HTTP request, continuing the caller's
trace, naming the method or the route template and holding the call's request id.
The collector is a real OTLP/gRPC receiver, in the test, on a loopback port."""

import queue
import time
import urllib.request
from concurrent import futures

import grpc
import pytest
from identity_api.v1 import identity_pb2 as pb

pytest.importorskip("opentelemetry.sdk", reason="the otel extra is not installed")
from opentelemetry.proto.collector.trace.v1 import (  # noqa: E402
    trace_service_pb2, trace_service_pb2_grpc)

from observed_server import ObservedServer  # noqa: E402

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"


class Collector(trace_service_pb2_grpc.TraceServiceServicer):
    """Receives OTLP trace exports; `spans` holds every span received."""

    def __init__(self):
        self.spans: queue.Queue = queue.Queue()
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(self, self._server)
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        self._server.start()

    def Export(self, request, context):
        for resource_spans in request.resource_spans:
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    self.spans.put((resource_spans.resource, span))
        return trace_service_pb2.ExportTraceServiceResponse()

    def stop(self) -> None:
        self._server.stop(0)

    def spans_named(self, names: set[str], timeout: float = 20.0) -> dict:
        """name -> (resource, span) once a span of every name came."""
        found, deadline = {}, time.monotonic() + timeout
        while not names <= found.keys():
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"spans received: {sorted(found)}"
            try:
                resource, span = self.spans.get(timeout=remaining)
            except queue.Empty:
                continue
            found[span.name] = resource, span
        return found


@pytest.fixture
def collector():
    running = Collector()
    yield running
    running.stop()


def attributes(span) -> dict:
    return {a.key: (a.value.string_value or a.value.int_value) for a in span.attributes}


def test_spans_continue_the_callers_trace_with_the_request_id(deployment, tmp_path, collector):
    server = ObservedServer(deployment, tmp_path, IDENTITY_METRICS_LISTEN="",
                            IDENTITY_OTEL_ENDPOINT=f"http://127.0.0.1:{collector.port}",
                            OTEL_BSP_SCHEDULE_DELAY="100")
    try:
        _, call = server.stub.Ping.with_call(pb.PingRequest(),
                                             metadata=(("traceparent", TRACEPARENT),))
        grpc_id = dict(call.trailing_metadata())["x-openstack-request-id"]
        request = urllib.request.Request(f"{server.http}/v3",
                                         headers={"traceparent": TRACEPARENT})
        with urllib.request.urlopen(request, timeout=10) as response:
            http_id = response.headers["x-openstack-request-id"]
        found = collector.spans_named({"identity.v1.Identity/Ping", "GET /v3"})
    finally:
        assert server.stop() == 0
    resource, ping = found["identity.v1.Identity/Ping"]
    _, discovery = found["GET /v3"]
    for span in (ping, discovery):
        assert span.trace_id.hex() == TRACE_ID and span.parent_span_id.hex() == PARENT_ID
        assert span.kind == span.SPAN_KIND_SERVER
    assert attributes(ping)["identity.request_id"] == grpc_id
    assert attributes(ping)["rpc.method"] == "Ping"
    assert attributes(ping)["rpc.grpc.status_code"] == 0
    assert attributes(discovery)["identity.request_id"] == http_id
    assert attributes(discovery)["http.route"] == "/v3"
    assert attributes(discovery)["http.response.status_code"] == 200
    assert {a.key: a.value.string_value for a in resource.attributes}["service.name"] == \
        "identity-service"
    # The log lines say which trace each call belongs to.
    traced = [line for line in server.log_lines() if line.get("request_id") in (grpc_id, http_id)]
    assert {line["trace_id"] for line in traced} == {TRACE_ID}


def test_without_an_endpoint_nothing_is_traced(deployment, tmp_path, collector):
    server = ObservedServer(deployment, tmp_path, IDENTITY_METRICS_LISTEN="")
    try:
        server.stub.Ping(pb.PingRequest(), metadata=(("traceparent", TRACEPARENT),))
    finally:
        assert server.stop() == 0
    assert collector.spans.empty()
    assert not [line for line in server.log_lines() if "trace_id" in line]
