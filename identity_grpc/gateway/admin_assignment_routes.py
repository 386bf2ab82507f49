"""Keystone v3 management API, part two: roles, grants and `/v3/role_assignments`.

Translation only; each operation checks its own policy rule. Grants come in every
Keystone form: on projects, domains and the system, to users and groups, and the
`OS-INHERIT` forms that reach a target's projects.
"""

from werkzeug.wrappers import Request, Response

from ..operations import SYSTEM_TARGET
from .admin_routes import (capped, entity_body, given, invalid, link, list_response,
                           no_content, no_options, query_flag, query_text, self_link, text)
from .wsgi import Context, HttpError, json_response

INHERITED = "OS-INHERIT:inherited_to"


def role_json(ctx: Context, request: Request, row) -> dict:
    return {"id": row.id, "name": row.name, "domain_id": row.domain_id or None,
            "description": row.description or None, "options": {},
            "links": self_link(ctx, request, "roles", row.id)}


# ---- roles ---------------------------------------------------------------------

def list_roles(ctx: Context, request: Request) -> Response:
    rows, truncated = capped(ctx, ctx.ops.roles.list, ctx.caller(request),
                             name=query_text(request, "name"),
                             domain_id=query_text(request, "domain_id"))
    return list_response(ctx, request, "roles", [role_json(ctx, request, r) for r in rows],
                         truncated)


def create_role(ctx: Context, request: Request) -> Response:
    caller = ctx.caller(request)
    entity = entity_body(request, "role")
    no_options(entity)
    row = ctx.ops.roles.create(caller, name=text(entity, "name", required=True),
                               description=text(entity, "description") or "",
                               domain_id=text(entity, "domain_id") or "")
    return json_response({"role": role_json(ctx, request, row)}, status=201)


def get_role(ctx: Context, request: Request, role_id: str) -> Response:
    row = ctx.ops.roles.get(ctx.caller(request), role_id)
    return json_response({"role": role_json(ctx, request, row)})


def update_role(ctx: Context, request: Request, role_id: str) -> Response:
    caller = ctx.caller(request)
    entity = entity_body(request, "role")
    no_options(entity)
    row = ctx.ops.roles.update(caller, role_id, **given(entity, ("name", "description")))
    return json_response({"role": role_json(ctx, request, row)})


def delete_role(ctx: Context, request: Request, role_id: str) -> Response:
    ctx.ops.roles.delete(ctx.caller(request), role_id)
    return no_content()


# ---- grants --------------------------------------------------------------------

def _grant_handlers(target_type: str, actor_key: str, inherited: bool):
    """PUT, check (GET/HEAD), DELETE and list handlers for one form of grant path."""

    def grant(target_id: str, actor_id: str, role_id: str) -> dict:
        return {"role_id": role_id, "target_type": target_type, "target_id": target_id,
                actor_key: actor_id, "inherited": inherited}

    def put_grant(ctx: Context, request: Request, actor_id: str, role_id: str,
                  target_id: str = SYSTEM_TARGET) -> Response:
        ctx.ops.assignments.grant(ctx.caller(request), **grant(target_id, actor_id, role_id))
        return no_content()

    def check_grant(ctx: Context, request: Request, actor_id: str, role_id: str,
                    target_id: str = SYSTEM_TARGET) -> Response:
        if not ctx.ops.assignments.check(ctx.caller(request), **grant(target_id, actor_id, role_id)):
            raise HttpError(404, f"Could not find role assignment with role: {role_id}, "
                            f"{actor_key.removesuffix('_id')}: {actor_id}, "
                            f"{target_type}: {target_id}.")
        return no_content()

    def revoke_grant(ctx: Context, request: Request, actor_id: str, role_id: str,
                     target_id: str = SYSTEM_TARGET) -> Response:
        ctx.ops.assignments.revoke(ctx.caller(request), **grant(target_id, actor_id, role_id))
        return no_content()

    def list_grants(ctx: Context, request: Request, actor_id: str,
                    target_id: str = SYSTEM_TARGET) -> Response:
        roles, truncated = ctx.ops.assignments.granted_roles(
            ctx.caller(request), target_type=target_type, target_id=target_id,
            inherited=inherited, limit=ctx.core.settings.list_limit, **{actor_key: actor_id})
        return list_response(ctx, request, "roles", [role_json(ctx, request, r) for r in roles],
                             truncated)

    return put_grant, check_grant, revoke_grant, list_grants


