"""Optional OpenTelemetry tracing: a server span per gRPC call and per HTTP request.

Off unless configured: `otel_endpoint` (an OTLP/gRPC collector, `http://host:4317`),
or OpenTelemetry's own `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` / `OTEL_EXPORTER_OTLP_ENDPOINT`
(with the rest of the OTEL_* variables: `OTEL_SERVICE_NAME`, `OTEL_PROPAGATORS`,
`OTEL_BSP_*`...; `OTEL_SDK_DISABLED=true` turns it off again). It needs the `otel`
extra (`pip install 'identity-service[otel]'`): configured without it, the server
refuses to start, saying so.

A span continues the caller's trace when the call carries one (W3C `traceparent`,
in gRPC metadata or an HTTP header), names the method or the route template, and
holds the request id and the status. Spans go to the collector in batches, from a
thread of the SDK's own. Tracing is a process-wide choice (OpenTelemetry's tracer
provider is one per process), made once at start (`start`): the interceptor and the
gateway ask `tracer()` when they are built, so with tracing off they do nothing per
call at all.
"""

import os

import grpc

SERVICE_NAME = "identity-service"
# gRPC codes that are the server's fault, which OpenTelemetry marks as errors.
_SERVER_ERRORS = frozenset({grpc.StatusCode.UNKNOWN, grpc.StatusCode.DEADLINE_EXCEEDED,
                            grpc.StatusCode.UNIMPLEMENTED, grpc.StatusCode.INTERNAL,
                            grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DATA_LOSS})

_tracer = None


def tracer():
    """The process's tracer, or None when tracing is off."""
    return _tracer


def endpoint_of(settings, environ=os.environ) -> str:
    """Where spans go ("" for nowhere: tracing off)."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return ""
    return (settings.otel_endpoint or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
            or environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", ""))


def start(settings):
    """Turn tracing on if configured; the provider to `stop` at shutdown, or None."""
    endpoint = endpoint_of(settings)
    if not endpoint:
        return None
    try:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as e:
        from .startup import StartupError  # here: startup imports the transports, which import this
        raise StartupError(f"otel_endpoint {endpoint}: tracing needs the otel extra "
                           f"(pip install 'identity-service[otel]'): {e}") from None
    # An explicit otel_endpoint wins; else the exporter reads the OTEL_* variables.
    exporter = OTLPSpanExporter(endpoint=settings.otel_endpoint or None)
    return install(BatchSpanProcessor(exporter))


def install(processor):
    """Trace through `processor` (a batch to a collector; in tests, an in-memory
    exporter's) from now on; the tracer provider."""
    global _tracer
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    attributes = {} if os.environ.get("OTEL_SERVICE_NAME") else {"service.name": SERVICE_NAME}
    provider = TracerProvider(resource=Resource.create(attributes))
    provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    _tracer = provider.get_tracer("identity_grpc")
    return provider


def stop(provider) -> None:
    """Send the spans still batched, then stop tracing."""
    global _tracer
    if provider is not None:
        _tracer = None
        provider.shutdown()


def _server_span(tracer, name: str, carrier: dict, attributes: dict):
    from opentelemetry import propagate
    from opentelemetry.trace import SpanKind
    return tracer.start_span(name, context=propagate.extract(carrier), kind=SpanKind.SERVER,
                             attributes=attributes)


def trace_id_of(span) -> str:
    return format(span.get_span_context().trace_id, "032x")


def start_grpc_span(tracer, method: str, context, request_id: str):
    """The span of one gRPC call, its parent from the call's metadata."""
    service, _, name = method.lstrip("/").rpartition("/")
    return _server_span(tracer, method.lstrip("/"), dict(context.invocation_metadata()),
                        {"rpc.system": "grpc", "rpc.service": service, "rpc.method": name,
                         "identity.request_id": request_id})


def end_grpc_span(span, code: grpc.StatusCode) -> None:
    span.set_attribute("rpc.grpc.status_code", code.value[0])
    if code in _SERVER_ERRORS:
        from opentelemetry.trace import Status, StatusCode
        span.set_status(Status(StatusCode.ERROR, code.name))
    span.end()


def start_http_span(tracer, environ: dict, request_id: str):
    """The span of one HTTP request, its parent from the request's headers; named
    by its method until the route is known."""
    headers = {key[5:].lower().replace("_", "-"): value for key, value in environ.items()
               if key.startswith("HTTP_")}
    method = environ.get("REQUEST_METHOD", "")
    return _server_span(tracer, method, headers,
                        {"http.request.method": method, "identity.request_id": request_id})


def end_http_span(span, method: str, route: str, status: int) -> None:
    if route:
        span.update_name(f"{method} {route}")
        span.set_attribute("http.route", route)
    span.set_attribute("http.response.status_code", status)
    if status >= 500:
        from opentelemetry.trace import Status, StatusCode
        span.set_status(Status(StatusCode.ERROR))
    span.end()
