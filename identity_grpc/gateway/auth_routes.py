"""Keystone's `/v3/auth/*` resources: issue, validate, check and revoke tokens, and
what a token's user may scope to.

Translation only: the body is read into the core's request types, the core decides,
and its answer is written in Keystone's token JSON. Where Keystone's HTTP API answers
differently from gRPC (a bad token in the token method, or a bad `X-Subject-Token`,
is 404, not 401; a refusal names the policy rule), the difference is made here, in
the status and message only.
"""

import json
from datetime import datetime, timezone
from typing import Callable

from werkzeug.wrappers import Request, Response

from .. import errors
from ..records import (ApiKeyCredentials, DomainRecord, OAuth1Credentials, PasswordCredentials, ProjectRecord,
                       ScopeRequest, Selector, ServiceRecord, TokenCredentials, TokenInfo)
from .admin_routes import query_flag, timestamp
from .oauth1_routes import signed_request
from .wsgi import Context, HttpError, json_response, read_json

FORBIDDEN = "You are not authorized to perform the requested action"
NO_SUBJECT = "No token in the request"
METHODS = ("password", "token", "oauth1", "application_credential")
# What a method is called in Keystone's token JSON where the core's name differs: the
# one place that decides it (an api key is an application credential, docs/appcreds.md).
WIRE_METHOD = {"api_key": "application_credential"}
SCOPES = ("project", "domain", "system", "OS-TRUST:trust")
SECRET_KEYS = ("password", "secret")  # `identity.password` and `identity.password.user.password`
# Which token operation a method is (the core checks the rule of that name, and a
# refusal names it).
RULE_FOR = {"GET": "identity:validate_token", "HEAD": "identity:check_token"}
# Where the core's field names sit in Keystone's request body.
BODY_FIELD = {"user": "identity.password.user", "password": "identity.password.user.password",
              "token.token": "identity.token.id",
              "api_key.user": "identity.application_credential.user"}


# ---- reading the request ------------------------------------------------------

def _invalid(field: str, problem: str) -> HttpError:
    return HttpError(400, f"Invalid input for field '{field}': {problem}")


def _not_of_type(key: str, value, kind: str) -> str:
    """Keystone's type error, which quotes the value: never a password's."""
    shown = "the value" if key in SECRET_KEYS else repr(value)
    return f"{shown} is not of type '{kind}'"


def _object(parent: dict, key: str, path: str, required: bool = False) -> dict | None:
    value = parent.get(key)
    if value is None:
        if required:
            raise _invalid(path or key, f"'{key}' is a required property")
        return None
    if not isinstance(value, dict):
        raise _invalid(f"{path}.{key}" if path else key, _not_of_type(key, value, "object"))
    return value


def _string(parent: dict, key: str, path: str) -> str:
    value = parent.get(key, "")
    if not isinstance(value, str):
        raise _invalid(f"{path}.{key}", _not_of_type(key, value, "string"))
    return value


def _selector(obj: dict, path: str, with_domain: bool) -> Selector:
    domain = None
    if with_domain:
        d = _object(obj, "domain", path)
        if d is not None:
            domain = Selector(id=_string(d, "id", f"{path}.domain"),
                              name=_string(d, "name", f"{path}.domain"))
    return Selector(id=_string(obj, "id", path), name=_string(obj, "name", path), domain=domain)


def _method(identity: dict) -> str:
    methods = identity.get("methods")
    if methods is None:
        raise _invalid("identity", "'methods' is a required property")
    if not isinstance(methods, list) or not all(isinstance(m, str) for m in methods):
        raise _invalid("identity.methods", f"{methods!r} is not an array of strings")
    if len(methods) != 1:
        raise _invalid("identity.methods", "exactly one authentication method is supported, "
                       f"one of {', '.join(METHODS)}")
    method = methods[0]
    if method not in METHODS:
        raise _invalid("identity.methods", f"unsupported method {method!r}; "
                       f"supported: {', '.join(METHODS)}")
    return method


def _credentials(identity: dict, method: str, signed: Callable[[], OAuth1Credentials]):
    section = _object(identity, method, "identity")
    if section is None:
        raise _invalid("identity", f"Expecting to find {method} in identity")
    if method == "oauth1":  # the request's OAuth1 signature is the credential
        return signed()
    if method == "application_credential":
        return _app_cred_credentials(section)
    if method == "token":
        token = _string(section, "id", "identity.token")
        if not token:
            raise _invalid("identity.token", "'id' is a required property")
        return TokenCredentials(token=token)
    user = _object(section, "user", "identity.password", required=True)
    return PasswordCredentials(user=_selector(user, "identity.password.user", True),
                               password=_string(user, "password", "identity.password.user"))