def _grant_routes() -> list:
    routes = []
    for target_type, prefix in (("project", "projects/<target_id>"),
                                ("domain", "domains/<target_id>"), ("system", "system")):
        for actor_key, actors in (("user_id", "users"), ("group_id", "groups")):
            for inherited in (False, True):
                if inherited and target_type == "system":
                    continue
                head = f"/v3/OS-INHERIT/{prefix}" if inherited else f"/v3/{prefix}"
                tail = "/inherited_to_projects" if inherited else ""
                roles = f"{head}/{actors}/<actor_id>/roles"
                put, check, revoke, listing = _grant_handlers(target_type, actor_key, inherited)
                routes += [("PUT", f"{roles}/<role_id>{tail}", put),
                           ("GET", f"{roles}/<role_id>{tail}", check),
                           ("DELETE", f"{roles}/<role_id>{tail}", revoke),
                           ("GET", f"{roles}{tail}", listing)]
    return routes


# ---- role assignments --------------------------------------------------------

def _ref(names: dict | None, kind: str, ident: str) -> dict:
    """{"id"} or, with names, Keystone's named form of a user, group, project,
    domain or role."""
    if names is None:
        return {"id": ident}
    name, domain_id, domain_name = names.get((kind, ident), ("", "", ""))
    ref = {"id": ident, "name": name}
    if kind in ("user", "group", "project") or (kind == "role" and domain_id):
        ref["domain"] = {"id": domain_id, "name": domain_name}
    return ref


def assignment_json(ctx: Context, request: Request, a, names: dict | None,
                    effective: bool) -> dict:
    """Samples 47-49. In effective lists, an implied role links to the role that
    implied it (`prior_role/<role>/implies/<implied by>`, Keystone's way round), and a
    role held through a group links to the membership and the group's grant."""
    inherited = a.inherited and not effective  # effective lists show what it reached
    links = {}
    if a.via_group_id:
        links["membership"] = link(ctx, request, f"groups/{a.via_group_id}/users/{a.actor_id}")
        actor_path = f"groups/{a.via_group_id}"
    else:
        actor_path = f"{a.actor_type}s/{a.actor_id}"
    target_path = "system" if a.target_type == "system" else f"{a.target_type}s/{a.target_id}"
    grant_path = f"{target_path}/{actor_path}/roles/{a.implied_by_role_id or a.role_id}"
    links["assignment"] = link(ctx, request, f"OS-INHERIT/{grant_path}/inherited_to_projects"
                               if inherited else grant_path)
    if a.implied_by_role_id:
        links["prior_role"] = link(ctx, request,
                                   f"prior_role/{a.role_id}/implies/{a.implied_by_role_id}")
    if a.target_type == "system":
        scope = {"system": {"all": True}}
    else:
        scope = {a.target_type: _ref(names, a.target_type, a.target_id)}
    if inherited:
        scope[INHERITED] = "projects"
    return {"links": links, "scope": scope, a.actor_type: _ref(names, a.actor_type, a.actor_id),
            "role": _ref(names, "role", a.role_id)}


def list_role_assignments(ctx: Context, request: Request) -> Response:
    caller = ctx.caller(request)
    args = request.args
    project_id, domain_id = query_text(request, "scope.project.id"), query_text(request, "scope.domain.id")
    system = "scope.system" in args
    if sum(map(bool, (project_id, domain_id, system))) > 1:
        raise HttpError(400, "Specify at most one of scope.project.id, scope.domain.id and "
                        "scope.system.")
    effective = bool(query_flag(request, "effective"))
    inherited_to = args.get(f"scope.{INHERITED}")
    if inherited_to is not None and inherited_to != "projects":
        raise invalid(f"scope.{INHERITED}", f"{inherited_to!r} is not 'projects'")
    filters = {"user_id": query_text(request, "user.id"),
               "group_id": query_text(request, "group.id"), "role_id": query_text(request, "role.id"),
               "domain_id": domain_id, "system": system, "effective": effective,
               "inherited_only": inherited_to is not None}
    if query_flag(request, "include_subtree"):
        rows, truncated = ctx.ops.assignments.list_in_subtree(caller, project_id, **filters)
    else:
        rows, truncated = capped(ctx, ctx.ops.assignments.list, caller, project_id=project_id,
                                 **filters)
    names = ctx.ops.assignments.names(rows) if query_flag(request, "include_names") else None
    return list_response(ctx, request, "role_assignments",
                         [assignment_json(ctx, request, a, names, effective) for a in rows],
                         truncated)


ROUTES = [
    ("GET", "/v3/roles", list_roles),
    ("POST", "/v3/roles", create_role),
    ("GET", "/v3/roles/<role_id>", get_role),
    ("PATCH", "/v3/roles/<role_id>", update_role),
    ("DELETE", "/v3/roles/<role_id>", delete_role),
    ("GET", "/v3/role_assignments", list_role_assignments),
    *_grant_routes(),
]
