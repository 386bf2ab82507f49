"""Keystone's OS-EP-FILTER API: endpoint groups, and the endpoints and endpoint groups
given to projects. Translation only; each operation checks its own policy rule."""

from werkzeug.wrappers import Request, Response

from .admin_catalog_routes import endpoint_json
from .admin_routes import (capped, entity_body, given, invalid, link, list_response,
                           no_content, project_json, query_text, text)
from .wsgi import Context, json_response

PREFIX = "/v3/OS-EP-FILTER"


def group_json(ctx: Context, request: Request, entry) -> dict:
    return {"id": entry.id, "name": entry.name, "description": entry.description,
            "filters": dict(entry.filters),
            "links": {"self": link(ctx, request, f"OS-EP-FILTER/endpoint_groups/{entry.id}")}}


def _filters(entity: dict, required: bool) -> dict | None:
    filters = entity.get("filters")
    if filters is None:
        if required:
            raise invalid("filters", "'filters' is a required property")
        return None
    if not isinstance(filters, dict):
        raise invalid("filters", f"{filters!r} is not of type 'object'")
    return filters


def _endpoints(ctx: Context, request: Request, rows) -> Response:
    return list_response(ctx, request, "endpoints", [endpoint_json(ctx, request, r) for r in rows])


def _projects(ctx: Context, request: Request, rows) -> Response:
    return list_response(ctx, request, "projects", [project_json(ctx, request, r) for r in rows])


def _groups(ctx: Context, request: Request, rows, truncated: bool = False) -> Response:
    return list_response(ctx, request, "endpoint_groups",
                         [group_json(ctx, request, r) for r in rows], truncated)


# ---- endpoint groups -------------------------------------------------------------

def create_group(ctx: Context, request: Request) -> Response:
    caller = ctx.caller(request)
    entity = entity_body(request, "endpoint_group")
    entry = ctx.ops.endpoint_filter.create_endpoint_group(
        caller, text(entity, "name", required=True), _filters(entity, required=True),
        description=text(entity, "description") or "")
    return json_response({"endpoint_group": group_json(ctx, request, entry)}, status=201)


def list_groups(ctx: Context, request: Request) -> Response:
    rows, truncated = capped(ctx, ctx.ops.endpoint_filter.list_endpoint_groups,
                             ctx.caller(request), name=query_text(request, "name"))
    return _groups(ctx, request, rows, truncated)


def get_group(ctx: Context, request: Request, group_id: str) -> Response:
    entry = ctx.ops.endpoint_filter.get_endpoint_group(ctx.caller(request), group_id)
    return json_response({"endpoint_group": group_json(ctx, request, entry)})


def update_group(ctx: Context, request: Request, group_id: str) -> Response:
    caller = ctx.caller(request)
    entity = entity_body(request, "endpoint_group")
    if "id" in entity and entity["id"] != group_id:
        raise invalid("id", "the id in the body must be the endpoint group's")
    changes = given(entity, ("name",))
    if "description" in entity:
        changes["description"] = text(entity, "description") or ""
    filters = _filters(entity, required=False)
    if filters is not None:
        changes["filters"] = filters
    entry = ctx.ops.endpoint_filter.update_endpoint_group(caller, group_id, **changes)
    return json_response({"endpoint_group": group_json(ctx, request, entry)})


def delete_group(ctx: Context, request: Request, group_id: str) -> Response:
    ctx.ops.endpoint_filter.delete_endpoint_group(ctx.caller(request), group_id)
    return no_content()


def group_endpoints(ctx: Context, request: Request, group_id: str) -> Response:
    rows = ctx.ops.endpoint_filter.list_endpoints_associated_with_endpoint_group(
        ctx.caller(request), group_id)
    return _endpoints(ctx, request, rows)


def group_projects(ctx: Context, request: Request, group_id: str) -> Response:
    rows = ctx.ops.endpoint_filter.list_projects_associated_with_endpoint_group(
        ctx.caller(request), group_id)
    return _projects(ctx, request, rows)


