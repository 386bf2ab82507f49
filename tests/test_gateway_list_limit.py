"""Keystone's HTTP lists are not paged, so the gateway caps every one at `list_limit`
rows and says `"truncated": true` when it cut one short, as Keystone's own
`list_limit` does; it reads no more than one row past the cap to know. Before, every
HTTP list fetched every page: an effective role assignment list of a big domain came
back whole."""

import logging
import threading
import uuid

import pytest
from identity_api.admin.v1 import admin_pb2 as apb

from conftest import start_service
from support import AdminClient, system_admin_token
from test_gateway_admin import call

LIMIT = 50


@pytest.fixture
def capped(deployment):
    """A server with list_limit = 50 and its gateway, over the demo deployment plus
    domain `big`: 60 users, 60 projects, group `everyone` of all the users holding
    admin on every project of the domain by inheritance (14,400 effective rows)."""
    from identity_grpc.gateway.server import HttpServer
    running = start_service(deployment.replace(list_limit=LIMIT))
    http = HttpServer(running.core, "127.0.0.1:0").start()
    token = system_admin_token(running.stub)
    admin = AdminClient(running.channel, token)
    domain = admin.call(admin.domains.CreateDomain, apb.CreateDomainRequest(name="big"))
    group = admin.call(admin.groups.CreateGroup, apb.CreateGroupRequest(name="everyone",
                                                                         domain_id=domain.id))
    users = [uuid.uuid4().hex for _ in range(60)]
    tables = running.core.store.tables
    User, Project, GroupMembership = tables.User, tables.Project, tables.GroupMembership
    with running.core.db.atomic():
        User.insert_many([{"id": u, "name": f"user-{i:02d}", "domain": domain.id}
                          for i, u in enumerate(users)]).execute()
        Project.insert_many([{"id": uuid.uuid4().hex, "name": f"project-{i:02d}",
                              "domain": domain.id} for i in range(60)]).execute()
        GroupMembership.insert_many([{"user": u, "group": group.id} for u in users]).execute()
    admin.call(admin.assignments.GrantRole, apb.GrantRequest(
        role_id=running.core.assignments.find_role("admin").id,
        actor=apb.Actor(group_id=group.id), target=apb.Target(domain_id=domain.id),
        inherited=True))
    yield {"base": f"http://127.0.0.1:{http.port}", "token": token, "domain": domain.id,
           "group": group.id, "user": users[0], "tables": tables}
    http.stop()
    running.stop()


class StatementCounter(logging.Handler):
    """Counts the SQL statements Peewee runs on the gateway's threads."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.count = 0

    def emit(self, record):
        if threading.current_thread().name.startswith("waitress"):
            self.count += 1


@pytest.fixture
def statements():
    logger = logging.getLogger("peewee")
    counter, level = StatementCounter(), logger.level
    logger.addHandler(counter)
    logger.setLevel(logging.DEBUG)
    yield counter
    logger.removeHandler(counter)
    logger.setLevel(level)


def test_every_list_past_the_limit_is_cut_there_and_says_truncated(capped, statements):
    c = capped
    for path, key in ((f"/v3/role_assignments?effective&scope.domain.id={c['domain']}",
                       "role_assignments"),
                      ("/v3/role_assignments?effective", "role_assignments"),
                      (f"/v3/users?domain_id={c['domain']}", "users"),
                      (f"/v3/projects?domain_id={c['domain']}", "projects"),
                      (f"/v3/groups/{c['group']}/users", "users"),
                      (f"/v3/users/{c['user']}/projects", "projects")):
        before = statements.count
        status, _, body, raw = call(c["base"] + path, token=c["token"])
        assert status == 200, (path, raw)
        assert len(body[key]) == LIMIT and body["truncated"] is True, (path, len(body[key]))
        assert list(body) == [key, "links", "truncated"]
        assert statements.count - before < 3 * LIMIT, (path, statements.count - before)


def test_a_list_within_the_limit_is_whole_and_not_marked(capped):
    c = capped
    for path, key in (("/v3/users?domain_id=default", "users"), ("/v3/roles", "roles"),
                      (f"/v3/users/{c['user']}/groups", "groups")):
        status, _, body, raw = call(c["base"] + path, token=c["token"])
        assert status == 200 and body[key] and "truncated" not in body, (path, raw)


def test_a_list_of_exactly_the_limit_is_whole_and_not_marked(capped):
    c = capped
    User = c["tables"].User
    doomed = [u.id for u in User.select(User.id).where(User.domain == c["domain"])
              .order_by(User.name).offset(LIMIT)]
    User.delete().where(User.id.in_(doomed)).execute()  # 60 - 10: the group keeps 50
    for path, key in ((f"/v3/users?domain_id={c['domain']}", "users"),
                      (f"/v3/groups/{c['group']}/users", "users")):
        status, _, body, raw = call(c["base"] + path, token=c["token"])
        assert status == 200 and len(body[key]) == LIMIT and "truncated" not in body, (path, raw)
