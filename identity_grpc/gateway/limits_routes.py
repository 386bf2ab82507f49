"""Keystone's unified limits: `/v3/registered_limits`, `/v3/limits` and
`/v3/limits/model`, in its wire format (what oslo.limit and openstacksdk read).
Translation and the body's shape only; the manager checks what the limits name."""

from werkzeug.wrappers import Request, Response

from .admin_routes import (capped, entity_body, invalid, list_response, no_content,
                           query_text, self_link, text)
from .wsgi import Context, json_response, read_json

REGISTERED_FIELDS = ("service_id", "region_id", "resource_name", "default_limit", "description")
LIMIT_FIELDS = ("project_id", "domain_id", "service_id", "region_id", "resource_name",
                "resource_limit", "description")
LIMIT_UPDATE_FIELDS = ("resource_limit", "description")
ID_FIELDS = ("service_id", "region_id", "project_id", "domain_id")


def registered_json(ctx: Context, request: Request, entry) -> dict:
    return {"id": entry.id, "service_id": entry.service_id, "region_id": entry.region_id,
            "resource_name": entry.resource_name, "default_limit": entry.default_limit,
            "description": entry.description,
            "links": self_link(ctx, request, "registered_limits", entry.id)}


def limit_json(ctx: Context, request: Request, entry) -> dict:
    return {"id": entry.id, "project_id": entry.project_id, "domain_id": entry.domain_id,
            "service_id": entry.service_id, "region_id": entry.region_id,
            "resource_name": entry.resource_name, "resource_limit": entry.resource_limit,
            "description": entry.description,
            "links": self_link(ctx, request, "limits", entry.id)}


def _only(entity: dict, allowed: tuple[str, ...]) -> dict:
    """`entity` with Keystone's additionalProperties: false (400 naming the first other
    key), its ids checked to be strings."""
    for key in entity:
        if key not in allowed:
            raise invalid(key, "Additional properties are not allowed "
                               f"('{key}' was unexpected)")
    for key in ID_FIELDS:
        if key in allowed and entity.get(key) is not None:
            text(entity, key)
    return {k: entity[k] for k in allowed if k in entity}


def _items(request: Request, key: str, allowed: tuple[str, ...]) -> list[dict]:
    items = read_json(request).get(key)
    if not isinstance(items, list) or not items:
        raise invalid(key, f"'{key}' must be a non-empty array of objects")
    for item in items:
        if not isinstance(item, dict):
            raise invalid(key, f"{item!r} is not of type 'object'")
    return [_only(item, allowed) for item in items]


# ---- registered limits ------------------------------------------------------------

def create_registered_limits(ctx: Context, request: Request) -> Response:
    caller = ctx.caller(request)
    rows = ctx.ops.registered_limits.create(
        caller, _items(request, "registered_limits", REGISTERED_FIELDS))
    return json_response({"registered_limits": [registered_json(ctx, request, r) for r in rows]},
                         status=201)


def list_registered_limits(ctx: Context, request: Request) -> Response:
    rows, truncated = capped(ctx, ctx.ops.registered_limits.list, ctx.caller(request),
                             **{k: query_text(request, k)
                                for k in ("service_id", "region_id", "resource_name")})
    return list_response(ctx, request, "registered_limits",
                         [registered_json(ctx, request, r) for r in rows], truncated)


def get_registered_limit(ctx: Context, request: Request, registered_limit_id: str) -> Response:
    row = ctx.ops.registered_limits.get(ctx.caller(request), registered_limit_id)
    return json_response({"registered_limit": registered_json(ctx, request, row)})


def update_registered_limit(ctx: Context, request: Request, registered_limit_id: str) -> Response:
    caller = ctx.caller(request)
    changes = _only(entity_body(request, "registered_limit"), REGISTERED_FIELDS)
    row = ctx.ops.registered_limits.update(caller, registered_limit_id, **changes)
    return json_response({"registered_limit": registered_json(ctx, request, row)})


def delete_registered_limit(ctx: Context, request: Request, registered_limit_id: str) -> Response:
    ctx.ops.registered_limits.delete(ctx.caller(request), registered_limit_id)
    return no_content()


# ---- limits -----------------------------------------------------------------------

def create_limits(ctx: Context, request: Request) -> Response:
    caller = ctx.caller(request)
    items = _items(request, "limits", LIMIT_FIELDS)
    for item in items:  # a limit's region is a string when given (a registered one's may be null)
        if "region_id" in item and item["region_id"] is None:
            raise invalid("region_id", "None is not of type 'string'")
    rows = ctx.ops.limits.create(caller, items)
    return json_response({"limits": [limit_json(ctx, request, r) for r in rows]}, status=201)


def list_limits(ctx: Context, request: Request) -> Response:
    rows, truncated = capped(ctx, ctx.ops.limits.list, ctx.caller(request),
                             **{k: query_text(request, k) for k in (
                                 "service_id", "region_id", "resource_name", "project_id",
                                 "domain_id")})
    return list_response(ctx, request, "limits", [limit_json(ctx, request, r) for r in rows],
                         truncated)


def get_limit(ctx: Context, request: Request, limit_id: str) -> Response:
    row = ctx.ops.limits.get(ctx.caller(request), limit_id)
    return json_response({"limit": limit_json(ctx, request, row)})


def update_limit(ctx: Context, request: Request, limit_id: str) -> Response:
    caller = ctx.caller(request)
    changes = _only(entity_body(request, "limit"), LIMIT_UPDATE_FIELDS)
    row = ctx.ops.limits.update(caller, limit_id, **changes)
    return json_response({"limit": limit_json(ctx, request, row)})


def delete_limit(ctx: Context, request: Request, limit_id: str) -> Response:
    ctx.ops.limits.delete(ctx.caller(request), limit_id)
    return no_content()


def get_model(ctx: Context, request: Request) -> Response:
    model = ctx.ops.limits.model(ctx.caller(request))
    return json_response({"model": model})


ROUTES = [
    ("POST", "/v3/registered_limits", create_registered_limits),
    ("GET", "/v3/registered_limits", list_registered_limits),
    ("GET", "/v3/registered_limits/<registered_limit_id>", get_registered_limit),
    ("PATCH", "/v3/registered_limits/<registered_limit_id>", update_registered_limit),
    ("DELETE", "/v3/registered_limits/<registered_limit_id>", delete_registered_limit),
    ("GET", "/v3/limits/model", get_model),
    ("POST", "/v3/limits", create_limits),
    ("GET", "/v3/limits", list_limits),
    ("GET", "/v3/limits/<limit_id>", get_limit),
    ("PATCH", "/v3/limits/<limit_id>", update_limit),
    ("DELETE", "/v3/limits/<limit_id>", delete_limit),
]
