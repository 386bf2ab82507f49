"""The `/v3/auth/*` resources over HTTP, compared with the reference wire format.

Ids, tokens and times differ from the samples, so success bodies are compared by
shape (the same keys in the same order, the same value types); error bodies whose
message is Keystone's own are compared byte for byte.
"""

import json
import re
import urllib.error
import urllib.request
from datetime import datetime

from support import DEMO_PASSWORDS
from test_gateway_discovery import SAMPLES, fetch

# Keystone's "%Y-%m-%dT%H:%M:%S.%fZ". Its Fernet tokens hold whole seconds, so its samples
# end in .000000Z; our issue times hold milliseconds (docs/tokens.md), so ours may not.
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
JSON_HEADERS = {"Content-Type": "application/json"}


# ---- helpers ------------------------------------------------------------------------

def same_shape(actual, sample, path: str = "$") -> None:
    """Assert `actual` has the shape of `sample`: dicts with the same keys in the same
    order, lists whose items all look like the sample's first, the same scalar types,
    and Keystone's time format wherever the sample has a time."""
    if isinstance(sample, dict):
        assert isinstance(actual, dict), f"{path}: {actual!r} is not an object"
        assert list(actual) == list(sample), f"{path}: keys {list(actual)} != {list(sample)}"
        for key in sample:
            same_shape(actual[key], sample[key], f"{path}.{key}")
    elif isinstance(sample, list):
        assert isinstance(actual, list), f"{path}: {actual!r} is not a list"
        assert bool(actual) == bool(sample), f"{path}: {len(actual)} items, sample {len(sample)}"
        for i, item in enumerate(actual):
            same_shape(item, sample[0], f"{path}[{i}]")
    elif sample is None:
        assert actual is None, f"{path}: {actual!r} is not null"
    else:
        assert type(actual) is type(sample), f"{path}: {actual!r} is not a {type(sample).__name__}"
        if isinstance(sample, str) and TIME.match(sample):
            assert TIME.match(actual), f"{path}: {actual!r} is not Keystone's time format"


def sample(name: str) -> dict:
    return SAMPLES[name]["response"]


def rebased(name: str, base: str) -> str:
    return sample(name)["raw_body"].replace("http://127.0.0.1:5000", base)


def user_ref(name: str = "", user_id: str = "", password: str | None = None) -> dict:
    user = {"id": user_id} if user_id else {"name": name, "domain": {"id": "default"}}
    user["password"] = DEMO_PASSWORDS.get(name, "") if password is None else password
    return user


def auth_body(user: dict | None = None, scope: dict | None = None, token: str = "") -> dict:
    if token:
        identity = {"methods": ["token"], "token": {"id": token}}
    else:
        identity = {"methods": ["password"], "password": {"user": user}}
    auth = {"identity": identity}
    if scope is not None:
        auth["scope"] = scope
    return {"auth": auth}


def post_tokens(base: str, body, query: str = ""):
    """POST /v3/auth/tokens; `body` is JSON-encoded unless it is already text."""
    data = body if isinstance(body, str) else json.dumps(body)
    request = urllib.request.Request(f"{base}/v3/auth/tokens{query}", data=data.encode(),
                                     method="POST", headers=JSON_HEADERS)
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def login(base: str, name: str, scope: dict | None = None, query: str = "") -> tuple[str, dict]:
    status, headers, body = post_tokens(base, auth_body(user_ref(name), scope), query)
    assert status == 201, body
    return headers["X-Subject-Token"], json.loads(body)


def project(name: str, domain_id: str = "default") -> dict:
    return {"project": {"name": name, "domain": {"id": domain_id}}}


SYSTEM = {"system": {"all": True}}


def subject_request(base: str, caller: str, subject: str | None, method: str = "GET",
                    query: str = ""):
    headers = {"X-Auth-Token": caller}
    if subject is not None:
        headers["X-Subject-Token"] = subject
    return fetch(f"{base}/v3/auth/tokens{query}", method=method, headers=headers)


