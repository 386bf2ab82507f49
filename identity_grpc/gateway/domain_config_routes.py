"""Keystone's domain configuration: `/v3/domains/{id}/config[/{group}[/{option}]]`
(PUT creates the whole configuration; GET, PATCH, DELETE the whole, a group or one
option) and the defaults at `/v3/domains/config[/{group}[/{option}]]/default`.
Translation only: the operation checks the rule, the manager the groups and options."""

from werkzeug.wrappers import Request, Response

from .admin_routes import no_content
from .wsgi import Context, json_response, read_json


def _config_body(request: Request):
    """The `config` of the body ({} when absent: the manager refuses an empty one)."""
    return read_json(request).get("config", {})


def _answer(config: dict, status: int = 200) -> Response:
    return json_response({"config": config}, status=status)


def create_config(ctx: Context, request: Request, domain_id: str) -> Response:
    """201 when the domain had no configuration, 200 when this one replaced it."""
    caller = ctx.caller(request)
    config, created = ctx.ops.domain_config.create(caller, domain_id, _config_body(request))
    return _answer(config, 201 if created else 200)


def get_config(ctx: Context, request: Request, domain_id: str, group: str = "",
               option: str = "") -> Response:
    return _answer(ctx.ops.domain_config.get(ctx.caller(request), domain_id, group, option))


def update_config(ctx: Context, request: Request, domain_id: str, group: str = "",
                  option: str = "") -> Response:
    caller = ctx.caller(request)
    return _answer(ctx.ops.domain_config.update(caller, domain_id, _config_body(request),
                                                group, option))


def delete_config(ctx: Context, request: Request, domain_id: str, group: str = "",
                  option: str = "") -> Response:
    ctx.ops.domain_config.delete(ctx.caller(request), domain_id, group, option)
    return no_content()


def get_default(ctx: Context, request: Request, group: str = "", option: str = "") -> Response:
    return _answer(ctx.ops.domain_config.defaults(ctx.caller(request), group, option))


ROUTES = [
    ("GET", "/v3/domains/config/default", get_default),
    ("GET", "/v3/domains/config/<group>/default", get_default),
    ("GET", "/v3/domains/config/<group>/<option>/default", get_default),
    ("PUT", "/v3/domains/<domain_id>/config", create_config),
]
for _path in ("/v3/domains/<domain_id>/config", "/v3/domains/<domain_id>/config/<group>",
              "/v3/domains/<domain_id>/config/<group>/<option>"):
    ROUTES += [("GET", _path, get_config), ("PATCH", _path, update_config),
               ("DELETE", _path, delete_config)]
