"""Keystone's role inference rules: `/v3/roles/{prior}/implies/{implied}` (PUT, GET,
HEAD, DELETE), `/v3/roles/{prior}/implies` and `/v3/role_inferences`. Translation
only; each operation checks its own policy rule."""

from werkzeug.wrappers import Request, Response

from .admin_routes import link, no_content, self_link
from .wsgi import Context, json_response


def _role(ctx: Context, request: Request, entry) -> dict:
    return {"id": entry.id, "links": self_link(ctx, request, "roles", entry.id),
            "name": entry.name}


def _inference(ctx: Context, request: Request, prior, implied, status: int = 200) -> Response:
    path = f"roles/{prior.id}/implies/{implied.id}"
    return json_response({"role_inference": {"prior_role": _role(ctx, request, prior),
                                             "implies": _role(ctx, request, implied)},
                          "links": {"self": link(ctx, request, path)}}, status=status)


def create_inference(ctx: Context, request: Request, prior_id: str, implied_id: str) -> Response:
    prior, implied = ctx.ops.roles.imply(ctx.caller(request), prior_id, implied_id)
    return _inference(ctx, request, prior, implied, status=201)


def get_inference(ctx: Context, request: Request, prior_id: str, implied_id: str) -> Response:
    """GET shows the rule; HEAD checks it (Keystone's check_implied_role), answering 204."""
    head = request.method == "HEAD"
    prior, implied = ctx.ops.roles.get_implication(
        ctx.caller(request), prior_id, implied_id,
        rule="check_implied_role" if head else "get_implied_role")
    return no_content() if head else _inference(ctx, request, prior, implied)


def delete_inference(ctx: Context, request: Request, prior_id: str, implied_id: str) -> Response:
    ctx.ops.roles.unimply(ctx.caller(request), prior_id, implied_id)
    return no_content()


def list_implied(ctx: Context, request: Request, prior_id: str) -> Response:
    prior, implied = ctx.ops.roles.implied_by(ctx.caller(request), prior_id)
    return json_response({"role_inference": {
        "prior_role": _role(ctx, request, prior),
        "implies": [_role(ctx, request, r) for r in implied]},
        "links": {"self": link(ctx, request, f"roles/{prior.id}/implies")}})


def list_inferences(ctx: Context, request: Request) -> Response:
    rules = ctx.ops.roles.inference_rules(ctx.caller(request))
    return json_response({"role_inferences": [
        {"prior_role": _role(ctx, request, prior),
         "implies": [_role(ctx, request, r) for r in implied]} for prior, implied in rules],
        "links": {"self": link(ctx, request, "role_inferences")}})


ROUTES = [
    ("PUT", "/v3/roles/<prior_id>/implies/<implied_id>", create_inference),
    ("GET", "/v3/roles/<prior_id>/implies/<implied_id>", get_inference),
    ("DELETE", "/v3/roles/<prior_id>/implies/<implied_id>", delete_inference),
    ("GET", "/v3/roles/<prior_id>/implies", list_implied),
    ("GET", "/v3/role_inferences", list_inferences),
]