def assert_keystone_error(got, name: str, base: str) -> None:
    """Same status and byte-identical body as the sample; a 401 carries the challenge."""
    status, headers, body = got
    expected = sample(name)
    assert (status, body) == (expected["status"], rebased(name, base))
    assert headers["Content-Type"] == "application/json"
    assert "X-Subject-Token" not in headers
    if status == 401:
        assert headers["WWW-Authenticate"] == f'Keystone uri="{base}/v3"'


def assert_common_headers(headers) -> None:
    assert headers["Vary"] == "X-Auth-Token"
    assert headers["x-openstack-request-id"].startswith("req-")


# ---- issuing ------------------------------------------------------------------------

def test_password_unscoped_token_has_no_roles_and_no_catalog(gateway, service):
    status, headers, body = post_tokens(gateway, auth_body(user_ref("alice")))
    assert status == 201
    assert headers["Content-Type"] == "application/json"
    assert int(headers["Content-Length"]) == len(body.encode())
    assert_common_headers(headers)
    token = json.loads(body)
    same_shape(token, sample("06-auth-password-unscoped")["body"])
    assert body == json.dumps(token)  # json.dumps' default separators, no newline
    info = service.core.tokens.validate(headers["X-Subject-Token"])
    assert token["token"]["user"]["id"] == info.identity.user.id
    assert token["token"]["audit_ids"] == list(info.audit_ids)


def test_project_scoped_token_by_id_and_by_name(gateway):
    _, by_name = login(gateway, "alice", project("acme"))
    same_shape(by_name, sample("08-auth-password-project-name")["body"])
    acme_id = by_name["token"]["project"]["id"]
    _, by_id = login(gateway, "alice", {"project": {"id": acme_id}})
    same_shape(by_id, sample("07-auth-password-project-id")["body"])
    token = by_id["token"]
    assert token["project"] == {"domain": {"id": "default", "name": "Default"}, "id": acme_id,
                                "name": "acme"}
    assert token["is_domain"] is False
    assert [r["name"] for r in token["roles"]] == ["compute-user"]
    services = {s["type"]: s for s in token["catalog"]}
    assert services["compute"]["endpoints"][0]["url"] == "http://127.0.0.1:8774/v2.1"
    assert services["compute"]["endpoints"][0]["region_id"] == "RegionOne"
    lifetime = 3600
    issued, expires = (datetime.strptime(token[k], "%Y-%m-%dT%H:%M:%S.%fZ")
                       for k in ("issued_at", "expires_at"))
    # Expiry is whole seconds, the issue time milliseconds: within a second of the lifetime.
    assert lifetime - 1 < (expires - issued).total_seconds() <= lifetime


def test_project_named_with_its_domain_name(gateway):
    scope = {"project": {"name": "bar", "domain": {"name": "Foo"}}}
    status, _, body = post_tokens(gateway, auth_body(user_ref("admin"), scope))
    assert status == 401  # admin holds no role on Foo's projects
    _, token = login(gateway, "alice", {"project": {"name": "cyberdyne",
                                                    "domain": {"name": "Default"}}})
    assert token["token"]["project"]["name"] == "cyberdyne"


def test_user_by_id(gateway):
    _, unscoped = login(gateway, "alice")
    alice_id = unscoped["token"]["user"]["id"]
    status, _, body = post_tokens(gateway, auth_body(
        user_ref(user_id=alice_id, password="mypassword123"), project("acme")))
    assert status == 201
    same_shape(json.loads(body), sample("09-auth-password-user-id")["body"])


def test_role_through_a_group_with_implied_roles(gateway):
    _, token = login(gateway, "bob", project("acme"))
    same_shape(token, sample("10-auth-password-group-role")["body"])
    assert {r["name"] for r in token["token"]["roles"]} == {"member", "reader"}


def test_domain_scoped_token(gateway):
    _, token = login(gateway, "admin", {"domain": {"id": "default"}})
    same_shape(token, sample("11-auth-password-domain")["body"])
    assert token["token"]["domain"] == {"id": "default", "name": "Default"}
    assert {r["name"] for r in token["token"]["roles"]} == {"admin", "manager", "member", "reader"}
    _, by_name = login(gateway, "admin", {"domain": {"name": "Default"}})
    assert by_name["token"]["domain"]["id"] == "default"


