#!/usr/bin/env python3
"""A small demo 'compute' service, over HTTP and gRPC, protected by the identity
middleware.

* HTTP (WSGI, behind `WsgiAuthMiddleware`):
    GET  /v2.1/servers   the instances of the caller's project, or, with a
                         domain-scoped token, of every project of that domain;
    POST /v2.1/servers   {"server": {"name": "..."}} creates one in the caller's project.
* gRPC (behind `GrpcAuthInterceptor`), service `demo.compute.v1.Compute`, JSON bytes
  as messages (no .proto): ListServers ({} -> {"servers": [...]}) and CreateServer
  ({"name": "..."} -> {"server": {...}}).

Calls are allowed by a classic policy.json (`compute-policy.json` next to this
script): `compute:list` and `compute:create`. A call without a valid token gets 401
(UNAUTHENTICATED) and `WWW-Authenticate: Keystone uri="<--auth-url>"`, telling the
client where to authenticate.

The service checks tokens as user `nova` on project `service` (the demo data's
compute service user). The first line printed says where it listens; then one line
per request handled.
"""

import argparse
import json
import signal
import socketserver
import sys
import threading
import uuid
from concurrent import futures
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import grpc

try:
    import identity_client  # noqa: F401
except ImportError:  # run from a checkout without `pip install -e clients` (and clients/api)
    CLIENTS = Path(__file__).resolve().parents[1]
    sys.path[:0] = [str(CLIENTS), str(CLIENTS / "api")]

from identity_api.policy import Enforcer
from identity_client.authz import PolicyNotAuthorized, domain_projects, enforce
from identity_client.middleware import (GrpcAuthInterceptor, WsgiAuthMiddleware,
                                        current_identity)
from identity_client.session import Session
from identity_client.verifier import IdentityUnavailable, TokenRejected, TokenVerifier

GRPC_SERVICE = "demo.compute.v1.Compute"
POLICY = Path(__file__).resolve().with_name("compute-policy.json")
# A few instances to start with, by (domain name, project name).
SEED = {
    ("Default", "acme"): ["acme-web-1", "acme-db-1"],
    ("Foo", "bar"): ["bar-app-1", "bar-app-2"],
    ("Foo", "baz"): ["baz-worker-1"],
}


def log(line: str) -> None:
    print(line, flush=True)


def who(context) -> str:
    if context is None:
        return "-"
    if context.project_id:
        scope = f"project {context.project_name}"
    elif context.domain_id:
        scope = f"domain {context.domain_name}"
    else:
        scope = context.scope_type
    return f"{context.user_name} ({scope})"


class BadRequest(ValueError):
    pass


class Compute:
    """The instances, per project id, and the two operations both front ends share."""

    def __init__(self, enforcer: Enforcer, seed: dict | None = None):
        self.enforcer = enforcer
        self._lock = threading.Lock()
        self._instances: dict[str, list[dict]] = {}
        self._seed = {key: list(names) for key, names in (seed or SEED).items()}

    def _project(self, project) -> list[dict]:
        """The instances of a project (a ProjectInfo), adopting its seed on first sight."""
        with self._lock:
            instances = self._instances.setdefault(project.id, [])
            for name in self._seed.pop((project.domain_name, project.name), ()):
                instances.append(self._new(project.id, project.name, name))
            return instances

    @staticmethod
    def _new(project_id: str, project_name: str, name: str) -> dict:
        return {"id": uuid.uuid4().hex, "name": name, "status": "ACTIVE",
                "project_id": project_id, "project_name": project_name}

    def list(self, context) -> list[dict]:
        enforce(self.enforcer, "compute:list", context)
        servers = []
        for project in domain_projects(context):
            servers.extend(dict(s) for s in self._project(project))
        return sorted(servers, key=lambda s: (s["project_name"], s["name"]))

    def create(self, context, name) -> dict:
        if not context.project_id:
            raise BadRequest("a server is created in a project: use a project-scoped token")
        if not isinstance(name, str) or not name.strip():
            raise BadRequest("the server needs a name")
        enforce(self.enforcer, "compute:create", context, {"project_id": context.project_id})
        projects = domain_projects(context)
        server = self._new(context.project_id, context.project_name or "", name.strip())
        instances = self._project(projects[0])
        with self._lock:
            instances.append(server)
        return dict(server)


