"""Keystone's OS-TRUST API: `/v3/OS-TRUST/trusts` and the roles a trust delegates.

Translation only: the body is type-checked as Keystone's schema does, one operation
decides, and the answer is Keystone's JSON (a trust in a list leaves out its roles).
"""

from datetime import datetime, timezone

from werkzeug.wrappers import Request, Response

from ..records import TrustRequest
from .admin_assignment_routes import role_json
from .admin_routes import (capped, entity_body, flag, invalid, iso_time, link, list_response,
                           no_content, text)
from .wsgi import Context, json_response

def _isotime(seconds: int | None) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000000Z")


def trust_json(ctx: Context, request: Request, entry, summary: bool = False) -> dict:
    """Keystone's trust, keys in its order; a list's members have no roles."""
    body = {"id": entry.id, "trustor_user_id": entry.trustor_user_id,
            "trustee_user_id": entry.trustee_user_id, "project_id": entry.project_id,
            "impersonation": entry.impersonation, "expires_at": _isotime(entry.expires_at),
            "remaining_uses": entry.remaining_uses, "deleted_at": None,
            "redelegated_trust_id": entry.redelegated_trust_id,
            "redelegation_count": entry.redelegation_count}
    if not summary:
        body["roles"] = [role_json(ctx, request, r) for r in entry.roles]
        body["roles_links"] = {"self": link(ctx, request, f"OS-TRUST/trusts/{entry.id}/roles"),
                               "next": None, "previous": None}
    body["links"] = {"self": link(ctx, request, f"OS-TRUST/trusts/{entry.id}")}
    return body


# ---- reading the request ---------------------------------------------------------

def _integer(entity: dict, key: str, minimum: int) -> int | None:
    value = entity.get(key)
    if value is None:
        return None
    if type(value) is not int:
        raise invalid(key, f"{value!r} is not of type 'integer', 'null'")
    if value < minimum:
        raise invalid(key, f"{value!r} is less than the minimum of {minimum}")
    return value


def _expires_at(entity: dict) -> int | None:
    when = iso_time(entity, "expires_at")
    return None if when is None else int(when.timestamp())


def _roles(entity: dict) -> tuple:
    roles = entity.get("roles")
    if roles is None:
        return ()
    if not isinstance(roles, list):
        raise invalid("roles", f"{roles!r} is not of type 'array'")
    refs = []
    for role in roles:
        if not isinstance(role, dict) or len(role) != 1 or not set(role) <= {"id", "name"}:
            raise invalid("roles", f"{role!r}: each role is an object with exactly one of "
                          "'id' or 'name'")
        (kind, value), = role.items()
        if not isinstance(value, str) or not value:
            raise invalid(f"roles.{kind}", f"{value!r} is not a non-empty string")
        refs.append((kind, value))
    return tuple(refs)


def trust_request(entity: dict) -> TrustRequest:
    impersonation = flag(entity, "impersonation")
    if impersonation is None:
        raise invalid("impersonation", "'impersonation' is a required property")
    return TrustRequest(
        trustor_user_id=text(entity, "trustor_user_id", required=True),
        trustee_user_id=text(entity, "trustee_user_id", required=True),
        impersonation=impersonation, project_id=text(entity, "project_id"),
        roles=_roles(entity), expires_at=_expires_at(entity),
        remaining_uses=_integer(entity, "remaining_uses", 1),
        allow_redelegation=bool(flag(entity, "allow_redelegation")),
        redelegation_count=_integer(entity, "redelegation_count", 0))


# ---- the routes ----------------------------------------------------------------------

def create_trust(ctx: Context, request: Request) -> Response:
    caller = ctx.caller(request)
    entry = ctx.ops.trusts.create(caller, trust_request(entity_body(request, "trust")))
    return json_response({"trust": trust_json(ctx, request, entry)}, status=201)


def list_trusts(ctx: Context, request: Request) -> Response:
    rows, truncated = capped(ctx, ctx.ops.trusts.list, ctx.caller(request),
                             trustor_user_id=request.args.get("trustor_user_id", ""),
                             trustee_user_id=request.args.get("trustee_user_id", ""))
    return list_response(ctx, request, "trusts",
                         [trust_json(ctx, request, r, summary=True) for r in rows], truncated)


def get_trust(ctx: Context, request: Request, trust_id: str) -> Response:
    entry = ctx.ops.trusts.get(ctx.caller(request), trust_id)
    return json_response({"trust": trust_json(ctx, request, entry)})


def delete_trust(ctx: Context, request: Request, trust_id: str) -> Response:
    ctx.ops.trusts.delete(ctx.caller(request), trust_id)
    return no_content()


def list_trust_roles(ctx: Context, request: Request, trust_id: str) -> Response:
    roles = ctx.ops.trusts.roles(ctx.caller(request), trust_id)
    return json_response({
        "roles": [role_json(ctx, request, r) for r in roles],
        "links": {"self": link(ctx, request, f"OS-TRUST/trusts/{trust_id}/roles"),
                  "next": None, "previous": None}})


def get_trust_role(ctx: Context, request: Request, trust_id: str, role_id: str) -> Response:
    """GET, and HEAD (werkzeug drops the body)."""
    role = ctx.ops.trusts.role(ctx.caller(request), trust_id, role_id)
    return json_response({"role": role_json(ctx, request, role)})


ROUTES = [
    ("POST", "/v3/OS-TRUST/trusts", create_trust),
    ("GET", "/v3/OS-TRUST/trusts", list_trusts),
    ("GET", "/v3/OS-TRUST/trusts/<trust_id>", get_trust),
    ("DELETE", "/v3/OS-TRUST/trusts/<trust_id>", delete_trust),
    ("GET", "/v3/OS-TRUST/trusts/<trust_id>/roles", list_trust_roles),
    ("GET", "/v3/OS-TRUST/trusts/<trust_id>/roles/<role_id>", get_trust_role),
]
