"""A domain backed by a real OpenLDAP directory beside SQL domains, through the real
server: its users and groups read from the directory with stable public ids, password
authentication as a bind, roles from grants to LDAP users and groups (membership read
from the directory), read-only by default, and a directory that goes away touching
nothing but its own domain. The directory is `tests/ldap_server.py`'s slapd."""

import re
import time
from urllib.parse import quote

import grpc
import pytest
from identity_api.admin.v1 import admin_pb2 as apb
from identity_api.v1 import identity_pb2 as pb

from conftest import ServerProcess
from ldap_server import Person, group_dn, user_dn
from support import AdminClient, system_admin_token, rpc_error
from test_gateway_admin import Api, call

# Every case on SQLite, PostgreSQL and MariaDB stores: what an LDAP domain keeps in the
# store (its configuration, the id mapping, grants) is the backend's.
pytestmark = pytest.mark.every_backend
CODE = grpc.StatusCode
PUBLIC_ID = re.compile(r"[0-9a-f]{64}")


@pytest.fixture
def world(service, gateway, slapd):
    """The standard directory as domain `Employees` (membership TTL 1 s), a project
    `payroll` in it, and the system admin on both transports."""
    return make_world(service, gateway, slapd, membership_cache_ttl=1)


def make_world(service, gateway, slapd, **ldap_options) -> "World":
    token = system_admin_token(service.stub)
    api = Api(gateway, token)
    domain = api("POST", "/v3/domains", {"domain": {"name": "Employees"}}, expect=201)["domain"]
    api("PUT", f"/v3/domains/{domain['id']}/config",
        {"config": slapd.config(**ldap_options)}, expect=201)
    project = api("POST", "/v3/projects", {"project": {"name": "payroll",
                                                       "domain_id": domain["id"]}},
                  expect=201)["project"]
    return World(service, gateway, slapd, api, AdminClient(service.channel, token),
                 domain["id"], project["id"])


class World:
    def __init__(self, service, gateway, slapd, api, admin, domain_id, project_id):
        self.service, self.gateway, self.slapd = service, gateway, slapd
        self.api, self.admin = api, admin
        self.domain_id, self.project_id = domain_id, project_id

    def user(self, name: str) -> dict:
        users = self.api.get(f"/v3/users?domain_id={self.domain_id}&name={quote(name)}")["users"]
        assert len(users) == 1, users
        return users[0]

    def group(self, name: str) -> dict:
        groups = self.api.get(f"/v3/groups?domain_id={self.domain_id}&name={quote(name)}")["groups"]
        assert len(groups) == 1, groups
        return groups[0]

    def role_id(self, name: str) -> str:
        return self.api.get(f"/v3/roles?name={name}")["roles"][0]["id"]

    def token(self, name: str, password: str, project: bool = True):
        """(status, token, body) of a password authentication by name in the domain."""
        auth = {"identity": {"methods": ["password"], "password": {"user": {
            "name": name, "domain": {"name": "Employees"}, "password": password}}}}
        if project:
            auth["scope"] = {"project": {"id": self.project_id}}
        status, headers, body, _ = call(self.gateway + "/v3/auth/tokens", "POST", None,
                                        {"auth": auth})
        return status, headers.get("X-Subject-Token"), body

    def validate(self, token: str) -> int:
        return _get_status(self.gateway + "/v3/auth/tokens", self.api.token,
                           {"X-Subject-Token": token})


def _get_status(url: str, token: str, headers: dict) -> int:
    import urllib.error
    import urllib.request
    request = urllib.request.Request(url, headers={"X-Auth-Token": token, **headers})
    try:
        with urllib.request.urlopen(request) as response:
            return response.status
    except urllib.error.HTTPError as e:
        return e.code