# ---- HTTP -------------------------------------------------------------------------------

def _json(start_response, status: str, body: dict):
    data = (json.dumps(body) + "\n").encode()
    start_response(status, [("Content-Type", "application/json"),
                            ("Content-Length", str(len(data)))])
    return [data]


def _error(start_response, code: int, title: str, message: str):
    return _json(start_response, f"{code} {title}",
                 {"error": {"code": code, "title": title, "message": message}})


def make_app(compute: Compute):
    def app(environ, start_response):
        context = environ["identity.context"]
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "").rstrip("/")
        if path not in ("/v2.1/servers", "/v2.1/servers/detail"):
            return _error(start_response, 404, "Not Found", f"no such resource: {path}")
        try:
            if method == "GET":
                servers = compute.list(context)
                environ["demo.note"] = f"{len(servers)} servers"
                return _json(start_response, "200 OK", {"servers": servers})
            if method == "POST" and path == "/v2.1/servers":
                try:
                    size = int(environ.get("CONTENT_LENGTH") or 0)
                    body = json.loads(environ["wsgi.input"].read(size) or b"{}")
                    name = body["server"]["name"]
                except (ValueError, KeyError, TypeError):
                    raise BadRequest('expected {"server": {"name": "..."}}') from None
                server = compute.create(context, name)
                environ["demo.note"] = f"created {server['name']}"
                return _json(start_response, "202 Accepted", {"server": server})
            return _error(start_response, 405, "Method Not Allowed", f"{method} not allowed")
        except PolicyNotAuthorized as e:
            return _error(start_response, 403, "Forbidden", str(e))
        except BadRequest as e:
            return _error(start_response, 400, "Bad Request", str(e))
        except TokenRejected as e:
            return _error(start_response, 401, "Unauthorized", e.reason)
        except IdentityUnavailable as e:
            return _error(start_response, 503, "Service Unavailable", str(e))
    return app


def logged(app):
    """One line per request: method, path, caller, status."""
    def wrapper(environ, start_response):
        seen = {}

        def start(status, headers, exc_info=None):
            seen["status"] = status
            return start_response(status, headers, exc_info)

        result = app(environ, start)
        note = environ.get("demo.note")
        log(f"compute: HTTP {environ['REQUEST_METHOD']} {environ.get('PATH_INFO', '')} "
            f"by {who(environ.get('identity.context'))} -> {seen.get('status', '?')}"
            + (f" ({note})" if note else ""))
        return result
    return wrapper


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # we print our own line per request
        pass


# ---- gRPC -------------------------------------------------------------------------------

def _loads(data: bytes):
    return json.loads(data or b"{}")


def _dumps(obj) -> bytes:
    return json.dumps(obj).encode()


