"""Keystone's OAuth1 extension: `/v3/OS-OAUTH1/...` (consumers, request tokens,
authorizing them, access tokens) and a user's access tokens
(`/v3/users/{user_id}/OS-OAUTH1/access_tokens...`).

Translation only. The signed calls hand the core what the signature covers
(`signed_request`: the URL as the client named it, the method, the Authorization
header, a form body); the core checks it. Their answers are form-encoded
(`oauth_token=...&oauth_token_secret=...&oauth_expires_at=...`), as Keystone's are.
"""

from datetime import datetime, timezone
from urllib.parse import urlencode, urlsplit, urlunsplit

from werkzeug.wrappers import Request, Response

from ..records import AccessTokenEntry, ConsumerEntry, OAuth1Credentials, Selector
from .admin_routes import entity_body, invalid, link, list_response, no_content, text
from .wsgi import Context, json_response, read_json

FORM = "application/x-www-form-urlencoded"
CONSUMER_FIELDS = ("id", "description", "secret", "links")


def oauth1_time(seconds: int | None) -> str | None:
    """Keystone's expiry times here: ISO 8601 with microseconds and a Z."""
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def signed_request(ctx: Context, request: Request) -> OAuth1Credentials:
    """What an OAuth1 signature covers. The URL is the one the request came in on,
    with the public URL's scheme (Keystone's: a TLS proxy in front makes http https)."""
    scheme = urlsplit(ctx.base_url(request)).scheme or request.scheme
    uri = urlunsplit((scheme, *urlsplit(request.url)[1:]))
    content_type = request.headers.get("Content-Type", "")
    body = request.get_data(as_text=True) if FORM in content_type else ""
    return OAuth1Credentials(uri=uri, http_method=request.method,
                             authorization=request.headers.get("Authorization", ""),
                             content_type=content_type, body=body)


def _form(status: int, fields: list[tuple[str, str]]) -> Response:
    return Response(urlencode(fields, safe=":"), status=status, content_type=FORM)


# ---- consumers ---------------------------------------------------------------------------

def consumer_json(ctx: Context, request: Request, entry: ConsumerEntry,
                  secret: str | None = None) -> dict:
    body = {**dict(entry.extra), "id": entry.id, "description": entry.description}
    if secret is not None:
        body["secret"] = secret
    body["links"] = {"self": link(ctx, request, f"OS-OAUTH1/consumers/{entry.id}")}
    return body


def _consumer_fields(entity: dict) -> tuple[str | None, dict]:
    """The description and the free attributes Keystone keeps beside it."""
    extra = {k: v for k, v in entity.items() if k not in CONSUMER_FIELDS}
    return text(entity, "description"), extra


def create_consumer(ctx: Context, request: Request) -> Response:
    caller = ctx.caller(request)
    body = read_json(request)
    entity = body.get("consumer", {})  # Keystone: the consumer object may be left out
    if not isinstance(entity, dict):
        raise invalid("consumer", f"{entity!r} is not of type 'object'")
    description, extra = _consumer_fields(entity)
    entry, secret = ctx.ops.oauth1.create_consumer(caller, description or "", extra)
    return json_response({"consumer": consumer_json(ctx, request, entry, secret)}, status=201)


def list_consumers(ctx: Context, request: Request) -> Response:
    entries = ctx.ops.oauth1.list_consumers(ctx.caller(request))
    return list_response(ctx, request, "consumers",
                         [consumer_json(ctx, request, e) for e in entries])


def get_consumer(ctx: Context, request: Request, consumer_id: str) -> Response:
    entry = ctx.ops.oauth1.get_consumer(ctx.caller(request), consumer_id)
    return json_response({"consumer": consumer_json(ctx, request, entry)})


def update_consumer(ctx: Context, request: Request, consumer_id: str) -> Response:
    caller = ctx.caller(request)
    entity = entity_body(request, "consumer")
    if "secret" in entity:
        raise invalid("secret", "a consumer's secret cannot be changed")
    if entity.get("id") not in (None, consumer_id):
        raise invalid("id", "does not match the consumer in the URL")
    description, extra = _consumer_fields(entity)
    entry = ctx.ops.oauth1.update_consumer(caller, consumer_id, description, extra)
    return json_response({"consumer": consumer_json(ctx, request, entry)})


def delete_consumer(ctx: Context, request: Request, consumer_id: str) -> Response:
    ctx.ops.oauth1.delete_consumer(ctx.caller(request), consumer_id)
    return no_content()


# ---- the signed flow ---------------------------------------------------------------------

def create_request_token(ctx: Context, request: Request) -> Response:
    entry, secret = ctx.ops.oauth1.create_request_token(
        signed_request(ctx, request), request.headers.get("Requested-Project-Id", ""))
    fields = [("oauth_token", entry.id), ("oauth_token_secret", secret)]
    if entry.expires_at is not None:
        fields.append(("oauth_expires_at", oauth1_time(entry.expires_at)))
    return _form(201, fields)


