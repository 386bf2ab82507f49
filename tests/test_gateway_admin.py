"""The gateway's Keystone v3 management API (users, groups, projects, domains, roles,
grants, role assignments, the catalog), compared with the reference wire format."""

import json
import urllib.error
import urllib.request

import pytest
from identity_api.v1 import identity_pb2 as pb

import support
from support import SAMPLES



def call(url: str, method: str = "GET", token: str | None = None, body=None):
    """(status, headers, parsed JSON body or None, raw body)."""
    headers = {"Accept": "application/json"}
    if token:
        headers["X-Auth-Token"] = token
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request) as response:
            status, got, raw = response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as e:
        status, got, raw = e.code, e.headers, e.read().decode()
    parsed = json.loads(raw) if raw and got.get("Content-Type") == "application/json" else None
    return status, got, parsed, raw


def skeleton(value):
    """The shape of a JSON value: keys in order, the types of the leaves."""
    if isinstance(value, dict):
        return [(k, skeleton(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [skeleton(value[0])] if value else []
    return type(value).__name__


def sample_body(name: str):
    return SAMPLES[name]["response"]["body"]


class Api:
    """The gateway, called with one token."""

    def __init__(self, base: str, token: str | None):
        self.base, self.token = base, token

    def __call__(self, method: str, path: str, body=None, expect: int | None = None):
        status, headers, parsed, raw = call(self.base + path, method, self.token, body)
        if expect is not None:
            assert status == expect, (method, path, status, raw)
        return parsed

    def get(self, path, expect=200):
        return self("GET", path, expect=expect)

    def status(self, method: str, path: str, body=None) -> int:
        return call(self.base + path, method, self.token, body)[0]

    def find(self, collection: str, name: str) -> dict:
        items = self.get(f"/v3/{collection}?name={name}")[collection]
        assert len(items) == 1, items
        return items[0]


@pytest.fixture
def api(service, gateway) -> Api:
    return Api(gateway, support.system_admin_token(service.stub))


@pytest.fixture
def alice(service, gateway) -> Api:
    """alice on acme, where she has only compute-user."""
    token = support.login(service.stub, "alice", support.project_scope("acme")).token
    return Api(gateway, token)


# ---- authentication and policy --------------------------------------------------

def test_no_token_or_a_bad_one_is_401_with_www_authenticate(gateway):
    expected = SAMPLES["42-users-no-token"]["response"]
    for token in (None, "garbage"):
        status, headers, _, raw = call(gateway + "/v3/users", token=token)
        assert (status, raw) == (401, expected["raw_body"])
        assert headers["WWW-Authenticate"] == f'Keystone uri="{gateway}/v3"'
        assert headers["Vary"] == "X-Auth-Token"


def test_a_non_admin_is_refused_with_the_rule_name(alice):
    expected = SAMPLES["44-users-forbidden"]["response"]["raw_body"]
    status, headers, _, raw = call(alice.base + "/v3/users", token=alice.token)
    assert (status, raw) == (403, expected)
    for method, path, rule in (("POST", "/v3/users", "create_user"),
                               ("GET", "/v3/domains", "list_domains"),
                               ("POST", "/v3/roles", "create_role"),
                               ("GET", "/v3/services", "list_services")):
        body = {path.rsplit("/", 1)[1][:-1]: {"name": "x"}} if method == "POST" else None
        message = alice(method, path, body, expect=403)["error"]["message"]
        assert message == f"You are not authorized to perform the requested action: identity:{rule}."


# ---- users ------------------------------------------------------------------------

def test_users_list_matches_sample_45(api):
    body = api.get("/v3/users")
    expected = sample_body("45-users-admin")
    assert list(body) == ["users", "links"]
    assert body["links"] == {"next": None, "self": f"{api.base}/v3/users", "previous": None}
    ours = {u["name"]: u for u in body["users"]}
    for theirs in expected["users"]:
        if theirs["name"] not in ("alice", "admin"):
            continue  # their bob has an email and nova a description; ours not
        mine = ours[theirs["name"]]
        if theirs["name"] == "admin":  # our bootstrap exempts the admin from lockout
            theirs = dict(theirs, options={"ignore_lockout_failure_attempts": True})
        assert skeleton(mine) == skeleton(theirs)
        assert mine["links"] == {"self": f"{api.base}/v3/users/{mine['id']}"}
    assert ours["alice"]["email"] == "alice@example.com"
    assert ours["admin"]["options"] == {"ignore_lockout_failure_attempts": True}
    assert [u["name"] for u in api.get("/v3/users?name=bob")["users"]] == ["bob"]
    assert api.get("/v3/users?domain_id=nope")["users"] == []
    assert api.get("/v3/users?enabled=false")["users"] == []


def test_user_create_update_delete_like_samples_51_53_56(api):
    acme = api.find("projects", "acme")
    request = SAMPLES["51-create-user-carol"]["request"]["body"]
    request["user"]["default_project_id"] = acme["id"]
    status, headers, created, _ = call(api.base + "/v3/users", "POST", api.token, request)
    assert status == 201 and "Location" not in headers
    expected = sample_body("51-create-user-carol")
    assert skeleton(created) == skeleton(expected)
    user = created["user"]
    assert (user["name"], user["domain_id"], user["default_project_id"], user["email"],
            user["enabled"], user["password_expires_at"], user["options"]) == (
        "carol", "default", acme["id"], "carol@example.com", True, None, {})
    assert user["links"]["self"] == f"{api.base}/v3/users/{user['id']}"
    assert api.get(f"/v3/users/{user['id']}")["user"] == user

    assert api.status("POST", "/v3/users", request) == 409

    patched = api("PATCH", f"/v3/users/{user['id']}", {"user": {"enabled": False}}, expect=200)
    expected = dict(sample_body("53-disable-user")["user"])
    del expected["extra"]  # Keystone's echo of the extra attributes; we leave it out
    assert skeleton(patched["user"]) == skeleton(expected)
    assert patched["user"]["enabled"] is False

    patched = api("PATCH", f"/v3/users/{user['id']}",
                  {"user": {"description": "new", "team": "blue"}}, expect=200)["user"]
    assert (patched["description"], patched["team"], patched["email"]) == (
        "new", "blue", "carol@example.com")

    status, headers, _, raw = call(api.base + f"/v3/users/{user['id']}", "DELETE", api.token)
    assert (status, raw) == (204, "")
    assert "Content-Type" not in headers
    assert api.status("GET", f"/v3/users/{user['id']}") == 404
    assert api.status("DELETE", f"/v3/users/{user['id']}") == 404


def test_user_bad_bodies_are_400(api):
    assert api.status("POST", "/v3/users", {"user": {"enabled": True}}) == 400
    assert api.status("POST", "/v3/users", {"user": {"name": 5}}) == 400
    assert api.status("POST", "/v3/users", {"user": {"name": "x", "enabled": "yes"}}) == 400
    assert api.status("POST", "/v3/users", {"nobody": {}}) == 400
    status, _, body, _ = call(api.base + "/v3/users", "POST", api.token, "not an object")
    assert status == 400 and body["error"]["message"].startswith("Expecting to find valid JSON")


@pytest.mark.every_backend
def test_text_too_long_for_some_backend_is_400_as_on_grpc(api):
    """The core's limits, so the gateway agrees with gRPC: a 256-character email and
    a 65,536-byte description (500 on PostgreSQL and MariaDB, kept by SQLite)."""
    for body in ({"user": {"name": "erin", "email": "e" * 256}},
                 {"user": {"name": "erin", "description": "d" * 65_536}}):
        status, _, answer, _ = call(api.base + "/v3/users", "POST", api.token, body)
        assert status == 400, answer
        assert answer["error"]["message"].startswith("user.")


def test_users_change_their_own_password(service, api):
    user = api("POST", "/v3/users", {"user": {"name": "dave", "password": "old-pass-1"}},
               expect=201)["user"]
    token = support.login(service.stub, "dave", password="old-pass-1").token
    dave = Api(api.base, token)
    path = f"/v3/users/{user['id']}/password"
    status, headers, _, _ = call(api.base + path, "POST", token,
                                 {"user": {"password": "new-pass-2", "original_password": "wrong"}})
    assert status == 401 and "WWW-Authenticate" in headers
    dave("POST", path, {"user": {"password": "new-pass-2", "original_password": "old-pass-1"}},
         expect=204)
    assert support.login(service.stub, "dave", password="new-pass-2").token
    # someone else's password is not the admin's to change this way
    assert api.status("POST", path, {"user": {"password": "x-pass-3",
                                              "original_password": "new-pass-2"}}) == 403


def test_user_groups_and_projects(api):
    bob, alice = api.find("users", "bob"), api.find("users", "alice")
    groups = api.get(f"/v3/users/{bob['id']}/groups")
    assert [g["name"] for g in groups["groups"]] == ["devs"]
    assert groups["links"]["self"] == f"{api.base}/v3/users/{bob['id']}/groups"
    projects = api.get(f"/v3/users/{alice['id']}/projects")["projects"]
    assert sorted(p["name"] for p in projects) == ["acme", "cyberdyne"]
    assert [p["name"] for p in api.get(f"/v3/users/{bob['id']}/projects")["projects"]] == ["acme"]
    assert api.status("GET", "/v3/users/nope/groups") == 404


# ---- projects and domains -----------------------------------------------------------

def test_projects_list_matches_sample_46_and_filters(api):
    body = api.get("/v3/projects")
    expected = sample_body("46-projects-admin")
    assert skeleton(body) == skeleton(expected)
    by_name = {p["name"]: p for p in body["projects"]}
    assert set(by_name) == {p["name"] for p in expected["projects"]}
    foo = api.find("domains", "Foo")
    assert by_name["bar"]["parent_id"] == foo["id"] == by_name["bar"]["domain_id"]
    assert by_name["acme"]["parent_id"] == "default"
    assert [p["name"] for p in api.get("/v3/projects?name=acme")["projects"]] == ["acme"]
    assert sorted(p["name"] for p in api.get(f"/v3/projects?domain_id={foo['id']}")["projects"]) \
        == ["bar", "baz"]
    assert sorted(p["name"] for p in api.get(f"/v3/projects?parent_id={foo['id']}")["projects"]) \
        == ["bar", "baz"]
    assert api.get("/v3/projects?enabled=false")["projects"] == []
    # Every domain is a project acting as a domain, in no domain and below nothing.
    domains = api.get("/v3/projects?is_domain=true")["projects"]
    assert sorted(d["name"] for d in domains) == ["Default", "Foo"]
    assert all(d["is_domain"] and d["domain_id"] is None and d["parent_id"] is None
               for d in domains)
    assert body["links"]["self"] == f"{api.base}/v3/projects"
    assert api.get("/v3/projects?name=acme")["links"]["self"] == f"{api.base}/v3/projects?name=acme"


def test_project_crud_and_hierarchy(api):
    top = api("POST", "/v3/projects", {"project": {"name": "top", "description": "d"}},
              expect=201)["project"]
    assert (top["domain_id"], top["parent_id"], top["enabled"], top["is_domain"]) == (
        "default", "default", True, False)
    child = api("POST", "/v3/projects", {"project": {"name": "child", "parent_id": top["id"]}},
                expect=201)["project"]
    assert (child["parent_id"], child["domain_id"]) == (top["id"], "default")
    assert [p["name"] for p in api.get(f"/v3/projects?parent_id={top['id']}")["projects"]] == ["child"]
    assert api.status("POST", "/v3/projects", {"project": {"name": "top"}}) == 409
    renamed = api("PATCH", f"/v3/projects/{top['id']}",
                  {"project": {"name": "top2", "enabled": False}}, expect=200)["project"]
    assert (renamed["name"], renamed["enabled"]) == ("top2", False)
    assert api.status("DELETE", f"/v3/projects/{top['id']}") == 409  # has a child
    api("PATCH", f"/v3/projects/{child['id']}", {"project": {"parent_id": "default"}}, expect=200)
    assert api.get(f"/v3/projects/{child['id']}")["project"]["parent_id"] == "default"
    for project in (child, top):
        api("DELETE", f"/v3/projects/{project['id']}", expect=204)
    assert api.status("GET", f"/v3/projects/{top['id']}") == 404


def test_domain_crud(api):
    domain = api("POST", "/v3/domains", {"domain": {"name": "Acme Corp", "description": "x"}},
                 expect=201)["domain"]
    assert [k for k in domain] == ["id", "name", "description", "enabled", "tags", "options",
                                   "links"]
    assert domain["links"]["self"] == f"{api.base}/v3/domains/{domain['id']}"
    assert api.status("POST", "/v3/domains", {"domain": {"name": "Acme Corp"}}) == 409
    assert [d["name"] for d in api.get("/v3/domains?name=Acme%20Corp")["domains"]] == ["Acme Corp"]
    assert {d["name"] for d in api.get("/v3/domains")["domains"]} == {"Default", "Foo", "Acme Corp"}
    assert api.get(f"/v3/domains/{domain['id']}")["domain"]["name"] == "Acme Corp"
    api("PATCH", f"/v3/domains/{domain['id']}", {"domain": {"enabled": False}}, expect=200)
    assert [d["name"] for d in api.get("/v3/domains?enabled=false")["domains"]] == ["Acme Corp"]
    api("DELETE", f"/v3/domains/{domain['id']}", expect=204)
    assert api.status("GET", f"/v3/domains/{domain['id']}") == 404


# ---- groups ---------------------------------------------------------------------

def test_groups_and_membership(api):
    group = api("POST", "/v3/groups", {"group": {"name": "ops", "description": "on call"}},
                expect=201)["group"]
    assert [k for k in group] == ["id", "name", "domain_id", "description", "links"]
    assert api.status("POST", "/v3/groups", {"group": {"name": "ops"}}) == 409
    alice = api.find("users", "alice")
    member = f"/v3/groups/{group['id']}/users/{alice['id']}"
    assert api.status("HEAD", member) == 404
    api("PUT", member, expect=204)
    assert api.status("HEAD", member) == 204
    assert api.status("GET", member) == 204
    users = api.get(f"/v3/groups/{group['id']}/users")
    assert [u["name"] for u in users["users"]] == ["alice"]
    assert {g["name"] for g in api.get("/v3/groups")["groups"]} == {"devs", "ops"}
    assert api.find("groups", "ops")["id"] == group["id"]
    api("PATCH", f"/v3/groups/{group['id']}", {"group": {"name": "sre"}}, expect=200)
    api("DELETE", member, expect=204)
    assert api.status("DELETE", member) == 404
    api("DELETE", f"/v3/groups/{group['id']}", expect=204)
    assert api.status("GET", f"/v3/groups/{group['id']}") == 404


# ---- roles and grants -----------------------------------------------------------------

def test_role_crud(api):
    role = api("POST", "/v3/roles", {"role": {"name": "auditor"}}, expect=201)["role"]
    assert role["domain_id"] is None and role["links"]["self"].endswith(f"/v3/roles/{role['id']}")
    assert api.status("POST", "/v3/roles", {"role": {"name": "auditor"}}) == 409
    assert api.find("roles", "auditor")["id"] == role["id"]
    assert {"admin", "member", "reader", "auditor"} <= {r["name"] for r in api.get("/v3/roles")["roles"]}
    updated = api("PATCH", f"/v3/roles/{role['id']}", {"role": {"description": "reads"}},
                  expect=200)["role"]
    assert updated["description"] == "reads"
    api("DELETE", f"/v3/roles/{role['id']}", expect=204)
    assert api.status("GET", f"/v3/roles/{role['id']}") == 404


@pytest.mark.parametrize("target, actor", [("projects", "users"), ("projects", "groups"),
                                           ("domains", "users"), ("domains", "groups"),
                                           ("system", "users"), ("system", "groups")])
def test_grants_put_check_list_delete(api, target, actor):
    role = api.find("roles", "reader")
    target_path = "system" if target == "system" else \
        f"{target}/{api.find('projects', 'bar')['id'] if target == 'projects' else 'default'}"
    actor_id = api.find(actor, "bob" if actor == "users" else "devs")["id"]
    roles = f"/v3/{target_path}/{actor}/{actor_id}/roles"
    grant = f"{roles}/{role['id']}"
    assert api.status("HEAD", grant) == 404
    status, headers, _, raw = call(api.base + grant, "PUT", api.token)
    assert (status, raw) == (204, "")
    assert api.status("HEAD", grant) == 204
    assert api.status("GET", grant) == 204
    listed = api.get(roles)
    assert [r["id"] for r in listed["roles"]] == [role["id"]]
    assert listed["links"]["self"] == api.base + roles
    api("DELETE", grant, expect=204)
    assert api.status("HEAD", grant) == 404
    assert api.status("DELETE", grant) == 404
    assert api.get(roles)["roles"] == []


def test_inherited_grant_reaches_the_domains_projects(api):
    foo = api.find("domains", "Foo")
    bob, role = api.find("users", "bob"), api.find("roles", "reader")
    grant = f"/v3/OS-INHERIT/domains/{foo['id']}/users/{bob['id']}/roles/{role['id']}/inherited_to_projects"
    api("PUT", grant, expect=204)
    assert api.status("HEAD", grant) == 204
    listed = api.get(f"/v3/OS-INHERIT/domains/{foo['id']}/users/{bob['id']}/roles/inherited_to_projects")
    assert [r["name"] for r in listed["roles"]] == ["reader"]
    assert api.get(f"/v3/domains/{foo['id']}/users/{bob['id']}/roles")["roles"] == []
    plain = api.get(f"/v3/role_assignments?user.id={bob['id']}&scope.domain.id={foo['id']}")
    assert [a["scope"] for a in plain["role_assignments"]] == [
        {"domain": {"id": foo["id"]}, "OS-INHERIT:inherited_to": "projects"}]
    assert plain["role_assignments"][0]["links"]["assignment"] == api.base + grant
    effective = api.get(f"/v3/role_assignments?effective&user.id={bob['id']}&include_names")
    reached = {a["scope"]["project"]["name"] for a in effective["role_assignments"]
               if a["role"]["name"] == "reader"}
    assert reached == {"acme", "bar", "baz"}
    api("DELETE", grant, expect=204)


def test_a_non_admin_may_not_grant(alice, api):
    bob, role = api.find("users", "bob"), api.find("roles", "admin")
    acme = api.find("projects", "acme")
    body = alice("PUT", f"/v3/projects/{acme['id']}/users/{bob['id']}/roles/{role['id']}", expect=403)
    assert body["error"]["message"].endswith("identity:grant_role.")


# ---- role assignments --------------------------------------------------------------------

def _named(assignments: list[dict], names: dict) -> set:
    """What each assignment says, by names: scope, role, and the roles in its links."""
    def role_in(url: str | None, position: int) -> str | None:
        return names.get(url.split("/")[position]) if url else None
    return {(names[a["scope"]["project"]["id"]], names[a["role"]["id"]],
             role_in(a["links"]["assignment"], -1), role_in(a["links"].get("prior_role"), -1),
             role_in(a["links"].get("prior_role"), -3), "membership" in a["links"])
            for a in assignments}


def _sample_names() -> dict:
    names = {}
    for a in sample_body("48-role-assignments-effective-names")["role_assignments"]:
        for kind in ("user", "role"):
            names[a[kind]["id"]] = a[kind]["name"]
        names[a["scope"]["project"]["id"]] = a["scope"]["project"]["name"]
    return names


def test_effective_assignments_match_sample_47(api):
    alice = api.find("users", "alice")
    path = f"/v3/role_assignments?effective&user.id={alice['id']}"
    body = api.get(path)
    expected = sample_body("47-role-assignments-effective")
    assert body["links"] == {"next": None, "self": api.base + path, "previous": None}
    ours = {r["id"]: r["name"] for r in api.get("/v3/roles")["roles"]}
    ours.update({p["id"]: p["name"] for p in api.get("/v3/projects")["projects"]})
    assert _named(body["role_assignments"], ours) == _named(expected["role_assignments"],
                                                            _sample_names())
    for a in body["role_assignments"]:
        assert skeleton(a) in [skeleton(e) for e in expected["role_assignments"]]
        assert a["links"]["assignment"].startswith(f"{api.base}/v3/projects/")


def test_effective_assignments_with_names_match_sample_48(api):
    alice = api.find("users", "alice")
    body = api.get(f"/v3/role_assignments?effective&include_names&user.id={alice['id']}")
    expected = sample_body("48-role-assignments-effective-names")
    assert len(body["role_assignments"]) == len(expected["role_assignments"])
    skeletons = [skeleton(e) for e in expected["role_assignments"]]
    for a in body["role_assignments"]:
        assert skeleton(a) in skeletons
        assert a["user"] == {"id": alice["id"], "name": "alice",
                             "domain": {"id": "default", "name": "Default"}}
        assert a["scope"]["project"]["domain"] == {"id": "default", "name": "Default"}


def test_assignments_through_a_group_match_sample_49(api):
    bob, devs = api.find("users", "bob"), api.find("groups", "devs")
    body = api.get(f"/v3/role_assignments?effective&user.id={bob['id']}")
    expected = sample_body("49-role-assignments-bob-effective")
    assert [skeleton(a) for a in sorted(body["role_assignments"], key=lambda a: len(a["links"]))] \
        == [skeleton(a) for a in expected["role_assignments"]]
    for a in body["role_assignments"]:
        assert a["links"]["membership"] == f"{api.base}/v3/groups/{devs['id']}/users/{bob['id']}"
        assert f"/groups/{devs['id']}/roles/" in a["links"]["assignment"]
    direct = api.get(f"/v3/role_assignments?group.id={devs['id']}")["role_assignments"]
    assert [a["group"]["id"] for a in direct] == [devs["id"]]
    assert api.status("GET", f"/v3/role_assignments?effective&group.id={devs['id']}") == 400


def test_assignment_filters(api):
    admin, acme = api.find("users", "admin"), api.find("projects", "acme")
    system = api.get(f"/v3/role_assignments?scope.system=all&user.id={admin['id']}")
    assert [a["scope"] for a in system["role_assignments"]] == [{"system": {"all": True}}]
    assert system["role_assignments"][0]["links"]["assignment"].startswith(
        f"{api.base}/v3/system/users/{admin['id']}/roles/")
    on_acme = api.get(f"/v3/role_assignments?scope.project.id={acme['id']}&include_names")
    assert {(a.get("user") or a.get("group"))["name"] for a in on_acme["role_assignments"]} == {
        "alice", "devs"}
    member = api.find("roles", "member")
    only = api.get(f"/v3/role_assignments?role.id={member['id']}")["role_assignments"]
    assert [a["group"]["id"] for a in only] == [api.find("groups", "devs")["id"]]
    assert api.status("GET", f"/v3/role_assignments?scope.project.id={acme['id']}"
                             "&scope.domain.id=default") == 400


# ---- the catalog -----------------------------------------------------------------------------

def test_services_endpoints_and_regions(api):
    services = api.get("/v3/services")["services"]
    assert {(s["type"], s["name"]) for s in services} >= {("identity", "keystone"), ("compute", "nova")}
    service = api("POST", "/v3/services", {"service": {"type": "image", "name": "glance",
                                                       "description": "images"}},
                  expect=201)["service"]
    assert service == {"id": service["id"], "type": "image", "name": "glance",
                       "description": "images", "enabled": True,
                       "links": {"self": f"{api.base}/v3/services/{service['id']}"}}
    assert [s["name"] for s in api.get("/v3/services?type=image")["services"]] == ["glance"]

    region = api("POST", "/v3/regions", {"region": {"id": "RegionTwo", "description": "2"}},
                 expect=201)["region"]
    assert region == {"id": "RegionTwo", "description": "2", "parent_region_id": None,
                      "links": {"self": f"{api.base}/v3/regions/RegionTwo"}}
    assert api.status("POST", "/v3/regions", {"region": {"id": "RegionTwo"}}) == 409
    child = api("PUT", "/v3/regions/RegionTwoA", {"region": {"parent_region_id": "RegionTwo"}},
                expect=201)["region"]
    assert child["parent_region_id"] == "RegionTwo"
    assert {r["id"] for r in api.get("/v3/regions")["regions"]} == {"RegionOne", "RegionTwo",
                                                                     "RegionTwoA"}

    endpoint = api("POST", "/v3/endpoints", {"endpoint": {
        "service_id": service["id"], "interface": "public", "url": "http://img:9292",
        "region_id": "RegionTwo"}}, expect=201)["endpoint"]
    assert (endpoint["region_id"], endpoint["region"], endpoint["enabled"]) == (
        "RegionTwo", "RegionTwo", True)
    listed = api.get(f"/v3/endpoints?service_id={service['id']}&interface=public")["endpoints"]
    assert [e["id"] for e in listed] == [endpoint["id"]]
    assert api.get("/v3/endpoints?interface=admin")["endpoints"] == []
    assert api.status("POST", "/v3/endpoints", {"endpoint": {
        "service_id": service["id"], "interface": "sideways", "url": "http://x"}}) == 400
    patched = api("PATCH", f"/v3/endpoints/{endpoint['id']}",
                  {"endpoint": {"url": "http://img:9293", "enabled": False}}, expect=200)["endpoint"]
    assert (patched["url"], patched["enabled"]) == ("http://img:9293", False)
    assert api.get("/v3/endpoints?enabled=false")["endpoints"][0]["id"] == endpoint["id"]
    assert api.status("DELETE", "/v3/regions/RegionTwo") == 409  # in use

    api("PATCH", f"/v3/services/{service['id']}", {"service": {"enabled": False}}, expect=200)
    api("DELETE", f"/v3/endpoints/{endpoint['id']}", expect=204)
    api("DELETE", f"/v3/services/{service['id']}", expect=204)
    for region_id in ("RegionTwoA", "RegionTwo"):
        api("DELETE", f"/v3/regions/{region_id}", expect=204)
    assert api.status("GET", f"/v3/services/{service['id']}") == 404


def test_a_project_scoped_admin_is_not_a_cloud_admin(service, gateway):
    """Unlike Keystone's `admin_required`, admin on a project gives no rights over the
    cloud here: management takes a system- or domain-scoped token."""
    token = support.login(service.stub, "admin", support.project_scope("admin")).token
    body = Api(gateway, token)("GET", "/v3/projects", expect=403)
    assert body["error"]["message"].endswith("identity:list_projects.")
    domain_token = support.login(service.stub, "admin",
                                 pb.Scope(domain=pb.DomainSelector(id="default"))).token
    names = {p["name"] for p in Api(gateway, domain_token).get("/v3/projects")["projects"]}
    assert names == {"admin", "service", "acme", "cyberdyne"}


def test_assignments_in_a_project_subtree_over_http(api):
    top = api("POST", "/v3/projects", {"project": {"name": "top"}}, expect=201)["project"]
    leaf = api("POST", "/v3/projects", {"project": {"name": "leaf", "parent_id": top["id"]}},
               expect=201)["project"]
    bob, alice = api.find("users", "bob"), api.find("users", "alice")
    reader, member = api.find("roles", "reader"), api.find("roles", "member")
    api("PUT", f"/v3/projects/{top['id']}/users/{bob['id']}/roles/{reader['id']}", expect=204)
    api("PUT", f"/v3/projects/{leaf['id']}/users/{alice['id']}/roles/{member['id']}", expect=204)
    listed = api.get(f"/v3/role_assignments?scope.project.id={top['id']}&include_subtree=true")
    assert sorted((a["scope"]["project"]["id"], a["role"]["id"])
                  for a in listed["role_assignments"]) == sorted(
        [(top["id"], reader["id"]), (leaf["id"], member["id"])])
    body = api.get("/v3/role_assignments?include_subtree=true", expect=400)
    assert "include_subtree" in body["error"]["message"]