def grpc_handler(compute: Compute) -> grpc.GenericRpcHandler:
    def guarded(name, operation):
        def handle(request, context):
            identity = current_identity()
            try:
                response, note = operation(request, identity)
            except PolicyNotAuthorized as e:
                log(f"compute: gRPC {name} by {who(identity)} -> PERMISSION_DENIED")
                context.abort(grpc.StatusCode.PERMISSION_DENIED, str(e))
            except BadRequest as e:
                log(f"compute: gRPC {name} by {who(identity)} -> INVALID_ARGUMENT")
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(e))
            except TokenRejected as e:
                log(f"compute: gRPC {name} by {who(identity)} -> UNAUTHENTICATED")
                context.abort(grpc.StatusCode.UNAUTHENTICATED, e.reason)
            except IdentityUnavailable as e:
                log(f"compute: gRPC {name} by {who(identity)} -> UNAVAILABLE")
                context.abort(grpc.StatusCode.UNAVAILABLE, str(e))
            log(f"compute: gRPC {name} by {who(identity)} -> OK ({note})")
            return response
        return grpc.unary_unary_rpc_method_handler(
            handle, request_deserializer=_loads, response_serializer=_dumps)

    def list_servers(request, identity):
        servers = compute.list(identity)
        return {"servers": servers}, f"{len(servers)} servers"

    def create_server(request, identity):
        name = request.get("name") if isinstance(request, dict) else None
        server = compute.create(identity, name)
        return {"server": server}, f"created {server['name']}"

    return grpc.method_handlers_generic_handler(GRPC_SERVICE, {
        "ListServers": guarded("ListServers", list_servers),
        "CreateServer": guarded("CreateServer", create_server),
    })


class _RefusalLogger(grpc.ServerInterceptor):
    """Outermost: prints a line for calls the auth interceptor refuses."""

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None or handler.request_streaming or handler.response_streaming:
            return handler
        method, behavior = handler_call_details.method, handler.unary_unary

        def handle(request, context):
            try:
                return behavior(request, context)
            except Exception:
                try:
                    current_identity()
                except LookupError:  # refused before the handler ran
                    code = context.code() if hasattr(context, "code") else None
                    log(f"compute: gRPC {method.rsplit('/', 1)[-1]} by - -> "
                        f"{getattr(code, 'name', 'refused')}")
                raise

        return grpc.unary_unary_rpc_method_handler(
            handle, request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer)


# ---- main -------------------------------------------------------------------------------

def _split(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host or "127.0.0.1", int(port)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--http", default="127.0.0.1:8774", help="HTTP address (port 0: any)")
    parser.add_argument("--grpc", default="127.0.0.1:8775", help="gRPC address (port 0: any)")
    parser.add_argument("--identity", default="127.0.0.1:50051",
                        help="the identity service's gRPC address")
    parser.add_argument("--auth-url", default="http://127.0.0.1:5000",
                        help="where clients are told to authenticate (WWW-Authenticate)")
    parser.add_argument("--service-user", default="nova")
    parser.add_argument("--service-password", default="novapass")
    parser.add_argument("--service-project", default="service")
    parser.add_argument("--policy", default=str(POLICY), help="the policy file")
    args = parser.parse_args(argv)

    enforcer = Enforcer.from_file(args.policy)
    compute = Compute(enforcer)
    session = Session(args.identity, username=args.service_user, password=args.service_password,
                      project_name=args.service_project)
    verifier = TokenVerifier(session)

    host, port = _split(args.http)
    httpd = make_server(host, port, logged(WsgiAuthMiddleware(make_app(compute), verifier,
                                                              args.auth_url)),
                        server_class=_ThreadingWSGIServer, handler_class=_QuietHandler)
    grpc_server = grpc.server(futures.ThreadPoolExecutor(max_workers=8),
                              interceptors=[_RefusalLogger(),
                                            GrpcAuthInterceptor(verifier, args.auth_url)])
    grpc_server.add_generic_rpc_handlers((grpc_handler(compute),))
    ghost, gport = _split(args.grpc)
    gport = grpc_server.add_insecure_port(f"{ghost}:{gport}")
    if gport == 0:
        print(f"compute service: cannot listen on {args.grpc}", file=sys.stderr)
        return 1
    grpc_server.start()
    http_thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    http_thread.start()

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    log(f"compute service: HTTP on http://{host}:{httpd.server_port}/v2.1, "
        f"gRPC on {ghost}:{gport} (identity at {args.identity}, "
        f"clients authenticate at {args.auth_url})")
    stop.wait()
    httpd.shutdown()
    grpc_server.stop(grace=1).wait()
    verifier.close()
    session.close()
    log("compute service: stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