def test_system_scoped_token(gateway):
    _, token = login(gateway, "admin", SYSTEM)
    same_shape(token, sample("12-auth-password-system")["body"])
    assert token["token"]["system"] == {"all": True}


def test_token_method_rescopes_keeping_expiry_and_the_original_audit_id(gateway):
    unscoped, original = login(gateway, "alice")
    status, headers, body = post_tokens(gateway, auth_body(
        token=unscoped, scope=project("cyberdyne")))
    assert status == 201
    rescoped = json.loads(body)
    same_shape(rescoped, sample("13-auth-token-rescope")["body"])
    token = rescoped["token"]
    assert token["methods"] == ["password", "token"]
    assert token["audit_ids"][1] == original["token"]["audit_ids"][0]
    assert token["expires_at"] == original["token"]["expires_at"]
    assert headers["X-Subject-Token"] != unscoped


def test_nocatalog_leaves_the_catalog_out(gateway):
    _, token = login(gateway, "alice", project("acme"), query="?nocatalog")
    same_shape(token, sample("14-auth-password-nocatalog")["body"])
    assert "catalog" not in token["token"]


def test_every_failed_authentication_gets_the_same_401(gateway, service):
    cases = {
        "15-auth-wrong-password": auth_body(user_ref("alice", password="wrong-password")),
        "16-auth-unknown-user": auth_body(user_ref("nobody", password="whatever123")),
        "17-auth-no-role-on-project": auth_body(user_ref("alice"), project("service")),
        "18-auth-unknown-project": auth_body(user_ref("alice"), project("no-such-project")),
    }
    for name, body in cases.items():
        got = post_tokens(gateway, body)
        assert_keystone_error(got, name, gateway)
        assert_common_headers(got[1])


def test_malformed_json_is_a_400_with_keystones_message(gateway):
    for text in ('{"auth": {"identity": ', "", "[1, 2]", "null"):
        assert_keystone_error(post_tokens(gateway, text), "19-auth-malformed-json", gateway)


def test_schema_invalid_bodies_are_400_naming_the_field(gateway):
    status, headers, body = post_tokens(gateway, {"auth": {"identity": {"password": {}}}})
    expected = json.loads(sample("20-auth-schema-invalid")["raw_body"])["error"]["message"]
    first_line = expected.split("\n")[0]
    assert status == 400
    assert json.loads(body)["error"]["message"] == first_line
    same_shape(json.loads(body), sample("20-auth-schema-invalid")["body"])
    cases = {
        "auth": {"identity": {"methods": ["password"]}},  # no "auth" wrapper
        "identity": {"auth": {}},
        "identity.methods": {"auth": {"identity": {"methods": ["oauth9"]}}},
        "identity.password.user": {"auth": {"identity": {"methods": ["password"],
                                                         "password": {"user": "alice"}}}},
        "scope.system.all": auth_body(user_ref("admin"), {"system": {"all": False}}),
        "scope": auth_body(user_ref("alice"), {"project": {"name": "acme"},
                                               "domain": {"id": "default"}}),
        "scope.project.domain": auth_body(user_ref("alice"), {"project": {"name": "acme"}}),
        "identity.password.user.password": auth_body(user_ref("alice", password="")),
    }
    for field, request_body in cases.items():
        status, headers, body = post_tokens(gateway, request_body)
        assert status == 400, (field, body)
        message = json.loads(body)["error"]["message"]
        assert message.startswith(f"Invalid input for field '{field}': "), (field, message)
        assert "X-Subject-Token" not in headers


def test_token_method_with_a_garbage_token_is_404(gateway):
    status, headers, body = post_tokens(gateway, auth_body(token="bogus"))
    error = json.loads(body)
    same_shape(error, sample("21-auth-bad-token-method")["body"])
    assert (status, error["error"]["code"], error["error"]["title"]) == (404, 404, "Not Found")
    assert "recognize" in error["error"]["message"]
    assert "WWW-Authenticate" not in headers


