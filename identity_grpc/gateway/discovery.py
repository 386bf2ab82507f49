"""Version discovery: `GET /` (300 Multiple Choices) and `GET /v3`."""

from werkzeug.wrappers import Request, Response

from .wsgi import Context, json_response

VERSION = {"id": "v3.14", "status": "stable", "updated": "2020-04-07T00:00:00Z"}
MEDIA_TYPES = [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}]


def _version(ctx: Context, request: Request) -> dict:
    href = f"{ctx.base_url(request)}/v3/"
    return {**VERSION, "links": [{"rel": "self", "href": href}], "media-types": MEDIA_TYPES}


def root(ctx: Context, request: Request) -> Response:
    version = _version(ctx, request)
    return json_response({"versions": {"values": [version]}}, status=300,
                         headers={"Location": version["links"][0]["href"]})


def v3(ctx: Context, request: Request) -> Response:
    return json_response({"version": _version(ctx, request)})


ROUTES = [("GET", "/", root), ("GET", "/v3", v3)]
