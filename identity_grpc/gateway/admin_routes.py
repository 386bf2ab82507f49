"""Keystone v3 management API, part one: users, groups, projects and domains.

Translation only: each handler reads the request, calls one operation (which checks
its policy rule) and writes the answer in Keystone's JSON. The shared helpers here
(bodies, query filters, links, lists) serve the other admin route modules too.
"""

from datetime import datetime, timezone
from typing import Callable

from werkzeug.wrappers import Request, Response

from ..errors import InvalidArgument
from ..operations.base import read_pages
from ..records import TokenInfo
from .wsgi import Context, HttpError, json_response, read_json

FALSE_WORDS = ("0", "false", "no", "off")
SECRET_FIELDS = ("password", "original_password", "secret")


# ---- shared helpers -----------------------------------------------------------

def no_content() -> Response:
    response = Response(status=204)
    del response.headers["Content-Type"]
    return response


def invalid(field: str, problem: str) -> HttpError:
    return HttpError(400, f"Invalid input for field '{field}': {problem}")


def entity_body(request: Request, key: str) -> dict:
    """The object under `key` in the request body (`{"user": {...}}`)."""
    body = read_json(request)
    entity = body.get(key)
    if not isinstance(entity, dict):
        raise invalid(key, f"'{key}' is a required property" if entity is None
                      else f"{entity!r} is not of type 'object'")
    return entity


def text(entity: dict, key: str, required: bool = False) -> str | None:
    """A string field: None when absent (or null), 400 when of another type."""
    value = entity.get(key)
    if value is None:
        if required:
            raise invalid(key, f"'{key}' is a required property")
        return None
    if not isinstance(value, str):
        shown = "the value" if key in SECRET_FIELDS else repr(value)  # never a password
        raise invalid(key, f"{shown} is not of type 'string'")
    return value


def iso_time(entity: dict, key: str) -> datetime | None:
    """An ISO 8601 time field (UTC when it names no zone): None when absent, 400 when
    it is no such time."""
    value = text(entity, key)
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        raise invalid(key, f"{value!r} is not an ISO 8601 time "
                      "(such as 2030-01-31T12:00:00.000000Z)") from None
    return when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)


def flag(entity: dict, key: str) -> bool | None:
    value = entity.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise invalid(key, f"{value!r} is not of type 'boolean'")
    return value


def no_options(entity: dict) -> None:
    """Keystone's resource `options`: we support none, so only an empty one passes."""
    options = entity.get("options")
    if options not in (None, {}):
        raise invalid("options", "no resource options are supported")


def given(entity: dict, keys: tuple[str, ...], checker=text) -> dict:
    """The fields of `keys` present in `entity`, type-checked (for create and update)."""
    return {k: checker(entity, k) for k in keys if entity.get(k) is not None}


def query_flag(request: Request, name: str) -> bool | None:
    """A boolean query filter: absent → None; `?effective` or `=true` → True;
    `0`, `false`, `no`, `off` → False."""
    if name not in request.args:
        return None
    return request.args.get(name, "").strip().lower() not in FALSE_WORDS


def query_text(request: Request, name: str) -> str:
    return request.args.get(name, "")


def query_list(request: Request, name: str) -> list[str]:
    """A comma-separated query filter (`?tags=a,b`), [] when absent."""
    value = request.args.get(name, "")
    return value.split(",") if value else []


TAG_FILTERS = ("tags", "tags-any", "not-tags", "not-tags-any")


def link(ctx: Context, request: Request, path: str) -> str:
    return f"{ctx.base_url(request)}/v3/{path}"


def self_link(ctx: Context, request: Request, collection: str, ident: str) -> dict:
    return {"self": link(ctx, request, f"{collection}/{ident}")}


def request_url(ctx: Context, request: Request) -> str:
    query = request.query_string.decode()
    return ctx.base_url(request) + request.path + (f"?{query}" if query else "")