# ---- validating, checking, revoking --------------------------------------------------

def test_validate_echoes_the_subject_and_head_has_the_same_headers(gateway):
    admin, _ = login(gateway, "admin", SYSTEM)
    alice, issued = login(gateway, "alice", project("acme"))
    status, headers, body = subject_request(gateway, admin, alice)
    assert status == 200
    assert headers["X-Subject-Token"] == alice
    assert_common_headers(headers)
    validated = json.loads(body)
    same_shape(validated, sample("22-validate-token")["body"])
    assert validated == issued
    head_status, head_headers, head_body = subject_request(gateway, admin, alice, "HEAD")
    assert (head_status, head_body) == (200, "")
    assert head_headers["Content-Length"] == headers["Content-Length"] == str(len(body.encode()))
    assert head_headers["Content-Type"] == "application/json"
    assert head_headers["X-Subject-Token"] == alice


def test_a_token_may_validate_itself_and_leave_the_catalog_out(gateway):
    alice, _ = login(gateway, "alice", project("acme"))
    status, headers, body = subject_request(gateway, alice, alice)
    assert status == 200
    same_shape(json.loads(body), sample("23-validate-token-self")["body"])
    status, _, body = subject_request(gateway, alice, alice, query="?nocatalog")
    assert status == 200
    same_shape(json.loads(body), sample("24-validate-token-nocatalog")["body"])


def test_validate_errors(gateway):
    admin, _ = login(gateway, "admin", SYSTEM)
    alice, _ = login(gateway, "alice", project("acme"))
    bob, _ = login(gateway, "bob", project("acme"))
    assert_keystone_error(subject_request(gateway, admin, None),
                          "26-validate-token-missing-subject", gateway)
    status, headers, body = subject_request(gateway, admin, "gAAAAABgarbage")
    assert status == 404 and json.loads(body)["error"]["title"] == "Not Found"
    assert "WWW-Authenticate" not in headers
    assert_keystone_error(subject_request(gateway, "not-a-token", alice),
                          "28-validate-token-bad-caller", gateway)
    assert_keystone_error(subject_request(gateway, alice, bob),
                          "29-validate-token-forbidden", gateway)
    status, _, body = subject_request(gateway, alice, bob, "DELETE")
    assert status == 403
    assert json.loads(body)["error"]["message"].endswith(": identity:revoke_token.")


def test_revoke_then_the_token_is_gone(gateway):
    admin, _ = login(gateway, "admin", SYSTEM)
    alice, _ = login(gateway, "alice", project("acme"))
    status, headers, body = subject_request(gateway, admin, alice, "DELETE")
    assert (status, body) == (204, "")
    assert "Content-Type" not in headers and "Content-Length" not in headers
    assert_common_headers(headers)
    status, _, body = subject_request(gateway, admin, alice)
    assert status == 404 and json.loads(body)["error"]["code"] == 404
    status, headers, body = subject_request(gateway, admin, alice, "HEAD")
    assert (status, body) == (404, "")
    assert_keystone_error(fetch(gateway + "/v3/auth/projects", headers={"X-Auth-Token": alice}),
                          "33-use-revoked-token", gateway)
    status, _, body = subject_request(gateway, admin, alice, "DELETE")
    same_shape(json.loads(body), sample("34-revoke-token-again")["body"])
    assert status == 404


def test_a_user_may_revoke_its_own_token(gateway):
    alice, _ = login(gateway, "alice")
    assert subject_request(gateway, alice, alice, "DELETE")[0] == 204
    assert subject_request(gateway, alice, alice)[0] == 401  # the caller itself is gone


