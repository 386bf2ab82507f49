"""JSON bodies the gateway refuses with a 400 and a message, never a 500: nesting
past json_body.MAX_DEPTH (32) levels, strings or keys that are not valid Unicode
(lone surrogates such as "\\ud800"), NaN and Infinity; and type errors on password
fields that name the field and the type but never echo the value."""

import json
import urllib.error
import urllib.request

import pytest

import support
from identity_grpc.gateway.json_body import MAX_DEPTH

AUTH = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
    "name": "alice", "domain": {"id": "default"}, "password": "mypassword123"}}}}}


def post(url: str, raw: str, method: str = "POST", token: str | None = None):
    """(status, parsed error body or None) for a raw JSON text."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["X-Auth-Token"] = token
    request = urllib.request.Request(url, data=raw.encode(), method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, None
    except urllib.error.HTTPError as e:
        body = e.read()
        return e.code, json.loads(body) if body else None


def nested(depth: int) -> str:
    """A JSON array `depth` containers deep."""
    return "[" * depth + "]" * depth


def with_raw(body: dict, marker: str, raw: str) -> str:
    """`body` as JSON with the string value `marker` replaced by raw JSON text."""
    return json.dumps(body).replace(json.dumps(marker), raw)


LONE = '"\\ud800"'  # the JSON escape of a lone high surrogate
AUTH_CASES = {
    "deep_in_a_field": with_raw({"auth": {"identity": "DEEP"}}, "DEEP", nested(1000)),
    "deep_past_the_limit": with_raw({"auth": {"x": "DEEP"}}, "DEEP", nested(MAX_DEPTH)),
    "very_deep_body": nested(50_000),
    "lone_surrogate_in_user_name": json.dumps(AUTH).replace('"alice"', LONE),
    "lone_surrogate_in_password": json.dumps(AUTH).replace('"mypassword123"', LONE),
    "lone_surrogate_in_a_key": json.dumps(AUTH).replace('"methods"', '"\\udc00methods"'),
    "lone_surrogate_in_domain_id": json.dumps(AUTH).replace('"default"', LONE),
    "nan": json.dumps(AUTH).replace('"mypassword123"', "NaN"),
}


def test_bad_json_bodies_on_auth_tokens_are_400_with_a_message(gateway):
    for case, raw in AUTH_CASES.items():
        status, body = post(f"{gateway}/v3/auth/tokens", raw)
        assert status == 400, (case, body)
        assert body["error"]["code"] == 400 and body["error"]["title"] == "Bad Request", case
        assert body["error"]["message"], case


def test_the_depth_limit_is_32_levels(gateway):
    """An unknown member of `auth` is ignored, however it is nested, up to the limit."""
    def login_with(depth: int):  # containers in all: the body, `auth`, then arrays
        body = {"auth": {**AUTH["auth"], "x": "DEEP"}}
        return post(f"{gateway}/v3/auth/tokens", with_raw(body, "DEEP", nested(depth - 2)))

    assert login_with(MAX_DEPTH)[0] == 201
    status, body = login_with(MAX_DEPTH + 1)
    assert status == 400
    assert body["error"]["message"] == "The request body is nested more than 32 levels deep."


@pytest.fixture
def ids(service):
    """Ids of alice, project acme and role member, read through the admin API."""
    from identity_api.admin.v1 import admin_pb2 as apb
    admin = support.AdminClient(service.channel, support.system_admin_token(service.stub))
    user = admin.call(admin.users.ListUsers, apb.ListUsersRequest(name="alice")).users[0]
    project = admin.call(admin.projects.ListProjects,
                         apb.ListProjectsRequest(name="acme")).projects[0]
    role = admin.call(admin.roles.ListRoles, apb.ListRolesRequest(name="member")).roles[0]
    return {"user": user.id, "project": project.id, "role": role.id}


ADMIN_ROUTES = [
    ("POST", "/v3/users", "user", {"name": "NAME", "domain_id": "default"}),
    ("PATCH", "/v3/users/{user}", "user", {"description": "NAME"}),
    ("POST", "/v3/users/{user}/password", "user",
     {"original_password": "NAME", "password": "new-password-1"}),
    ("POST", "/v3/projects", "project", {"name": "NAME", "domain_id": "default"}),
    ("PATCH", "/v3/projects/{project}", "project", {"description": "NAME"}),
    ("POST", "/v3/groups", "group", {"name": "NAME", "domain_id": "default"}),
    ("POST", "/v3/roles", "role", {"name": "NAME"}),
    ("PUT", "/v3/projects/{project}/users/{user}/roles/{role}", "role", {"name": "NAME"}),
    ("POST", "/v3/domains", "domain", {"name": "NAME"}),
    ("POST", "/v3/regions", "region", {"description": "NAME"}),
]


def test_bad_json_bodies_on_admin_routes_are_400_never_500(gateway, service, ids):
    token = support.system_admin_token(service.stub)
    for method, path, key, entity in ADMIN_ROUTES:
        body = {key: entity}
        cases = {
            "lone surrogate in a value": json.dumps(body).replace('"NAME"', LONE),
            "lone surrogate in a key": json.dumps(body).replace(
                f'"{key}": {{', f'"{key}": {{"\\udfff": 1, ', 1),
            "nested 1000 deep": with_raw(body, "NAME", nested(1000)),
            "nested 33 deep": with_raw(body, "NAME", nested(MAX_DEPTH)),
        }
        for case, raw in cases.items():
            status, error = post(gateway + path.format(**ids), raw, method=method, token=token)
            if method == "PUT":  # a grant has no body: whatever comes is not read
                assert status == 204, (method, path, case, error)
                continue
            assert status == 400, (method, path, case, error)
            assert error["error"]["message"], (method, path, case)


TYPED_AUTH = [
    ({"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "alice", "domain": {"id": "default"}, "password": ["hunter2-secret"]}}}}},
     "identity.password.user.password"),
    ({"auth": {"identity": {"methods": ["password"], "password": "hunter2-secret"}}},
     "identity.password"),
]
TYPED_ADMIN = [
    ("POST", "/v3/users", {"name": "carol", "password": {"secret": "hunter2-secret"}},
     "password"),
    ("PATCH", "/v3/users/{user}", {"password": 12345678}, "password"),
    ("POST", "/v3/users/{user}/password",
     {"original_password": ["hunter2-secret"], "password": "new-password-1"},
     "original_password"),
    ("POST", "/v3/users/{user}/password",
     {"original_password": "mypassword123", "password": 12345678}, "password"),
]


def test_a_wrongly_typed_password_is_named_but_never_echoed(gateway, service, ids):
    for body, field in TYPED_AUTH:
        status, error = post(f"{gateway}/v3/auth/tokens", json.dumps(body))
        message = error["error"]["message"]
        assert status == 400, field
        assert message == f"Invalid input for field '{field}': the value is not of type " + \
            ("'object'" if field == "identity.password" else "'string'")
    token = support.system_admin_token(service.stub)
    for method, path, entity, field in TYPED_ADMIN:
        status, error = post(gateway + path.format(**ids), json.dumps({"user": entity}),
                             method=method, token=token)
        assert status == 400, (method, path)
        assert error["error"]["message"] == \
            f"Invalid input for field '{field}': the value is not of type 'string'"
