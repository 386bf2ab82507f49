"""What is recorded of each HTTP request, around the gateway's WSGI application.

Each request gets its request id here (the `x-openstack-request-id` the gateway
answers with, `request_ids.current()` for every log record made while it is
served) and, once answered, one access-log record (`identity_grpc.access`: method,
route template, status, duration, bytes, remote address, request id; never a
header, a query or a body, so never a token or a password), its count and latency
by route template when metrics are on, and its span when tracing is. The route is
the template the gateway matched (`/v3/users/{user_id}` as `/v3/users/<user_id>`),
never the raw path, so neither the metrics nor the log grow with ids. Health-check
probes are logged at DEBUG: a probe every few seconds would bury the log.

Requests that waitress answers itself, before the application (a body over the
limit, a request too slow to arrive, a malformed request line), are not recorded
here.
"""

import logging
import time

from .. import metrics, request_ids, tracing

log = logging.getLogger("identity_grpc.access")

# Where the gateway puts the request id and the matched route template.
REQUEST_ID_KEY = "identity.request_id"
ROUTE_KEY = "identity.route"
UNMATCHED = "unmatched"  # the route label of a request no route matched
PROBE_PATHS = frozenset({"/healthcheck", "/healthz/live", "/healthz/ready"})
# Methods labelled as they are; any other is "other", so a client cannot grow the metrics.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class Recorded:
    """`app`, each request recorded (see the module's docstring)."""

    def __init__(self, app, metrics_on: bool = False):
        self._app = app
        self._observed = metrics.http_requests() if metrics_on else None
        self._tracer = tracing.tracer()

    def __getattr__(self, name):  # the gateway's own attributes (its `context`...)
        return getattr(self._app, name)

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        request_id = request_ids.new()
        environ[REQUEST_ID_KEY] = request_id
        current_id = request_ids.CURRENT.set(request_id)
        span = (None if self._tracer is None
                else tracing.start_http_span(self._tracer, environ, request_id))
        answer = []

        def noting_start_response(status, headers, exc_info=None):
            answer[:] = status, headers
            return start_response(status, headers, exc_info)

        try:
            return self._app(environ, noting_start_response)
        except BaseException:
            answer[:] = "500 Internal Server Error", ()
            raise
        finally:
            request_ids.CURRENT.reset(current_id)
            self._record(environ, answer, started, request_id, span)

    def _record(self, environ, answer, started: float, request_id: str, span) -> None:
        elapsed = time.perf_counter() - started
        status = int(answer[0][:3]) if answer else 500
        method = environ.get("REQUEST_METHOD", "")
        route = environ.get(ROUTE_KEY, "")
        if self._observed is not None:
            label = method if method in KNOWN_METHODS else "other"
            self._observed[label, route or UNMATCHED, status](elapsed)
        path = environ.get("PATH_INFO", "")
        level = logging.DEBUG if path.rstrip("/") in PROBE_PATHS else logging.INFO
        if log.isEnabledFor(level):
            fields = {"method": method, "route": route or UNMATCHED, "status": status,
                      "duration_ms": round(elapsed * 1000, 3),
                      "bytes": _content_length(answer[1] if answer else ()),
                      "remote": environ.get("REMOTE_ADDR", ""), "request_id": request_id}
            if span is not None:
                fields["trace_id"] = tracing.trace_id_of(span)
            log.log(level, "http", extra=fields)
        if span is not None:
            tracing.end_http_span(span, method, route, status)


def _content_length(headers) -> int:
    for name, value in headers:
        if name.lower() == "content-length":
            return int(value) if value.isdigit() else 0
    return 0
