"""Store conformance: the same promises on every backend (the `database_url` fixture
runs each test on SQLite and on PostgreSQL)."""

import re

import pytest
from playhouse.migrate import SchemaMigrator, migrate

from identity_grpc.core import Core
from identity_grpc.errors import AlreadyExists
from identity_grpc.store import models, schema
from identity_grpc.store.db import make_database, open_database
from identity_grpc.store.models import (DEFAULT_DOMAIN_ID, Domain, GroupMembership, Password,
                                        RoleAssignment, User)
from identity_grpc.tokens.keys import KeyRepository

pytestmark = pytest.mark.every_backend


@pytest.fixture
def core(settings):
    KeyRepository.initialize(settings.key_dir)
    core = Core(settings)
    yield core
    core.close()


def test_a_new_store_has_the_default_domain_and_the_latest_schema(database_url):
    db = open_database(database_url)
    assert schema.current_version(db) == schema.LATEST
    default = Domain.get_by_id(DEFAULT_DOMAIN_ID)
    assert (default.name, default.enabled) == ("Default", True)


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
    assert User.select().where(User.name == "erin").count() == 2


def test_a_refused_duplicate_leaves_no_partial_rows(core):
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
    assert not Password.select().where(Password.user == user.id).exists()
    assert not GroupMembership.select().where(GroupMembership.user == user.id).exists()
    assert not RoleAssignment.select().where(RoleAssignment.actor_id == user.id).exists()


def test_opening_an_older_store_upgrades_it_in_place(database_url):
    db = make_database(database_url)
    models.database_proxy.initialize(db)
    assert schema.upgrade(db, target=2) == 2
    # Give the store the shape version-2 code made: no v3 columns, no API key table.
    migrator = SchemaMigrator.from_database(db)
    migrate(*[migrator.drop_column("user", c)
              for c in ("extra", "failed_auth_count", "failed_auth_at", "options")],
            migrator.drop_column("password", "expires_at"))
    schema.ensure_default_domain()
    db.execute_sql(f"INSERT INTO {db.quote[0]}user{db.quote[1]} (id, name, domain_id, email, description, "
                   f"enabled, created_at) VALUES ('u1', 'legacy', 'default', '', '', {db.param}, 0)",
                   (True,))
    assert "extra" not in {c.name for c in db.get_columns("user")}
    assert not db.table_exists(models.ApiKey._meta.table_name)
    db.close()

    db = open_database(database_url)
    assert schema.current_version(db) == schema.LATEST
    assert db.table_exists(models.Change._meta.table_name)
    assert db.table_exists(models.ApiKey._meta.table_name)
    legacy = User.get(User.name == "legacy")
    assert (legacy.domain_id, legacy.extra, legacy.failed_auth_count, legacy.options) == (
        DEFAULT_DOMAIN_ID, "{}", 0, "{}")
    assert schema.upgrade(db) == schema.LATEST  # re-opening is a no-op


def test_upgrading_to_version_4_leads_the_assignment_target_index_with_the_id(database_url):
    db = make_database(database_url)
    models.database_proxy.initialize(db)
    assert schema.upgrade(db, target=3) == 3
    # The version-3 shape: the target index led by target_type.
    migrator = SchemaMigrator.from_database(db)
    migrate(migrator.drop_index("role_assignment", "role_assignment_target_id_target_type"),
            migrator.add_index("role_assignment", ("target_type", "target_id"), False))
    models.Role.insert(id="r1", name="auditor").execute()
    RoleAssignment.insert(actor_type="user", actor_id="u1", target_type="domain",
                          target_id=DEFAULT_DOMAIN_ID, role="r1").execute()
    db.close()

    db = open_database(database_url)
    assert schema.current_version(db) == schema.LATEST
    indexes = {i.name: i.columns for i in db.get_indexes("role_assignment")}
    assert "role_assignment_target_type_target_id" not in indexes
    assert indexes["role_assignment_target_id_target_type"] == ["target_id", "target_type"]
    assert RoleAssignment.select().where(RoleAssignment.target_id == DEFAULT_DOMAIN_ID).count() == 1
    assert schema.upgrade(db) == schema.LATEST