def list_response(ctx: Context, request: Request, key: str, items: list,
                  truncated: bool = False) -> Response:
    """A collection; `truncated` (Keystone's `"truncated": true`) when `list_limit`
    cut it short."""
    body = {key: items, "links": {"next": None, "self": request_url(ctx, request),
                                  "previous": None}}
    if truncated:
        body["truncated"] = True
    return json_response(body)


def capped(ctx: Context, list_op: Callable, caller: TokenInfo, **filters) -> tuple[list, bool]:
    """The rows of a paged operation, at most `list_limit` of them, and whether any
    were left out: Keystone's HTTP lists are not paged."""
    return read_pages(list_op, caller, ctx.core.settings.list_limit, **filters)


def first_rows(ctx: Context, fetch: Callable[[int], list]) -> tuple[list, bool]:
    """`fetch(n)` gives at most n rows of an unpaged list: at most `list_limit` of them
    are kept, and whether any were left out."""
    limit = ctx.core.settings.list_limit
    rows = fetch(limit + 1)
    return rows[:limit], len(rows) > limit


def timestamp(seconds: int | None) -> str | None:
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000000")


# ---- JSON of each entity ----------------------------------------------------------

def user_json(ctx: Context, request: Request, row) -> dict:
    """Sample 51: free attributes (email, description, extra) first, then the rest."""
    body = {**({"email": row.email} if row.email else {}),
            **({"description": row.description} if row.description else {}), **dict(row.extra),
            "id": row.id, "name": row.name, "domain_id": row.domain_id, "enabled": row.enabled}
    if row.default_project_id:
        body["default_project_id"] = row.default_project_id
    body["password_expires_at"] = timestamp(row.password_expires_at)
    body["options"] = dict(row.options)
    body["links"] = self_link(ctx, request, "users", row.id)
    return body


def group_json(ctx: Context, request: Request, row) -> dict:
    return {"id": row.id, "name": row.name, "domain_id": row.domain_id,
            "description": row.description, "links": self_link(ctx, request, "groups", row.id)}


def project_json(ctx: Context, request: Request, row) -> dict:
    """Sample 46: a top-level project's parent is its domain (a project acting as a
    domain has neither)."""
    return {"id": row.id, "name": row.name, "domain_id": row.domain_id,
            "description": row.description, "enabled": row.enabled,
            "parent_id": row.parent_id or row.domain_id, "is_domain": row.is_domain,
            "tags": list(row.tags), "options": {},
            "links": self_link(ctx, request, "projects", row.id)}


def domain_json(ctx: Context, request: Request, row) -> dict:
    return {"id": row.id, "name": row.name, "description": row.description,
            "enabled": row.enabled, "tags": [], "options": {},
            "links": self_link(ctx, request, "domains", row.id)}


# ---- users ---------------------------------------------------------------------

USER_FIELDS = ("id", "name", "domain_id", "password", "email", "description", "enabled",
               "default_project_id", "options", "links", "password_expires_at")


def _user_extra(entity: dict) -> dict:
    """Attributes Keystone does not know are kept as the user's extra attributes."""
    return {k: v for k, v in entity.items() if k not in USER_FIELDS}


def list_users(ctx: Context, request: Request) -> Response:
    caller = ctx.caller(request)
    rows, truncated = capped(ctx, ctx.ops.users.list, caller, name=query_text(request, "name"),
                             domain_id=query_text(request, "domain_id"),
                             enabled=query_flag(request, "enabled"))
    return list_response(ctx, request, "users", [user_json(ctx, request, r) for r in rows],
                         truncated)


def _user_options(entity: dict) -> dict:
    """Keystone's `options` object (the core checks the names and values)."""
    options = entity.get("options")
    if options is not None and not isinstance(options, dict):
        raise invalid("options", f"{options!r} is not of type 'object'")
    return options or {}


def create_user(ctx: Context, request: Request) -> Response:
    caller = ctx.caller(request)
    entity = entity_body(request, "user")
    fields = given(entity, ("password", "email", "description", "default_project_id"))
    fields["options"] = _user_options(entity)
    enabled = flag(entity, "enabled")
    row = ctx.ops.users.create(caller, text(entity, "name", required=True),
                               domain_id=text(entity, "domain_id") or "",
                               enabled=True if enabled is None else enabled,
                               extra=_user_extra(entity), **fields)
    return json_response({"user": user_json(ctx, request, row)}, status=201)