def test_users_and_groups_come_from_the_directory_with_stable_public_ids(world):
    users = world.api.get(f"/v3/users?domain_id={world.domain_id}")["users"]
    assert sorted(u["name"] for u in users) == ["Alice", "Bob", "st*r (x)"]
    assert all(PUBLIC_ID.fullmatch(u["id"]) and u["domain_id"] == world.domain_id for u in users)
    alice = world.user("Alice")
    assert alice["email"] == "alice@example.org" and alice["enabled"] is True
    assert world.api.get(f"/v3/users/{alice['id']}")["user"]["name"] == "Alice"
    assert world.user("st*r (x)")["name"] == "st*r (x)"  # the filter is escaped
    assert world.api.get(f"/v3/users?domain_id={world.domain_id}&name=%2A")["users"] == []
    # The same ids over gRPC, and again on a second read.
    listed = world.admin.call(world.admin.users.ListUsers,
                              apb.ListUsersRequest(domain_id=world.domain_id)).users
    assert sorted(u.id for u in listed) == sorted(u["id"] for u in users)
    devs = world.group("Developers")
    assert PUBLIC_ID.fullmatch(devs["id"]) and devs["id"] not in {u["id"] for u in users}
    members = world.api.get(f"/v3/groups/{devs['id']}/users")["users"]
    assert sorted(m["name"] for m in members) == ["Alice", "Bob"]
    groups = world.api.get(f"/v3/users/{alice['id']}/groups")["groups"]
    assert sorted(g["name"] for g in groups) == ["Developers", "Operators"]
    # SQL domains are untouched: the default domain's users are the store's.
    defaults = world.api.get("/v3/users?domain_id=default")["users"]
    assert "admin" in {u["name"] for u in defaults}
    assert not any(PUBLIC_ID.fullmatch(u["id"]) for u in defaults)


def test_a_password_is_checked_by_a_bind_and_group_grants_give_the_token_roles(world):
    devs = world.group("Developers")
    member = world.role_id("member")
    world.api("PUT", f"/v3/projects/{world.project_id}/groups/{devs['id']}/roles/{member}",
              expect=204)
    status, token, body = world.token("Alice", "alice-secret")
    assert status == 201, body
    assert body["token"]["user"]["id"] == world.user("Alice")["id"]
    assert "member" in {r["name"] for r in body["token"]["roles"]}
    assert world.validate(token) == 200
    for name, password in (("Alice", "wrong"), ("Nobody", "alice-secret")):
        status, _, body = world.token(name, password)
        assert status == 401, (name, body)
    assert world.token("Alice", "")[0] == 400  # as for any user: never an anonymous bind


def test_a_direct_grant_to_an_ldap_user_works_and_the_user_disabled_in_the_directory_is_refused(world):
    bob = world.user("Bob")
    reader = world.role_id("reader")
    world.api("PUT", f"/v3/projects/{world.project_id}/users/{bob['id']}/roles/{reader}",
              expect=204)
    status, _, body = world.token("Bob", "bob-secret")
    assert status == 201 and {r["name"] for r in body["token"]["roles"]} == {"reader"}
    assignments = world.api.get(f"/v3/role_assignments?user.id={bob['id']}")["role_assignments"]
    assert [a["role"]["id"] for a in assignments] == [reader]
    world.slapd.add_user(Person("carl", "Carl", "carl-secret", attributes={"enabled": "FALSE"}))
    carl = world.user("Carl")
    assert carl["enabled"] is False
    world.api("PUT", f"/v3/projects/{world.project_id}/users/{carl['id']}/roles/{reader}",
              expect=204)
    wrong = world.token("Carl", "wrong")
    disabled = world.token("Carl", "carl-secret")
    assert wrong[0] == disabled[0] == 401  # the same answer as for a stored user
    assert wrong[2]["error"]["message"] == disabled[2]["error"]["message"]


def test_leaving_a_group_in_the_directory_ends_its_roles_in_new_tokens_at_once_and_in_validations_within_the_ttl(world):
    devs = world.group("Developers")
    member = world.role_id("member")
    world.api("PUT", f"/v3/projects/{world.project_id}/groups/{devs['id']}/roles/{member}",
              expect=204)
    status, token, _ = world.token("Bob", "bob-secret")
    assert status == 201 and world.validate(token) == 200
    world.slapd.modify(group_dn("devs"), {"member": [user_dn("alice")]})  # Bob leaves
    status, _, body = world.token("Bob", "bob-secret")
    assert status == 401, body  # no role left on the project: at once
    deadline = time.monotonic() + 5  # TTL 1 s, plus the watcher's ticks
    while world.validate(token) == 200:
        assert time.monotonic() < deadline, "the old token still validates past the TTL"
        time.sleep(0.1)
    assert world.validate(token) == 404