def _app_cred_credentials(section: dict) -> ApiKeyCredentials:
    path = "identity.application_credential"
    secret = _string(section, "secret", path)
    if not secret:
        raise _invalid(path, "'secret' is a required property")
    cred_id, name = _string(section, "id", path), _string(section, "name", path)
    user = _object(section, "user", path)
    if not cred_id and not name:
        raise _invalid(path, "'id' or 'name' is a required property")
    if not cred_id and user is None:
        raise _invalid(path, "an application credential named by name needs its 'user'")
    return ApiKeyCredentials(id=cred_id, name=name if not cred_id else "", secret=secret,
                             user=_selector(user, f"{path}.user", True) if user else None)


def _scope(auth: dict) -> ScopeRequest:
    scope = auth.get("scope")
    if scope is None or scope == "unscoped":
        return ScopeRequest()
    if not isinstance(scope, dict):
        raise _invalid("scope", f"{scope!r} is not of type 'object'")
    named = [k for k in SCOPES if scope.get(k) is not None]
    unknown = sorted(set(scope) - set(SCOPES))
    if unknown:
        raise _invalid("scope", f"unsupported scope {unknown[0]!r}; one of {', '.join(SCOPES)}")
    if not named:
        return ScopeRequest()
    if len(named) > 1:
        raise _invalid("scope", "a token is scoped to one of a project, a domain or the system")
    kind = named[0]
    target = _object(scope, kind, "scope")
    if kind == "system":
        if target.get("all") is not True:
            raise _invalid("scope.system.all", "must be true (the whole system)")
        return ScopeRequest("system")
    if kind == "OS-TRUST:trust":
        trust_id = _string(target, "id", "scope.OS-TRUST:trust")
        if not trust_id:
            raise _invalid("scope.OS-TRUST:trust", "'id' is a required property")
        return ScopeRequest("trust", Selector(id=trust_id))
    return ScopeRequest(kind, _selector(target, f"scope.{kind}", kind == "project"))


def _auth_request(ctx: Context, request: Request):
    auth = _object(read_json(request), "auth", "", required=True)
    identity = _object(auth, "identity", "", required=True)
    method = _method(identity)
    if method == "application_credential" and auth.get("scope") is not None:
        raise HttpError(401, "Application credentials cannot request a scope.")
    return _credentials(identity, method, lambda: signed_request(ctx, request)), _scope(auth)


def _body_field(field: str) -> str:
    for core_name, body_name in BODY_FIELD.items():
        if field == core_name or field.startswith(core_name + "."):
            return body_name + field[len(core_name):]
    return field


def _subject(request: Request) -> str:
    token = request.headers.get("X-Subject-Token")
    if not token:
        raise HttpError(404, NO_SUBJECT)
    return token


def _subject_error(e: errors.InvalidSubjectToken) -> HttpError:
    reason = e.message.removeprefix("subject_token: ")
    return HttpError(404, f"Could not recognize token: {reason}")


# ---- writing the answer ---------------------------------------------------------