def get_user(ctx: Context, request: Request, user_id: str) -> Response:
    row = ctx.ops.users.get(ctx.caller(request), user_id)
    return json_response({"user": user_json(ctx, request, row)})


def update_user(ctx: Context, request: Request, user_id: str) -> Response:
    caller = ctx.caller(request)
    entity = entity_body(request, "user")
    changes = given(entity, ("name", "password", "email", "description"))
    if entity.get("options") is not None:
        changes["options"] = _user_options(entity)
    if "enabled" in entity:
        changes["enabled"] = flag(entity, "enabled")
    if "default_project_id" in entity:
        changes["default_project_id"] = text(entity, "default_project_id") or None
    extra = _user_extra(entity)  # merged into the user's, a null removing its key
    changes = {k: v for k, v in changes.items() if v is not None or k == "default_project_id"}
    if extra:
        changes["extra"] = extra
    row = ctx.ops.users.update(caller, user_id, merge_extra=True, **changes)
    return json_response({"user": user_json(ctx, request, row)})


def delete_user(ctx: Context, request: Request, user_id: str) -> Response:
    ctx.ops.users.delete(ctx.caller(request), user_id)
    return no_content()


def change_password(ctx: Context, request: Request, user_id: str) -> Response:
    """As in Keystone, no token is needed: the original password is the proof (a
    user whose password has expired cannot get a token). A token, when given, must be
    valid, and the policy rule applies to it."""
    caller = ctx.caller(request) if request.headers.get("X-Auth-Token") else None
    entity = entity_body(request, "user")
    ctx.ops.users.change_password(caller, user_id,
                                  text(entity, "original_password", required=True),
                                  text(entity, "password", required=True),
                                  source=request.remote_addr or "")
    return no_content()


def list_user_groups(ctx: Context, request: Request, user_id: str) -> Response:
    caller = ctx.caller(request)
    rows, truncated = first_rows(ctx, lambda n: ctx.ops.users.groups(caller, user_id, limit=n))
    return list_response(ctx, request, "groups", [group_json(ctx, request, r) for r in rows],
                         truncated)


def list_user_projects(ctx: Context, request: Request, user_id: str) -> Response:
    """The projects on which the user holds a role, directly, through a group or by
    inheritance, by name; at most `list_limit` of them."""
    caller = ctx.caller(request)
    rows, truncated = first_rows(ctx, lambda n: ctx.ops.users.projects(
        caller, user_id, enabled=query_flag(request, "enabled"), limit=n))
    return list_response(ctx, request, "projects", [project_json(ctx, request, r) for r in rows],
                         truncated)


# ---- groups --------------------------------------------------------------------

def list_groups(ctx: Context, request: Request) -> Response:
    rows, truncated = capped(ctx, ctx.ops.groups.list, ctx.caller(request),
                             name=query_text(request, "name"),
                             domain_id=query_text(request, "domain_id"))
    return list_response(ctx, request, "groups", [group_json(ctx, request, r) for r in rows],
                         truncated)


def create_group(ctx: Context, request: Request) -> Response:
    caller = ctx.caller(request)
    entity = entity_body(request, "group")
    row = ctx.ops.groups.create(caller, text(entity, "name", required=True),
                                domain_id=text(entity, "domain_id") or "",
                                description=text(entity, "description") or "")
    return json_response({"group": group_json(ctx, request, row)}, status=201)


def get_group(ctx: Context, request: Request, group_id: str) -> Response:
    row = ctx.ops.groups.get(ctx.caller(request), group_id)
    return json_response({"group": group_json(ctx, request, row)})


def update_group(ctx: Context, request: Request, group_id: str) -> Response:
    caller = ctx.caller(request)
    changes = given(entity_body(request, "group"), ("name", "description"))
    row = ctx.ops.groups.update(caller, group_id, **changes)
    return json_response({"group": group_json(ctx, request, row)})


