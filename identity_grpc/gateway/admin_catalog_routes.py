"""Keystone v3 management API, part three: the catalog's services, endpoints and regions.

Translation only; each operation checks its own policy rule.
"""

from werkzeug.wrappers import Request, Response

from .admin_routes import (capped, entity_body, flag, given, list_response,
                           no_content, query_flag, query_text, self_link, text)
from .wsgi import Context, json_response


def service_json(ctx: Context, request: Request, row) -> dict:
    body = {"id": row.id, "type": row.type}
    if row.name:
        body["name"] = row.name
    if row.description:
        body["description"] = row.description
    body.update(enabled=row.enabled, links=self_link(ctx, request, "services", row.id))
    return body


def endpoint_json(ctx: Context, request: Request, row) -> dict:
    return {"id": row.id, "interface": row.interface, "region_id": row.region_id,
            "service_id": row.service_id, "url": row.url, "enabled": row.enabled,
            "region": row.region_id, "links": self_link(ctx, request, "endpoints", row.id)}


def region_json(ctx: Context, request: Request, row) -> dict:
    return {"id": row.id, "description": row.description,
            "parent_region_id": row.parent_region_id or None,
            "links": self_link(ctx, request, "regions", row.id)}


def _region(entity: dict) -> tuple[str | None, bool]:
    """The endpoint's region, and whether it came in the legacy `region` field only
    (Keystone then creates a region of that id that does not exist yet)."""
    region_id = text(entity, "region_id")
    if region_id is not None:
        return region_id, False
    region = text(entity, "region")
    return region, region is not None


def _enabled(entity: dict) -> bool:
    enabled = flag(entity, "enabled")
    return True if enabled is None else enabled


# ---- services ------------------------------------------------------------------

def list_services(ctx: Context, request: Request) -> Response:
    rows, truncated = capped(ctx, ctx.ops.catalog.list_services, ctx.caller(request),
                             type=query_text(request, "type"), name=query_text(request, "name"))
    return list_response(ctx, request, "services", [service_json(ctx, request, r) for r in rows],
                         truncated)


def create_service(ctx: Context, request: Request) -> Response:
    caller = ctx.caller(request)
    entity = entity_body(request, "service")
    row = ctx.ops.catalog.create_service(caller, text(entity, "type", required=True),
                                         name=text(entity, "name") or "",
                                         description=text(entity, "description") or "",
                                         enabled=_enabled(entity))
    return json_response({"service": service_json(ctx, request, row)}, status=201)


def get_service(ctx: Context, request: Request, service_id: str) -> Response:
    row = ctx.ops.catalog.get_service(ctx.caller(request), service_id)
    return json_response({"service": service_json(ctx, request, row)})


def update_service(ctx: Context, request: Request, service_id: str) -> Response:
    caller = ctx.caller(request)
    entity = entity_body(request, "service")
    changes = {**given(entity, ("type", "name", "description")),
               **given(entity, ("enabled",), flag)}
    row = ctx.ops.catalog.update_service(caller, service_id, **changes)
    return json_response({"service": service_json(ctx, request, row)})


def delete_service(ctx: Context, request: Request, service_id: str) -> Response:
    ctx.ops.catalog.delete_service(ctx.caller(request), service_id)
    return no_content()


# ---- endpoints -----------------------------------------------------------------

def list_endpoints(ctx: Context, request: Request) -> Response:
    caller = ctx.caller(request)
    rows, truncated = capped(ctx, ctx.ops.catalog.list_endpoints, caller,
                             service_id=query_text(request, "service_id"),
                             interface=query_text(request, "interface"),
                             region_id=query_text(request, "region_id") or query_text(request, "region"),
                             enabled=query_flag(request, "enabled"))
    return list_response(ctx, request, "endpoints", [endpoint_json(ctx, request, r) for r in rows],
                         truncated)


def create_endpoint(ctx: Context, request: Request) -> Response:
    caller = ctx.caller(request)
    entity = entity_body(request, "endpoint")
    region_id, legacy = _region(entity)
    row = ctx.ops.catalog.create_endpoint(caller, text(entity, "service_id", required=True),
                                          text(entity, "interface", required=True),
                                          text(entity, "url", required=True),
                                          region_id=region_id or None, enabled=_enabled(entity),
                                          create_region=legacy)
    return json_response({"endpoint": endpoint_json(ctx, request, row)}, status=201)