def add_group_to_project(ctx: Context, request: Request, group_id: str,
                         project_id: str) -> Response:
    ctx.ops.endpoint_filter.add_endpoint_group_to_project(ctx.caller(request), group_id,
                                                          project_id)
    return no_content()


def get_group_in_project(ctx: Context, request: Request, group_id: str,
                         project_id: str) -> Response:
    ctx.ops.endpoint_filter.get_endpoint_group_in_project(ctx.caller(request), group_id,
                                                          project_id)
    path = f"OS-EP-FILTER/endpoint_groups/{group_id}/projects/{project_id}"
    return json_response({"project_endpoint_group": {
        "endpoint_group_id": group_id, "project_id": project_id,
        "links": {"self": link(ctx, request, path)}}})


def remove_group_from_project(ctx: Context, request: Request, group_id: str,
                              project_id: str) -> Response:
    ctx.ops.endpoint_filter.remove_endpoint_group_from_project(ctx.caller(request), group_id,
                                                               project_id)
    return no_content()


def project_groups(ctx: Context, request: Request, project_id: str) -> Response:
    rows = ctx.ops.endpoint_filter.list_endpoint_groups_for_project(ctx.caller(request),
                                                                    project_id)
    return _groups(ctx, request, rows)


# ---- endpoints given to projects ---------------------------------------------------

def add_endpoint_to_project(ctx: Context, request: Request, project_id: str,
                            endpoint_id: str) -> Response:
    ctx.ops.endpoint_filter.add_endpoint_to_project(ctx.caller(request), project_id,
                                                    endpoint_id)
    return no_content()


def check_endpoint_in_project(ctx: Context, request: Request, project_id: str,
                              endpoint_id: str) -> Response:
    ctx.ops.endpoint_filter.check_endpoint_in_project(ctx.caller(request), project_id,
                                                      endpoint_id)
    return no_content()


def remove_endpoint_from_project(ctx: Context, request: Request, project_id: str,
                                 endpoint_id: str) -> Response:
    ctx.ops.endpoint_filter.remove_endpoint_from_project(ctx.caller(request), project_id,
                                                         endpoint_id)
    return no_content()


def project_endpoints(ctx: Context, request: Request, project_id: str) -> Response:
    rows = ctx.ops.endpoint_filter.list_endpoints_for_project(ctx.caller(request), project_id)
    return _endpoints(ctx, request, rows)


def endpoint_projects(ctx: Context, request: Request, endpoint_id: str) -> Response:
    rows = ctx.ops.endpoint_filter.list_projects_for_endpoint(ctx.caller(request), endpoint_id)
    return _projects(ctx, request, rows)


GROUP = f"{PREFIX}/endpoint_groups/<group_id>"
ROUTES = [
    ("GET", f"{PREFIX}/endpoint_groups", list_groups),
    ("POST", f"{PREFIX}/endpoint_groups", create_group),
    ("GET", GROUP, get_group),
    ("PATCH", GROUP, update_group),
    ("DELETE", GROUP, delete_group),
    ("GET", f"{GROUP}/endpoints", group_endpoints),
    ("GET", f"{GROUP}/projects", group_projects),
    ("PUT", f"{GROUP}/projects/<project_id>", add_group_to_project),
    ("GET", f"{GROUP}/projects/<project_id>", get_group_in_project),
    ("DELETE", f"{GROUP}/projects/<project_id>", remove_group_from_project),
    ("GET", f"{PREFIX}/projects/<project_id>/endpoint_groups", project_groups),
    ("GET", f"{PREFIX}/projects/<project_id>/endpoints", project_endpoints),
    ("PUT", f"{PREFIX}/projects/<project_id>/endpoints/<endpoint_id>", add_endpoint_to_project),
    ("GET", f"{PREFIX}/projects/<project_id>/endpoints/<endpoint_id>", check_endpoint_in_project),
    ("DELETE", f"{PREFIX}/projects/<project_id>/endpoints/<endpoint_id>",
     remove_endpoint_from_project),
    ("GET", f"{PREFIX}/endpoints/<endpoint_id>/projects", endpoint_projects),
]
