"""What the operations decide for both transports (docs/layout.md: operations are the
one door into the core): a user's extra attributes merged in one unit, a user's
projects, password expiry on every user a list returns, in a bounded number of
queries, and Keystone's ways of naming a parent and filtering endpoints on gRPC too."""

import logging
import threading
from contextlib import contextmanager
from datetime import datetime, timezone

import pytest
from identity_api.admin.v1 import admin_pb2 as apb
from identity_api.v1 import identity_pb2 as pb

import support
from conftest import start_service
from identity_grpc.operations import Operations
from test_gateway_admin import Api

ROUNDS = 8


@pytest.fixture
def expiring(deployment):
    """A server whose passwords expire after 30 days, and its gateway."""
    from identity_grpc.gateway.server import HttpServer
    running = start_service(deployment.replace(password_expires_days=30))
    http = HttpServer(running.core, "127.0.0.1:0").start()
    running.gateway = f"http://127.0.0.1:{http.port}"
    yield running
    http.stop()
    running.stop()


def _admin(running) -> support.AdminClient:
    return support.AdminClient(running.channel, support.system_admin_token(running.stub))


def test_two_concurrent_extra_merges_both_survive(service, gateway):
    """Two PATCHes at once, each adding its own attribute: neither is lost, round
    after round (the merge reads and writes in one transaction, retried whole)."""
    api = Api(gateway, support.system_admin_token(service.stub))
    user = api("POST", "/v3/users", {"user": {"name": "merged", "start": "yes"}}, expect=201)
    path = f"/v3/users/{user['user']['id']}"
    for round_ in range(ROUNDS):
        barrier = threading.Barrier(2)
        statuses = []

        def patch(side: str) -> None:
            barrier.wait()
            statuses.append(api.status("PATCH", path, {"user": {f"{side}{round_}": side}}))

        threads = [threading.Thread(target=patch, args=(side,)) for side in "ab"]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert statuses == [200, 200]
    got = api.get(path)["user"]
    assert got["start"] == "yes"
    assert {k for k in got if k[0] in "ab" and k[1:].isdigit()} == {
        f"{side}{r}" for side in "ab" for r in range(ROUNDS)}
    api("PATCH", path, {"user": {"start": None}}, expect=200)  # a null removes its key
    assert "start" not in api.get(path)["user"]


def test_grpc_update_replaces_extra_and_the_gateway_merges(service, gateway, admin):
    user = admin.call(admin.users.CreateUser, apb.CreateUserRequest(
        name="both", extra={"a": "1", "b": "2"}))
    replaced = admin.call(admin.users.UpdateUser, apb.UpdateUserRequest(
        id=user.id, extra=apb.Extra(values={"c": "3"})))
    assert dict(replaced.extra) == {"c": "3"}
    api = Api(gateway, support.system_admin_token(service.stub))
    merged = api("PATCH", f"/v3/users/{user.id}", {"user": {"d": "4"}}, expect=200)["user"]
    assert (merged["c"], merged["d"]) == ("3", "4")


