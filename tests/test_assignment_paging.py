"""ListRoleAssignments pages like every list, effective lists too, and each page
costs about its size however far into the list it is.

It used to answer every row at once: an effective list over a domain of 300 users x
300 projects was 360,004 rows in one 107 MB answer. Here a domain of 60 users x 60
projects, with a group of all of them holding two inherited grants on it, is read to
the end a page at a time: every row exactly once, each page bounded in rows and in
the statements it runs.
"""

import logging
import threading
import uuid

import grpc
import pytest
from identity_api.admin.v1 import admin_pb2 as apb

from support import rpc_error

CODE = grpc.StatusCode


def _row(a: apb.RoleAssignment) -> tuple:
    actor = a.WhichOneof("actor")
    scope = a.WhichOneof("scope")
    target = "all" if scope == "system" else getattr(a, scope).id
    return (a.role.id, actor, getattr(a, actor).id, scope, target, a.inherited, a.via_group_id,
            a.implied_by_role_id)


def read_all(admin, page_size: int, **filters) -> list[list[tuple]]:
    """Every page of one list, each as its rows."""
    pages, token = [], ""
    while True:
        answer = admin.call(admin.assignments.ListRoleAssignments, apb.ListRoleAssignmentsRequest(
            page_size=page_size, page_token=token, **filters))
        pages.append([_row(a) for a in answer.role_assignments])
        token = answer.next_page_token
        if not token:
            return pages
        assert len(pages) < 10_000, "the list does not end"


def _bulk(model, rows: list[dict]) -> None:
    for i in range(0, len(rows), 200):
        model.insert_many(rows[i:i + 200]).execute()


@pytest.fixture
def big_domain(admin, service):
    """Domain `big`: 60 users and 60 projects; group `everyone` holds all the users
    and, by inheritance on the domain, admin (which implies manager, member and
    reader) and member. Loaded with bulk inserts."""
    domain = admin.call(admin.domains.CreateDomain, apb.CreateDomainRequest(name="big"))
    group = admin.call(admin.groups.CreateGroup, apb.CreateGroupRequest(name="everyone",
                                                                         domain_id=domain.id))
    users = [uuid.uuid4().hex for _ in range(60)]
    projects = [uuid.uuid4().hex for _ in range(60)]
    tables = service.core.store.tables
    with service.core.db.atomic():
        _bulk(tables.User, [{"id": u, "name": f"user-{i:02d}", "domain": domain.id}
                            for i, u in enumerate(users)])
        _bulk(tables.Project, [{"id": p, "name": f"project-{i:02d}", "domain": domain.id}
                               for i, p in enumerate(projects)])
        _bulk(tables.GroupMembership, [{"user": u, "group": group.id} for u in users])
    roles = {r: service.core.assignments.find_role(r).id
             for r in ("admin", "manager", "member", "reader")}
    for role in ("admin", "member"):
        admin.call(admin.assignments.GrantRole, apb.GrantRequest(
            role_id=roles[role], actor=apb.Actor(group_id=group.id),
            target=apb.Target(domain_id=domain.id), inherited=True))
    return domain.id, group.id, users, projects, roles