def _roles(body: dict) -> list[Selector]:
    roles = body.get("roles")
    if not isinstance(roles, list) or not roles:
        raise invalid("roles", "a non-empty array of roles, each {\"id\": ...} or "
                               "{\"name\": ...}, is required")
    selectors = []
    for role in roles:
        if not isinstance(role, dict) or not (set(role) & {"id", "name"}):
            raise invalid("roles", f"{role!r} names no role by id or name")
        selectors.append(Selector(id=text(role, "id") or "", name=text(role, "name") or ""))
    return selectors


def authorize_request_token(ctx: Context, request: Request, request_token_id: str) -> Response:
    caller = ctx.caller(request)
    roles = _roles(read_json(request))
    verifier = ctx.ops.oauth1.authorize_request_token(caller, request_token_id, roles)
    return json_response({"token": {"oauth_verifier": verifier}})


def create_access_token(ctx: Context, request: Request) -> Response:
    entry, secret = ctx.ops.oauth1.create_access_token(signed_request(ctx, request))
    fields = [("oauth_token", entry.id), ("oauth_token_secret", secret)]
    if entry.expires_at is not None:
        fields.append(("oauth_expires_at", oauth1_time(entry.expires_at)))
    return _form(201, fields)


# ---- a user's access tokens -----------------------------------------------------------------

def access_token_json(ctx: Context, request: Request, entry: AccessTokenEntry) -> dict:
    own = link(ctx, request, f"users/{entry.authorizing_user_id}/OS-OAUTH1/access_tokens/"
                             f"{entry.id}")
    return {"id": entry.id, "consumer_id": entry.consumer_id,
            "authorizing_user_id": entry.authorizing_user_id, "project_id": entry.project_id,
            "expires_at": oauth1_time(entry.expires_at),
            "links": {"roles": f"{own}/roles", "self": own}}


def role_json(ctx: Context, request: Request, role) -> dict:
    return {"id": role.id, "name": role.name, "domain_id": role.domain_id, "options": {},
            "links": {"self": link(ctx, request, f"roles/{role.id}")}}


def list_access_tokens(ctx: Context, request: Request, user_id: str) -> Response:
    entries = ctx.ops.oauth1.list_access_tokens(ctx.caller(request), user_id)
    return list_response(ctx, request, "access_tokens",
                         [access_token_json(ctx, request, e) for e in entries])


def get_access_token(ctx: Context, request: Request, user_id: str,
                     access_token_id: str) -> Response:
    entry = ctx.ops.oauth1.get_access_token(ctx.caller(request), user_id, access_token_id)
    return json_response({"access_token": access_token_json(ctx, request, entry)})


def delete_access_token(ctx: Context, request: Request, user_id: str,
                        access_token_id: str) -> Response:
    ctx.ops.oauth1.delete_access_token(ctx.caller(request), user_id, access_token_id)
    return no_content()


def list_access_token_roles(ctx: Context, request: Request, user_id: str,
                            access_token_id: str) -> Response:
    roles = ctx.ops.oauth1.list_access_token_roles(ctx.caller(request), user_id,
                                                   access_token_id)
    return list_response(ctx, request, "roles", [role_json(ctx, request, r) for r in roles])


def get_access_token_role(ctx: Context, request: Request, user_id: str, access_token_id: str,
                          role_id: str) -> Response:
    role = ctx.ops.oauth1.get_access_token_role(ctx.caller(request), user_id, access_token_id,
                                                role_id)
    return json_response({"role": role_json(ctx, request, role)})


_USER_TOKENS = "/v3/users/<user_id>/OS-OAUTH1/access_tokens"

ROUTES = [
    ("GET", "/v3/OS-OAUTH1/consumers", list_consumers),
    ("POST", "/v3/OS-OAUTH1/consumers", create_consumer),
    ("GET", "/v3/OS-OAUTH1/consumers/<consumer_id>", get_consumer),
    ("PATCH", "/v3/OS-OAUTH1/consumers/<consumer_id>", update_consumer),
    ("DELETE", "/v3/OS-OAUTH1/consumers/<consumer_id>", delete_consumer),
    ("POST", "/v3/OS-OAUTH1/request_token", create_request_token),
    ("PUT", "/v3/OS-OAUTH1/authorize/<request_token_id>", authorize_request_token),
    ("POST", "/v3/OS-OAUTH1/access_token", create_access_token),
    ("GET", _USER_TOKENS, list_access_tokens),
    ("GET", f"{_USER_TOKENS}/<access_token_id>", get_access_token),
    ("DELETE", f"{_USER_TOKENS}/<access_token_id>", delete_access_token),
    ("GET", f"{_USER_TOKENS}/<access_token_id>/roles", list_access_token_roles),
    ("GET", f"{_USER_TOKENS}/<access_token_id>/roles/<role_id>", get_access_token_role),
]
