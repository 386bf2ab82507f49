"""Version discovery: `GET /` (300 Multiple Choices) and `GET /v3`.

Besides Keystone's `self` link, the version carries one more link when the gateway
knows where gRPC is served: `{"rel": "alternate", "type": "application/grpc", "href":
"grpc://host:port"}`. keystoneauth reads only the `self` and `collection` links, so the
document stays Keystone's; the `identity` CLI follows it from the same OS_AUTH_URL
openstackclient uses. A wildcard listen host (0.0.0.0, ::) is advertised as the host
the request was addressed to.
"""

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
    return f"grpc://{host}:{port}"


def _version(ctx: Context, request: Request) -> dict:
    base = ctx.base_url(request)
    links = [{"rel": "self", "href": f"{base}/v3/"}]
    if ctx.grpc_address:
        links.append({"rel": "alternate", "type": GRPC_LINK_TYPE,
                      "href": _grpc_href(ctx, base)})
    return {**VERSION, "links": links, "media-types": MEDIA_TYPES}


def root(ctx: Context, request: Request) -> Response:
    version = _version(ctx, request)
    return json_response({"versions": {"values": [version]}}, status=300,
                         headers={"Location": version["links"][0]["href"]})


def v3(ctx: Context, request: Request) -> Response:
    return json_response({"version": _version(ctx, request)})


ROUTES = [("GET", "/", root), ("GET", "/v3", v3)]