def get_endpoint(ctx: Context, request: Request, endpoint_id: str) -> Response:
    row = ctx.ops.catalog.get_endpoint(ctx.caller(request), endpoint_id)
    return json_response({"endpoint": endpoint_json(ctx, request, row)})


def update_endpoint(ctx: Context, request: Request, endpoint_id: str) -> Response:
    caller = ctx.caller(request)
    entity = entity_body(request, "endpoint")
    changes = {**given(entity, ("interface", "url", "service_id")),
               **given(entity, ("enabled",), flag)}
    legacy = False
    if "region_id" in entity or "region" in entity:
        region_id, legacy = _region(entity)
        changes["region_id"] = region_id or ""
    row = ctx.ops.catalog.update_endpoint(caller, endpoint_id, create_region=legacy, **changes)
    return json_response({"endpoint": endpoint_json(ctx, request, row)})


def delete_endpoint(ctx: Context, request: Request, endpoint_id: str) -> Response:
    ctx.ops.catalog.delete_endpoint(ctx.caller(request), endpoint_id)
    return no_content()


# ---- regions -------------------------------------------------------------------

def list_regions(ctx: Context, request: Request) -> Response:
    rows, truncated = capped(ctx, ctx.ops.catalog.list_regions, ctx.caller(request),
                             parent_region_id=query_text(request, "parent_region_id"))
    return list_response(ctx, request, "regions", [region_json(ctx, request, r) for r in rows],
                         truncated)


def _create_region(ctx: Context, request: Request, region_id: str) -> Response:
    caller = ctx.caller(request)
    entity = entity_body(request, "region")
    row = ctx.ops.catalog.create_region(caller, region_id or text(entity, "id") or "",
                                        description=text(entity, "description") or "",
                                        parent_region_id=text(entity, "parent_region_id"))
    return json_response({"region": region_json(ctx, request, row)}, status=201)


def create_region(ctx: Context, request: Request) -> Response:
    return _create_region(ctx, request, "")


def put_region(ctx: Context, request: Request, region_id: str) -> Response:
    """Keystone's create with the id in the path."""
    return _create_region(ctx, request, region_id)


def get_region(ctx: Context, request: Request, region_id: str) -> Response:
    row = ctx.ops.catalog.get_region(ctx.caller(request), region_id)
    return json_response({"region": region_json(ctx, request, row)})


def update_region(ctx: Context, request: Request, region_id: str) -> Response:
    caller = ctx.caller(request)
    entity = entity_body(request, "region")
    changes = given(entity, ("description",))
    if "parent_region_id" in entity:
        changes["parent_region_id"] = text(entity, "parent_region_id") or ""
    row = ctx.ops.catalog.update_region(caller, region_id, **changes)
    return json_response({"region": region_json(ctx, request, row)})


def delete_region(ctx: Context, request: Request, region_id: str) -> Response:
    ctx.ops.catalog.delete_region(ctx.caller(request), region_id)
    return no_content()


ROUTES = [
    ("GET", "/v3/services", list_services),
    ("POST", "/v3/services", create_service),
    ("GET", "/v3/services/<service_id>", get_service),
    ("PATCH", "/v3/services/<service_id>", update_service),
    ("DELETE", "/v3/services/<service_id>", delete_service),
    ("GET", "/v3/endpoints", list_endpoints),
    ("POST", "/v3/endpoints", create_endpoint),
    ("GET", "/v3/endpoints/<endpoint_id>", get_endpoint),
    ("PATCH", "/v3/endpoints/<endpoint_id>", update_endpoint),
    ("DELETE", "/v3/endpoints/<endpoint_id>", delete_endpoint),
    ("GET", "/v3/regions", list_regions),
    ("POST", "/v3/regions", create_region),
    ("GET", "/v3/regions/<region_id>", get_region),
    ("PUT", "/v3/regions/<region_id>", put_region),
    ("PATCH", "/v3/regions/<region_id>", update_region),
    ("DELETE", "/v3/regions/<region_id>", delete_region),
]
