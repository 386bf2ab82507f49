"""The WSGI application: routing, Keystone's headers and error bodies, callers.

Every response carries `Vary: X-Auth-Token` and an `x-openstack-request-id` (the
request's id, `access.Recorded`'s, which its log records carry too); errors
are Keystone's compact JSON body (code, message, title, trailing newline); every 401
carries `WWW-Authenticate: Keystone uri="<public url>/v3"`, so a client that knows
only an address learns where to authenticate. An unknown path (404) or method (405,
with `Allow`) gets the same JSON error body, where Keystone's Flask stack answers an
HTML page: every client of the API parses one format.
"""

import json
import logging
import math
from dataclasses import dataclass
from typing import Callable

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from .. import errors, metrics, request_ids
from ..audit import origin
from ..audit.origin import Origin
from ..core import Core
from ..operations import Operations, store_unreachable
from ..records import TokenInfo
from . import json_body
from .access import REQUEST_ID_KEY, ROUTE_KEY

log = logging.getLogger(__name__)

UNAUTHORIZED_MESSAGE = "The request you have made requires authentication."
NOT_FOUND_MESSAGE = "The resource could not be found."
FORBIDDEN_MESSAGE = "You are not authorized to perform the requested action"
TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
          405: "Method Not Allowed", 409: "Conflict", 413: "Request Entity Too Large",
          429: "Too Many Requests", 500: "Internal Server Error",
          503: "Service Unavailable"}
STATUS_FOR = {
    errors.InvalidArgument: 400, errors.Unauthenticated: 401,
    errors.InvalidSubjectToken: 404, errors.PermissionDenied: 403, errors.NotFound: 404,
    errors.AlreadyExists: 409, errors.FailedPrecondition: 409, errors.Aborted: 409,
    errors.ForbiddenState: 403, errors.ReadOnlyBackend: 403,
    errors.ResourceExhausted: 429, errors.Unavailable: 503,
}


class HttpError(Exception):
    """An answer in Keystone's error format with a message of the gateway's choosing."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Context:
    """What a route handler gets besides the request."""

    core: Core
    ops: Operations
    public_url: str
    grpc_address: str = ""  # host:port of the gRPC service beside this gateway, if known
    routes: tuple = ()  # (method, path rule) of every route served: what JSON-home lists

    def caller(self, request: Request) -> TokenInfo:
        """The validated token in X-Auth-Token, or a 401."""
        token = request.headers.get("X-Auth-Token")
        if not token:
            raise HttpError(401, UNAUTHORIZED_MESSAGE)
        try:
            return self.ops.tokens.validate(token, include_catalog=False)
        except errors.Unauthenticated:
            raise HttpError(401, UNAUTHORIZED_MESSAGE) from None

    def base_url(self, request: Request) -> str:
        """The public URL, or else the one the request came in on (as Keystone does
        when `public_endpoint` is unset)."""
        return (self.public_url or request.host_url).rstrip("/")


def json_response(body, status: int = 200, headers: dict | None = None) -> Response:
    return Response(json.dumps(body), status=status, headers=headers,
                    content_type="application/json")


def error_body(status: int, message: str, title: str = "") -> str:
    """Keystone's compact error JSON, with its trailing newline."""
    title = title or TITLES.get(status, "Error")
    return json.dumps({"error": {"code": status, "message": message, "title": title}},
                      separators=(",", ":")) + "\n"


def error_response(status: int, message: str, base_url: str) -> Response:
    response = Response(error_body(status, message), status=status,
                        content_type="application/json")
    if status == 401:
        response.headers["WWW-Authenticate"] = f'Keystone uri="{base_url}/v3"'
    return response


Handler = Callable[..., Response]


class Gateway:
    def __init__(self, core: Core, ops: Operations, routes: list[tuple[str, str, Handler]],
                 public_url: str = "", grpc_address: str = ""):
        """`routes` are (method, path rule, handler(ctx, request, **path args))."""
        self.context = Context(core, ops, public_url, grpc_address,
                               tuple((method, path) for method, path, _ in routes))
        self._handlers: dict[str, Handler] = {}
        rules = []
        for i, (method, path, handler) in enumerate(routes):
            endpoint = f"{handler.__name__}:{i}"
            self._handlers[endpoint] = handler
            methods = [method] + (["HEAD"] if method == "GET" else [])
            rules.append(Rule(path, endpoint=endpoint, methods=methods))
        self._map = Map(rules, strict_slashes=False, merge_slashes=False)

    def __call__(self, environ, start_response):
        request = Request(environ)
        request_id = environ.get(REQUEST_ID_KEY) or request_ids.new()
        bound = origin.bind(Origin(lambda: (request.remote_addr or "",
                                            request.headers.get("User-Agent", "")), request_id))
        try:
            response = self._dispatch(request, request_id)
        finally:
            origin.unbind(bound)
        response.headers["Vary"] = "X-Auth-Token"
        response.headers[request_ids.HEADER] = request_id
        return response(environ, start_response)

    def _dispatch(self, request: Request, request_id: str = "") -> Response:
        base = self.context.base_url(request)
        try:
            rule, args = self._map.bind_to_environ(request.environ).match(return_rule=True)
            request.environ[ROUTE_KEY] = rule.rule
            return self._handlers[rule.endpoint](self.context, request, **args)
        except NotFound:
            return error_response(404, NOT_FOUND_MESSAGE, base)
        except MethodNotAllowed as e:
            response = error_response(405, "The method is not allowed for the requested URL.",
                                      base)
            if e.valid_methods:
                response.headers["Allow"] = ", ".join(sorted(e.valid_methods))
            return response
        except HttpError as e:
            return error_response(e.status, e.message, base)
        except errors.IdentityError as e:
            status = STATUS_FOR.get(type(e), 500)
            message = UNAUTHORIZED_MESSAGE if status == 401 else e.message
            if isinstance(e, errors.PermissionDenied) and e.rule:
                message = f"{FORBIDDEN_MESSAGE}: {e.rule}."
            response = error_response(status, message, base)
            if isinstance(e, errors.ResourceExhausted) and e.retry_after is not None:
                response.headers["Retry-After"] = str(max(1, math.ceil(e.retry_after)))
            return response
        except HTTPException as e:
            return error_response(e.code or 500, e.description or "", base)
        except Exception as e:
            return self._unexpected(request, e, request_id, base)

    def _unexpected(self, request: Request, error: Exception, request_id: str,
                    base: str) -> Response:
        """503 for a store that cannot be reached, after which this thread lets go of
        its connection; 500 for anything else (a bug), which leaves the connection
        alone. Both are logged with the request id the response carries."""
        where = f"{request.method} {request.path} (request {request_id})"
        if store_unreachable(error):
            metrics.STORE_ERRORS.labels("http").inc()
            log.exception("store unavailable in %s", where)
            self.context.core.drop_connection()
            return error_response(503, f"The identity store is unavailable (request "
                                  f"{request_id}).", base)
        log.exception("internal error in %s", where)
        return error_response(500, "An unexpected error prevented the server from "
                              f"fulfilling your request (request {request_id}).", base)


def read_json(request: Request) -> dict:
    """The body as a JSON object (Keystone parses it whatever the Content-Type), no
    deeper than json_body.MAX_DEPTH and with every string valid Unicode."""
    try:
        body = json_body.parse(request.get_data(as_text=True) or "null")
    except json_body.BodyError as e:
        raise HttpError(400, str(e)) from None
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise HttpError(400, "Expecting to find valid JSON in request body. The server could "
                        "not comply with the request since it is either malformed or otherwise "
                        "incorrect. The client is assumed to be in error.")
    return body