class StatementCounter(logging.Handler):
    """Counts the SQL statements Peewee runs on the server's call threads."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.count = 0

    def emit(self, record):
        if threading.current_thread().name.startswith("grpc"):
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


@pytest.mark.every_backend
def test_an_effective_list_over_a_big_domain_pages_to_the_end_with_every_row_once(
        admin, big_domain, statements):
    domain_id, group_id, users, projects, roles = big_domain
    given = [("admin", ""), ("manager", "admin"), ("member", "manager"), ("reader", "member"),
             ("member", "")]  # by the admin grant, then the member grant
    expected = {(roles[role], "user", u, "project", p, True, group_id, roles[by] if by else "")
                for u in users for p in projects for role, by in given}
    per_page = []
    pages, token = [], ""
    while True:
        before = statements.count
        answer = admin.call(admin.assignments.ListRoleAssignments, apb.ListRoleAssignmentsRequest(
            domain_id=domain_id, effective=True, page_size=500, page_token=token))
        per_page.append(statements.count - before)
        pages.append([_row(a) for a in answer.role_assignments])
        token = answer.next_page_token
        if not token:
            break
    rows = [r for page in pages for r in page]
    assert len(rows) == len(expected) == 60 * 60 * 5  # "reader, implied by member" once
    assert set(rows) == expected
    assert all(len(page) <= 500 for page in pages) and len(pages) == 36
    # A page is a handful of statements, the same at the end of the list as at its start.
    assert max(per_page) <= 12, per_page
    assert per_page[-1] <= per_page[0] + 2, per_page


@pytest.mark.every_backend
def test_pages_of_any_size_make_the_same_list(admin, service, big_domain):
    """Pages of 1 to 7 rows cut expansions at every point (inside a member's
    projects, inside a project's roles, between grants): together they are the
    list one big page gives, in the same order."""
    domain_id, group_id, users, _, roles = big_domain
    tables = service.core.store.tables
    GroupMembership, Project = tables.GroupMembership, tables.Project
    with service.core.db.atomic():  # a smaller group, so that small pages stay few
        GroupMembership.delete().where((GroupMembership.group == group_id)
                                       & GroupMembership.user.not_in(users[:2])).execute()
        Project.delete().where((Project.domain == domain_id)
                               & ~Project.name.in_(["project-00", "project-01", "project-02"])).execute()
    for filters in ({"domain_id": domain_id, "effective": True},
                    {"user_id": users[1], "effective": True},
                    {"domain_id": domain_id, "effective": True, "role_id": roles["member"]},
                    {"effective": True},
                    {}):
        whole = read_all(admin, 1000, **filters)
        assert len(whole) == 1, filters
        for size in range(1, 8):
            pages = read_all(admin, size, **filters)
            assert all(len(p) <= size for p in pages)
            assert [r for p in pages for r in p] == whole[0], (filters, size)


def test_a_page_token_is_refused_on_a_list_with_other_filters(admin, big_domain):
    domain_id, _, users, _, _ = big_domain
    token = admin.call(admin.assignments.ListRoleAssignments, apb.ListRoleAssignmentsRequest(
        domain_id=domain_id, effective=True, page_size=3)).next_page_token
    error = rpc_error(admin.call, admin.assignments.ListRoleAssignments,
                      apb.ListRoleAssignmentsRequest(user_id=users[0], effective=True,
                                                     page_token=token))
    assert error.code() == CODE.INVALID_ARGUMENT and error.details().startswith("page_token:")
    error = rpc_error(admin.call, admin.assignments.ListRoleAssignments,
                      apb.ListRoleAssignmentsRequest(page_size=-1))
    assert error.code() == CODE.INVALID_ARGUMENT and "page_size" in error.details()


def test_grants_that_expand_into_nothing_still_end_the_list(admin, service):
    """Groups without members hold grants that give no row: pages stop after a bounded
    number of them, short or empty, and the list still ends with every real row."""
    role = service.core.assignments.find_role("reader").id
    groups = [admin.call(admin.groups.CreateGroup, apb.CreateGroupRequest(name=f"empty-{i}")).id
              for i in range(12)]
    with service.core.db.atomic():
        _bulk(service.core.store.tables.RoleAssignment,
              [{"actor_type": "group", "actor_id": g, "target_type": "domain",
                "target_id": "default", "role": role, "inherited": False} for g in groups])
    whole = read_all(admin, 1000, effective=True)[0]
    pages = read_all(admin, 2, effective=True)
    assert [r for p in pages for r in p] == whole
    assert not {g for g in groups} & {r[2] for r in whole}


def test_an_inherited_project_grant_lists_every_project_below_it_and_only_those(admin, service):
    member = service.core.assignments.find_role("member").id
    reader = service.core.assignments.find_role("reader").id
    bob = service.core.users_and_groups.find_user(name="bob", domain_id="default").id
    top = admin.call(admin.projects.CreateProject, apb.CreateProjectRequest(name="top"))
    below = [top]
    for depth in range(3):  # top > p1 > p2 > p3, and a sibling of p1 next to it
        below.append(admin.call(admin.projects.CreateProject,
                                apb.CreateProjectRequest(name=f"p{depth + 1}", parent_id=below[-1].id)))
    aside = admin.call(admin.projects.CreateProject, apb.CreateProjectRequest(name="aside",
                                                                              parent_id=top.id))
    admin.call(admin.assignments.GrantRole, apb.GrantRequest(
        role_id=member, actor=apb.Actor(user_id=bob), target=apb.Target(project_id=top.id),
        inherited=True))
    rows = [r for p in read_all(admin, 3, user_id=bob, effective=True) for r in p]
    reached = {(r[0], r[4]) for r in rows if r[5]}
    assert reached == {(role, p.id) for role in (member, reader) for p in below[1:] + [aside]}
    on_p3 = [r for p in read_all(admin, 1, user_id=bob, effective=True, project_id=below[3].id)
             for r in p]
    assert {(r[0], r[4], r[5]) for r in on_p3} == {(member, below[3].id, True),
                                                   (reader, below[3].id, True)}