def test_every_listed_user_carries_its_password_expiry_on_both_transports(expiring):
    admin = _admin(expiring)
    group = admin.call(admin.groups.CreateGroup, apb.CreateGroupRequest(name="expiring"))
    user = admin.call(admin.users.CreateUser, apb.CreateUserRequest(
        name="erin", password="erinpassword1"))
    admin.call(admin.groups.AddUserToGroup, apb.GroupMembershipRequest(group_id=group.id,
                                                                        user_id=user.id))
    expiry = user.password_expires_at.seconds
    assert expiry > 0
    listed = admin.call(admin.users.ListUsers, apb.ListUsersRequest(name="erin")).users
    members = admin.call(admin.groups.ListGroupUsers, apb.GetRequest(id=group.id)).users
    assert [u.password_expires_at.seconds for u in (*listed, *members)] == [expiry, expiry]
    api = Api(expiring.gateway, support.system_admin_token(expiring.stub))
    shown = {u["password_expires_at"] for u in (
        *api.get("/v3/users?name=erin")["users"],
        *api.get(f"/v3/groups/{group.id}/users")["users"])}
    assert shown == {datetime.fromtimestamp(expiry, timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.000000")}


@contextmanager
def counted_queries():
    """The SQL statements this thread sends while the block runs (peewee logs each)."""
    statements: list[str] = []
    me = threading.get_ident()

    class Count(logging.Handler):
        def emit(self, record):
            if record.thread == me:
                statements.append(record.getMessage())

    logger, handler = logging.getLogger("peewee"), Count(logging.DEBUG)
    level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        yield statements
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _queries(call) -> int:
    with counted_queries() as statements:
        call()
    return len(statements)


def test_listing_users_costs_the_same_queries_for_few_or_many(expiring):
    """Password expiry comes in one query for the page, not one per user."""
    ops, core = Operations(expiring.core), expiring.core
    caller = core.tokens.validate(support.system_admin_token(expiring.stub))
    domain = ops.domains.create(caller, name="counted")
    group = ops.groups.create(caller, "counted", domain_id=domain.id)

    def grow(count: int) -> None:
        for i in range(count):
            u = ops.users.create(caller, f"u{count}-{i}", domain_id=domain.id,
                                 password="countedpassword1")
            ops.groups.add_user(caller, group.id, u.id)

    grow(2)
    few = (_queries(lambda: ops.users.list(caller, domain_id=domain.id, page_size=100)),
           _queries(lambda: ops.groups.users(caller, group.id)))
    grow(10)
    rows, _ = ops.users.list(caller, domain_id=domain.id, page_size=100)
    assert len(rows) == 12 and all(r.password_expires_at for r in rows)
    many = (_queries(lambda: ops.users.list(caller, domain_id=domain.id, page_size=100)),
            _queries(lambda: ops.groups.users(caller, group.id)))
    assert many == few


def test_a_users_projects_cost_the_same_queries_for_few_or_many(service, gateway):
    """Direct, group and inherited grants alike, on both the gateway's
    /v3/users/{id}/projects and a token's /v3/auth/projects."""
    ops, core = Operations(service.core), service.core
    caller = core.tokens.validate(support.system_admin_token(service.stub))
    domain = ops.domains.create(caller, name="reached")
    member = core.assignments.find_role("member")
    user = ops.users.create(caller, "reacher", domain_id=domain.id, password="reacherpassword1")
    group = ops.groups.create(caller, "reachers", domain_id=domain.id)
    ops.groups.add_user(caller, group.id, user.id)
    inherited_root = ops.projects.create(caller, "root", domain_id=domain.id)
    ops.assignments.grant(caller, member.id, target_type="project", target_id=inherited_root.id,
                          group_id=group.id, inherited=True)
    made = []

    def grow(count: int) -> None:
        for i in range(count):
            p = ops.projects.create(caller, f"p{len(made)}", domain_id=domain.id)
            below = ops.projects.create(caller, f"below{len(made)}", parent_id=inherited_root.id)
            made.append((p, below))
            ops.assignments.grant(caller, member.id, target_type="project", target_id=p.id,
                                  user_id=user.id)

    grow(2)
    few = _queries(lambda: ops.users.projects(caller, user.id))
    grow(10)
    projects = ops.users.projects(caller, user.id)
    expected = {p.id for pair in made for p in pair}
    assert {p.id for p in projects} == expected  # the root itself holds the grant only for below
    assert [p.name for p in projects] == sorted(p.name for p in projects)
    assert _queries(lambda: ops.users.projects(caller, user.id)) == few
    api = Api(gateway, support.system_admin_token(service.stub))
    listed = api.get(f"/v3/users/{user.id}/projects")["projects"]
    assert {p["id"] for p in listed} == expected
    request = support.password_request("reacher", "reacherpassword1")
    request.password.user.domain.id = domain.id
    token = service.stub.Authenticate(request).token
    scopable = service.stub.ListProjects(pb.ListProjectsRequest(),
                                         metadata=support.auth_md(token)).projects
    assert {p.id for p in scopable} == expected


def test_a_top_level_projects_parent_may_be_its_domain_on_grpc_too(admin):
    domain = admin.call(admin.domains.CreateDomain, apb.CreateDomainRequest(name="parental"))
    top = admin.call(admin.projects.CreateProject, apb.CreateProjectRequest(
        name="top", parent_id=domain.id))
    assert (top.domain_id, top.parent_id) == (domain.id, "")
    child = admin.call(admin.projects.CreateProject, apb.CreateProjectRequest(
        name="child", parent_id=top.id))
    listed = admin.call(admin.projects.ListProjects, apb.ListProjectsRequest(
        parent_id=domain.id)).projects
    assert [p.id for p in listed] == [top.id]
    assert child.domain_id == domain.id


def test_grpc_lists_a_users_projects_endpoints_by_enabled_and_inherited_grants(admin):
    """What the gateway offered alone is an operation, so gRPC has it too."""
    domain = admin.call(admin.domains.CreateDomain, apb.CreateDomainRequest(name="grpc-side"))
    user = admin.call(admin.users.CreateUser, apb.CreateUserRequest(name="gus",
                                                                    domain_id=domain.id))
    on = admin.call(admin.projects.CreateProject, apb.CreateProjectRequest(
        name="on", domain_id=domain.id))
    off = admin.call(admin.projects.CreateProject, apb.CreateProjectRequest(
        name="off", domain_id=domain.id, enabled=False))
    role = admin.call(admin.roles.ListRoles, apb.ListRolesRequest(name="member")).roles[0]
    for project, inherited in ((on, False), (off, False), (on, True)):
        admin.call(admin.assignments.GrantRole, apb.GrantRequest(
            role_id=role.id, actor=apb.Actor(user_id=user.id),
            target=apb.Target(project_id=project.id), inherited=inherited))
    projects = admin.call(admin.users.ListUserProjects, apb.ListUserProjectsRequest(id=user.id))
    assert [p.name for p in projects.projects] == ["off", "on"]
    enabled = admin.call(admin.users.ListUserProjects,
                         apb.ListUserProjectsRequest(id=user.id, enabled=True))
    assert [p.name for p in enabled.projects] == ["on"]
    grants = admin.call(admin.assignments.ListRoleAssignments, apb.ListRoleAssignmentsRequest(
        user_id=user.id, inherited_only=True)).role_assignments
    assert [(g.project.id, g.inherited) for g in grants] == [(on.id, True)]
    service = admin.call(admin.services.CreateService, apb.CreateServiceRequest(type="grpc-side"))
    for enabled_flag in (True, False):
        admin.call(admin.endpoints.CreateEndpoint, apb.CreateEndpointRequest(
            service_id=service.id, interface="public", url="http://example.test/",
            enabled=enabled_flag))
    listed = admin.call(admin.endpoints.ListEndpoints, apb.ListEndpointsRequest(
        service_id=service.id, enabled=False)).endpoints
    assert [e.enabled for e in listed] == [False]
