"""Keystone's credentials (`/v3/credentials`), EC2 credentials
(`/v3/users/{user_id}/credentials/OS-EC2`) and `POST /v3/ec2tokens`, in Keystone's JSON.

Translation only: the body is read, one operation called (it checks the policy rule),
the answer written as Keystone writes it. A blob is a string on the wire, as there.
"""

from werkzeug.wrappers import Request, Response

from ..records import Ec2Credentials, ScopeRequest
from .admin_routes import entity_body, invalid, link, list_response, no_content, query_text, text
from .auth_routes import token_json
from .wsgi import Context, HttpError, json_response, read_json

# What a credential body says besides its free attributes.
CREDENTIAL_FIELDS = ("id", "user_id", "project_id", "type", "blob", "links")
EC2_BODY_KEYS = ("credentials", "credential", "ec2Credentials")  # Keystone takes all three


def credential_json(ctx: Context, request: Request, c) -> dict:
    return {**dict(c.extra), "id": c.id, "type": c.type, "user_id": c.user_id,
            "project_id": c.project_id, "blob": c.blob,
            "links": {"self": link(ctx, request, f"credentials/{c.id}")}}


def ec2_json(ctx: Context, request: Request, c) -> dict:
    return {"user_id": c.user_id, "tenant_id": c.project_id, "access": c.access,
            "secret": c.secret, "trust_id": c.trust_id,
            "links": {"self": link(ctx, request,
                                   f"users/{c.user_id}/credentials/OS-EC2/{c.access}")}}


def _extra(entity: dict) -> dict:
    return {k: v for k, v in entity.items() if k not in CREDENTIAL_FIELDS}


def _project(entity: dict) -> str | None:
    """`project_id`: a string, or null (no project)."""
    return text(entity, "project_id")


# ---- /v3/credentials --------------------------------------------------------------

def create_credential(ctx: Context, request: Request) -> Response:
    caller = ctx.caller(request)
    entity = entity_body(request, "credential")
    row = ctx.ops.credential_blobs.create(
        caller, text(entity, "user_id", required=True), text(entity, "type", required=True),
        text(entity, "blob", required=True), project_id=_project(entity),
        extra=_extra(entity))
    return json_response({"credential": credential_json(ctx, request, row)}, status=201)


def list_credentials(ctx: Context, request: Request) -> Response:
    caller = ctx.caller(request)
    limit = ctx.core.settings.list_limit
    rows = ctx.ops.credential_blobs.list(caller, user_id=query_text(request, "user_id"),
                                         type_=query_text(request, "type"), limit=limit + 1)
    return list_response(ctx, request, "credentials",
                         [credential_json(ctx, request, r) for r in rows[:limit]],
                         len(rows) > limit)


def get_credential(ctx: Context, request: Request, credential_id: str) -> Response:
    row = ctx.ops.credential_blobs.get(ctx.caller(request), credential_id)
    return json_response({"credential": credential_json(ctx, request, row)})


def update_credential(ctx: Context, request: Request, credential_id: str) -> Response:
    caller = ctx.caller(request)
    entity = entity_body(request, "credential")
    if not entity:
        raise invalid("credential", "{} does not have enough properties")
    if "id" in entity and entity["id"] != credential_id:
        raise invalid("id", "Cannot change ID")
    changes = {key: text(entity, field) for key, field in
               (("blob", "blob"), ("type_", "type"), ("user_id", "user_id"))
               if entity.get(field) is not None}
    if "project_id" in entity:
        changes["project_id"] = _project(entity) or ""
    extra = _extra(entity)
    if extra:
        changes["extra"] = extra
    row = ctx.ops.credential_blobs.update(caller, credential_id, **changes)
    return json_response({"credential": credential_json(ctx, request, row)})


def delete_credential(ctx: Context, request: Request, credential_id: str) -> Response:
    ctx.ops.credential_blobs.delete(ctx.caller(request), credential_id)
    return no_content()


# ---- /v3/users/{user_id}/credentials/OS-EC2 -------------------------------------------

def create_ec2_credential(ctx: Context, request: Request, user_id: str) -> Response:
    caller = ctx.caller(request)
    body = read_json(request)
    tenant_id = text(body, "tenant_id", required=True)
    row = ctx.ops.credential_blobs.ec2_create(caller, user_id, tenant_id)
    return json_response({"credential": ec2_json(ctx, request, row)}, status=201)


def list_ec2_credentials(ctx: Context, request: Request, user_id: str) -> Response:
    rows = ctx.ops.credential_blobs.ec2_list(ctx.caller(request), user_id)
    return list_response(ctx, request, "credentials", [ec2_json(ctx, request, r) for r in rows])


def get_ec2_credential(ctx: Context, request: Request, user_id: str, access: str) -> Response:
    row = ctx.ops.credential_blobs.ec2_get(ctx.caller(request), user_id, access)
    return json_response({"credential": ec2_json(ctx, request, row)})


def delete_ec2_credential(ctx: Context, request: Request, user_id: str, access: str) -> Response:
    ctx.ops.credential_blobs.ec2_delete(ctx.caller(request), user_id, access)
    return no_content()


# ---- POST /v3/ec2tokens -----------------------------------------------------------------

def _string_map(section: dict, key: str) -> dict:
    value = section.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid(f"credentials.{key}", f"{value!r} is not of type 'object'")
    mapped = {}
    for name, item in value.items():
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            raise invalid(f"credentials.{key}.{name}", "must be a string")
        mapped[name] = str(item)
    return mapped


def _ec2_credentials(request: Request) -> Ec2Credentials:
    body = read_json(request)
    if not body:
        raise HttpError(400, "request must include a request body")
    section = next((body[k] for k in EC2_BODY_KEYS if body.get(k)), {})
    if not isinstance(section, dict):
        raise invalid("credentials", f"{section!r} is not of type 'object'")
    fields = {}
    for key in ("access", "signature", "host", "verb", "path", "body_hash"):
        value = section.get(key)
        if value is not None and not isinstance(value, str):
            raise invalid(f"credentials.{key}", f"{value!r} is not of type 'string'")
        fields[key] = value or ""
    return Ec2Credentials(**fields, params=_string_map(section, "params"),
                          headers=_string_map(section, "headers"))


def ec2_tokens(ctx: Context, request: Request) -> Response:
    """A project-scoped token for a request signed with an EC2 credential (200, as
    Keystone answers here, with X-Subject-Token); 401 when it is not accepted."""
    token, info = ctx.ops.tokens.authenticate(
        _ec2_credentials(request), ScopeRequest(),
        include_catalog="nocatalog" not in request.args, source=request.remote_addr or "")
    return json_response(token_json(info), headers={"X-Subject-Token": token})


EC2 = "/v3/users/<user_id>/credentials/OS-EC2"
ROUTES = [
    ("POST", "/v3/credentials", create_credential),
    ("GET", "/v3/credentials", list_credentials),
    ("GET", "/v3/credentials/<credential_id>", get_credential),
    ("PATCH", "/v3/credentials/<credential_id>", update_credential),
    ("DELETE", "/v3/credentials/<credential_id>", delete_credential),
    ("POST", EC2, create_ec2_credential),
    ("GET", EC2, list_ec2_credentials),
    ("GET", f"{EC2}/<access>", get_ec2_credential),
    ("DELETE", f"{EC2}/<access>", delete_ec2_credential),
    ("POST", "/v3/ec2tokens", ec2_tokens),
]