def test_the_domain_is_read_only_by_default(world):
    alice, devs, star = world.user("Alice"), world.group("Developers"), world.user("st*r (x)")
    refusals = [
        ("POST", "/v3/users", {"user": {"name": "carol", "domain_id": world.domain_id}}),
        ("PATCH", f"/v3/users/{alice['id']}", {"user": {"email": "new@example.org"}}),
        ("DELETE", f"/v3/users/{alice['id']}", None),
        ("POST", "/v3/groups", {"group": {"name": "new", "domain_id": world.domain_id}}),
        ("PATCH", f"/v3/groups/{devs['id']}", {"group": {"description": "x"}}),
        ("DELETE", f"/v3/groups/{devs['id']}", None),
        ("PUT", f"/v3/groups/{devs['id']}/users/{star['id']}", None),
        ("DELETE", f"/v3/groups/{devs['id']}/users/{alice['id']}", None),
    ]
    for method, path, body in refusals:
        status, _, parsed, raw = call(world.gateway + path, method, world.api.token, body)
        assert status == 403 and "read-only" in parsed["error"]["message"], (method, path, raw)
    error = rpc_error(world.admin.call, world.admin.users.CreateUser, apb.CreateUserRequest(
        name="carol", domain_id=world.domain_id))
    assert error.code() == CODE.FAILED_PRECONDITION and "read-only" in error.details()
    assert world.slapd.read(user_dn("alice"))["mail"] == ["alice@example.org"]  # untouched
    assert set(world.slapd.read(group_dn("devs"))["member"]) == {
        user_dn("alice"), user_dn("bob")}


def test_an_unreachable_directory_is_unavailable_for_its_domain_only(world):
    status, token, _ = world.token("Alice", "alice-secret", project=False)
    assert status == 201
    world.slapd.pause()
    try:
        started = time.monotonic()
        status, _, parsed, raw = call(world.gateway + f"/v3/users?domain_id={world.domain_id}",
                                      "GET", world.api.token)
        assert status == 503 and "unreachable" in parsed["error"]["message"], raw
        assert time.monotonic() - started < 2 + 1.5  # connection_timeout 2 s
        error = rpc_error(world.admin.call, world.admin.users.ListUsers,
                          apb.ListUsersRequest(domain_id=world.domain_id))
        assert error.code() == CODE.UNAVAILABLE
        # The SQL domains go on as usual.
        assert system_admin_token(world.service.stub)
        assert world.api.get("/v3/users?domain_id=default")["users"]
    finally:
        world.slapd.resume()
    assert world.user("Alice")["name"] == "Alice"


@pytest.mark.slow
def test_two_replicas_give_an_entry_the_same_id(world):
    replica = ServerProcess(world.service.core.settings)
    try:
        token = system_admin_token(replica.stub)
        admin = AdminClient(replica.channel, token)
        there = admin.call(admin.users.ListUsers, apb.ListUsersRequest(domain_id=world.domain_id))
        here = world.api.get(f"/v3/users?domain_id={world.domain_id}")["users"]
        assert sorted((u.name, u.id) for u in there.users) == sorted(
            (u["name"], u["id"]) for u in here)
        response = replica.stub.Authenticate(pb.AuthenticateRequest(password=pb.PasswordMethod(
            user=pb.UserSelector(name="Alice", domain=pb.DomainSelector(name="Employees")),
            password="alice-secret")))
        assert response.token_info.user.id == world.user("Alice")["id"]
    finally:
        replica.stop()