def delete_group(ctx: Context, request: Request, group_id: str) -> Response:
    ctx.ops.groups.delete(ctx.caller(request), group_id)
    return no_content()


def list_group_users(ctx: Context, request: Request, group_id: str) -> Response:
    caller = ctx.caller(request)
    rows, truncated = first_rows(ctx, lambda n: ctx.ops.groups.users(caller, group_id, limit=n))
    return list_response(ctx, request, "users", [user_json(ctx, request, r) for r in rows],
                         truncated)


def add_group_user(ctx: Context, request: Request, group_id: str, user_id: str) -> Response:
    ctx.ops.groups.add_user(ctx.caller(request), group_id, user_id)
    return no_content()


def check_group_user(ctx: Context, request: Request, group_id: str, user_id: str) -> Response:
    caller = ctx.caller(request)
    if not ctx.ops.groups.has_user(caller, group_id, user_id):
        raise HttpError(404, f"User {user_id} is not a member of group {group_id}.")
    return no_content()


def remove_group_user(ctx: Context, request: Request, group_id: str, user_id: str) -> Response:
    ctx.ops.groups.remove_user(ctx.caller(request), group_id, user_id)
    return no_content()


# ---- projects ------------------------------------------------------------------

def list_projects(ctx: Context, request: Request) -> Response:
    """A `parent_id` naming a domain lists its top-level projects (the operation
    decides: Keystone names a top-level project's domain as its parent)."""
    caller = ctx.caller(request)
    rows, truncated = capped(ctx, ctx.ops.projects.list, caller, name=query_text(request, "name"),
                             domain_id=query_text(request, "domain_id"),
                             parent_id=query_text(request, "parent_id"),
                             is_domain=query_flag(request, "is_domain"),
                             enabled=query_flag(request, "enabled"),
                             **{name.replace("-", "_"): query_list(request, name)
                                for name in TAG_FILTERS})
    return list_response(ctx, request, "projects", [project_json(ctx, request, r) for r in rows],
                         truncated)


def create_project(ctx: Context, request: Request) -> Response:
    caller = ctx.caller(request)
    entity = entity_body(request, "project")
    no_options(entity)
    enabled = flag(entity, "enabled")
    try:
        row = ctx.ops.projects.create(caller, text(entity, "name", required=True),
                                      domain_id=text(entity, "domain_id") or "",
                                      parent_id=text(entity, "parent_id") or "",
                                      description=text(entity, "description") or "",
                                      enabled=True if enabled is None else enabled,
                                      tags=entity.get("tags") or (),
                                      is_domain=bool(flag(entity, "is_domain")))
    except InvalidArgument as e:
        if e.field != "parent_id":
            raise
        raise invalid(e.field, e.message.removeprefix(f"{e.field}: ")) from None
    return json_response({"project": project_json(ctx, request, row)}, status=201)


def get_project(ctx: Context, request: Request, project_id: str) -> Response:
    row = ctx.ops.projects.get(ctx.caller(request), project_id)
    return json_response({"project": project_json(ctx, request, row)})


def update_project(ctx: Context, request: Request, project_id: str) -> Response:
    caller = ctx.caller(request)
    entity = entity_body(request, "project")
    no_options(entity)
    changes = given(entity, ("name", "description"))
    if "enabled" in entity:
        changes["enabled"] = flag(entity, "enabled")
    if "parent_id" in entity:
        changes["parent_id"] = text(entity, "parent_id") or ""
    if entity.get("tags") is not None:
        changes["tags"] = entity["tags"]
    if "is_domain" in entity and flag(entity, "is_domain") is not None:
        if flag(entity, "is_domain") != ctx.ops.projects.get(caller, project_id).is_domain:
            raise invalid("is_domain", "Update of `is_domain` is not allowed.")
    if "domain_id" in entity:
        current = ctx.ops.projects.get(caller, project_id)
        if text(entity, "domain_id") != current.domain_id:
            raise invalid("domain_id", "a project cannot move to another domain")
    row = ctx.ops.projects.update(caller, project_id,
                                  **{k: v for k, v in changes.items() if v is not None})
    return json_response({"project": project_json(ctx, request, row)})