def _time(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000000Z")


def _time_ms(milliseconds: int) -> str:
    return datetime.fromtimestamp(milliseconds / 1000, timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ")


def _domain_ref(d: DomainRecord) -> dict:
    return {"id": d.id, "name": d.name}


def catalog_json(services: tuple[ServiceRecord, ...]) -> list[dict]:
    return [{"endpoints": [{"id": e.id, "interface": e.interface, "region_id": e.region or None,
                            "url": e.url, "region": e.region or None} for e in s.endpoints],
             "id": s.id, "type": s.type, "name": s.name} for s in services]


def token_json(info: TokenInfo) -> dict:
    """Keystone's token body, keys in Keystone's order."""
    ident = info.identity
    user = ident.user
    token = {"methods": [WIRE_METHOD.get(m, m) for m in info.methods],
             "user": {"domain": _domain_ref(user.domain), "id": user.id, "name": user.name,
                      "password_expires_at": timestamp(user.password_expires_at)},
             "audit_ids": list(info.audit_ids),
             "expires_at": _time(info.expires_at), "issued_at": _time_ms(info.issued_at)}
    roles = [{"id": r.id, "name": r.name} for r in ident.roles]
    if ident.scope_type == "project":
        p = ident.project
        token["project"] = {"domain": _domain_ref(p.domain), "id": p.id, "name": p.name}
        token["is_domain"] = p.is_domain
        token["roles"] = roles
    elif ident.scope_type == "domain":
        token["domain"] = _domain_ref(ident.domain)
        token["roles"] = roles
    elif ident.scope_type == "system":
        token["roles"] = roles
        token["system"] = {"all": True}
    if ident.trust is not None:
        trust = ident.trust
        token["OS-TRUST:trust"] = {"id": trust.id, "impersonation": trust.impersonation,
                                   "trustor_user": {"id": trust.trustor_user_id},
                                   "trustee_user": {"id": trust.trustee_user_id}}
    if ident.api_key is not None:
        key = ident.api_key
        token["application_credential"] = {"id": key.id, "name": key.name,
                                           "restricted": not key.unrestricted}
        if key.access_rules:
            token["application_credential"]["access_rules"] = [
                {"id": i, "service": service, "path": path, "method": method}
                for i, service, path, method in key.access_rules]
    if info.access_token_id is not None:
        token["OS-OAUTH1"] = {"access_token_id": info.access_token_id,
                              "consumer_id": ident.oauth1_consumer_id}
    if info.catalog is not None and ident.scope_type != "unscoped":
        token["catalog"] = catalog_json(info.catalog)
    return {"token": token}


def _self_link(ctx: Context, request: Request) -> str:
    url = ctx.base_url(request) + request.path
    query = request.query_string.decode("latin-1")
    return f"{url}?{query}" if query else url


def _resource_response(body: dict) -> Response:
    """Keystone's flask-restful resources (these listings, unlike the token API) end
    their body with a newline; samples 35-41 have it on the wire."""
    return Response(json.dumps(body) + "\n", content_type="application/json")


def _project_json(p: ProjectRecord, base: str) -> dict:
    return {"id": p.id, "name": p.name, "domain_id": p.domain.id, "description": p.description,
            "enabled": p.enabled, "parent_id": p.parent_id or p.domain.id,
            "is_domain": p.is_domain, "tags": [], "options": {},
            "links": {"self": f"{base}/v3/projects/{p.id}"}}


def _domain_json(d: DomainRecord, base: str) -> dict:
    return {"id": d.id, "name": d.name, "description": d.description, "enabled": d.enabled,
            "tags": [], "options": {}, "links": {"self": f"{base}/v3/domains/{d.id}"}}


# ---- the routes ---------------------------------------------------------------------

def issue_token(ctx: Context, request: Request) -> Response:
    credentials, scope = _auth_request(ctx, request)
    tokens = ctx.ops.tokens
    try:
        if isinstance(credentials, TokenCredentials):
            # Keystone answers 404 when the token being exchanged is not valid.
            tokens.validate(credentials.token, include_catalog=False,
                          error=errors.InvalidSubjectToken)
        token, info = tokens.authenticate(credentials, scope,
                                        include_catalog="nocatalog" not in request.args,
                                        source=request.remote_addr or "")
    except errors.InvalidSubjectToken as e:
        raise _subject_error(e) from None
    except errors.InvalidArgument as e:
        problem = e.message.removeprefix(f"{e.field}: ")
        raise _invalid(_body_field(e.field), problem) from None
    return json_response(token_json(info), status=201, headers={"X-Subject-Token": token})


def validate_token(ctx: Context, request: Request) -> Response:
    """GET, and HEAD (the same headers, no body: werkzeug drops it)."""
    caller = ctx.caller(request)
    subject = _subject(request)
    try:
        info = ctx.ops.tokens.validate_for(caller, subject,
                                          include_catalog="nocatalog" not in request.args,
                                          rule=RULE_FOR[request.method],
                                          allow_expired=bool(query_flag(request, "allow_expired")))
    except errors.InvalidSubjectToken as e:
        raise _subject_error(e) from None
    return json_response(token_json(info), headers={"X-Subject-Token": subject})


def revoke_token(ctx: Context, request: Request) -> Response:
    caller = ctx.caller(request)
    subject = _subject(request)
    try:
        ctx.ops.tokens.revoke(caller, subject)
    except errors.InvalidSubjectToken as e:
        raise _subject_error(e) from None
    response = Response(status=204)
    del response.headers["Content-Type"]
    return response


def _listing(ctx: Context, request: Request, key: str, items: list) -> Response:
    links = {"next": None, "self": _self_link(ctx, request), "previous": None}
    return _resource_response({key: items, "links": links})


def list_projects(ctx: Context, request: Request) -> Response:
    projects = ctx.ops.tokens.projects(ctx.caller(request))
    base = ctx.base_url(request)
    return _listing(ctx, request, "projects", [_project_json(p, base) for p in projects])


def list_domains(ctx: Context, request: Request) -> Response:
    domains = ctx.ops.tokens.domains(ctx.caller(request))
    base = ctx.base_url(request)
    return _listing(ctx, request, "domains", [_domain_json(d, base) for d in domains])


def get_catalog(ctx: Context, request: Request) -> Response:
    caller = ctx.caller(request)
    try:
        services = ctx.ops.tokens.catalog(caller)
    except errors.PermissionDenied:
        raise HttpError(403, f"{FORBIDDEN}.") from None
    return _resource_response({"catalog": catalog_json(services),
                               "links": {"self": _self_link(ctx, request)}})


def get_system(ctx: Context, request: Request) -> Response:
    targets = ctx.ops.tokens.system_scopes(ctx.caller(request))
    return _resource_response({"system": [{"all": True}] if "all" in targets else [],
                               "links": {"self": _self_link(ctx, request)}})


ROUTES = [
    ("POST", "/v3/auth/tokens", issue_token),
    ("GET", "/v3/auth/tokens", validate_token),
    ("DELETE", "/v3/auth/tokens", revoke_token),
    ("GET", "/v3/auth/projects", list_projects),
    ("GET", "/v3/auth/domains", list_domains),
    ("GET", "/v3/auth/catalog", get_catalog),
    ("GET", "/v3/auth/system", get_system),
]
