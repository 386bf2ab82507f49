"""Version discovery: `GET /` (300 Multiple Choices) and `GET /v3`, and JSON-home.

Besides Keystone's `self` link, the version carries one more link when the gateway
knows where gRPC is served: `{"rel": "alternate", "type": "application/grpc", "href":
"grpc://host:port"}`. keystoneauth reads only the `self` and `collection` links, so the
document stays Keystone's; the `identity` CLI follows it from the same OS_AUTH_URL
openstackclient uses. A wildcard listen host (0.0.0.0, ::) is advertised as the host
the request was addressed to.

`GET /v3` (or `/`) with `Accept: application/json-home` answers the JSON-home document
Keystone serves: one resource per path the gateway routes, named by Keystone's rel
scheme (`.../rel/user_projects`, an extension's `.../ext/OS-TRUST/1.0/rel/trusts`), with
its href or href-template and href-vars, and the methods served as `hints.allow`. It is
built from the routes themselves, so it lists exactly what is served.
"""

import json
import re
from urllib.parse import urlsplit

from werkzeug.wrappers import Request, Response

from .wsgi import Context, json_response

VERSION = {"id": "v3.14", "status": "stable", "updated": "2020-04-07T00:00:00Z"}
MEDIA_TYPES = [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}]
GRPC_LINK_TYPE = "application/grpc"
WILDCARD_HOSTS = ("", "0.0.0.0", "::", "[::]")


def _grpc_href(ctx: Context, base_url: str) -> str:
    host, _, port = ctx.grpc_address.rpartition(":")
    if host in WILDCARD_HOSTS:
        host = urlsplit(base_url).hostname or "127.0.0.1"
        host = f"[{host}]" if ":" in host else host
    scheme = "grpcs" if ctx.core.settings.tls_cert_file else "grpc"
    return f"{scheme}://{host}:{port}"


def _version(ctx: Context, request: Request) -> dict:
    base = ctx.base_url(request)
    links = [{"rel": "self", "href": f"{base}/v3/"}]
    if ctx.grpc_address:
        links.append({"rel": "alternate", "type": GRPC_LINK_TYPE,
                      "href": _grpc_href(ctx, base)})
    return {**VERSION, "links": links, "media-types": MEDIA_TYPES}


JSON_HOME = "application/json-home"
REL_BASE = "https://docs.openstack.org/api/openstack-identity/3"
_VARIABLE = re.compile(r"<(?:[a-z]+:)?([a-z_]+)>")


def _rel(path: str) -> str:
    """Keystone's rel name of a /v3 path: its literal segments joined by `_`, each
    made singular where a variable follows it (`/users/{user_id}/projects` is
    `user_projects`); an `OS-X` extension's paths are named under `ext/OS-X/1.0`."""
    segments = path.removeprefix("/v3/").split("/")
    extension = segments.pop(0) if segments[0].startswith("OS-") else None
    words = []
    for i, segment in enumerate(segments):
        if _VARIABLE.fullmatch(segment):
            continue
        followed_by_variable = i + 1 < len(segments) and _VARIABLE.fullmatch(segments[i + 1])
        words.append(segment[:-1] if followed_by_variable and segment.endswith("s") else segment)
    name = "_".join(words).replace("-", "_") or "version"
    return f"{REL_BASE}/ext/{extension}/1.0/rel/{name}" if extension else f"{REL_BASE}/rel/{name}"


def json_home(routes) -> dict:
    resources: dict[str, dict] = {}
    rel_of: dict[str, str] = {}  # template -> its rel, unique per template
    for method, path in routes:
        if not path.startswith("/v3/"):
            continue
        template = _VARIABLE.sub(r"{\1}", path)
        names = _VARIABLE.findall(path)
        if template not in rel_of:
            rel = _rel(path)
            if rel in rel_of.values():  # `/config` and `/config/{group}` name alike
                rel = f"{rel}_{names[-1]}"
            rel_of[template] = rel
        entry = resources.setdefault(rel_of[template], (
            {"href-template": template,
             "href-vars": {n: f"{REL_BASE}/param/{n}" for n in names}}
            if names else {"href": template}))
        allow = entry.setdefault("hints", {}).setdefault("allow", [])
        for m in [method] + (["HEAD"] if method == "GET" else []):
            if m not in allow:
                allow.append(m)
    return {"resources": resources}


def _json_home_wanted(request: Request) -> bool:
    return request.accept_mimetypes.best_match([JSON_HOME, "application/json"]) == JSON_HOME


def _json_home_response(ctx: Context) -> Response:
    return Response(json.dumps(json_home(ctx.routes)), content_type=JSON_HOME)


def root(ctx: Context, request: Request) -> Response:
    if _json_home_wanted(request):
        return _json_home_response(ctx)
    version = _version(ctx, request)
    return json_response({"versions": {"values": [version]}}, status=300,
                         headers={"Location": version["links"][0]["href"]})


def v3(ctx: Context, request: Request) -> Response:
    if _json_home_wanted(request):
        return _json_home_response(ctx)
    return json_response({"version": _version(ctx, request)})


ROUTES = [("GET", "/", root), ("GET", "/v3", v3)]