def test_with_allow_writes_users_groups_memberships_and_passwords_go_to_the_directory(
        service, gateway, slapd):
    world = make_world(service, gateway, slapd, allow_writes=True)
    api = world.api
    carol = api("POST", "/v3/users", {"user": {"name": "Carol", "domain_id": world.domain_id,
                                               "password": "carol-secret",
                                               "email": "carol@example.org"}},
                expect=201)["user"]
    assert PUBLIC_ID.fullmatch(carol["id"]) and world.user("Carol")["id"] == carol["id"]
    group = api("POST", "/v3/groups", {"group": {"name": "Auditors",
                                                 "domain_id": world.domain_id}},
                expect=201)["group"]
    api("PUT", f"/v3/groups/{group['id']}/users/{carol['id']}", expect=204)
    assert [u["name"] for u in api.get(f"/v3/groups/{group['id']}/users")["users"]] == ["Carol"]
    reader = world.role_id("reader")
    api("PUT", f"/v3/projects/{world.project_id}/groups/{group['id']}/roles/{reader}",
        expect=204)
    status, _, body = world.token("Carol", "carol-secret")
    assert status == 201 and {r["name"] for r in body["token"]["roles"]} == {"reader"}
    api("PATCH", f"/v3/users/{carol['id']}", {"user": {"password": "carol-new-secret",
                                                      "email": "c@example.org"}}, expect=200)
    assert world.token("Carol", "carol-secret")[0] == 401
    assert world.token("Carol", "carol-new-secret")[0] == 201
    assert world.user("Carol")["email"] == "c@example.org"
    api("DELETE", f"/v3/groups/{group['id']}/users/{carol['id']}", expect=204)
    assert world.token("Carol", "carol-new-secret")[0] == 401  # no role left: at once
    api("DELETE", f"/v3/users/{carol['id']}", expect=204)
    api("DELETE", f"/v3/groups/{group['id']}", expect=204)
    assert api.get(f"/v3/users?domain_id={world.domain_id}&name=Carol")["users"] == []
    assert api.get(f"/v3/groups?domain_id={world.domain_id}&name=Auditors")["groups"] == []
    assert [u.name for u in world.admin.call(world.admin.users.ListUsers, apb.ListUsersRequest(
        domain_id=world.domain_id)).users] == ["Alice", "Bob", "st*r (x)"]  # as they were


def test_the_directory_over_tls_with_its_ca_and_refused_with_another(service, gateway, slapd_tls):
    world = make_world(service, gateway, slapd_tls, use_tls=True,
                       tls_cacertfile=slapd_tls.ca_file)
    assert world.user("Alice")["name"] == "Alice"
    assert world.token("Alice", "alice-secret", project=False)[0] == 201
    other = world.api("POST", "/v3/domains", {"domain": {"name": "Elsewhere"}},
                      expect=201)["domain"]
    world.api("PUT", f"/v3/domains/{other['id']}/config", {"config": slapd_tls.config(
        url=slapd_tls.ldaps_url, tls_cacertfile=slapd_tls.wrong_ca_file)}, expect=201)
    status, _, parsed, raw = call(gateway + f"/v3/users?domain_id={other['id']}", "GET",
                                  world.api.token)
    assert status == 503, raw


def test_a_directory_larger_than_a_page_is_listed_whole(service, gateway, make_slapd):
    many = make_slapd([Person(f"u{i:03}", f"User {i:03}") for i in range(250)])
    world = make_world(service, gateway, many, page_size=100)
    users = world.api.get(f"/v3/users?domain_id={world.domain_id}")["users"]
    assert len(users) == 250 and len({u["id"] for u in users}) == 250
    assert world.user("User 249")["name"] == "User 249"


def test_what_needs_a_stored_user_is_a_clear_refusal_for_an_ldap_user(world):
    """API keys (application credentials), trusts and credential blobs name a stored
    user: for an LDAP user they are refused with a 4xx, never a 5xx."""
    bob = world.user("Bob")
    member = world.role_id("member")
    world.api("PUT", f"/v3/projects/{world.project_id}/users/{bob['id']}/roles/{member}",
              expect=204)
    status, token, _ = world.token("Bob", "bob-secret")
    assert status == 201
    admin_id = world.api.get("/v3/users?name=admin")["users"][0]["id"]
    attempts = [
        ("POST", f"/v3/users/{bob['id']}/application_credentials",
         {"application_credential": {"name": "ci"}}),
        ("POST", "/v3/OS-TRUST/trusts", {"trust": {
            "trustor_user_id": bob["id"], "trustee_user_id": admin_id,
            "project_id": world.project_id, "roles": [{"name": "member"}],
            "impersonation": False}}),
        ("POST", "/v3/credentials", {"credential": {"user_id": bob["id"], "type": "ec2",
                                                    "blob": "{\"access\": \"a\", \"secret\": \"s\"}",
                                                    "project_id": world.project_id}}),
    ]
    for method, path, body in attempts:
        status, _, parsed, raw = call(world.gateway + path, method, token, body)
        assert 400 <= status < 500, (method, path, status, raw)