def test_a_store_newer_than_the_service_is_refused(database_url):
    db = open_database(database_url)
    schema.SchemaVersion.update(version=schema.LATEST + 1).execute()
    with pytest.raises(RuntimeError, match="newer"):
        schema.upgrade(db)


@pytest.mark.parametrize("model", [models.RevocationEvent, models.Change])
def test_pruning_the_newest_feed_rows_never_lets_an_id_be_handed_out_again(database_url, model):
    open_database(database_url)
    fields = ({"issued_before": 1, "expires_at": 2} if model is models.RevocationEvent
              else {"entity": "user", "entity_id": "u1"})
    first, newest = model.create(**fields).id, model.create(**fields).id
    model.delete().where(model.id >= first).execute()  # the pruner took every row
    assert model.create(**fields).id > newest


def _plain_rowid_table(db, model) -> None:
    """The version-4 shape of a feed table on SQLite: INTEGER PRIMARY KEY, which reuses
    the highest rowid after a delete."""
    table = model._meta.table_name
    db.execute_sql(f'DROP TABLE "{table}"')
    columns = {models.RevocationEvent: '"audit_id" VARCHAR(32), "user_id" VARCHAR(64), '
                                       '"project_id" VARCHAR(64), "domain_id" VARCHAR(64), '
                                       '"issued_before" INTEGER NOT NULL, "expires_at" INTEGER NOT NULL',
               models.Change: '"entity" VARCHAR(16) NOT NULL, "entity_id" VARCHAR(64) NOT NULL, '
                              '"created_at" INTEGER NOT NULL'}[model]
    db.execute_sql(f'CREATE TABLE "{table}" ("id" INTEGER NOT NULL PRIMARY KEY, {columns})')


def test_upgrading_to_version_5_adds_user_options_and_never_reused_feed_ids(database_url):
    db = make_database(database_url)
    models.database_proxy.initialize(db)
    assert schema.upgrade(db, target=4) == 4
    migrator = SchemaMigrator.from_database(db)
    migrate(migrator.drop_column("user", "options"),
            migrator.drop_column("revocation_event", "token_user_id"))
    if models.is_sqlite(db):
        for model in (models.RevocationEvent, models.Change):
            _plain_rowid_table(db, model)
    db.execute_sql(f"INSERT INTO {db.quote[0]}change{db.quote[1]} (entity, entity_id, created_at) "
                   f"VALUES ('user', 'u1', 0)")
    db.close()

    db = open_database(database_url)
    assert schema.current_version(db) == schema.LATEST
    assert "options" in {c.name for c in db.get_columns("user")}
    assert "token_user_id" in {c.name for c in db.get_columns("revocation_event")}
    assert [(c.entity, c.entity_id) for c in models.Change.select()] == [("user", "u1")]
    newest = models.Change.create(entity="user", entity_id="u2").id
    models.Change.delete().where(models.Change.id == newest).execute()
    assert models.Change.create(entity="user", entity_id="u3").id > newest
    assert schema.upgrade(db) == schema.LATEST


def test_upgrading_to_version_6_keeps_every_revoked_token_of_a_second_revoked(database_url):
    """Cutoffs were seconds; a cutoff of second s covered every token issued in s, so it
    becomes the last millisecond of s."""
    db = make_database(database_url)
    models.database_proxy.initialize(db)
    assert schema.upgrade(db, target=5) == 5
    migrate(SchemaMigrator.from_database(db).drop_column("change", "nonce"))
    models.RevocationEvent.create(user_id="u1", issued_before=1_700_000_000,
                                  expires_at=1_700_003_600)
    db.close()

    db = open_database(database_url)
    assert schema.current_version(db) == schema.LATEST
    (event,) = models.RevocationEvent.select()
    assert (event.issued_before, event.expires_at) == (1_700_000_000_999, 1_700_003_600)
    assert "nonce" in {c.name for c in db.get_columns("change")}
    first, second = (models.Change.create(entity="user", entity_id="u1") for _ in range(2))
    assert first.nonce != second.nonce  # the same change twice, told apart
    assert schema.upgrade(db) == schema.LATEST  # run again: nothing converted twice
    assert models.RevocationEvent.get().issued_before == 1_700_000_000_999
