"""The WSGI application: routing, Keystone's headers and error bodies, callers.

Every response carries `Vary: X-Auth-Token` and an `x-openstack-request-id`; errors
are Keystone's compact JSON body (code, message, title, trailing newline); every 401
carries `WWW-Authenticate: Keystone uri="<public url>/v3"`, so a client that knows
only an address learns where to authenticate. An unknown path gets the HTML 404 page
Keystone's Flask stack answers with.
"""

import json
import logging
import math
import uuid
from dataclasses import dataclass
from typing import Callable

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from .. import errors
from ..core import Core
from ..operations import Operations, store_unreachable
from ..records import TokenInfo
from . import json_body

log = logging.getLogger(__name__)

UNAUTHORIZED_MESSAGE = "The request you have made requires authentication."
FORBIDDEN_MESSAGE = "You are not authorized to perform the requested action"
TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
          405: "Method Not Allowed", 409: "Conflict", 413: "Request Entity Too Large",
          429: "Too Many Requests", 500: "Internal Server Error",
          503: "Service Unavailable"}
STATUS_FOR = {
    errors.InvalidArgument: 400, errors.Unauthenticated: 401,
    errors.InvalidSubjectToken: 404, errors.PermissionDenied: 403, errors.NotFound: 404,
    errors.AlreadyExists: 409, errors.FailedPrecondition: 409, errors.Aborted: 409,
    errors.ResourceExhausted: 429,
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
        self.context = Context(core, ops, public_url, grpc_address)
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
        request_id = f"req-{uuid.uuid4()}"
        response = self._dispatch(request, request_id)
        response.headers["Vary"] = "X-Auth-Token"
        response.headers["x-openstack-request-id"] = request_id
        return response(environ, start_response)

    def _dispatch(self, request: Request, request_id: str = "") -> Response:
        base = self.context.base_url(request)
        try:
            endpoint, args = self._map.bind_to_environ(request.environ).match()
            return self._handlers[endpoint](self.context, request, **args)
        except NotFound as e:
            return e.get_response(request.environ)
        except MethodNotAllowed:
            return error_response(405, "The method is not allowed for the requested URL.", base)
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