def test_disabled_users_tokens_stop_validating(gateway, service):
    core = service.core
    acme = core.resources.find_project("", "acme", core.resources.find_domain("default"))
    carol = core.users_and_groups.create_user("carol", "default", "carolpass123",
                                      default_project_id=acme.id)
    core.assignments.grant(core.assignments.find_role("member").id, target_type="project",
                           target_id=acme.id, user_id=carol.id)
    admin, _ = login(gateway, "admin", SYSTEM)
    status, headers, body = post_tokens(gateway, auth_body(user_ref("carol", password="carolpass123")))
    assert status == 201
    token = json.loads(body)
    same_shape(token, sample("52-auth-default-project")["body"])
    assert token["token"]["project"]["name"] == "acme"  # the default project
    carol_token = headers["X-Subject-Token"]
    core.users_and_groups.set_user_enabled(carol.id, False)
    status, _, body = subject_request(gateway, admin, carol_token)
    assert status == 404
    same_shape(json.loads(body), sample("54-validate-token-disabled-user")["body"])
    assert_keystone_error(post_tokens(gateway, auth_body(user_ref("carol", password="carolpass123"))),
                          "55-auth-disabled-user", gateway)


# ---- what a token's user may scope to ------------------------------------------------

def test_auth_projects(gateway):
    alice, _ = login(gateway, "alice")
    status, headers, body = fetch(gateway + "/v3/auth/projects", headers={"X-Auth-Token": alice})
    assert status == 200
    listing = json.loads(body)
    same_shape(listing, sample("35-auth-projects")["body"])
    assert body == json.dumps(listing) + "\n"  # these resources end with a newline, as 35-41
    assert headers["Content-Type"] == "application/json"
    assert [p["name"] for p in listing["projects"]] == ["acme", "cyberdyne"]
    acme = listing["projects"][0]
    assert (acme["domain_id"], acme["parent_id"], acme["enabled"]) == ("default", "default", True)
    assert acme["links"]["self"] == f"{gateway}/v3/projects/{acme['id']}"
    assert listing["links"] == {"next": None, "self": f"{gateway}/v3/auth/projects",
                                "previous": None}


def test_auth_domains(gateway):
    admin, _ = login(gateway, "admin", {"domain": {"id": "default"}})
    status, _, body = fetch(gateway + "/v3/auth/domains", headers={"X-Auth-Token": admin})
    assert status == 200
    listing = json.loads(body)
    same_shape(listing, sample("36-auth-domains")["body"])
    assert [d["id"] for d in listing["domains"]] == ["default"]
    assert listing["domains"][0]["links"]["self"] == f"{gateway}/v3/domains/default"
    alice, _ = login(gateway, "alice")
    status, _, body = fetch(gateway + "/v3/auth/domains", headers={"X-Auth-Token": alice})
    assert (status, body) == (200, rebased("37-auth-domains-none", gateway))


def test_auth_catalog(gateway):
    alice, _ = login(gateway, "alice", project("acme"))
    status, _, body = fetch(gateway + "/v3/auth/catalog", headers={"X-Auth-Token": alice})
    assert status == 200
    catalog = json.loads(body)
    same_shape(catalog, sample("38-auth-catalog")["body"])
    assert catalog["links"] == {"self": f"{gateway}/v3/auth/catalog"}
    unscoped, _ = login(gateway, "alice")
    assert_keystone_error(fetch(gateway + "/v3/auth/catalog", headers={"X-Auth-Token": unscoped}),
                          "39-auth-catalog-unscoped", gateway)


def test_auth_system(gateway):
    admin, _ = login(gateway, "admin", {"domain": {"id": "default"}})
    status, _, body = fetch(gateway + "/v3/auth/system", headers={"X-Auth-Token": admin})
    assert (status, body) == (200, rebased("40-auth-system", gateway))
    alice, _ = login(gateway, "alice")
    status, _, body = fetch(gateway + "/v3/auth/system", headers={"X-Auth-Token": alice})
    assert (status, body) == (200, rebased("41-auth-system-none", gateway))


def test_auth_listings_need_a_valid_token(gateway):
    for path in ("projects", "domains", "catalog", "system"):
        for headers in ({}, {"X-Auth-Token": "garbage"}):
            status, response_headers, body = fetch(f"{gateway}/v3/auth/{path}", headers=headers)
            assert status == 401, path
            assert response_headers["WWW-Authenticate"] == f'Keystone uri="{gateway}/v3"'
