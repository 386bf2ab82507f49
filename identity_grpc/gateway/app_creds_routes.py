"""Keystone's application credentials and access rules:
`/v3/users/{user_id}/application_credentials` and `/v3/users/{user_id}/access_rules`.

They are our API keys (docs/appcreds.md). Translation only: the body is type-checked
as Keystone's schema does, one operation decides (the project is the token's, the
rules are Keystone's), and the answer is Keystone's JSON: the secret Keystone shows is
the part of our key after `<id>.`, and `expires_at` is shown back as it was given, to
the microsecond, without a zone (Keystone's naive UTC).
"""

from datetime import datetime, timedelta, timezone

from werkzeug.wrappers import Request, Response

from ..records import AccessRuleSpec, ApiKeyRequest
from .admin_routes import (entity_body, flag, invalid, iso_time, link, list_response,
                           no_content, text)
from .wsgi import Context, json_response

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_FIELDS = {"name", "description", "secret", "expires_at", "roles", "unrestricted",
           "access_rules"}
_RULE_FIELDS = {"id", "service", "path", "method"}


def _isotime(micros: int | None) -> str | None:
    if micros is None:
        return None
    return (_EPOCH + timedelta(microseconds=micros)).replace(tzinfo=None).isoformat()


def _rule_json(ctx: Context, request: Request, rule, with_link: bool) -> dict:
    body = {"id": rule.id, "service": rule.service, "path": rule.path, "method": rule.method}
    if with_link:
        body["links"] = {"self": link(ctx, request, f"users/{rule.user_id}/access_rules/{rule.id}")}
    return body


def app_cred_json(ctx: Context, request: Request, entry) -> dict:
    """Keystone's application credential, without its secret."""
    return {
        "id": entry.id, "name": entry.name, "description": entry.description or None,
        "user_id": entry.user_id, "project_id": entry.project_id,
        "roles": [{"id": r.id, "name": r.name, "domain_id": r.domain_id} for r in entry.roles],
        "expires_at": _isotime(entry.expires_at_us), "unrestricted": entry.unrestricted,
        "access_rules": [_rule_json(ctx, request, r, False) for r in entry.access_rules],
        "links": {"self": link(ctx, request, f"users/{entry.user_id}/application_credentials/"
                                             f"{entry.id}")}}


# ---- reading the request ---------------------------------------------------------

def _expires_at(entity: dict) -> int | None:
    """Microseconds: Keystone shows an application credential's expiry back exactly."""
    when = iso_time(entity, "expires_at")
    return None if when is None else (when - _EPOCH) // timedelta(microseconds=1)


def _roles(entity: dict) -> tuple[tuple[str, str], ...]:
    roles = entity.get("roles")
    if roles is None:
        return ()
    if not isinstance(roles, list):
        raise invalid("roles", f"{roles!r} is not of type 'array'")
    refs = []
    for role in roles:
        kind = "id" if isinstance(role, dict) and "id" in role else "name"
        value = role.get(kind) if isinstance(role, dict) else None
        if not isinstance(value, str) or not value:
            raise invalid("roles", f"{role!r}: each role is an object with a non-empty "
                          "'id' or 'name'")
        refs.append((kind, value))
    return tuple(refs)


def _access_rules(entity: dict) -> tuple[AccessRuleSpec, ...]:
    rules = entity.get("access_rules")
    if rules is None:
        return ()
    if not isinstance(rules, list):
        raise invalid("access_rules", f"{rules!r} is not of type 'array'")
    specs = []
    for rule in rules:
        if not isinstance(rule, dict):
            raise invalid("access_rules", f"{rule!r} is not of type 'object'")
        unknown = sorted(set(rule) - _RULE_FIELDS)
        if unknown:
            raise invalid("access_rules", f"Additional properties are not allowed "
                          f"({unknown[0]!r} was unexpected)")
        fields = {k: text(rule, k) or "" for k in _RULE_FIELDS}
        if not fields["id"]:
            for required in ("service", "path", "method"):
                if not fields[required]:
                    raise invalid(f"access_rules.{required}", f"'{required}' is a required "
                                  "property (or name an existing rule by 'id')")
        specs.append(AccessRuleSpec(**fields))
    return tuple(specs)


def app_cred_request(entity: dict, user_id: str) -> ApiKeyRequest:
    unknown = sorted(set(entity) - _FIELDS)
    if unknown:
        raise invalid("application_credential", f"Additional properties are not allowed "
                      f"({unknown[0]!r} was unexpected)")
    name = text(entity, "name", required=True)
    if not name.strip():
        raise invalid("name", f"{name!r} is too short")
    secret = text(entity, "secret")
    if secret is not None and not secret:
        raise invalid("secret", "'' is too short")
    return ApiKeyRequest(
        project_id="", user_id=user_id, name=name, description=text(entity, "description") or "",
        roles=_roles(entity), expires_at_us=_expires_at(entity),
        unrestricted=bool(flag(entity, "unrestricted")), secret=secret or "",
        access_rules=_access_rules(entity), on_behalf=None)


# ---- the routes ----------------------------------------------------------------------

def create_app_cred(ctx: Context, request: Request, user_id: str) -> Response:
    caller = ctx.caller(request)
    entity = entity_body(request, "application_credential")
    made = ctx.ops.api_keys.create(caller, app_cred_request(entity, user_id))
    body = app_cred_json(ctx, request, made.entry)
    body["secret"] = made.secret
    return json_response({"application_credential": body}, status=201)


def list_app_creds(ctx: Context, request: Request, user_id: str) -> Response:
    entries = ctx.ops.api_keys.list(ctx.caller(request), user_id,
                                    name=request.args.get("name"))
    return list_response(ctx, request, "application_credentials",
                         [app_cred_json(ctx, request, e) for e in entries])


def get_app_cred(ctx: Context, request: Request, user_id: str, app_cred_id: str) -> Response:
    entry = ctx.ops.api_keys.get(ctx.caller(request), app_cred_id, user_id=user_id)
    return json_response({"application_credential": app_cred_json(ctx, request, entry)})


def delete_app_cred(ctx: Context, request: Request, user_id: str, app_cred_id: str) -> Response:
    ctx.ops.api_keys.delete(ctx.caller(request), app_cred_id, user_id=user_id)
    return no_content()


def list_access_rules(ctx: Context, request: Request, user_id: str) -> Response:
    rules = ctx.ops.api_keys.access_rules(ctx.caller(request), user_id)
    return list_response(ctx, request, "access_rules",
                         [_rule_json(ctx, request, r, True) for r in rules])


def get_access_rule(ctx: Context, request: Request, user_id: str, rule_id: str) -> Response:
    rule = ctx.ops.api_keys.access_rule(ctx.caller(request), user_id, rule_id)
    return json_response({"access_rule": _rule_json(ctx, request, rule, True)})


def delete_access_rule(ctx: Context, request: Request, user_id: str, rule_id: str) -> Response:
    ctx.ops.api_keys.delete_access_rule(ctx.caller(request), user_id, rule_id)
    return no_content()


_CREDS = "/v3/users/<user_id>/application_credentials"
_RULES = "/v3/users/<user_id>/access_rules"
ROUTES = [
    ("POST", _CREDS, create_app_cred),
    ("GET", _CREDS, list_app_creds),
    ("GET", f"{_CREDS}/<app_cred_id>", get_app_cred),
    ("DELETE", f"{_CREDS}/<app_cred_id>", delete_app_cred),
    ("GET", _RULES, list_access_rules),
    ("GET", f"{_RULES}/<rule_id>", get_access_rule),
    ("DELETE", f"{_RULES}/<rule_id>", delete_access_rule),
]
