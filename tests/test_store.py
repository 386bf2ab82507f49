"""Store conformance: the same promises on every backend (the `database_url` fixture
runs each test on SQLite and on PostgreSQL)."""

import re

import pytest

from identity_grpc.core import Core
from identity_grpc.errors import AlreadyExists
from identity_grpc.store.models import DEFAULT_DOMAIN_ID
from identity_grpc.tokens.keys import KeyRepository

pytestmark = pytest.mark.every_backend


@pytest.fixture
def core(settings):
    KeyRepository.initialize(settings.key_dir)
    core = Core(settings)
    yield core
    core.close()


def test_ids_are_assigned_by_the_service(core):
    user = core.users_and_groups.create_user("erin", DEFAULT_DOMAIN_ID, "erinpassword1")
    project = core.resources.create_project("p1", DEFAULT_DOMAIN_ID)
    for ident in (user.id, project.id):
        assert re.fullmatch(r"[0-9a-f]{32}", ident)
    assert user.id != project.id


def test_names_are_unique_within_their_domain(core):
    foo = core.resources.create_domain("Foo")
    core.users_and_groups.create_user("erin", DEFAULT_DOMAIN_ID, "erinpassword1")
    core.users_and_groups.create_user("erin", foo.id, "erinpassword1")  # another domain: fine
    with pytest.raises(AlreadyExists, match="erin"):
        core.users_and_groups.create_user("erin", DEFAULT_DOMAIN_ID, "otherpassword1")
    core.resources.create_project("web", DEFAULT_DOMAIN_ID)
    core.resources.create_project("web", foo.id)
    with pytest.raises(AlreadyExists, match="web"):
        core.resources.create_project("web", DEFAULT_DOMAIN_ID)
    core.users_and_groups.create_group("ops", DEFAULT_DOMAIN_ID)
    with pytest.raises(AlreadyExists, match="ops"):
        core.users_and_groups.create_group("ops", DEFAULT_DOMAIN_ID)
    with pytest.raises(AlreadyExists, match="Foo"):
        core.resources.create_domain("Foo")
    core.assignments.create_role("auditor")
    with pytest.raises(AlreadyExists, match="auditor"):
        core.assignments.create_role("auditor")
    User = core.store.tables.User
    assert User.select().where(User.name == "erin").count() == 2


def test_a_refused_duplicate_leaves_no_partial_rows(core):
    Password = core.store.tables.Password
    core.users_and_groups.create_user("erin", DEFAULT_DOMAIN_ID, "erinpassword1")
    passwords = Password.select().count()
    with pytest.raises(AlreadyExists):
        core.users_and_groups.create_user("erin", DEFAULT_DOMAIN_ID, "otherpassword1")
    assert Password.select().count() == passwords


def test_deleting_a_user_removes_its_passwords_memberships_and_assignments(core):
    user = core.users_and_groups.create_user("erin", DEFAULT_DOMAIN_ID, "erinpassword1")
    group = core.users_and_groups.create_group("ops", DEFAULT_DOMAIN_ID)
    core.users_and_groups.add_user_to_group(user.id, group.id)
    role = core.assignments.create_role("auditor")
    core.assignments.grant(role.id, target_type="domain", target_id=DEFAULT_DOMAIN_ID, user_id=user.id)
    core.users_and_groups.delete_user(user.id)
    t = core.store.tables
    Password, GroupMembership, RoleAssignment = t.Password, t.GroupMembership, t.RoleAssignment
    assert not Password.select().where(Password.user == user.id).exists()
    assert not GroupMembership.select().where(GroupMembership.user == user.id).exists()
    assert not RoleAssignment.select().where(RoleAssignment.actor_id == user.id).exists()