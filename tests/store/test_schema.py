"""Schema upgrades, on every backend: a store of each earlier version, given the shape
that version's code made, is brought to the latest in place, keeping its rows; a
store newer than the code is refused."""

import pytest
from playhouse.migrate import SchemaMigrator, migrate

from identity_grpc.store import models, schema
from identity_grpc.store.db import make_database, open_database
from identity_grpc.store.models import DEFAULT_DOMAIN_ID


def test_a_new_store_has_the_default_domain_and_the_latest_schema(database_url):
    db = open_database(database_url)
    t = models.Tables(db)
    assert schema.current_version(db) == schema.LATEST
    default = t.Domain.get_by_id(DEFAULT_DOMAIN_ID)
    assert (default.name, default.enabled) == ("Default", True)


@pytest.mark.parametrize("version", [1, 2])
def test_opening_an_older_store_upgrades_it_in_place(database_url, version):
    db = make_database(database_url)
    t = models.Tables(db)
    assert schema.upgrade(db, target=version) == version
    # Give the store the shape that version's code made: no v3 columns, no API key
    # table (and at version 1 no change feed either).
    migrator = SchemaMigrator.from_database(db)
    migrate(*[migrator.drop_column("user", c)
              for c in ("extra", "failed_auth_count", "failed_auth_at", "options")],
            migrator.drop_column("password", "expires_at"))
    schema.ensure_default_domain(t)
    db.execute_sql(f"INSERT INTO {db.quote[0]}user{db.quote[1]} (id, name, domain_id, email, description, "
                   f"enabled, created_at) VALUES ('u1', 'legacy', 'default', '', '', {db.param}, 0)",
                   (True,))
    assert "extra" not in {c.name for c in db.get_columns("user")}
    assert not db.table_exists(t.ApiKey._meta.table_name)
    assert db.table_exists(t.Change._meta.table_name) == (version >= 2)
    db.close()

    db = open_database(database_url)
    t = models.Tables(db)
    assert schema.current_version(db) == schema.LATEST
    assert db.table_exists(t.Change._meta.table_name)
    assert db.table_exists(t.ApiKey._meta.table_name)
    legacy = t.User.get(t.User.name == "legacy")
    assert (legacy.domain_id, legacy.extra, legacy.failed_auth_count, legacy.options) == (
        DEFAULT_DOMAIN_ID, "{}", 0, "{}")
    assert schema.upgrade(db) == schema.LATEST  # re-opening is a no-op


def test_upgrading_to_version_4_leads_the_assignment_target_index_with_the_id(database_url):
    db = make_database(database_url)
    t = models.Tables(db)
    assert schema.upgrade(db, target=3) == 3
    # The version-3 shape: the target index led by target_type.
    migrator = SchemaMigrator.from_database(db)
    migrate(migrator.drop_index("role_assignment", "role_assignment_target_id_target_type"),
            migrator.add_index("role_assignment", ("target_type", "target_id"), False))
    t.Role.insert(id="r1", name="auditor").execute()
    t.RoleAssignment.insert(actor_type="user", actor_id="u1", target_type="domain",
                          target_id=DEFAULT_DOMAIN_ID, role="r1").execute()
    db.close()

    db = open_database(database_url)
    t = models.Tables(db)
    assert schema.current_version(db) == schema.LATEST
    indexes = {i.name: i.columns for i in db.get_indexes("role_assignment")}
    assert "role_assignment_target_type_target_id" not in indexes
    assert indexes["role_assignment_target_id_target_type"] == ["target_id", "target_type"]
    assert t.RoleAssignment.select().where(t.RoleAssignment.target_id == DEFAULT_DOMAIN_ID).count() == 1
    assert schema.upgrade(db) == schema.LATEST


def test_a_store_newer_than_the_service_is_refused(database_url):
    db = open_database(database_url)
    t = models.Tables(db)
    t.SchemaVersion.update(version=schema.LATEST + 1).execute()
    with pytest.raises(RuntimeError, match="newer"):
        schema.upgrade(db)


def _plain_rowid_table(db, model) -> None:
    """The version-4 shape of a feed table on SQLite: INTEGER PRIMARY KEY, which reuses
    the highest rowid after a delete."""
    table = model._meta.table_name
    db.execute_sql(f'DROP TABLE "{table}"')
    columns = {"revocation_event": '"audit_id" VARCHAR(32), "user_id" VARCHAR(64), '
                                       '"project_id" VARCHAR(64), "domain_id" VARCHAR(64), '
                                       '"issued_before" INTEGER NOT NULL, "expires_at" INTEGER NOT NULL',
               "change": '"entity" VARCHAR(16) NOT NULL, "entity_id" VARCHAR(64) NOT NULL, '
                              '"created_at" INTEGER NOT NULL'}[table]
    db.execute_sql(f'CREATE TABLE "{table}" ("id" INTEGER NOT NULL PRIMARY KEY, {columns})')


