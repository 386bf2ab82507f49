"""Keystone's policy API: `/v3/policies` (blob, type, and any other attribute kept).
Translation only."""

from werkzeug.wrappers import Request, Response

from .admin_routes import (capped, entity_body, invalid, list_response, no_content,
                           query_text, self_link)
from .wsgi import Context, json_response

FIELDS = ("id", "links", "type", "blob")


def policy_json(ctx: Context, request: Request, entry) -> dict:
    return {**dict(entry.extra), "blob": entry.blob, "id": entry.id, "type": entry.type,
            "links": self_link(ctx, request, "policies", entry.id)}


def _extra(entity: dict) -> dict:
    return {k: v for k, v in entity.items() if k not in FIELDS}


def create_policy(ctx: Context, request: Request) -> Response:
    caller = ctx.caller(request)
    entity = entity_body(request, "policy")
    for key in ("blob", "type"):
        if key not in entity:
            raise invalid(key, f"'{key}' is a required property")
    entry = ctx.ops.policies.create(caller, entity["type"], entity["blob"], _extra(entity))
    return json_response({"policy": policy_json(ctx, request, entry)}, status=201)


def list_policies(ctx: Context, request: Request) -> Response:
    caller = ctx.caller(request)
    rows, truncated = capped(ctx, ctx.ops.policies.list, caller,
                             type_=query_text(request, "type"))
    return list_response(ctx, request, "policies",
                         [policy_json(ctx, request, r) for r in rows], truncated)


def get_policy(ctx: Context, request: Request, policy_id: str) -> Response:
    entry = ctx.ops.policies.get(ctx.caller(request), policy_id)
    return json_response({"policy": policy_json(ctx, request, entry)})


def update_policy(ctx: Context, request: Request, policy_id: str) -> Response:
    caller = ctx.caller(request)
    entity = entity_body(request, "policy")
    if not entity:
        raise invalid("policy", "{} does not have enough properties")
    changes = {"type_" if k == "type" else k: entity[k] for k in ("type", "blob") if k in entity}
    for key in ("type", "blob"):
        if key in entity and entity[key] is None:
            raise invalid(key, "None is not of type 'string'")
    entry = ctx.ops.policies.update(caller, policy_id, extra=_extra(entity), **changes)
    return json_response({"policy": policy_json(ctx, request, entry)})


def delete_policy(ctx: Context, request: Request, policy_id: str) -> Response:
    ctx.ops.policies.delete(ctx.caller(request), policy_id)
    return no_content()


ROUTES = [
    ("GET", "/v3/policies", list_policies),
    ("POST", "/v3/policies", create_policy),
    ("GET", "/v3/policies/<policy_id>", get_policy),
    ("PATCH", "/v3/policies/<policy_id>", update_policy),
    ("DELETE", "/v3/policies/<policy_id>", delete_policy),
]