def delete_project(ctx: Context, request: Request, project_id: str) -> Response:
    ctx.ops.projects.delete(ctx.caller(request), project_id)
    return no_content()


# ---- domains -------------------------------------------------------------------

def list_domains(ctx: Context, request: Request) -> Response:
    rows, truncated = capped(ctx, ctx.ops.domains.list, ctx.caller(request),
                             name=query_text(request, "name"), enabled=query_flag(request, "enabled"))
    return list_response(ctx, request, "domains", [domain_json(ctx, request, r) for r in rows],
                         truncated)


def create_domain(ctx: Context, request: Request) -> Response:
    caller = ctx.caller(request)
    entity = entity_body(request, "domain")
    no_options(entity)
    if entity.get("explicit_domain_id") is not None:
        raise invalid("explicit_domain_id", "domain ids are always assigned by the service")
    enabled = flag(entity, "enabled")
    row = ctx.ops.domains.create(caller, name=text(entity, "name", required=True),
                                 description=text(entity, "description") or "",
                                 enabled=True if enabled is None else enabled)
    return json_response({"domain": domain_json(ctx, request, row)}, status=201)


def get_domain(ctx: Context, request: Request, domain_id: str) -> Response:
    row = ctx.ops.domains.get(ctx.caller(request), domain_id)
    return json_response({"domain": domain_json(ctx, request, row)})


def update_domain(ctx: Context, request: Request, domain_id: str) -> Response:
    caller = ctx.caller(request)
    entity = entity_body(request, "domain")
    no_options(entity)
    changes = given(entity, ("name", "description"))
    if "enabled" in entity and entity["enabled"] is not None:
        changes["enabled"] = flag(entity, "enabled")
    row = ctx.ops.domains.update(caller, domain_id, **changes)
    return json_response({"domain": domain_json(ctx, request, row)})


def delete_domain(ctx: Context, request: Request, domain_id: str) -> Response:
    ctx.ops.domains.delete(ctx.caller(request), domain_id)
    return no_content()


ROUTES = [
    ("GET", "/v3/users", list_users),
    ("POST", "/v3/users", create_user),
    ("GET", "/v3/users/<user_id>", get_user),
    ("PATCH", "/v3/users/<user_id>", update_user),
    ("DELETE", "/v3/users/<user_id>", delete_user),
    ("POST", "/v3/users/<user_id>/password", change_password),
    ("GET", "/v3/users/<user_id>/groups", list_user_groups),
    ("GET", "/v3/users/<user_id>/projects", list_user_projects),
    ("GET", "/v3/groups", list_groups),
    ("POST", "/v3/groups", create_group),
    ("GET", "/v3/groups/<group_id>", get_group),
    ("PATCH", "/v3/groups/<group_id>", update_group),
    ("DELETE", "/v3/groups/<group_id>", delete_group),
    ("GET", "/v3/groups/<group_id>/users", list_group_users),
    ("PUT", "/v3/groups/<group_id>/users/<user_id>", add_group_user),
    ("GET", "/v3/groups/<group_id>/users/<user_id>", check_group_user),
    ("DELETE", "/v3/groups/<group_id>/users/<user_id>", remove_group_user),
    ("GET", "/v3/projects", list_projects),
    ("POST", "/v3/projects", create_project),
    ("GET", "/v3/projects/<project_id>", get_project),
    ("PATCH", "/v3/projects/<project_id>", update_project),
    ("DELETE", "/v3/projects/<project_id>", delete_project),
    ("GET", "/v3/domains", list_domains),
    ("POST", "/v3/domains", create_domain),
    ("GET", "/v3/domains/<domain_id>", get_domain),
    ("PATCH", "/v3/domains/<domain_id>", update_domain),
    ("DELETE", "/v3/domains/<domain_id>", delete_domain),
]