def test_issued_tokens_validate_from_cache_while_the_directory_is_gone_and_it_comes_back(
        service, gateway, slapd):
    world = make_world(service, gateway, slapd, membership_cache_ttl=30)
    devs = world.group("Developers")
    member = world.role_id("member")
    world.api("PUT", f"/v3/projects/{world.project_id}/groups/{devs['id']}/roles/{member}",
              expect=204)
    status, token, _ = world.token("Alice", "alice-secret")
    assert status == 201
    # The grant's own change notice comes back through the feed within a poll or two
    # and drops what was cached after it: let it pass, then cache the answer.
    time.sleep(max(0.5, 4 * world.service.core.settings.poll_interval))
    assert world.validate(token) == 200
    world.slapd.stop()  # the directory goes away in the middle of the run
    assert world.validate(token) == 200  # from cache: within the membership TTL
    assert world.token("Alice", "alice-secret")[0] == 503  # a new login needs the directory
    assert system_admin_token(world.service.stub)  # SQL domains as usual
    world.slapd.start()
    status, again, _ = world.token("Alice", "alice-secret")
    assert status == 201 and world.validate(again) == 200


def test_grpc_lists_an_ldap_domain_page_by_page(world):
    seen, token = [], ""
    while True:
        page = world.admin.call(world.admin.users.ListUsers, apb.ListUsersRequest(
            domain_id=world.domain_id, page_size=2, page_token=token))
        seen += [u.name for u in page.users]
        token = page.next_page_token
        if not token:
            break
    assert seen == ["Alice", "Bob", "st*r (x)"]
    error = rpc_error(world.admin.call, world.admin.users.ListUsers, apb.ListUsersRequest(
        domain_id=world.domain_id, page_size=2, page_token="not-a-token"))
    assert error.code() == CODE.INVALID_ARGUMENT


def test_a_consuming_services_local_checks_follow_the_directory_within_the_ttl(world):
    """The verifier of identity_client checks tokens locally; the membership TTL reaches
    it as a change notice for the LDAP domain (Kind.DIRECTORY)."""
    from identity_client.verifier import TokenRejected
    from test_consumers import make_verifier
    devs = world.group("Developers")
    member = world.role_id("member")
    world.api("PUT", f"/v3/projects/{world.project_id}/groups/{devs['id']}/roles/{member}",
              expect=204)
    status, token, _ = world.token("Bob", "bob-secret")
    assert status == 201
    verifier = make_verifier(world.service.address, world.service.clock)
    try:
        assert "member" in verifier.check(token).roles
        world.slapd.modify(group_dn("devs"), {"member": [user_dn("alice")]})  # Bob leaves
        deadline = time.monotonic() + 5  # TTL 1 s, plus the watcher's ticks
        while True:
            try:
                verifier.check(token)
            except TokenRejected:
                break
            assert time.monotonic() < deadline, "the consumer still accepts the token"
            time.sleep(0.1)
    finally:
        verifier.close()


def test_a_bad_ldap_configuration_is_refused_when_written_and_leaves_the_old_one(world):
    path = f"/v3/domains/{world.domain_id}/config"
    before = world.api.get(path)["config"]
    for bad in ({"page_size": -1}, {"query_scope": "everywhere"},
                {"tls_cacertfile": "/nonexistent/ca.pem"}):
        status, _, parsed, raw = call(world.gateway + path, "PATCH", world.api.token,
                                      {"config": {"ldap": bad}})
        assert status == 400 and f"ldap.{next(iter(bad))}" in parsed["error"]["message"], raw
    assert world.api.get(path)["config"] == before
    assert world.user("Alice")["name"] == "Alice"  # the domain goes on as it was


def test_a_url_that_is_not_ldap_is_stored_as_keystone_does_and_refused_when_used(world):
    # Keystone stores any URL (Tempest's domain-config test writes an https:// one);
    # calls about the domain then say what is wrong instead of reaching a directory.
    path = f"/v3/domains/{world.domain_id}/config"
    url = world.api.get(path + "/ldap/url")["config"]["url"]
    world.api("PATCH", path, {"config": {"ldap": {"url": "https://example.org"}}})
    status, _, parsed, raw = call(world.gateway + f"/v3/users?domain_id={world.domain_id}",
                                  "GET", world.api.token)
    assert status == 409 and "'https://example.org' is neither ldap://" in raw, raw
    assert world.api.get("/v3/users?domain_id=default")["users"]  # SQL domains go on
    world.api("PATCH", path, {"config": {"ldap": {"url": url}}})
    assert world.user("Alice")["name"] == "Alice"
