"""Keystone's project tags: `/v3/projects/{id}/tags` (the whole list) and
`/v3/projects/{id}/tags/{tag}` (one tag). Translation only; the operation checks the
policy rule and the manager the tags."""

from werkzeug.wrappers import Request, Response

from .admin_routes import invalid, link, no_content
from .wsgi import Context, HttpError, json_response, read_json


def _tags_json(tags) -> Response:
    return json_response({"tags": list(tags)})


def list_tags(ctx: Context, request: Request, project_id: str) -> Response:
    return _tags_json(ctx.ops.project_tags.list(ctx.caller(request), project_id))


def replace_tags(ctx: Context, request: Request, project_id: str) -> Response:
    caller = ctx.caller(request)
    body = read_json(request)
    if "tags" not in body:
        raise invalid("tags", "'tags' is a required property")
    return _tags_json(ctx.ops.project_tags.replace(caller, project_id, body["tags"]))


def clear_tags(ctx: Context, request: Request, project_id: str) -> Response:
    ctx.ops.project_tags.clear(ctx.caller(request), project_id)
    return no_content()


def check_tag(ctx: Context, request: Request, project_id: str, tag: str) -> Response:
    if not ctx.ops.project_tags.check(ctx.caller(request), project_id, tag):
        raise HttpError(404, f"Could not find project tag: {tag}.")
    return no_content()


def add_tag(ctx: Context, request: Request, project_id: str, tag: str) -> Response:
    """201 with no body, and where the tag is (as Keystone answers)."""
    ctx.ops.project_tags.add(ctx.caller(request), project_id, tag)
    response = Response(status=201)
    del response.headers["Content-Type"]
    response.headers["Location"] = link(ctx, request, f"projects/{project_id}/tags/{tag}")
    return response


def delete_tag(ctx: Context, request: Request, project_id: str, tag: str) -> Response:
    ctx.ops.project_tags.remove(ctx.caller(request), project_id, tag)
    return no_content()


ROUTES = [
    ("GET", "/v3/projects/<project_id>/tags", list_tags),
    ("PUT", "/v3/projects/<project_id>/tags", replace_tags),
    ("DELETE", "/v3/projects/<project_id>/tags", clear_tags),
    ("GET", "/v3/projects/<project_id>/tags/<tag>", check_tag),
    ("PUT", "/v3/projects/<project_id>/tags/<tag>", add_tag),
    ("DELETE", "/v3/projects/<project_id>/tags/<tag>", delete_tag),
]