def test_upgrading_to_version_5_adds_user_options_and_never_reused_feed_ids(database_url):
    db = make_database(database_url)
    t = models.Tables(db)
    assert schema.upgrade(db, target=4) == 4
    migrator = SchemaMigrator.from_database(db)
    migrate(migrator.drop_column("user", "options"),
            migrator.drop_column("revocation_event", "token_user_id"))
    if models.is_sqlite(db):
        for model in (t.RevocationEvent, t.Change):
            _plain_rowid_table(db, model)
    db.execute_sql(f"INSERT INTO {db.quote[0]}change{db.quote[1]} (entity, entity_id, created_at) "
                   f"VALUES ('user', 'u1', 0)")
    db.close()

    db = open_database(database_url)
    t = models.Tables(db)
    assert schema.current_version(db) == schema.LATEST
    assert "options" in {c.name for c in db.get_columns("user")}
    assert "token_user_id" in {c.name for c in db.get_columns("revocation_event")}
    assert [(c.entity, c.entity_id) for c in t.Change.select()] == [("user", "u1")]
    newest = t.Change.create(entity="user", entity_id="u2").id
    t.Change.delete().where(t.Change.id == newest).execute()
    assert t.Change.create(entity="user", entity_id="u3").id > newest
    assert schema.upgrade(db) == schema.LATEST


def test_upgrading_to_version_6_keeps_every_revoked_token_of_a_second_revoked(database_url):
    """Cutoffs were seconds; a cutoff of second s covered every token issued in s, so it
    becomes the last millisecond of s."""
    db = make_database(database_url)
    t = models.Tables(db)
    assert schema.upgrade(db, target=5) == 5
    migrate(SchemaMigrator.from_database(db).drop_column("change", "nonce"))
    t.RevocationEvent.create(user_id="u1", issued_before=1_700_000_000,
                                  expires_at=1_700_003_600)
    db.close()

    db = open_database(database_url)
    t = models.Tables(db)
    assert schema.current_version(db) == schema.LATEST
    (event,) = t.RevocationEvent.select()
    assert (event.issued_before, event.expires_at) == (1_700_000_000_999, 1_700_003_600)
    assert "nonce" in {c.name for c in db.get_columns("change")}
    first, second = (t.Change.create(entity="user", entity_id="u1") for _ in range(2))
    assert first.nonce != second.nonce  # the same change twice, told apart
    assert schema.upgrade(db) == schema.LATEST  # run again: nothing converted twice
    assert t.RevocationEvent.get().issued_before == 1_700_000_000_999



def test_upgrading_to_version_7_makes_api_keys_application_credentials(database_url):
    """Expiry seconds become microseconds; a key without a name is named by its id, a
    name used twice by one user gets the later key's id; names are then unique."""
    db = make_database(database_url)
    t = models.Tables(db)
    assert schema.upgrade(db, target=6) == 6
    table = t.ApiKey._meta.table_name
    migrator = SchemaMigrator.from_database(db)
    migrate(migrator.drop_index(table, f"{table}_user_id_name"),
            migrator.drop_column(table, "description"), migrator.drop_column(table, "unrestricted"))
    schema.ensure_default_domain(t)
    t.User.create(id="u1", name="alice", domain=DEFAULT_DOMAIN_ID)
    t.Project.create(id="p1", name="p", domain=DEFAULT_DOMAIN_ID)
    q = db.quote[0]
    for key_id, name, expires_at, created_at in (("k1", "", 1_900_000_000, 1), ("k2", "ci", None, 2),
                                                 ("k3", "ci", None, 3)):
        db.execute_sql(
            f"INSERT INTO {q}{table}{q} (id, name, user_id, project_id, secret_hash, role_ids, "
            f"expires_at, created_at) VALUES ({', '.join([db.param] * 8)})",
            (key_id, name, "u1", "p1", "sha256:x", "[]", expires_at, created_at))
    db.close()

    db = open_database(database_url)
    t = models.Tables(db)
    assert schema.current_version(db) == schema.LATEST
    keys = {k.id: k for k in t.ApiKey.select()}
    assert (keys["k1"].name, keys["k1"].expires_at) == ("k1", 1_900_000_000_000_000)
    assert (keys["k2"].name, keys["k3"].name) == ("ci", "ci (k3)")
    assert (keys["k2"].description, keys["k2"].unrestricted, keys["k2"].expires_at) == (
        "", False, None)
    assert schema.upgrade(db) == schema.LATEST  # run again: nothing converted twice
    assert t.ApiKey.get_by_id("k1").expires_at == 1_900_000_000_000_000
